// Unit tests of the benchmark loop, report encoding, launch arguments, manifest decoding, the I/O contract
// and top-k. HeadlessRunTests drives the whole headless path.
import BenchCore
import Foundation
import XCTest

/// A real (small) model: a dense layer over a 16x16 float32 NCHW image, behind the same protocol as the phone
/// runtimes and as strict as they are: any other dtype or shape is refused.
final class DenseBackend: Backend {
    let runtime = RuntimeInfo(name: "coreml", version: "test", versionSource: .runtime, delegate: "cpu_only")
    static let inputShape = [1, 3, 16, 16]
    let classes: Int
    private var weights: [Float] = []
    private var input: [Float] = []
    private var inputBytes: [UInt8] = []  // the runtime's own input memory, which frames are written into
    private var logits: [Float]
    private(set) var loads = 0
    private(set) var prepares = 0
    private(set) var writes = 0
    private(set) var runs = 0

    init(classes: Int) {
        self.classes = classes
        logits = [Float](repeating: 0, count: classes)
    }

    func load() throws {
        loads += 1
        var rng = SplitMix64(seed: 7)
        weights = (0 ..< classes * 3 * 16 * 16).map { _ in Float(rng.nextU64() % 2001) / 1000 - 1 }
    }

    func prepare(_ encoded: EncodedInput) throws {
        guard encoded.spec.dtype == .float32, encoded.spec.shape == Self.inputShape else {
            throw BenchmarkError.backendFailed("takes float32 \(Self.inputShape), got \(encoded.spec.dtype) \(encoded.spec.shape)")
        }
        prepares += 1
        inputBytes = encoded.bytes
        input = floats(inputBytes)
    }

    func writeInput(_ encode: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard !inputBytes.isEmpty else { throw BenchmarkError.backendFailed("not prepared") }
        writes += 1
        try inputBytes.withUnsafeMutableBytes { try encode($0) }
        input = floats(inputBytes)  // like ExecuTorch's set_input: the runtime reads its own copy
    }

    func run() throws {
        runs += 1
        guard !weights.isEmpty, !input.isEmpty else { throw BenchmarkError.backendFailed("not loaded or prepared") }
        let n = input.count
        for c in 0 ..< classes {
            var acc: Float = 0
            for i in 0 ..< n { acc += weights[c * n + i] * input[i] }
            logits[c] = acc
        }
    }

    func output() throws -> RawOutput {
        var bytes: [UInt8] = []
        for v in logits { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return .tensor(bytes)
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

let float32Input = TensorSpec(dtype: .float32, shape: DenseBackend.inputShape, layout: .nchw)

func denseInput() throws -> EncodedInput {
    try InputEncoder(spec: float32Input, resolution: 16, preprocessing: PreprocessingSpec())
        .encode(photo: gradientImage(width: 40, height: 30), cropFraction: 0.875)
}

/// A scripted camera frame: the dense input with value 0 set to the frame's number; takes 0.5 ms of the clock.
final class CountingFrame: InputFrame {
    let base: [UInt8]
    let clock: SteppingClock
    private(set) var frames = 0
    private(set) var last: [UInt8] = []
    let steps = "scripted"

    init(base: EncodedInput, clock: SteppingClock) {
        self.base = base.bytes
        self.clock = clock
    }

    func encode(into destination: UnsafeMutableRawBufferPointer) throws {
        frames += 1
        var bytes = base
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: Float(frames).bitPattern, as: UInt32.self) }
        bytes.withUnsafeBytes { destination.copyMemory(from: $0) }
        last = bytes
        clock.now += 500_000
    }
}

final class BenchmarkLoopTests: XCTestCase {
    func testLoopPreparesOnceAndTimesOnlyRuns() throws {
        let backend = DenseBackend(classes: 10)
        let loop = BenchmarkLoop(config: RunConfig(threads: 2, warmup: 3, iterations: 25))
        let outcome = try loop.run(backend, input: try denseInput())
        XCTAssertEqual(backend.loads, 1)
        XCTAssertEqual(backend.prepares, 1)
        XCTAssertEqual(backend.runs, 1 + 3 + 25)
        XCTAssertEqual(outcome.latencyMs.count, 25)
        XCTAssertTrue(outcome.latencyMs.allSatisfy { $0 >= 0 })
        XCTAssertEqual(outcome.stats, try LatencyStats.summarize(outcome.latencyMs))
        try backend.run()
        XCTAssertEqual(outcome.output, try backend.output())
    }

    func testTimingUsesTheClock() throws {
        let loop = BenchmarkLoop(config: RunConfig(warmup: 2, iterations: 5), clock: SteppingClock(stepNanoseconds: 1_500_000))
        let outcome = try loop.run(DenseBackend(classes: 4), input: try denseInput())
        XCTAssertEqual(outcome.loadMs, 1.5)
        XCTAssertEqual(outcome.firstInferenceMs, 1.5)
        XCTAssertEqual(outcome.latencyMs, [1.5, 1.5, 1.5, 1.5, 1.5])
    }

    func testEachIterationPreprocessesAFrameTimedApartFromItsInference() throws {
        let clock = SteppingClock(stepNanoseconds: 1_000_000)
        let first = try denseInput()
        let frame = CountingFrame(base: first, clock: clock)
        let backend = DenseBackend(classes: 4)
        let outcome = try BenchmarkLoop(config: RunConfig(warmup: 2, iterations: 3), clock: clock)
            .run(backend, input: first, frame: frame)
        XCTAssertEqual(frame.frames, 2 + 3)  // every warm-up and timed run gets a new frame; the first run none
        XCTAssertEqual(backend.writes, 2 + 3)
        XCTAssertEqual(outcome.latencyMs, [1, 1, 1])  // exactly what it is without frames
        XCTAssertEqual(outcome.preprocess?.latencyMs, [1.5, 1.5, 1.5])
        XCTAssertEqual(outcome.preprocess?.stats, try LatencyStats.summarize([1.5, 1.5, 1.5]))
        XCTAssertEqual(outcome.preprocess?.steps, "scripted")
        // the last inference read the last frame, not the bound first one
        let reference = DenseBackend(classes: 4)
        try reference.load()
        try reference.prepare(EncodedInput(spec: first.spec, bytes: frame.last))
        try reference.run()
        XCTAssertEqual(outcome.output, try reference.output())
        try reference.prepare(first)
        try reference.run()
        XCTAssertNotEqual(outcome.output, try reference.output())

        let timed = try BenchmarkLoop(config: RunConfig(warmup: 0, iterations: 1, durationS: 0.030), clock: clock)
            .run(DenseBackend(classes: 4), input: first, frame: frame)
        XCTAssertEqual(timed.preprocess?.latencyMs.count, timed.latencyMs.count)
        XCTAssertNil(try BenchmarkLoop(config: RunConfig(warmup: 0, iterations: 2)).run(DenseBackend(classes: 4), input: first).preprocess)
    }

    func testAPhotoFrameRewritesTheWholeInputEachTime() throws {
        let spec = TensorSpec(dtype: .float16, shape: [1, 16, 16, 3], layout: .nhwc)
        let encoder = try InputEncoder(spec: spec, resolution: 16, preprocessing: PreprocessingSpec())
        let photo = gradientImage(width: 40, height: 30)
        let frame = PhotoFrame(encoder: encoder, photo: photo, cropFraction: 0.875)
        var dirty = [UInt8](repeating: 0x5A, count: spec.byteCount)
        try dirty.withUnsafeMutableBytes { try frame.encode(into: $0) }
        XCTAssertEqual(dirty, try encoder.encode(photo: photo, cropFraction: 0.875).bytes)
        XCTAssertEqual(try frame.encoded().bytes, dirty)
        XCTAssertEqual(frame.steps, "resize 40x30 to 24x18 (bilinear), crop 16, normalize, write float16 nhwc")
        let image = TensorSpec(dtype: .uint8, shape: [1, 3, 16, 16], layout: .image)
        XCTAssertEqual(PhotoFrame.steps(width: 451, height: 300, spec: image, resolution: 64, cropFraction: 0.875),
                       "resize 451x300 to 110x73 (bilinear), crop 64, write uint8 image")
    }

    func testDurationModeRunsUntilTheDeadline() throws {
        // Each timed run reads the clock three times (deadline check, start, end): 3 ms per iteration.
        let loop = BenchmarkLoop(config: RunConfig(warmup: 0, iterations: 1, durationS: 0.030),
                                 clock: SteppingClock(stepNanoseconds: 1_000_000))
        let backend = DenseBackend(classes: 4)
        let outcome = try loop.run(backend, input: try denseInput())
        XCTAssertEqual(outcome.latencyMs.count, 10)
        let report = loop.report(outcome, backend: backend, device: DeviceInfo(name: "iPhone", os: "iOS 18.1"),
                                 artifact: ArtifactInfo(sha256: String(repeating: "a", count: 64), file: "m.mlpackage"))
        XCTAssertEqual(report.config.iterations, 10)
    }

    func testBadConfigAndWrongInputAreRejected() throws {
        XCTAssertThrowsError(try BenchmarkLoop(config: RunConfig(iterations: 0)).run(DenseBackend(classes: 2), input: try denseInput()))
        XCTAssertThrowsError(try LatencyStats.summarize([]))
        let nhwc = try InputEncoder(spec: TensorSpec(dtype: .float32, shape: [1, 16, 16, 3], layout: .nhwc), resolution: 16,
                                    preprocessing: PreprocessingSpec()).encode(photo: gradientImage(width: 20, height: 20), cropFraction: 1)
        let backend = DenseBackend(classes: 2)
        XCTAssertThrowsError(try BenchmarkLoop(config: RunConfig()).run(backend, input: nhwc))
        XCTAssertEqual(backend.runs, 0)
    }

    /// A full report from a real loop run; pytest validates it against toolkit/schemas/result.schema.json.
    func testReportEncodesInTheSharedSchema() throws {
        let backend = DenseBackend(classes: 10)
        let loop = BenchmarkLoop(config: RunConfig(threads: 0, warmup: 2, iterations: 30))
        let outcome = try loop.run(backend, input: try denseInput())
        let manifest = try ModelManifest.load(from: resourcesDirectory.appendingPathComponent("manifest_coreml.json"))
        let report = loop.report(outcome, backend: backend,
                                 device: DeviceInfo(name: "iPhone15,2", os: "iOS 17.5", cpu: "A16", cores: 6),
                                 artifact: ArtifactInfo(manifest: manifest, sha256: manifest.artifact.sha256),
                                 temperatures: Temperatures(thermalState: "nominal"), notes: ["swift test"])
        let json = try JSONSerialization.jsonObject(with: report.jsonData()) as! [String: Any]
        XCTAssertEqual(json["schema_version"] as? Int, 1)
        let runtime = json["runtime"] as! [String: Any]
        XCTAssertEqual(runtime["delegate"] as? String, "cpu_only")
        XCTAssertEqual(runtime["version_source"] as? String, "runtime")
        XCTAssertEqual((json["latency_ms"] as! [Double]).count, 30)
        XCTAssertTrue((json["timestamp"] as! String).hasSuffix("Z"))
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

    func testErrorsAfterTheRunIDNameTheRun() {
        // the run id comes last on the command line but is read first, so the error file is the one the host polls
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark", "--iterations", "0", "--model", "m.pte", "--run-id", "r7"])) {
            XCTAssertEqual(($0 as? ArgumentError)?.runID, "r7")
            XCTAssertTrue("\($0)".contains("--iterations must be an integer >= 1"))
        }
        XCTAssertThrowsError(try BenchmarkArguments.parse(["--benchmark", "--model", "m.pte", "--run-id", "a b"])) {
            XCTAssertNil(($0 as? ArgumentError)?.runID)
        }
    }

    func testNameRule() {
        XCTAssertNil(BenchmarkArguments.fileNameProblem("mobilenet_v1-a0.25-r64-executorch-fp32.pte", maxLength: 255))
        for bad in ["", ".x", "a/b", "a b", "a;b", "é", "$(x)", String(repeating: "a", count: 129)] {
            XCTAssertNotNil(BenchmarkArguments.fileNameProblem(bad, maxLength: 128), bad)
        }
    }
}

final class ContractTests: XCTestCase {
    func testLayoutsHoldTheSameValues() throws {
        let crop = resizeAndCenterCrop(gradientImage(width: 33, height: 21), resolution: 8, cropFraction: 0.875)
        let prep = PreprocessingSpec()
        let nchw = floats(try InputEncoder(spec: TensorSpec(dtype: .float32, shape: [1, 3, 8, 8], layout: .nchw),
                                           resolution: 8, preprocessing: prep).encode(crop).bytes)
        let nhwc = floats(try InputEncoder(spec: TensorSpec(dtype: .float32, shape: [1, 8, 8, 3], layout: .nhwc),
                                           resolution: 8, preprocessing: prep).encode(crop).bytes)
        let image = try InputEncoder(spec: TensorSpec(dtype: .uint8, shape: [1, 3, 8, 8], layout: .image),
                                     resolution: 8, preprocessing: prep).encode(crop).bytes
        for i in 0 ..< 64 {
            for c in 0 ..< 3 {
                XCTAssertEqual(nchw[c * 64 + i], nhwc[i * 3 + c])
                XCTAssertEqual(image[i * 3 + c], crop.pixels[i * 4 + c])
                XCTAssertEqual(nhwc[i * 3 + c], (Float(crop.pixels[i * 4 + c]) / 255 - 0.5) / 0.5)
            }
        }
    }

    func testIntegersRoundHalfToEvenAndSaturate() throws {
        // mean -0.5, std 1: pixels 0, 128, 255 give x = 0.5, 1.00196, 1.5 (exact ties at 0.5 and 1.5)
        let prep = PreprocessingSpec(mean: [-0.5, -0.5, -0.5], std: [1, 1, 1], cropFraction: 1)
        let crop = RGBAImage(width: 1, height: 1, pixels: [0, 128, 255, 255])
        func encode(_ dtype: DType, _ scale: Double, _ zeroPoint: Int) throws -> [UInt8] {
            let spec = TensorSpec(dtype: dtype, shape: [1, 1, 1, 3], layout: .nhwc,
                                  quantization: Quantization(scale: scale, zeroPoint: zeroPoint))
            return try InputEncoder(spec: spec, resolution: 1, preprocessing: prep).encode(crop).bytes
        }
        XCTAssertEqual(try encode(.int8, 1, -3).map { Int8(bitPattern: $0) }, [-3, -2, -1])  // 0.5 -> 0, 1.5 -> 2
        XCTAssertEqual(try encode(.int8, 0.01, 0).map { Int8(bitPattern: $0) }, [50, 100, 127])  // 150 saturates
        XCTAssertEqual(try encode(.uint8, 0.005, 10), [110, 210, 255])
    }

    func testDecoderReadsEveryDtype() throws {
        let int8 = try OutputDecoder(spec: TensorSpec(dtype: .int8, shape: [1, 2], quantization: Quantization(scale: 0.5, zeroPoint: -3)),
                                     kind: .logits)
        XCTAssertEqual(try int8.decode(bytes: [UInt8(bitPattern: -3), 127]), [0, 65])
        let half = try OutputDecoder(spec: TensorSpec(dtype: .float16, shape: [1, 2]), kind: .logits)
        XCTAssertEqual(try half.decode(bytes: [0x00, 0x3C, 0x00, 0xC0]), [1, -2])
        XCTAssertThrowsError(try half.decode(bytes: [0, 0, 0])) { XCTAssertTrue("\($0)".contains("output has 3 bytes")) }
        let probs = try OutputDecoder(spec: TensorSpec(dtype: .float32, shape: [1, 2]), kind: .probabilities)
        let scores = try probs.decode(.classProbabilities(["b": 0.25, "a": 0.75], classLabels: ["a", "b"]))
        XCTAssertEqual(scores.values, [0.75, 0.25])
        XCTAssertEqual(scores.probabilities, [0.75, 0.25])  // never softmaxed again
        XCTAssertThrowsError(try probs.decode(.classProbabilities(["a": 1], classLabels: ["a", "c"])))
    }

    func testHalfConversionsMatchSwiftFloat16() {
        #if !(os(macOS) && arch(x86_64))
        var rng = SplitMix64(seed: 11)
        for _ in 0 ..< 200_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: rng.nextU64()))
            if x.isNaN { continue }
            XCTAssertEqual(halfBits(x), Float16(x).bitPattern, "\(x)")
        }
        for h in 0 ... UInt16.max where !Float16(bitPattern: h).isNaN {
            XCTAssertEqual(floatFromHalfBits(h).bitPattern, Float(Float16(bitPattern: h)).bitPattern)
        }
        #endif
        XCTAssertEqual(halfBits(1 + 0x1p-11), 0x3C00)  // a tie rounds to even
        XCTAssertEqual(halfBits(65520), 0x7C00)  // overflow is infinity
        XCTAssertTrue(floatFromHalfBits(halfBits(.nan)).isNaN)
    }

    func testExecuTorchSizesAreLogicalNCHWInEitherLayout() throws {
        let nhwc = TensorSpec(dtype: .float32, shape: [1, 32, 48, 3], layout: .nhwc)
        let nchw = TensorSpec(dtype: .float16, shape: [1, 3, 32, 48], layout: .nchw)
        XCTAssertEqual(try nhwc.executorchSizes(), [1, 3, 32, 48])
        XCTAssertEqual(try nhwc.executorchDimOrder(), [0, 2, 3, 1])
        XCTAssertEqual(try nchw.executorchSizes(), [1, 3, 32, 48])
        XCTAssertEqual(try nchw.executorchDimOrder(), [0, 1, 2, 3])
        let image = TensorSpec(dtype: .uint8, shape: [1, 3, 32, 32], layout: .image)
        XCTAssertThrowsError(try image.executorchSizes()) {
            XCTAssertEqual("\($0)", "input layout 'image' has no ExecuTorch sizes; an ExecuTorch program takes nchw or nhwc")
        }
        XCTAssertThrowsError(try TensorSpec(dtype: .float32, shape: [1, 10]).executorchDimOrder())
        // the program's MethodMeta against the manifest: sizes and dim order both
        XCTAssertNoThrow(try nhwc.checkExecuTorchInput(sizes: [1, 3, 32, 48], dimOrder: [0, 2, 3, 1], file: "m.pte"))
        XCTAssertNoThrow(try nchw.checkExecuTorchInput(sizes: [1, 3, 32, 48], dimOrder: [], file: "m.pte"))
        XCTAssertThrowsError(try nhwc.checkExecuTorchInput(sizes: [1, 3, 32, 48], dimOrder: [0, 1, 2, 3], file: "m.pte")) {
            XCTAssertEqual("\($0)", "m.pte takes an input of sizes [1, 3, 32, 48] in dim order [0, 1, 2, 3], but its "
                + "manifest's nhwc input [1, 32, 48, 3] is sizes [1, 3, 32, 48] in dim order [0, 2, 3, 1]: "
                + "copy the artifact and manifest of one export")
        }
        XCTAssertThrowsError(try nhwc.checkExecuTorchInput(sizes: [1, 32, 48, 3], dimOrder: [0, 2, 3, 1], file: "m.pte"))
        XCTAssertThrowsError(try nchw.checkExecuTorchInput(sizes: [1, 3, 32, 48], dimOrder: [0, 2, 3, 1], file: "m.pte"))
    }

    func testManifestSpecsAreRefusedWithOneLine() throws {
        let good = ModelManifest.TensorBlock(shape: [.fixed(1), .fixed(3), .fixed(8), .fixed(8)], layout: "nchw", dtype: "float32")
        XCTAssertNoThrow(try TensorSpec.input(good, resolution: 8))
        let cases: [(ModelManifest.TensorBlock, String)] = [
            (ModelManifest.TensorBlock(shape: good.shape, layout: "nchw", dtype: "int4"), "unsupported input dtype 'int4'"),
            (ModelManifest.TensorBlock(shape: good.shape, layout: "chw", dtype: "float32"), "unsupported input layout 'chw'"),
            (ModelManifest.TensorBlock(shape: good.shape, layout: "nhwc", dtype: "float32"), "does not fit a 8x8 nhwc input"),
            (ModelManifest.TensorBlock(shape: [.symbolic("N"), .fixed(3), .fixed(8), .fixed(8)], layout: "nchw"), "static"),
            (ModelManifest.TensorBlock(shape: good.shape, layout: "nchw", dtype: "int8"), "has no quantization"),
            (ModelManifest.TensorBlock(shape: good.shape, layout: "image", dtype: "float32"), "image input takes uint8"),
            (ModelManifest.TensorBlock(shape: good.shape, dtype: "float32"), "input.layout is missing"),
        ]
        for (block, message) in cases {
            XCTAssertThrowsError(try TensorSpec.input(block, resolution: 8)) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
                XCTAssertFalse("\($0)".contains("\n"))
            }
        }
        XCTAssertThrowsError(try OutputDecoder(output: ModelManifest.TensorBlock(shape: [.fixed(1), .fixed(10)], kind: "boxes")))
        XCTAssertThrowsError(try BackendKind(target: "tflite")) { XCTAssertTrue("\($0)".contains("does not run on iOS")) }
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
        XCTAssertEqual(try InputEncoder(manifest: m).spec, TensorSpec(dtype: .uint8, shape: [1, 3, 160, 160], layout: .image))
        let decoder = try OutputDecoder(manifest: m)
        XCTAssertEqual(decoder.kind, .probabilities)
        XCTAssertEqual(decoder.spec, TensorSpec(dtype: .float32, shape: [1, 1000]))
        let artifact = resourcesDirectory.appendingPathComponent(m.artifact.file)
        XCTAssertEqual(ModelManifest.url(forArtifact: artifact).lastPathComponent, m.artifact.file + ".manifest.json")
        XCTAssertEqual(try m.labelsURL(artifact: artifact)?.deletingLastPathComponent(), artifact.deletingLastPathComponent())
    }

    func testLabelsOutsideTheModelFolderAreRefused() throws {
        var m = try ModelManifest.load(from: resourcesDirectory.appendingPathComponent("manifest_coreml.json"))
        let artifact = URL(fileURLWithPath: "/tmp/models/m.mlpackage")
        for bad in ["../labels.txt", "/etc/passwd", "sub/labels.txt", "..", ".", "a\\b"] {
            m.labelsFile = bad
            XCTAssertThrowsError(try m.labelsURL(artifact: artifact), bad) { XCTAssertTrue("\($0)".contains("leaves the model's folder")) }
        }
        m.labelsFile = "m.mlpackage.labels.txt"
        XCTAssertEqual(try m.labelsURL(artifact: artifact)?.path, "/tmp/models/m.mlpackage.labels.txt")
    }

    func testAMalformedManifestIsOneLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"{"artifact": {"file": "m.pte"}}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ModelManifest.load(from: url)) {
            XCTAssertTrue("\($0)".contains("missing artifact.sha256"), "\($0)")
        }
        XCTAssertThrowsError(try ModelManifest.load(from: url.appendingPathExtension("absent"))) {
            XCTAssertTrue("\($0)".hasPrefix("no manifest"))
        }
    }

    func testTopKOrdersByProbabilityThenIndex() {
        let preds = topK(Scores(values: [0.1, 2.0, -1.0, 2.0, 0.5], kind: .logits), k: 3, labels: ["a", "b", "c", "d"])
        XCTAssertEqual(preds.map(\.index), [1, 3, 4])
        XCTAssertEqual(preds.map(\.label), ["b", "d", "class_4"])
        XCTAssertEqual(softmax([0.1, 2.0, -1.0, 2.0, 0.5]).reduce(0, +), 1.0, accuracy: 1e-12)
        XCTAssertGreaterThan(preds[0].probability, preds[2].probability)
        let probs = topK(Scores(values: [0.2, 0.7, 0.1], kind: .probabilities), k: 1)
        XCTAssertEqual(probs.first?.probability ?? 0, Double(Float(0.7)))
    }
}
