// ExecuTorch (.pte, XNNPACK or Core ML delegate inside the program) behind BenchCore's Backend protocol.
// Compiled only when the ExecuTorch Swift package is linked (see project.yml and README.md).
//
// The input tensor takes the manifest's dtype (ExecuTorch rejects a tensor of another dtype): float32 as
// Float, float16 as Half (the Swift API has no Tensor<Float16>, so the tensor is made from bytes with
// DataType .half), int8 as Char, uint8 as Byte. Its sizes are the logical (N, C, H, W) ones in either layout
// (TensorSpec.executorchSizes): MethodMeta reports those for a channels-last program too, and set_input
// resizes the program's input to the given sizes, then copies the bytes as they are. The tensor also states
// its dim order (TensorSpec.executorchDimOrder: 0, 2, 3, 1 for the manifest's nhwc), so it describes its
// NHWC bytes truthfully; the runtime does not check it today, but prepare() checks the program's own sizes
// and dim order against the manifest, since NHWC bytes read as NCHW (or the reverse) would run and mislead.
//
// The tensor is built once, over memory this backend owns (bytesNoCopy), and set as the method's input in
// prepare(); run() executes the method with no inputs, so nothing is copied inside the timed loop. A new
// frame is written into that memory and set again (writeInput): set_input copies it into the program's
// memory-planned input buffer (or shares the pointer when the input is not planned), which is the frame's
// copy into the input and is timed with its preprocessing.
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
    private var inputMemory: UnsafeMutableRawBufferPointer?
    private var inputTensor: AnyTensor?
    private var lastOutputs: [Value] = []

    init(modelURL: URL, manifest: ModelManifest) {
        self.modelURL = modelURL
        runtime = RuntimeInfo(name: "executorch", version: manifest.runtime?.version ?? "unknown",
                              versionSource: .declared, delegate: manifest.delegate)
    }

    deinit { inputMemory?.deallocate() }

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
        let name = modelURL.lastPathComponent
        let dataType = Self.dataType(input.spec.dtype)
        let sizes = try input.spec.executorchSizes(), dimOrder = try input.spec.executorchDimOrder()
        guard let meta = try module.methodMetadata("forward").inputTensorMetadata[0] else {
            throw AppError.message("\(name): the program's first input is not a tensor")
        }
        guard meta.dataType == dataType else {
            throw AppError.message("\(name) takes ExecuTorch type \(meta.dataType.rawValue), its manifest says "
                + input.spec.dtype.rawValue)
        }
        try input.spec.checkExecuTorchInput(sizes: meta.shape, dimOrder: meta.dimensionOrder, file: name)
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: input.bytes.count, alignment: 64)
        inputMemory = memory
        input.bytes.withUnsafeBytes { memory.copyMemory(from: $0) }  // the first frame, once, here
        let tensor = AnyTensor(bytesNoCopy: memory.baseAddress!, shape: sizes, dimensionOrder: dimOrder,
                               dataType: dataType)
        try module.setInput(tensor)
        inputTensor = tensor  // kept alive for as long as the method may read it
    }

    func writeInput(_ encode: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard let module = module, let memory = inputMemory, let tensor = inputTensor else {
            throw BenchmarkError.backendFailed("input not prepared")
        }
        try encode(memory)
        try module.setInput(tensor)  // the program reads its own (planned) copy: hand it the new frame
    }

    func run() throws {
        guard let module = module else { throw BenchmarkError.backendFailed("program not loaded") }
        lastOutputs = try module.forward([])  // the input set in prepare() or by the last writeInput()
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
