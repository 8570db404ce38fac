// The I/O contract between the app and an exported model, as toolkit/runtimes/io.py defines it.
//
// A manifest's `input` and `output` blocks say which bytes the model takes and gives: a dtype (float32,
// float16, int8, uint8), the input's layout (nchw, nhwc, or image: RGB uint8 pixels for a Core ML image
// input) and, for integer tensors, an affine quantization. The manifest blocks are decoded leniently
// (plain strings) and validated here, so an artifact the app cannot feed is refused with one clear line
// instead of a decoding error.
import Foundation

public enum DType: String, CaseIterable {
    case float32, float16, int8, uint8

    public var byteWidth: Int {
        switch self {
        case .float32: return 4
        case .float16: return 2
        case .int8, .uint8: return 1
        }
    }

    public var isInteger: Bool { self == .int8 || self == .uint8 }

    /// The integer range a quantized value is clamped to.
    var integerRange: ClosedRange<Float> { self == .int8 ? -128 ... 127 : 0 ... 255 }
}

public enum Layout: String, CaseIterable {
    case nchw, nhwc, image
}

/// What a model's output holds: raw scores, or a classifier's softmax (a Core ML classifier).
public enum OutputKind: String, CaseIterable {
    case logits, probabilities
}

/// Affine quantization: q = clamp(round_half_even(x / scale) + zeroPoint); x = (q - zeroPoint) * scale.
public struct Quantization: Equatable, Decodable {
    public var scale: Double
    public var zeroPoint: Int

    public init(scale: Double, zeroPoint: Int) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    enum CodingKeys: String, CodingKey {
        case scale
        case zeroPoint = "zero_point"
    }
}

/// One validated model tensor: what the runtime's input takes or its output gives.
public struct TensorSpec: Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var layout: Layout?
    public var quantization: Quantization?

    public init(dtype: DType, shape: [Int], layout: Layout? = nil, quantization: Quantization? = nil) {
        self.dtype = dtype
        self.shape = shape
        self.layout = layout
        self.quantization = quantization
    }

    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * dtype.byteWidth }
}

public struct ContractError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension TensorSpec {
    /// The manifest's input block, checked against what the app can build from a resolution x resolution
    /// crop: a known dtype and layout, the shape that layout implies, quantization for integer tensors.
    public static func input(_ block: ModelManifest.TensorBlock, resolution r: Int) throws -> TensorSpec {
        let dtype = try parseDType(block.dtype, side: "input")
        guard let name = block.layout else { throw ContractError("manifest input.layout is missing") }
        guard let layout = Layout(rawValue: name) else {
            let known = Layout.allCases.map(\.rawValue).joined(separator: ", ")
            throw ContractError("unsupported input layout '\(name)'; the app feeds \(known)")
        }
        let shape = try staticShape(block.shape, side: "input")
        let wanted: [[Int]]
        switch layout {
        case .nchw: wanted = [[1, 3, r, r]]
        case .nhwc: wanted = [[1, r, r, 3]]
        case .image: wanted = [[1, 3, r, r], [1, r, r, 3]]
        }
        guard wanted.contains(shape) else {
            throw ContractError("manifest input.shape \(shape) does not fit a \(r)x\(r) \(name) input (expected \(wanted[0]))")
        }
        if layout == .image && dtype != .uint8 {
            throw ContractError("an image input takes uint8 RGB pixels, but the manifest says \(dtype.rawValue)")
        }
        let spec = TensorSpec(dtype: dtype, shape: shape, layout: layout, quantization: block.quantization)
        if dtype.isInteger && layout != .image { try spec.requireQuantization(side: "input") }
        return spec
    }

    /// The manifest's output block: its dtype (float32 when an older manifest does not say) and shape.
    public static func output(_ block: ModelManifest.TensorBlock) throws -> TensorSpec {
        let spec = TensorSpec(dtype: try parseDType(block.dtype, side: "output"),
                              shape: try staticShape(block.shape, side: "output"), quantization: block.quantization)
        if spec.dtype.isInteger { try spec.requireQuantization(side: "output") }
        return spec
    }

    private static func parseDType(_ name: String?, side: String) throws -> DType {
        guard let name = name else { return .float32 }
        guard let dtype = DType(rawValue: name) else {
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            throw ContractError("unsupported \(side) dtype '\(name)'; the app handles \(known)")
        }
        return dtype
    }

    private static func staticShape(_ dims: [ModelManifest.Dim], side: String) throws -> [Int] {
        let shape = dims.compactMap { dim -> Int? in
            if case let .fixed(n) = dim, n > 0 { return n }
            return nil
        }
        guard !dims.isEmpty, shape.count == dims.count else {
            throw ContractError("manifest \(side).shape must be static positive integers, got \(dims.map(\.text))")
        }
        return shape
    }

    private func requireQuantization(side: String) throws {
        guard let q = quantization else {
            throw ContractError("manifest \(side) is \(dtype.rawValue) but has no quantization (scale, zero_point)")
        }
        guard q.scale > 0, q.scale.isFinite else { throw ContractError("\(side) quantization scale must be > 0") }
    }
}

extension TensorSpec {
    /// The sizes an ExecuTorch tensor declares for this image input: logical (N, C, H, W) in either layout.
    /// MethodMeta reports these whatever the program's dim order, and Method::set_input resizes the program's
    /// input to the given tensor's sizes (checking dtype and sizes, never dim order) before copying its bytes as
    /// they are. So a channels-last program (the manifest's nhwc, memory shape [N, H, W, C]) takes [N, C, H, W]
    /// over NHWC bytes, and feeding it the manifest's memory shape is refused.
    public func executorchSizes() throws -> [Int] {
        switch layout {
        case .nchw?: return shape
        case .nhwc? where shape.count == 4: return [shape[0], shape[3], shape[1], shape[2]]
        default: throw ContractError("input layout '\(layout?.rawValue ?? "none")' has no ExecuTorch sizes; "
            + "an ExecuTorch program takes nchw or nhwc")
        }
    }

    /// The dim order of those bytes, as ExecuTorch states it: (0, 1, 2, 3) for NCHW, (0, 2, 3, 1) channels-last.
    public func executorchDimOrder() throws -> [Int] {
        _ = try executorchSizes()
        return layout == .nhwc ? [0, 2, 3, 1] : [0, 1, 2, 3]
    }

    /// Refuses a program whose input is not this spec, from its MethodMeta (sizes and dim order; an empty dim
    /// order is ExecuTorch's default, contiguous). A channels-last program read as NCHW bytes, or the reverse,
    /// would run and give wrong scores, so the dim order is checked too, though the runtime does not.
    public func checkExecuTorchInput(sizes: [Int], dimOrder: [Int], file: String) throws {
        let want = try executorchSizes(), wantOrder = try executorchDimOrder()
        let order = dimOrder.isEmpty ? Array(0 ..< sizes.count) : dimOrder
        guard sizes == want, order == wantOrder else {
            throw ContractError("\(file) takes an input of sizes \(sizes) in dim order \(order), but its manifest's "
                + "\(layout?.rawValue ?? "?") input \(shape) is sizes \(want) in dim order \(wantOrder): "
                + "copy the artifact and manifest of one export")
        }
    }
}

/// Which runtime runs an artifact on the phone, chosen by the manifest's target.
public enum BackendKind: String, CaseIterable {
    case coreml, executorch

    public init(target: String) throws {
        guard let kind = BackendKind(rawValue: target) else {
            throw ContractError("a \(target) artifact does not run on iOS; export coreml or executorch")
        }
        self = kind
    }
}
