// The measurement loop every device runs (toolkit/profile/protocol.py): load (timed), first inference (timed
// separately), `warmup` untimed runs, then `iterations` timed runs, or as many as fit in `durationS`.
//
// The loop knows nothing about Core ML or ExecuTorch: each runtime is a `Backend`. Time comes from a
// monotonic clock (DispatchTime's uptime nanoseconds), never the wall clock, which can jump.
import Dispatch
import Foundation

/// One loaded model in one runtime configuration.
public protocol Backend: AnyObject {
    /// Runtime name as in the result schema: "coreml" or "executorch".
    var runtimeName: String { get }
    var runtimeVersion: String { get }
    /// Core ML compute units (cpu_only, cpu_and_gpu, cpu_and_ne, all) or the ExecuTorch delegate.
    var delegate: String? { get }
    func load() throws
    /// One inference on a Float32 input laid out as the manifest says; returns the logits.
    func run(_ input: [Float]) throws -> [Float]
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
    public var lastOutput: [Float]
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

    /// Loads the backend, then measures it on `input`.
    public func run(_ backend: Backend, input: [Float]) throws -> BenchmarkOutcome {
        try validate()
        var start = clock.nanoseconds()
        try backend.load()
        let loadMs = elapsedMs(since: start)

        start = clock.nanoseconds()
        var output = try backend.run(input)
        let firstMs = elapsedMs(since: start)
        for _ in 0 ..< config.warmup { output = try backend.run(input) }

        var samples: [Double] = []
        let deadline = config.durationS.map { clock.nanoseconds() &+ UInt64($0 * 1e9) }
        while true {
            if let deadline = deadline {
                if clock.nanoseconds() >= deadline && !samples.isEmpty { break }
            } else if samples.count >= config.iterations {
                break
            }
            start = clock.nanoseconds()
            output = try backend.run(input)
            samples.append(elapsedMs(since: start))
        }
        return BenchmarkOutcome(loadMs: loadMs, firstInferenceMs: firstMs, latencyMs: samples,
                                stats: try LatencyStats.summarize(samples), lastOutput: output)
    }

    /// The schema record for an outcome; the caller supplies device, artifact and temperatures.
    public func report(_ outcome: BenchmarkOutcome, backend: Backend, device: DeviceInfo, artifact: ArtifactInfo,
                       temperatures: Temperatures? = nil, peakMemoryMb: Double? = nil, notes: [String]? = nil,
                       timestamp: Date = Date()) -> BenchmarkReport {
        var cfg = config
        if config.durationS != nil { cfg.iterations = outcome.latencyMs.count }
        return BenchmarkReport(timestamp: timestamp, device: device,
                               runtime: RuntimeInfo(name: backend.runtimeName, version: backend.runtimeVersion,
                                                    delegate: backend.delegate),
                               artifact: artifact, config: cfg, latencyMs: outcome.latencyMs,
                               stats: outcome.stats, loadMs: outcome.loadMs,
                               firstInferenceMs: outcome.firstInferenceMs, peakMemoryMb: peakMemoryMb,
                               temperatureC: temperatures, notes: notes)
    }
}

extension ArtifactInfo {
    /// The report's artifact block, straight from the manifest.
    public init(manifest: ModelManifest) {
        self.init(sha256: manifest.artifact.sha256, file: manifest.artifact.file, variant: manifest.variant.name,
                  target: manifest.target, precision: manifest.precision, weights: manifest.weightsKind)
    }
}
