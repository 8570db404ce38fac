// Unit tests of the benchmark loop, report encoding, launch arguments, manifest decoding and top-k.
import BenchCore
import Foundation
import XCTest

/// A real (small) model: a dense layer over the preprocessed image, so every run does arithmetic on the input.
final class DenseBackend: Backend {
    let runtimeName = "coreml"
    let runtimeVersion = "test"
    let delegate: String? = "cpu_only"
    let classes: Int
    private var weights: [Float] = []
    private(set) var loads = 0
    private(set) var runs = 0

    init(classes: Int) { self.classes = classes }

    func load() throws {
        loads += 1
        var rng = SplitMix64(seed: 7)
        weights = (0 ..< classes * 3 * 16 * 16).map { _ in Float(rng.nextU64() % 2001) / 1000 - 1 }
    }

    func run(_ input: [Float]) throws -> [Float] {
        runs += 1
        guard !weights.isEmpty else { throw BenchmarkError.backendFailed("not loaded") }
        let n = input.count
        return (0 ..< classes).map { c in (0 ..< n).reduce(Float(0)) { $0 + weights[c * n + $1] * input[$1] } }
    }
}

/// Advances a fixed step on every reading, so durations are exact.
final class SteppingClock: MonotonicClock {
    var now: UInt64 = 1_000
    let step: UInt64
    init(stepNanoseconds: UInt64) { step = stepNanoseconds }
    func nanoseconds() -> UInt64 { now += step; return now }
}

func gradientImage(width: Int, height: Int) -> RGBAImage {
    var px = [UInt8]()
    for y in 0 ..< height { for x in 0 ..< width { px += [UInt8(x * 255 / width), UInt8(y * 255 / height), 90, 255] } }
    return RGBAImage(width: width, height: height, pixels: px)
}

final class BenchmarkLoopTests: XCTestCase {
    func input() throws -> [Float] {
        try preprocess(gradientImage(width: 40, height: 30), resolution: 16, spec: PreprocessingSpec())
    }

    func testLoopCountsLoadsWarmupAndIterations() throws {
        let backend = DenseBackend(classes: 10)
        let loop = BenchmarkLoop(config: RunConfig(threads: 2, warmup: 3, iterations: 25))
        let outcome = try loop.run(backend, input: try input())
        XCTAssertEqual(backend.loads, 1)
        XCTAssertEqual(backend.runs, 1 + 3 + 25)
        XCTAssertEqual(outcome.latencyMs.count, 25)
        XCTAssertTrue(outcome.latencyMs.allSatisfy { $0 >= 0 })
        XCTAssertEqual(outcome.stats, try LatencyStats.summarize(outcome.latencyMs))
        XCTAssertEqual(outcome.lastOutput, try backend.run(try input()))
    }

    func testTimingUsesTheClock() throws {
        let loop = BenchmarkLoop(config: RunConfig(warmup: 2, iterations: 5), clock: SteppingClock(stepNanoseconds: 1_500_000))
        let outcome = try loop.run(DenseBackend(classes: 4), input: try input())
        XCTAssertEqual(outcome.loadMs, 1.5)
        XCTAssertEqual(outcome.firstInferenceMs, 1.5)
        XCTAssertEqual(outcome.latencyMs, [1.5, 1.5, 1.5, 1.5, 1.5])
    }

    func testDurationModeRunsUntilTheDeadline() throws {
        // Each timed run reads the clock three times (deadline check, start, end): 3 ms per iteration.
        let loop = BenchmarkLoop(config: RunConfig(warmup: 0, iterations: 1, durationS: 0.030),
                                 clock: SteppingClock(stepNanoseconds: 1_000_000))
        let backend = DenseBackend(classes: 4)
        let outcome = try loop.run(backend, input: try input())
        XCTAssertEqual(outcome.latencyMs.count, 10)
        let report = loop.report(outcome, backend: backend, device: DeviceInfo(name: "iPhone", os: "iOS 18.1"),
                                 artifact: ArtifactInfo(sha256: String(repeating: "a", count: 64), file: "m.mlpackage"))
        XCTAssertEqual(report.config.iterations, 10)
    }

    func testBadConfigIsRejected() {
        XCTAssertThrowsError(try BenchmarkLoop(config: RunConfig(iterations: 0)).run(DenseBackend(classes: 2), input: []))
        XCTAssertThrowsError(try LatencyStats.summarize([]))
    }

    /// A full report from a real loop run; pytest validates it against toolkit/schemas/result.schema.json.
    func testReportEncodesInTheSharedSchema() throws {
        let backend = DenseBackend(classes: 10)
        let loop = BenchmarkLoop(config: RunConfig(threads: 0, warmup: 2, iterations: 30))
        let outcome = try loop.run(backend, input: try input())
        let manifest = try ModelManifest.load(from: resourcesDirectory.appendingPathComponent("manifest_coreml.json"))
        let report = loop.report(outcome, backend: backend,
                                 device: DeviceInfo(name: "iPhone15,2", os: "iOS 17.5", cpu: "A16", cores: 6),
                                 artifact: ArtifactInfo(manifest: manifest),
                                 temperatures: Temperatures(thermalState: "nominal"), notes: ["swift test"])
        let json = try JSONSerialization.jsonObject(with: report.jsonData()) as! [String: Any]
        XCTAssertEqual(json["schema_version"] as? Int, 1)
        XCTAssertEqual((json["runtime"] as! [String: Any])["delegate"] as? String, "cpu_only")
        XCTAssertEqual((json["latency_ms"] as! [Double]).count, 30)
        XCTAssertTrue((json["timestamp"] as! String).hasSuffix("Z"))
        XCTAssertNil((json["artifact"] as! [String: Any])["sha256"].flatMap { $0 as? NSNull })
        let decoded = try JSONDecoder().decode(BenchmarkReport.self, from: report.jsonData())
        XCTAssertEqual(decoded, report)
        if let out = outputDirectory() { try report.write(to: out.appendingPathComponent("report.json")) }
    }
}

final class ArgumentTests: XCTestCase {
    func testRoundTrip() throws {
        let args = BenchmarkArguments(model: "m.mlpackage", computeUnits: .cpuAndNeuralEngine, threads: 2, warmup: 5,
                                      iterations: 50, durationS: 3.5, cooldownS: 1, runID: "r1")
        XCTAssertEqual(try BenchmarkArguments.parse(["App"] + args.argv), args)
        // devicectl passes "--" before the app's arguments; Xcode adds single-dash defaults
        XCTAssertEqual(try BenchmarkArguments.parse(["App", "-NSDocumentRevisionsDebugMode", "YES", "--"] + args.argv), args)
    }

    func testInteractiveLaunchIsNotABenchmark() throws {
        XCTAssertNil(try BenchmarkArguments.parse(["App", "-AppleLanguages", "(en)"]))
    }

    func testBadArgumentsSayWhy() {
        let cases: [([String], String)] = [
            (["--benchmark"], "--model is required"),
            (["--benchmark", "--model", "m.pte", "--compute-units", "npu"], "--compute-units must be one of"),
            (["--benchmark", "--model", "m.pte", "--iterations", "0"], "--iterations must be an integer >= 1"),
            (["--benchmark", "--model", "../etc/passwd"], "plain file names"),
            (["--benchmark", "--model", "m.pte", "--bogus", "1"], "unknown option --bogus"),
            (["--benchmark", "--model"], "--model needs a value"),
        ]
        for (argv, message) in cases {
            XCTAssertThrowsError(try BenchmarkArguments.parse(argv)) { error in
                XCTAssertTrue("\(error)".contains(message), "\(argv): \(error)")
            }
        }
    }
}

final class ManifestAndTopKTests: XCTestCase {
    func testManifestDecodesWhatTheExporterWrites() throws {
        let m = try ModelManifest.load(from: resourcesDirectory.appendingPathComponent("manifest_coreml.json"))
        XCTAssertEqual(m.variant.resolution, 160)
        XCTAssertEqual(m.variant.alpha, 0.5)
        XCTAssertEqual(m.target, "coreml")
        XCTAssertEqual(m.minimumIOSMajor, 17)
        XCTAssertEqual(m.artifact.sha256.count, 64)
        XCTAssertEqual(m.preprocessing.cropFraction, 0.875)
        XCTAssertEqual(m.input.shape, [.fixed(1), .fixed(3), .fixed(160), .fixed(160)])
        XCTAssertFalse(m.isChannelsLast)
        let artifact = resourcesDirectory.appendingPathComponent(m.artifact.file)
        XCTAssertEqual(ModelManifest.url(forArtifact: artifact).lastPathComponent, m.artifact.file + ".manifest.json")
    }

    func testModelInputFollowsTheManifestLayout() throws {
        let url = resourcesDirectory.appendingPathComponent("manifest_coreml.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var input = json["input"] as! [String: Any]
        let img = gradientImage(width: 50, height: 40)
        var results: [String: [Float]] = [:]
        for layout in ["image", "nchw", "nhwc"] {
            input["layout"] = layout
            json["input"] = input
            let m = try JSONDecoder().decode(ModelManifest.self, from: JSONSerialization.data(withJSONObject: json))
            results[layout] = try modelInput(img, manifest: m)
            XCTAssertEqual(results[layout]?.count, 3 * 160 * 160)
        }
        // image: raw 0...255 pixels; nhwc: the same pixels normalized with mean 0.5, std 0.5
        for i in stride(from: 0, to: 3 * 160 * 160, by: 997) {
            XCTAssertEqual(results["nhwc"]![i], (results["image"]![i] / 255 - 0.5) / 0.5)
        }
        input["layout"] = "nc"
        json["input"] = input
        let bad = try JSONDecoder().decode(ModelManifest.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertThrowsError(try modelInput(img, manifest: bad))
    }

    func testTopKOrdersByProbabilityThenIndex() {
        let preds = topK(logits: [0.1, 2.0, -1.0, 2.0, 0.5], k: 3, labels: ["a", "b", "c", "d"])
        XCTAssertEqual(preds.map(\.index), [1, 3, 4])
        XCTAssertEqual(preds.map(\.label), ["b", "d", "class_4"])
        XCTAssertEqual(softmax([0.1, 2.0, -1.0, 2.0, 0.5]).reduce(0, +), 1.0, accuracy: 1e-12)
        XCTAssertGreaterThan(preds[0].probability, preds[2].probability)
    }

    func testPreprocessLayoutsHoldTheSameValues() throws {
        let img = gradientImage(width: 33, height: 21)
        let nchw = try preprocess(img, resolution: 8, spec: PreprocessingSpec(), channelsLast: false)
        let nhwc = try preprocess(img, resolution: 8, spec: PreprocessingSpec(), channelsLast: true)
        for i in 0 ..< 64 { for c in 0 ..< 3 { XCTAssertEqual(nchw[c * 64 + i], nhwc[i * 3 + c]) } }
        XCTAssertThrowsError(try preprocess(img, resolution: 8, spec: PreprocessingSpec(std: [0, 1, 1])))
    }
}
