// BenchCore's I/O contract against Python's, bit for bit, from io_golden.json (tests/ios_io_golden.py writes it
// from real tiny exports of every kind the toolkit makes for an iPhone). When BENCHCORE_OUT is set, the Swift
// answers are written there too, so pytest can compare them value by value and say where they differ.
import BenchCore
import Foundation
import XCTest

struct IOGolden: Decodable {
    struct View: Decodable {
        var target: String
        var precision: String
        var variant: ModelManifest.Variant
        var input: ModelManifest.TensorBlock
        var output: ModelManifest.TensorBlock
        var preprocessing: PreprocessingSpec
    }

    struct ExecuTorchInput: Decodable {
        var sizes: [Int]?
        var dim_order: [Int]?
        var error: String?
    }

    struct EncodeCase: Decodable {
        var name: String
        var view: View
        var crop: String
        var expected_sha256: String
        var expected_bytes: Int
        var backend: String
        var steps: String
        var executorch: ExecuTorchInput
    }

    struct Raw: Decodable {
        var tensor_b64: String?
        var probabilities: [String: Double]?
        var class_labels: [String]?
    }

    struct DecodeCase: Decodable {
        var name: String
        var view: View
        var raw: Raw
        var expected_f32_b64: String
    }

    struct Float16Sweep: Decodable {
        var float32_b64: String
        var expected_float16_sha256: String
        var all_halves_as_float32_sha256: String
    }

    struct Parsed: Decodable, Equatable {
        var model: String
        var run_id: String
        var compute_units: String
        var threads: Int
        var warmup: Int
        var iterations: Int
        var duration: Double?
        var cooldown: Double?
    }

    struct ArgumentCase: Decodable {
        var argv: [String]
        var parsed: Parsed?
        var error: String?
        var error_file: String?
    }

    struct HashCases: Decodable {
        struct Blob: Decodable { var b64: String; var sha256: String }
        struct Tree: Decodable { var files: [String: String]; var sha256: String }
        var bytes: [Blob]
        var tree: Tree
    }

    var regenerate: String
    var photo_size: [Int]
    var crops: [String: String]
    var encode: [EncodeCase]
    var decode: [DecodeCase]
    var float16: Float16Sweep
    var arguments: [ArgumentCase]
    var sha256: HashCases
}

func bytes(base64 text: String) -> [UInt8] { [UInt8](Data(base64Encoded: text)!) }

/// Python's uint8 RGB crop (H x W x 3) as the RGBA image the app holds.
func rgbaImage(rgb: [UInt8], side: Int) -> RGBAImage {
    var px = [UInt8](repeating: 255, count: side * side * 4)
    for i in 0 ..< side * side { for c in 0 ..< 3 { px[i * 4 + c] = rgb[i * 3 + c] } }
    return RGBAImage(width: side, height: side, pixels: px)
}

final class IOGoldenTests: XCTestCase {
    var golden: IOGolden!

    override func setUpWithError() throws {
        let url = resourcesDirectory.appendingPathComponent("io_golden.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("io_golden.json missing: run `ACCEPT=1 python -m pytest tests/test_ios_golden.py -k io_golden`")
            throw XCTSkip("no golden file")
        }
        golden = try JSONDecoder().decode(IOGolden.self, from: Data(contentsOf: url))
    }

    func testEncodedInputEqualsPythonForEveryKind() throws {
        XCTAssertGreaterThanOrEqual(golden.encode.count, 10)
        var computed: [String: String] = [:]
        for c in golden.encode {
            let r = c.view.variant.resolution
            let encoder = try InputEncoder(input: c.view.input, resolution: r, preprocessing: c.view.preprocessing)
            let encoded = try encoder.encode(rgbaImage(rgb: bytes(base64: golden.crops[c.crop]!), side: r))
            XCTAssertEqual(encoded.bytes.count, c.expected_bytes, c.name)
            XCTAssertEqual(SHA256.hex(encoded.bytes), c.expected_sha256, "\(c.name): Swift's input bytes differ from Python's")
            XCTAssertEqual(try BackendKind(target: c.view.target).rawValue, c.backend, c.name)
            computed[c.name] = Data(encoded.bytes).base64EncodedString()
        }
        try writeOutput(computed, "io_encode_swift.json")
    }

    /// The record's frame description and the ExecuTorch tensor (logical sizes, dim order, or the refusal) are
    /// the fake app's, which tests/test_ios_device.py runs against real exports.
    func testFrameStepsAndExecuTorchSizesEqualPythonForEveryKind() throws {
        for c in golden.encode {
            let r = c.view.variant.resolution
            let spec = try TensorSpec.input(c.view.input, resolution: r)
            XCTAssertEqual(PhotoFrame.steps(width: golden.photo_size[0], height: golden.photo_size[1], spec: spec,
                                            resolution: r, cropFraction: c.view.preprocessing.cropFraction),
                           c.steps, c.name)
            if let error = c.executorch.error {
                XCTAssertThrowsError(try spec.executorchSizes(), c.name) { XCTAssertEqual("\($0)", error) }
                XCTAssertThrowsError(try spec.executorchDimOrder(), c.name)
            } else {
                XCTAssertEqual(try spec.executorchSizes(), c.executorch.sizes, c.name)
                XCTAssertEqual(try spec.executorchDimOrder(), c.executorch.dim_order, c.name)
            }
        }
        XCTAssertTrue(golden.encode.contains { $0.backend == "executorch" && $0.view.input.layout == "nhwc" })
        XCTAssertTrue(golden.encode.contains { $0.backend == "executorch" && $0.view.input.layout == "nchw" })
        XCTAssertTrue(golden.encode.contains { $0.executorch.error != nil })  // Core ML's image input
    }

    func testDecodedOutputEqualsPythonForEveryKind() throws {
        var computed: [String: String] = [:]
        for c in golden.decode {
            let decoder = try OutputDecoder(output: c.view.output)
            let raw: RawOutput
            if let b64 = c.raw.tensor_b64 {
                raw = .tensor(bytes(base64: b64))
            } else {
                raw = .classProbabilities(c.raw.probabilities!, classLabels: c.raw.class_labels!)
            }
            let scores = try decoder.decode(raw)
            XCTAssertEqual(scores.kind.rawValue, c.view.output.kind ?? "logits", c.name)
            let want = base64ToFloats(c.expected_f32_b64)
            XCTAssertEqual(scores.values.map(\.bitPattern), want.map(\.bitPattern), "\(c.name): decoded scores differ")
            computed[c.name] = floatsToBase64(scores.values)
        }
        try writeOutput(computed, "io_decode_swift.json")
    }

    func testFloat16ConversionsEqualNumpy() throws {
        let x = base64ToFloats(golden.float16.float32_b64)
        var halves: [UInt8] = []
        for v in x { withUnsafeBytes(of: halfBits(v).littleEndian) { halves.append(contentsOf: $0) } }
        XCTAssertEqual(SHA256.hex(halves), golden.float16.expected_float16_sha256)
        var widened: [UInt8] = []
        for h in 0 ... UInt16.max {
            withUnsafeBytes(of: floatFromHalfBits(h).bitPattern.littleEndian) { widened.append(contentsOf: $0) }
        }
        XCTAssertEqual(SHA256.hex(widened), golden.float16.all_halves_as_float32_sha256)
    }

    func testArgumentsAreParsedAsTheFakeAppParsesThem() {
        for c in golden.arguments {
            do {
                let parsed = try BenchmarkArguments.parse(c.argv)
                XCTAssertNil(c.error, "\(c.argv): Swift accepted what the fake app refuses (\(c.error ?? ""))")
                let got = parsed.map {
                    IOGolden.Parsed(model: $0.model, run_id: $0.runID, compute_units: $0.computeUnits.rawValue,
                                    threads: $0.threads, warmup: $0.warmup, iterations: $0.iterations,
                                    duration: $0.durationS, cooldown: $0.cooldownS)
                }
                XCTAssertEqual(got, c.parsed, "\(c.argv)")
            } catch let error as ArgumentError {
                XCTAssertEqual(error.description, c.error, "\(c.argv)")
                XCTAssertEqual(DocumentsLayout.errorName(runID: error.runID ?? BenchmarkArguments.defaultRunID),
                               c.error_file, "\(c.argv)")
            } catch {
                XCTFail("\(c.argv): \(error)")
            }
        }
    }

    func testSHA256AndTheToolkitsTreeHash() throws {
        for blob in golden.sha256.bytes {
            XCTAssertEqual(SHA256.hex(bytes(base64: blob.b64)), blob.sha256)
        }
        var streamed = SHA256()  // the same digest when fed in pieces
        let long = bytes(base64: golden.sha256.bytes.last!.b64)
        for start in stride(from: 0, to: long.count, by: 37) { streamed.update(long[start ..< min(start + 37, long.count)]) }
        XCTAssertEqual(streamed.finalize(), golden.sha256.bytes.last!.sha256)

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tree-\(UUID().uuidString)/m.mlpackage")
        defer { try? FileManager.default.removeItem(at: root.deletingLastPathComponent()) }
        for (path, b64) in golden.sha256.tree.files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(base64Encoded: b64)!.write(to: url)
        }
        XCTAssertEqual(try ArtifactHash.artifact(root), golden.sha256.tree.sha256)
        let file = root.appendingPathComponent("a/b")
        XCTAssertEqual(try ArtifactHash.artifact(file), SHA256.hex(Array("slash".utf8)))
    }

    private func writeOutput(_ values: [String: String], _ name: String) throws {
        guard let out = outputDirectory() else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        try encoder.encode(values).write(to: out.appendingPathComponent(name))
    }
}
