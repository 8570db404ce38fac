// Core ML behind BenchCore's Backend protocol, with the compute units the user (or the toolkit) picked.
//
// The input follows the manifest: an image input gets a BGRA pixel buffer built once from BenchCore's RGB
// bytes; a multi-array input gets an MLMultiArray of the manifest's dtype (float32 or float16; Core ML has
// no int8 multi-array before iOS 26 and no uint8 one at all, so integer inputs are refused). The feature
// provider is built once in prepare(); run() is the prediction alone. A classifier's probabilities come back
// keyed by label, in the model's own class order.
//
// A new frame (writeInput) is written in place into the memory the feature provider already holds, so the
// next prediction reads it with nothing re-bound: a multi-array input is encoded straight into the
// MLMultiArray's (contiguous) storage; an image input's RGB bytes go to a staging buffer and are converted
// into the same BGRA pixel buffer, under its lock. Both are the frame's preprocessing, outside run().
//
// An .mlpackage arriving through Documents is compiled on the phone with MLModel.compileModel(at:), and the
// compiled .mlmodelc is cached in Application Support under the sha256 the app computed, so only the first
// run pays. Compile time is part of load time on that first run.
import BenchCore
import CoreML
import CoreVideo
import Foundation
import UIKit

final class CoreMLBackend: Backend {
    let runtime: RuntimeInfo
    private let modelURL: URL
    private let manifest: ModelManifest
    private let sha256: String
    private let computeUnits: ComputeUnits
    private var model: MLModel?
    private var inputName = ""
    private var features: MLFeatureProvider?
    private var inputArray: MLMultiArray?
    private var inputPixels: CVPixelBuffer?
    private var staging: [UInt8] = []  // an image input's RGB frame, before it becomes BGRA
    private var lastResult: MLFeatureProvider?

    init(modelURL: URL, manifest: ModelManifest, sha256: String, computeUnits: ComputeUnits) {
        self.modelURL = modelURL
        self.manifest = manifest
        self.sha256 = sha256
        self.computeUnits = computeUnits
        // Core ML ships with the OS: its version is the OS version, read from the phone.
        runtime = RuntimeInfo(name: "coreml", version: "iOS \(UIDevice.current.systemVersion)",
                              versionSource: .runtime, delegate: computeUnits.rawValue)
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
        guard loaded.modelDescription.inputDescriptionsByName.count == 1,
              let name = loaded.modelDescription.inputDescriptionsByName.keys.first else {
            throw AppError.message("\(manifest.artifact.file) must have exactly one input")
        }
        inputName = name
        model = loaded
    }

    func prepare(_ input: EncodedInput) throws {
        guard let model = model, let description = model.modelDescription.inputDescriptionsByName[inputName] else {
            throw BenchmarkError.backendFailed("model not loaded")
        }
        let value: MLFeatureValue
        switch (description.type, input.spec.layout) {
        case (.image, .image?):
            let pixels = try pixelBuffer(input, constraint: description.imageConstraint)
            inputPixels = pixels
            staging = input.bytes
            value = MLFeatureValue(pixelBuffer: pixels)
        case (.multiArray, .nchw?), (.multiArray, .nhwc?):
            let array = try multiArray(input, constraint: description.multiArrayConstraint)
            inputArray = array
            value = MLFeatureValue(multiArray: array)
        default:
            throw AppError.message("\(manifest.artifact.file): the model's input is not what its manifest describes "
                + "(\(input.spec.layout?.rawValue ?? "?") \(input.spec.dtype.rawValue))")
        }
        features = try MLDictionaryFeatureProvider(dictionary: [inputName: value])
    }

    func writeInput(_ encode: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        if let array = inputArray {
            let count = array.count * (array.dataType == .float16 ? 2 : 4)
            try encode(UnsafeMutableRawBufferPointer(start: array.dataPointer, count: count))
        } else if let pixels = inputPixels {
            try staging.withUnsafeMutableBytes { try encode($0) }
            try fill(pixels, rgb: staging)
        } else {
            throw BenchmarkError.backendFailed("input not prepared")
        }
    }

    func run() throws {
        guard let model = model, let features = features else { throw BenchmarkError.backendFailed("not prepared") }
        lastResult = try model.prediction(from: features)
    }

    func output() throws -> RawOutput {
        guard let model = model, let result = lastResult else { throw BenchmarkError.backendFailed("no output yet") }
        let description = model.modelDescription
        if let name = description.predictedProbabilitiesName, let probs = result.featureValue(for: name)?.dictionaryValue {
            var byLabel: [String: Double] = [:]
            for (key, value) in probs { byLabel["\(key)"] = value.doubleValue }
            return .classProbabilities(byLabel, classLabels: (description.classLabels ?? []).map { "\($0)" })
        }
        let names = description.outputDescriptionsByName.keys.sorted()
        guard names.count == 1, let array = result.featureValue(for: names[0])?.multiArrayValue else {
            throw BenchmarkError.backendFailed("\(manifest.artifact.file): no classifier or single multi-array output")
        }
        return .tensor(try bytes(of: array))
    }

    /// The encoded RGB pixels (H x W x 3) as the BGRA buffer Core ML image inputs take.
    private func pixelBuffer(_ input: EncodedInput, constraint: MLImageConstraint?) throws -> CVPixelBuffer {
        let side = manifest.variant.resolution
        if let c = constraint, c.pixelsWide != side || c.pixelsHigh != side {
            throw AppError.message("the model takes \(c.pixelsWide)x\(c.pixelsHigh) images, its manifest says \(side)")
        }
        var buffer: CVPixelBuffer?
        let status = CVPixelBufferCreate(kCFAllocatorDefault, side, side, kCVPixelFormatType_32BGRA, nil, &buffer)
        guard status == kCVReturnSuccess, let pb = buffer else {
            throw BenchmarkError.backendFailed("cannot make a \(side)x\(side) pixel buffer")
        }
        try fill(pb, rgb: input.bytes)
        return pb
    }

    /// RGB bytes (H x W x 3) into the square BGRA pixel buffer, in place.
    private func fill(_ pb: CVPixelBuffer, rgb bytes: [UInt8]) throws {
        let side = CVPixelBufferGetWidth(pb)
        guard bytes.count == side * side * 3, CVPixelBufferGetHeight(pb) == side else {
            throw BenchmarkError.backendFailed("\(bytes.count) RGB bytes do not fill a \(side)x\(side) pixel buffer")
        }
        CVPixelBufferLockBaseAddress(pb, [])
        defer { CVPixelBufferUnlockBaseAddress(pb, []) }
        let rowBytes = CVPixelBufferGetBytesPerRow(pb)
        let base = CVPixelBufferGetBaseAddress(pb)!.assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { rgb in
            for y in 0 ..< side {
                for x in 0 ..< side {
                    let i = (y * side + x) * 3, o = y * rowBytes + x * 4
                    base[o] = rgb[i + 2]
                    base[o + 1] = rgb[i + 1]
                    base[o + 2] = rgb[i]
                    base[o + 3] = 255
                }
            }
        }
    }

    /// The encoded bytes in an MLMultiArray of the manifest's dtype, which must be the model's own.
    private func multiArray(_ input: EncodedInput, constraint: MLMultiArrayConstraint?) throws -> MLMultiArray {
        let dataType: MLMultiArrayDataType
        switch input.spec.dtype {
        case .float32: dataType = .float32
        case .float16: dataType = .float16
        case .int8, .uint8:
            throw AppError.message("Core ML multi-array inputs are float32 or float16 here; a \(input.spec.dtype.rawValue) "
                + "input cannot be fed (MLMultiArray has int8 only from iOS 26 and no uint8)")
        }
        if let c = constraint, c.dataType != dataType {
            throw AppError.message("the model's input is MLMultiArray type \(c.dataType.rawValue), its manifest says "
                + input.spec.dtype.rawValue)
        }
        let array = try MLMultiArray(shape: input.spec.shape.map { NSNumber(value: $0) }, dataType: dataType)
        guard array.count * input.spec.dtype.byteWidth == input.bytes.count else {
            throw BenchmarkError.backendFailed("input has \(input.bytes.count) bytes, the array holds \(array.count) values")
        }
        var expected = 1  // frames are written straight into its storage: it must be the contiguous layout
        for (dim, stride) in zip(array.shape.reversed(), array.strides.reversed()) {
            guard stride.intValue == expected else { throw BenchmarkError.backendFailed("input array is not contiguous") }
            expected *= dim.intValue
        }
        input.bytes.withUnsafeBytes { src in
            UnsafeMutableRawPointer(array.dataPointer).copyMemory(from: src.baseAddress!, byteCount: src.count)
        }
        return array
    }

    /// A contiguous float32 or float16 output array's bytes, for BenchCore's decoder.
    private func bytes(of array: MLMultiArray) throws -> [UInt8] {
        let width: Int
        switch array.dataType {
        case .float32: width = 4
        case .float16: width = 2
        default: throw BenchmarkError.backendFailed("output MLMultiArray type \(array.dataType.rawValue) is not float32/16")
        }
        var expected = 1
        for (dim, stride) in zip(array.shape.reversed(), array.strides.reversed()) {
            guard stride.intValue == expected else { throw BenchmarkError.backendFailed("output array is not contiguous") }
            expected *= dim.intValue
        }
        return Array(UnsafeRawBufferPointer(start: array.dataPointer, count: array.count * width))
    }

    /// The cached compile of this sha256, else compile now.
    private func compiledURL() throws -> URL {
        let fm = FileManager.default
        let cache = try fm.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil,
                               create: true).appendingPathComponent("CompiledModels")
        let cached = cache.appendingPathComponent("\(sha256).mlmodelc")
        if fm.fileExists(atPath: cached.path) { return cached }
        let compiled = try MLModel.compileModel(at: modelURL)
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        try? fm.removeItem(at: cached)
        try fm.moveItem(at: compiled, to: cached)
        return cached
    }
}
