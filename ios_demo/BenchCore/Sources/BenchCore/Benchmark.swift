// The measurement loop every device runs (toolkit/profile/protocol.py): load (timed), first inference (timed
// separately), `warmup` untimed runs, then `iterations` timed runs, or as many as fit in `durationS`.
//
// The loop knows nothing about Core ML or ExecuTorch: each runtime is a `Backend`. Time comes from a
// monotonic clock (DispatchTime's uptime nanoseconds), never the wall clock, which can jump.
//
// The timed region is the backend's `run()` between two clock reads and nothing else. Everything the app
// itself does is outside it: the backend turns the first encoded frame into its runtime's input object once
// (`prepare`: an MLFeatureProvider over a pixel buffer or MLMultiArray, an ExecuTorch tensor set as the
// method's input), and the output is read and decoded once after the loop. What the runtime's own call does
// inside `run()` (Core ML's output provider, ExecuTorch's output value) is the runtime's cost.
//
// Given an InputFrame, each warm-up and timed iteration first writes a new frame where the next `run()` reads
// it (`writeInput`), timed apart as the frame's preprocessing; the inference samples are timed as without it.
import Dispatch
import Foundation

/// One loaded model in one runtime configuration.
public protocol Backend: AnyObject {
    /// Runtime name ("coreml" or "executorch"), version and where that version comes from, delegate or
    /// Core ML compute units.
    var runtime: RuntimeInfo { get }
    func load() throws
    /// Builds the runtime's input object from the encoded bytes, once, before any timing.
    func prepare(_ input: EncodedInput) throws
    /// Makes the next `run()` read a new input: `encode` writes the whole input (the prepared spec's byteCount
    /// bytes, its layout and dtype) into memory the backend hands it, and the backend then does what its
    /// runtime needs to read those bytes (nothing when the runtime reads that memory on each run; ExecuTorch
    /// copies a set input into the program's planned buffer, so it sets the input again). Part of the frame's
    /// preprocessing time, never of `run()`.
    func writeInput(_ encode: (UnsafeMutableRawBufferPointer) throws -> Void) throws
    /// One inference on the prepared input: the whole timed region.
    func run() throws
    /// The last inference's output as the runtime gave it; read after the timed loop.
    func output() throws -> RawOutput
}

/// A source of monotonic nanoseconds.
public protocol MonotonicClock {
    func nanoseconds() -> UInt64
}

public struct UptimeClock: MonotonicClock {
    public init() {}
    public func nanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

public struct BenchmarkOutcome {
    public var loadMs: Double
    public var firstInferenceMs: Double
    public var latencyMs: [Double]
    public var stats: LatencyStats
    public var output: RawOutput
    /// Each timed iteration's frame preprocessing, beside `latencyMs`; nil when the run had no frame.
    public var preprocess: PreprocessRecord?
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case badConfig(String)
    case backendFailed(String)

    public var description: String {
        switch self {
        case let .badConfig(why): return "bad benchmark config: \(why)"
        case let .backendFailed(why): return "inference failed: \(why)"
        }
    }
}

public struct BenchmarkLoop {
    public var config: RunConfig
    public var clock: MonotonicClock

    public init(config: RunConfig, clock: MonotonicClock = UptimeClock()) {
        self.config = config
        self.clock = clock
    }

    private func elapsedMs(since start: UInt64) -> Double {
        Double(clock.nanoseconds() &- start) / 1_000_000.0
    }

    public func validate() throws {
        guard config.threads >= 0 else { throw BenchmarkError.badConfig("threads must be >= 0") }
        guard config.warmup >= 0 else { throw BenchmarkError.badConfig("warmup must be >= 0") }
        guard config.iterations >= 1 else { throw BenchmarkError.badConfig("iterations must be >= 1") }
        if let d = config.durationS, !(d > 0) { throw BenchmarkError.badConfig("duration must be > 0 seconds") }
    }

    /// Loads the backend, prepares `input` once, then measures `run()` alone; with a `frame`, each warm-up
    /// and timed iteration first writes a new frame into the backend's input, timed apart.
    public func run(_ backend: Backend, input: EncodedInput, frame: InputFrame? = nil) throws -> BenchmarkOutcome {
        try validate()
        var start = clock.nanoseconds()
        try backend.load()
        let loadMs = elapsedMs(since: start)
        try backend.prepare(input)

        start = clock.nanoseconds()
        try backend.run()
        let firstMs = elapsedMs(since: start)
        for _ in 0 ..< config.warmup {
            if let frame = frame { try backend.writeInput(frame.encode(into:)) }
            try backend.run()
        }

        var samples: [Double] = []
        var preprocess: [Double] = []
        samples.reserveCapacity(config.durationS == nil ? config.iterations : 1024)
        preprocess.reserveCapacity(frame == nil ? 0 : samples.capacity)
        let deadline = config.durationS.map { clock.nanoseconds() &+ UInt64($0 * 1e9) }
        while true {
            if let deadline = deadline {
                if clock.nanoseconds() >= deadline && !samples.isEmpty { break }
            } else if samples.count >= config.iterations {
                break
            }
            if let frame = frame {
                start = clock.nanoseconds()
                try backend.writeInput(frame.encode(into:))
                preprocess.append(elapsedMs(since: start))
            }
            start = clock.nanoseconds()
            try backend.run()
            samples.append(elapsedMs(since: start))
        }
        let record = try frame.map {
            PreprocessRecord(latencyMs: preprocess, stats: try LatencyStats.summarize(preprocess), steps: $0.steps)
        }
        return BenchmarkOutcome(loadMs: loadMs, firstInferenceMs: firstMs, latencyMs: samples,
                                stats: try LatencyStats.summarize(samples), output: try backend.output(),
                                preprocess: record)
    }

    /// The schema record for an outcome; the caller supplies device, artifact and temperatures.
    public func report(_ outcome: BenchmarkOutcome, backend: Backend, device: DeviceInfo, artifact: ArtifactInfo,
                       temperatures: Temperatures? = nil, peakMemoryMb: Double? = nil, notes: [String]? = nil,
                       timestamp: Date = Date()) -> BenchmarkReport {
        var cfg = config
        if config.durationS != nil { cfg.iterations = outcome.latencyMs.count }
        return BenchmarkReport(timestamp: timestamp, device: device,
                               runtime: backend.runtime,
                               artifact: artifact, config: cfg, latencyMs: outcome.latencyMs,
                               stats: outcome.stats, loadMs: outcome.loadMs,
                               firstInferenceMs: outcome.firstInferenceMs, peakMemoryMb: peakMemoryMb,
                               temperatureC: temperatures, notes: notes, preprocess: outcome.preprocess)
    }
}

extension ArtifactInfo {
    /// The report's artifact block: the manifest's description, with the sha256 the app computed itself.
    public init(manifest: ModelManifest, sha256: String) {
        self.init(sha256: sha256, file: manifest.artifact.file, variant: manifest.variant.name,
                  target: manifest.target, precision: manifest.precision, weights: manifest.weightsKind)
    }
}
