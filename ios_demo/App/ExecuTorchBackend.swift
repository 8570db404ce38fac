// ExecuTorch (.pte, XNNPACK or Core ML delegate inside the program) behind BenchCore's Backend protocol.
// Compiled only when the ExecuTorch Swift package is linked (see project.yml and README.md).
#if canImport(ExecuTorch)
import BenchCore
import ExecuTorch
import Foundation

final class ExecuTorchBackend: Backend {
    let runtimeName = "executorch"
    let runtimeVersion: String
    let delegate: String?

    private let modelURL: URL
    private let shape: [Int]
    private var module: Module?

    init(modelURL: URL, manifest: ModelManifest) {
        self.modelURL = modelURL
        runtimeVersion = manifest.runtime?.version ?? "unknown"
        delegate = manifest.delegate
        shape = manifest.input.shape.map { dim -> Int in
            if case let .fixed(n) = dim { return n }
            return 1
        }
    }

    func load() throws {
        let module = Module(filePath: modelURL.path)
        try module.load("forward")
        self.module = module
    }

    func run(_ input: [Float]) throws -> [Float] {
        guard let module = module else { throw BenchmarkError.backendFailed("program not loaded") }
        let tensor = Tensor<Float>(input, shape: shape)
        let output = try Tensor<Float>(module.forward(tensor))
        return output.scalars()
    }
}
#endif
