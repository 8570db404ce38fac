// The headless benchmark from launch arguments to result file: everything the app does in benchmark mode
// except what only iOS can do (decode the bundled photo, describe the device, call Core ML or ExecuTorch).
//
// toolkit/profile/ios.py copies the artifact, its manifest and labels into Documents/models/, launches the
// app with `--benchmark ... --run-id ID` and polls Documents/results/ for ID.json (the result record) or
// ID.error.txt (one line saying why nothing was measured). Nothing runs unless every check passes first.
import Foundation

/// What only the phone provides. The app implements it with UIKit, Core ML and ExecuTorch.
public protocol BenchPlatform {
    /// The bundled sample photo, decoded upright to RGBA.
    func samplePhoto() throws -> RGBAImage
    func deviceInfo() -> DeviceInfo
    /// ProcessInfo.thermalState as "nominal", "fair", "serious" or "critical".
    func thermalState() -> String
    func peakMemoryMb() -> Double?
    var osMajorVersion: Int { get }
    /// The runtime for `kind`, not loaded yet; throws when this build does not link that runtime.
    func makeBackend(_ kind: BackendKind, model: URL, manifest: ModelManifest, sha256: String,
                     arguments: BenchmarkArguments) throws -> Backend
    func sleep(seconds: Double)
}

/// Documents/results/: one result record or one error line per run id, each written atomically.
public struct ResultsFolder {
    public let url: URL

    public init(documents: URL) { url = documents.appendingPathComponent(DocumentsLayout.results) }

    public func write(_ report: BenchmarkReport, runID: String) throws {
        try report.write(to: url.appendingPathComponent(DocumentsLayout.resultName(runID: runID)))
    }

    /// The first line of `message`; never throws (there is nowhere left to report to).
    public func writeError(_ message: String, runID: String) {
        let line = message.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? message
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try? Data((line + "\n").utf8).write(to: url.appendingPathComponent(DocumentsLayout.errorName(runID: runID)),
                                            options: .atomic)
    }
}

/// A model in Documents/models/ that passed every check, with its first input encoded and the photo as a frame.
public struct PreparedModel {
    public let url: URL
    public let manifest: ModelManifest
    public let kind: BackendKind
    public let sha256: String
    public let input: EncodedInput
    /// The photo as the camera frame each iteration preprocesses again (the record's "preprocess").
    public let frame: PhotoFrame
    public let decoder: OutputDecoder
    public let labels: [String]

    /// Manifest, runtime, I/O contract, labels path, minimum iOS and sha256 are all checked before the
    /// photo is encoded; the first problem is thrown as one line.
    public init(url: URL, photo: () throws -> RGBAImage, osMajorVersion: Int) throws {
        let manifest = try ModelManifest.load(from: ModelManifest.url(forArtifact: url))
        kind = try BackendKind(target: manifest.target)
        let encoder = try InputEncoder(manifest: manifest)
        decoder = try OutputDecoder(manifest: manifest)
        labels = try manifest.labels(artifact: url)
        if let need = manifest.minimumIOSMajor, osMajorVersion < need {
            throw ContractError("\(url.lastPathComponent) needs iOS \(need) or newer, this phone runs iOS \(osMajorVersion)")
        }
        sha256 = try ArtifactHash.artifact(url)
        guard sha256 == manifest.artifact.sha256 else {
            throw ContractError("\(url.lastPathComponent) does not match its manifest (sha256 \(sha256.prefix(12))... "
                + "vs \(manifest.artifact.sha256.prefix(12))...): copy the artifact and manifest of one export")
        }
        frame = PhotoFrame(encoder: encoder, photo: try photo(), cropFraction: manifest.preprocessing.cropFraction)
        input = try frame.encoded()
        self.url = url
        self.manifest = manifest
    }
}

public struct HeadlessBenchmark {
    public let documents: URL
    public let platform: BenchPlatform
    public var clock: MonotonicClock

    public init(documents: URL, platform: BenchPlatform, clock: MonotonicClock = UptimeClock()) {
        self.documents = documents
        self.platform = platform
        self.clock = clock
    }

    public enum Status: Int32 {
        case measured = 0, failed = 1, badArguments = 2
    }

    /// Runs one command line: writes results/<run-id>.json, or results/<run-id>.error.txt and nothing else.
    public func run(argv: [String]) -> Status {
        let results = ResultsFolder(documents: documents)
        let args: BenchmarkArguments
        do {
            guard let parsed = try BenchmarkArguments.parse(argv) else {
                results.writeError("not a benchmark launch (no --benchmark)", runID: BenchmarkArguments.defaultRunID)
                return .badArguments
            }
            args = parsed
        } catch let error as ArgumentError {
            results.writeError("bad arguments: \(error)", runID: error.runID ?? BenchmarkArguments.defaultRunID)
            return .badArguments
        } catch {
            results.writeError("bad arguments: \(error)", runID: BenchmarkArguments.defaultRunID)
            return .badArguments
        }
        do {
            try results.write(try measure(args), runID: args.runID)
            return .measured
        } catch {
            results.writeError("\(error)", runID: args.runID)
            return .failed
        }
    }

    func measure(_ args: BenchmarkArguments) throws -> BenchmarkReport {
        let url = documents.appendingPathComponent(DocumentsLayout.models).appendingPathComponent(args.model)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ContractError("model \(args.model) is not in Documents/\(DocumentsLayout.models)")
        }
        let model = try PreparedModel(url: url, photo: platform.samplePhoto, osMajorVersion: platform.osMajorVersion)
        let backend = try platform.makeBackend(model.kind, model: url, manifest: model.manifest, sha256: model.sha256,
                                               arguments: args)
        if let cooldown = args.cooldownS, cooldown > 0 { platform.sleep(seconds: cooldown) }
        let before = platform.thermalState()
        let loop = BenchmarkLoop(config: args.runConfig, clock: clock)
        let outcome = try loop.run(backend, input: model.input, frame: model.frame)
        let after = platform.thermalState()
        let scores = try model.decoder.decode(outcome.output)
        guard scores.values.allSatisfy(\.isFinite) else {
            throw BenchmarkError.backendFailed("\(args.model) produced non-finite scores")
        }
        var notes = ["thermal state before: \(before)"]
        if let top = topK(scores, k: 1, labels: model.labels).first {
            notes.append("top-1 on the sample photo: \(top.label) (\(String(format: "%.4f", top.probability)))")
        }
        if args.threads > 0 {  // neither runtime's iOS API takes a thread count
            let runtime = model.kind == .coreml ? "Core ML" : "ExecuTorch (XNNPACK's default threadpool)"
            notes.append("threads is a request; \(runtime) chooses its own threading")
        }
        return loop.report(outcome, backend: backend, device: platform.deviceInfo(),
                           artifact: ArtifactInfo(manifest: model.manifest, sha256: model.sha256),
                           temperatures: Temperatures(thermalState: after), peakMemoryMb: platform.peakMemoryMb(),
                           notes: notes)
    }
}
