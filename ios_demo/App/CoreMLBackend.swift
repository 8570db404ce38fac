// Core ML behind BenchCore's Backend protocol, with the compute units the user (or the toolkit) picked.
//
// An .mlpackage arriving through Documents is compiled on the phone with MLModel.compileModel(at:), and the
// compiled .mlmodelc is cached in Application Support under the artifact's sha256 so only the first run pays.
// Compile time is part of load time on the first run; the result's notes cannot tell the two apart, so the
// toolkit's first sweep run per artifact is the one to discount.
import BenchCore
import CoreML
import CoreVideo
import Foundation

final class CoreMLBackend: Backend {
    let runtimeName = "coreml"
    var runtimeVersion: String { "iOS \(ProcessInfo.processInfo.operatingSystemVersionString)" }
    var delegate: String? { computeUnits.rawValue }

    private let modelURL: URL
    private let manifest: ModelManifest
    private let labels: [String]
    private let computeUnits: ComputeUnits
    private var model: MLModel?
    private var inputName = ""
    private var inputIsImage = false
    private var inputShape: [NSNumber] = []
    private var cachedInput: [Float] = []
    private var cachedFeatures: MLFeatureProvider?

    init(modelURL: URL, manifest: ModelManifest, labels: [String], computeUnits: ComputeUnits) {
        self.modelURL = modelURL
        self.manifest = manifest
        self.labels = labels
        self.computeUnits = computeUnits
    }

    static func mlComputeUnits(_ units: ComputeUnits) -> MLComputeUnits {
        switch units {
        case .cpuOnly: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        case .all: return .all
        }
    }

    func load() throws {
        let config = MLModelConfiguration()
        config.computeUnits = Self.mlComputeUnits(computeUnits)
        let loaded = try MLModel(contentsOf: try compiledURL(), configuration: config)
        guard let input = loaded.modelDescription.inputDescriptionsByName.first else {
            throw AppError.message("\(manifest.artifact.file) has no input")
        }
        inputName = input.key
        inputIsImage = input.value.type == .image
        inputShape = input.value.multiArrayConstraint?.shape ?? []
        model = loaded
    }

    /// One prediction. The toolkit's exporter writes an ImageType input (RGB 0...255, the model applies its
    /// own scale/bias) and a classifier output of probabilities; those come back as log-probabilities so
    /// BenchCore's softmax/top-k give the model's probabilities again. Plain multi-array models also work.
    func run(_ input: [Float]) throws -> [Float] {
        guard let model = model else { throw BenchmarkError.backendFailed("model not loaded") }
        let result = try model.prediction(from: try features(for: input))
        if let probs = result.featureValue(for: model.modelDescription.predictedProbabilitiesName ?? "")?
            .dictionaryValue {
            let names = labels.isEmpty ? probs.keys.map { "\($0)" }.sorted() : labels
            return names.map { Float(log(max(probs[AnyHashable($0)]?.doubleValue ?? 0, 1e-30))) }
        }
        for name in model.modelDescription.outputDescriptionsByName.keys.sorted() {
            if let logits = result.featureValue(for: name)?.multiArrayValue {
                return (0 ..< logits.count).map { logits[$0].floatValue }
            }
        }
        throw BenchmarkError.backendFailed("\(manifest.artifact.file): no probabilities or multi-array output")
    }

    /// The input feature, rebuilt only when the input changes (the benchmark feeds one image many times).
    private func features(for input: [Float]) throws -> MLFeatureProvider {
        if let cached = cachedFeatures, cachedInput == input { return cached }
        let value: MLFeatureValue
        if inputIsImage {
            value = MLFeatureValue(pixelBuffer: try pixelBuffer(rgb: input, side: manifest.variant.resolution))
        } else {
            let array = try MLMultiArray(shape: inputShape, dataType: .float32)
            guard array.count == input.count else {
                throw BenchmarkError.backendFailed("input has \(input.count) values, model wants \(array.count)")
            }
            let pointer = array.dataPointer.bindMemory(to: Float.self, capacity: input.count)
            input.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: input.count) }
            value = MLFeatureValue(multiArray: array)
        }
        let provider = try MLDictionaryFeatureProvider(dictionary: [inputName: value])
        cachedInput = input
        cachedFeatures = provider
        return provider
    }

    /// Interleaved RGB 0...255 values to a BGRA pixel buffer (what Core ML image inputs accept).
    private func pixelBuffer(rgb: [Float], side: Int) throws -> CVPixelBuffer {
        var buffer: CVPixelBuffer?
        let status = CVPixelBufferCreate(kCFAllocatorDefault, side, side, kCVPixelFormatType_32BGRA, nil, &buffer)
        guard status == kCVReturnSuccess, let pb = buffer, rgb.count == side * side * 3 else {
            throw BenchmarkError.backendFailed("cannot make a \(side)x\(side) pixel buffer")
        }
        CVPixelBufferLockBaseAddress(pb, [])
        defer { CVPixelBufferUnlockBaseAddress(pb, []) }
        let rowBytes = CVPixelBufferGetBytesPerRow(pb)
        let base = CVPixelBufferGetBaseAddress(pb)!.assumingMemoryBound(to: UInt8.self)
        for y in 0 ..< side {
            for x in 0 ..< side {
                let i = (y * side + x) * 3, o = y * rowBytes + x * 4
                base[o] = UInt8(rgb[i + 2])
                base[o + 1] = UInt8(rgb[i + 1])
                base[o + 2] = UInt8(rgb[i])
                base[o + 3] = 255
            }
        }
        return pb
    }
    /// A compiled model: bundled .mlmodelc as is, else the cached compile of this sha256, else compile now.
    private func compiledURL() throws -> URL {
        if modelURL.pathExtension == "mlmodelc" { return modelURL }
        let fm = FileManager.default
        let cache = try fm.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil,
                               create: true).appendingPathComponent("CompiledModels")
        let cached = cache.appendingPathComponent("\(manifest.artifact.sha256).mlmodelc")
        if fm.fileExists(atPath: cached.path) { return cached }
        let compiled = try MLModel.compileModel(at: modelURL)
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        try? fm.removeItem(at: cached)
        try fm.moveItem(at: compiled, to: cached)
        return cached
    }
}
