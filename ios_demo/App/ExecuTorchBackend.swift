// ExecuTorch (.pte, XNNPACK or Core ML delegate inside the program) behind BenchCore's Backend protocol.
// Compiled only when the ExecuTorch Swift package is linked (see project.yml and README.md).
//
// The input tensor takes the manifest's dtype (ExecuTorch rejects a tensor of another dtype): float32 as
// Float, float16 as Half (the Swift API has no Tensor<Float16>, so the tensor is made from bytes with
// DataType .half), int8 as Char, uint8 as Byte. It is built once and set as the method's input once in
// prepare(); run() then executes the method with no inputs, so nothing is copied inside the timed loop.
// ExecuTorch has no version API on the phone: the version is the one the artifact was exported with,
// marked "declared" in the record.
#if canImport(ExecuTorch)
import BenchCore
import ExecuTorch
import Foundation

final class ExecuTorchBackend: Backend {
    let runtime: RuntimeInfo
    private let modelURL: URL
    private var module: Module?
    private var inputTensor: AnyTensor?
    private var lastOutputs: [Value] = []

    init(modelURL: URL, manifest: ModelManifest) {
        self.modelURL = modelURL
        runtime = RuntimeInfo(name: "executorch", version: manifest.runtime?.version ?? "unknown",
                              versionSource: .declared, delegate: manifest.delegate)
    }

    static func dataType(_ dtype: DType) -> DataType {
        switch dtype {
        case .float32: return .float
        case .float16: return .half
        case .int8: return .char
        case .uint8: return .byte
        }
    }

    func load() throws {
        let module = Module(filePath: modelURL.path)
        try module.load("forward")
        self.module = module
    }

    func prepare(_ input: EncodedInput) throws {
        guard let module = module else { throw BenchmarkError.backendFailed("program not loaded") }
        let dataType = Self.dataType(input.spec.dtype)
        if let meta = try module.methodMetadata("forward").inputTensorMetadata[0],
           meta.dataType != dataType || meta.shape != input.spec.shape {
            throw AppError.message("\(modelURL.lastPathComponent) takes \(meta.shape) of ExecuTorch type "
                + "\(meta.dataType.rawValue), its manifest says \(input.spec.shape) \(input.spec.dtype.rawValue)")
        }
        let tensor = input.bytes.withUnsafeBytes { raw in
            AnyTensor(bytes: raw.baseAddress!, shape: input.spec.shape, dataType: dataType)  // one copy, here
        }
        try module.setInput(tensor)
        inputTensor = tensor  // kept alive for as long as the method may read it
    }

    func run() throws {
        guard let module = module else { throw BenchmarkError.backendFailed("program not loaded") }
        lastOutputs = try module.forward([])  // the input set in prepare()
    }

    func output() throws -> RawOutput {
        guard let tensor = lastOutputs.first?.anyTensor else {
            throw BenchmarkError.backendFailed("\(modelURL.lastPathComponent) returned no tensor")
        }
        var bytes: [UInt8] = []
        tensor.bytes { pointer, count, dataType in
            bytes = Array(UnsafeRawBufferPointer(start: pointer, count: count * size(ofDataType: dataType)))
        }
        return .tensor(bytes)
    }
}
#endif
