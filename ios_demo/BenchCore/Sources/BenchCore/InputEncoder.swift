// Cropped pixels to the exact bytes of the model's input tensor (toolkit.runtimes.io.encode_pixels).
//
// Each pixel is normalized once, `(pixel / 255 - mean) / std` in Float32, and written straight to its place
// in the model's layout and dtype: no intermediate float image, no second reordering pass. The layout is
// two strides (where channel c of pixel i lands), so a new layout is one more pair, and the encoder can
// write into any buffer the runtime hands out (an MLMultiArray, an ExecuTorch tensor, a pixel buffer).
import Foundation

/// The bytes one model input takes, built once before any timing.
public struct EncodedInput: Equatable {
    public let spec: TensorSpec
    public let bytes: [UInt8]

    public init(spec: TensorSpec, bytes: [UInt8]) {
        precondition(bytes.count == spec.byteCount, "encoded input has \(bytes.count) bytes, spec wants \(spec.byteCount)")
        self.spec = spec
        self.bytes = bytes
    }
}

public struct InputEncoder {
    public let spec: TensorSpec
    public let resolution: Int
    private let mean: [Float]
    private let std: [Float]
    private let quantScale: Float  // integer inputs: Float32(scale), divided by as the contract says
    private let zeroPoint: Float

    /// Validates what the manifest asks for against what the app can build, before anything runs.
    public init(manifest: ModelManifest) throws {
        try self.init(input: manifest.input, resolution: manifest.variant.resolution,
                      preprocessing: manifest.preprocessing)
    }

    /// From the manifest's input and preprocessing blocks.
    public init(input: ModelManifest.TensorBlock, resolution: Int, preprocessing: PreprocessingSpec) throws {
        try self.init(spec: TensorSpec.input(input, resolution: resolution), resolution: resolution,
                      preprocessing: preprocessing)
    }

    public init(spec: TensorSpec, resolution: Int, preprocessing: PreprocessingSpec) throws {
        guard spec.layout != nil else { throw ContractError("an input spec needs a layout") }
        guard preprocessing.mean.count == 3, preprocessing.std.count == 3 else {
            throw ContractError("preprocessing needs 3 means and 3 stds")
        }
        guard preprocessing.std.allSatisfy({ $0 > 0 }) else { throw ContractError("preprocessing std must be > 0") }
        guard preprocessing.cropFraction > 0, preprocessing.cropFraction <= 1 else {
            throw ContractError("preprocessing crop_fraction must be in (0, 1]")
        }
        if spec.dtype.isInteger && spec.layout != .image && spec.quantization == nil {
            throw ContractError("an \(spec.dtype.rawValue) input needs its quantization (scale, zero point)")
        }
        guard spec.count == resolution * resolution * 3 else {
            throw ContractError("input shape \(spec.shape) does not hold a \(resolution)x\(resolution) RGB image")
        }
        self.spec = spec
        self.resolution = resolution
        mean = preprocessing.mean.map { Float($0) }
        std = preprocessing.std.map { Float($0) }
        quantScale = Float(spec.quantization?.scale ?? 1)
        zeroPoint = Float(spec.quantization?.zeroPoint ?? 0)
    }

    /// Where channel c of pixel i (row-major) lands, in elements: planar for NCHW, interleaved otherwise.
    private var strides: (channel: Int, pixel: Int) {
        spec.layout == .nchw ? (resolution * resolution, 1) : (1, 3)
    }

    /// Encodes a resolution x resolution crop (RGBA, alpha ignored) into `destination` (spec.byteCount bytes).
    public func encode(_ crop: RGBAImage, into destination: UnsafeMutableRawBufferPointer) throws {
        guard crop.width == resolution, crop.height == resolution else {
            throw ContractError("crop is \(crop.width)x\(crop.height), the model takes \(resolution)x\(resolution)")
        }
        guard destination.count == spec.byteCount else {
            throw ContractError("input buffer has \(destination.count) bytes, the model takes \(spec.byteCount)")
        }
        let (channelStride, pixelStride) = strides
        let layoutIsImage = spec.layout == .image
        crop.pixels.withUnsafeBufferPointer { px in
            for i in 0 ..< resolution * resolution {
                for c in 0 ..< 3 {
                    let pixel = px[i * 4 + c]
                    let at = c * channelStride + i * pixelStride
                    if layoutIsImage {
                        destination[at] = pixel
                        continue
                    }
                    let x = (Float(pixel) / Float(255) - mean[c]) / std[c]
                    store(x, at: at, into: destination)
                }
            }
        }
    }

    public func encode(_ crop: RGBAImage) throws -> EncodedInput {
        var bytes = [UInt8](repeating: 0, count: spec.byteCount)
        try bytes.withUnsafeMutableBytes { try encode(crop, into: $0) }
        return EncodedInput(spec: spec, bytes: bytes)
    }

    /// Resize, center-crop and encode a whole photo, as the app does with its sample image.
    public func encode(photo: RGBAImage, cropFraction: Double) throws -> EncodedInput {
        try encode(resizeAndCenterCrop(photo, resolution: resolution, cropFraction: cropFraction))
    }

    @inline(__always)
    private func store(_ x: Float, at index: Int, into out: UnsafeMutableRawBufferPointer) {
        switch spec.dtype {
        case .float32:
            out.storeBytes(of: x.bitPattern, toByteOffset: index * 4, as: UInt32.self)
        case .float16:
            out.storeBytes(of: halfBits(x), toByteOffset: index * 2, as: UInt16.self)
        case .int8:
            out.storeBytes(of: Int8(quantize(x)), toByteOffset: index, as: Int8.self)
        case .uint8:
            out.storeBytes(of: UInt8(quantize(x)), toByteOffset: index, as: UInt8.self)
        }
    }

    /// clamp(round_half_even(x / scale) + zero_point), every step in Float32 as numpy does it.
    @inline(__always)
    private func quantize(_ x: Float) -> Float {
        let q = (x / quantScale).rounded(.toNearestOrEven) + zeroPoint
        let range = spec.dtype.integerRange
        return min(max(q, range.lowerBound), range.upperBound)
    }
}
