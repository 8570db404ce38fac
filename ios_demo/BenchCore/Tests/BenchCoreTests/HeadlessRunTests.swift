// The headless benchmark end to end, from a command line to the result or error file, with everything the app
// does except the iOS calls: a real (small) model stands in for Core ML/ExecuTorch behind the Backend protocol.
import BenchCore
import Foundation
import XCTest

/// The phone's half for tests: a gradient photo, fixed device facts, and DenseBackend as the runtime.
final class TestPlatform: BenchPlatform {
    var osMajorVersion = 17
    private(set) var backends: [DenseBackend] = []
    private(set) var slept: [Double] = []

    func samplePhoto() throws -> RGBAImage { gradientImage(width: 40, height: 30) }
    func deviceInfo() -> DeviceInfo { DeviceInfo(name: "iPhone16,1", os: "iOS 17.5", cpu: "iPhone16,1", cores: 6) }
    func thermalState() -> String { "nominal" }
    func peakMemoryMb() -> Double? { 42 }
    func sleep(seconds: Double) { slept.append(seconds) }

    func makeBackend(_ kind: BackendKind, model: URL, manifest: ModelManifest, sha256: String,
                     arguments: BenchmarkArguments) throws -> Backend {
        let backend = DenseBackend(classes: 10)
        backends.append(backend)
        return backend
    }
}

final class HeadlessRunTests: XCTestCase {
    var documents: URL!
    var platform: TestPlatform!
    let model = "tiny-executorch-fp32.pte"

    override func setUpWithError() throws {
        documents = FileManager.default.temporaryDirectory.appendingPathComponent("docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try Data((0 ..< 3000).map { UInt8($0 % 251) }).write(to: models.appendingPathComponent(model))
        try Data((0 ..< 10).map { "label_\($0)\n" }.joined().utf8).write(to: models.appendingPathComponent("\(model).labels.txt"))
        try writeManifest { _ in }
        platform = TestPlatform()
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: documents) }

    var models: URL { documents.appendingPathComponent("models") }
    var results: URL { documents.appendingPathComponent("results") }

    /// A manifest as the exporter writes it (16x16 ExecuTorch fp32), edited by `change`.
    func writeManifest(_ change: (inout [String: Any]) -> Void) throws {
        let sha = try ArtifactHash.artifact(models.appendingPathComponent(model))
        var m: [String: Any] = [
            "schema_version": 1,
            "artifact": ["file": model, "format": "pte", "sha256": sha, "size_bytes": 3000, "is_directory": false],
            "variant": ["name": "mobilenet_v1-a0.25-r16", "alpha": 0.25, "resolution": 16, "num_classes": 10],
            "target": "executorch", "precision": "fp32", "delegate": "xnnpack",
            "runtime": ["name": "executorch", "version": "1.5.1"],
            "input": ["shape": [1, 3, 16, 16], "layout": "nchw", "dtype": "float32", "color": "RGB"],
            "output": ["shape": [1, 10], "kind": "logits"],
            "preprocessing": ["mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "crop_fraction": 0.875],
            "labels_file": "\(model).labels.txt",
            "weights": ["kind": "random"],
        ]
        change(&m)
        try JSONSerialization.data(withJSONObject: m).write(to: models.appendingPathComponent("\(model).manifest.json"))
    }

    func run(_ extra: [String] = [], runID: String = "r1") -> HeadlessBenchmark.Status {
        HeadlessBenchmark(documents: documents, platform: platform)
            .run(argv: ["App", "--benchmark", "--model", model, "--warmup", "2", "--iterations", "7", "--run-id", runID] + extra)
    }

    func errorLine(_ runID: String) throws -> String {
        try String(contentsOf: results.appendingPathComponent("\(runID).error.txt"), encoding: .utf8)
    }

    func testMeasuresAndWritesTheRecord() throws {
        XCTAssertEqual(run(["--cooldown", "0.5"]), .measured)
        let report = try JSONDecoder().decode(BenchmarkReport.self, from: Data(contentsOf: results.appendingPathComponent("r1.json")))
        XCTAssertEqual(report.artifact.sha256, try ArtifactHash.artifact(models.appendingPathComponent(model)))
        XCTAssertEqual(report.artifact.file, model)
        XCTAssertEqual(report.latencyMs.count, 7)
        XCTAssertEqual(report.peakMemoryMb, 42)
        XCTAssertTrue(report.notes?.contains { $0.hasPrefix("top-1 on the sample photo: label_") } ?? false, "\(report.notes ?? [])")
        XCTAssertEqual(platform.slept, [0.5])
        let backend = try XCTUnwrap(platform.backends.first)
        XCTAssertEqual([backend.loads, backend.prepares, backend.writes, backend.runs], [1, 1, 2 + 7, 1 + 2 + 7])
        let preprocess = try XCTUnwrap(report.preprocess)
        XCTAssertEqual(preprocess.latencyMs.count, 7)  // one per timed inference
        XCTAssertEqual(preprocess.stats, try LatencyStats.summarize(preprocess.latencyMs))
        XCTAssertEqual(preprocess.steps, "resize 40x30 to 24x18 (bilinear), crop 16, normalize, write float32 nchw")
        XCTAssertFalse(FileManager.default.fileExists(atPath: results.appendingPathComponent("r1.error.txt").path))
        if let out = outputDirectory() {
            try Data(contentsOf: results.appendingPathComponent("r1.json")).write(to: out.appendingPathComponent("headless_report.json"))
        }
    }

    func testBadArgumentsGoToTheRunsErrorFile() throws {
        XCTAssertEqual(run(["--iterations", "0"], runID: "r2"), .badArguments)
        XCTAssertTrue(try errorLine("r2").hasPrefix("bad arguments: --iterations is given twice"))
        XCTAssertEqual(run(["--compute-units", "npu"], runID: "r3"), .badArguments)
        XCTAssertTrue(try errorLine("r3").contains("--compute-units must be one of"))
        XCTAssertEqual(run(runID: "no spaces"), .badArguments)
        XCTAssertTrue(try errorLine("latest").contains("--run-id may only hold"))
        XCTAssertTrue(platform.backends.isEmpty)
    }

    func testRefusedModelsWriteOneLineAndRunNothing() throws {
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("tflite", { $0["target"] = "tflite" }, "a tflite artifact does not run on iOS"),
            ("onnx", { $0["target"] = "onnx" }, "a onnx artifact does not run on iOS"),
            ("dtype", { $0["input"] = ["shape": [1, 3, 16, 16], "layout": "nchw", "dtype": "bfloat16"] },
             "unsupported input dtype 'bfloat16'"),
            ("outdtype", { $0["output"] = ["shape": [1, 10], "kind": "logits", "dtype": "int4"] },
             "unsupported output dtype 'int4'"),
            ("layout", { $0["input"] = ["shape": [1, 3, 16, 16], "layout": "planar", "dtype": "float32"] },
             "unsupported input layout 'planar'"),
            ("labels", { $0["labels_file"] = "../../secrets.txt" }, "leaves the model's folder"),
            ("sha", { $0["artifact"] = ["file": "x.pte", "sha256": String(repeating: "0", count: 64)] },
             "does not match its manifest"),
            ("ios", { $0["options"] = ["minimum_deployment_target": "iOS18"] }, "needs iOS 18 or newer"),
            ("quant", { $0["input"] = ["shape": [1, 3, 16, 16], "layout": "nchw", "dtype": "int8"] }, "has no quantization"),
        ]
        for (runID, change, message) in cases {
            try writeManifest(change)
            XCTAssertEqual(run(runID: runID), .failed, runID)
            let line = try errorLine(runID)
            XCTAssertTrue(line.contains(message), "\(runID): \(line)")
            XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: results.appendingPathComponent("\(runID).json").path))
        }
        XCTAssertTrue(platform.backends.isEmpty, "a refused model must not reach a runtime")
        try FileManager.default.removeItem(at: models.appendingPathComponent("\(model).manifest.json"))
        XCTAssertEqual(run(runID: "nomanifest"), .failed)
        XCTAssertTrue(try errorLine("nomanifest").hasPrefix("no manifest"))
    }
}
