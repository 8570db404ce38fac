// A model's raw output to Float32 scores (toolkit.runtimes.io.decode), read once after the timed loop.
import Foundation

/// What a runtime hands back, before any interpretation.
public enum RawOutput: Equatable {
    /// The output tensor's bytes in the manifest's dtype, native byte order (little-endian on every
    /// platform the app runs on).
    case tensor([UInt8])
    /// A Core ML classifier's probability dictionary, keyed by class label, and the model's own class
    /// order (MLModelDescription.classLabels), which the scores follow.
    case classProbabilities([String: Double], classLabels: [String])
}

/// Scores in class order, and whether they are logits or already probabilities.
public struct Scores: Equatable {
    public var values: [Float]
    public var kind: OutputKind

    public init(values: [Float], kind: OutputKind) {
        self.values = values
        self.kind = kind
    }

    /// Class probabilities: softmax of logits; probabilities as they are (never softmaxed twice).
    public var probabilities: [Double] {
        kind == .logits ? softmax(values) : values.map(Double.init)
    }
}

public struct OutputDecoder {
    public let spec: TensorSpec
    public let kind: OutputKind

    public init(manifest: ModelManifest) throws {
        try self.init(output: manifest.output)
    }

    /// From the manifest's output block (kind absent: logits; dtype absent: float32).
    public init(output: ModelManifest.TensorBlock) throws {
        let name = output.kind ?? OutputKind.logits.rawValue
        guard let kind = OutputKind(rawValue: name) else {
            let known = OutputKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ContractError("unsupported output kind '\(name)'; the app reads \(known)")
        }
        try self.init(spec: TensorSpec.output(output), kind: kind)
    }

    public init(spec: TensorSpec, kind: OutputKind) throws {
        if spec.dtype.isInteger && spec.quantization == nil {
            throw ContractError("an \(spec.dtype.rawValue) output needs its quantization (scale, zero point)")
        }
        self.spec = spec
        self.kind = kind
    }

    public func decode(_ raw: RawOutput) throws -> Scores {
        switch raw {
        case let .tensor(bytes):
            return Scores(values: try decode(bytes: bytes), kind: kind)
        case let .classProbabilities(probabilities, labels):
            guard labels.count == spec.count else {
                throw ContractError("the classifier output needs \(spec.count) class labels, found \(labels.count)")
            }
            let values = try labels.map { label -> Float in
                guard let p = probabilities[label] else {
                    throw ContractError("the classifier gave no probability for class '\(label)'")
                }
                return Float(p)
            }
            return Scores(values: values, kind: kind)
        }
    }

    /// float32 as is, float16 widened exactly, int8/uint8 as (q - zero_point) * scale in Float32.
    public func decode(bytes: [UInt8]) throws -> [Float] {
        guard bytes.count == spec.byteCount else {
            throw ContractError("output has \(bytes.count) bytes, a \(spec.dtype.rawValue) \(spec.shape) output has \(spec.byteCount)")
        }
        let n = spec.count
        let scale = Float(spec.quantization?.scale ?? 1)
        let zeroPoint = Float(spec.quantization?.zeroPoint ?? 0)
        return bytes.withUnsafeBytes { raw in
            switch spec.dtype {
            case .float32:
                return (0 ..< n).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            case .float16:
                return (0 ..< n).map { floatFromHalfBits(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
            case .int8:
                return (0 ..< n).map { (Float(raw.load(fromByteOffset: $0, as: Int8.self)) - zeroPoint) * scale }
            case .uint8:
                return (0 ..< n).map { (Float(raw[$0]) - zeroPoint) * scale }
            }
        }
    }
}
