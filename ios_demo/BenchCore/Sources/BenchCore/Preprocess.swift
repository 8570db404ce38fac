// Pixels to network input, the same way toolkit/data.py's Preprocessing does it on the host.
//
// Resize the short side to resolution / crop_fraction and center-crop resolution x resolution, as
// Preprocessing.crop does; InputEncoder then normalizes the crop into the model's input. The resize
// reproduces Pillow's antialiased bilinear filter (separable, 22-bit fixed-point coefficients, horizontal pass
// then vertical, rounding to 8 bits in between), so the phone feeds the model the tensor the host verified.
import Foundation

/// The manifest's "preprocessing" block. mean/std are per RGB channel on the [0, 1] scale.
public struct PreprocessingSpec: Codable, Equatable {
    public var mean: [Double]
    public var std: [Double]
    public var cropFraction: Double
    public var interpolation: String?
    public var scale: [Double]?
    public var bias: [Double]?

    enum CodingKeys: String, CodingKey {
        case mean, std, interpolation, scale, bias
        case cropFraction = "crop_fraction"
    }

    public init(mean: [Double] = [0.5, 0.5, 0.5], std: [Double] = [0.5, 0.5, 0.5], cropFraction: Double = 0.875) {
        self.mean = mean
        self.std = std
        self.cropFraction = cropFraction
        interpolation = "bilinear"
    }
}

/// An 8-bit RGBA image, row-major, 4 bytes per pixel (what CGContext and UIImage give on iOS).
public struct RGBAImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height * 4, "RGBA buffer size mismatch")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

private let precisionBits = 22  // Pillow: 32 - 8 bits - 2 guard bits

/// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the triangle (bilinear) filter.
private func resampleCoefficients(inSize: Int, outSize: Int) -> (bounds: [(Int, Int)], weights: [[Int32]]) {
    let scale = Double(inSize) / Double(outSize)
    let filterScale = max(scale, 1.0)
    let support = 1.0 * filterScale
    var bounds: [(Int, Int)] = []
    var weights: [[Int32]] = []
    for xx in 0 ..< outSize {
        let center = (Double(xx) + 0.5) * scale
        let ss = 1.0 / filterScale
        let xmin = max(Int(center - support + 0.5), 0)
        let xmax = min(Int(center + support + 0.5), inSize) - xmin
        var k = [Double](repeating: 0, count: max(xmax, 0))
        var ww = 0.0
        for x in 0 ..< max(xmax, 0) {
            let t = abs((Double(x + xmin) - center + 0.5) * ss)
            let w = t < 1.0 ? 1.0 - t : 0.0
            k[x] = w
            ww += w
        }
        if ww != 0 { for x in k.indices { k[x] /= ww } }
        let one = Double(1 << precisionBits)
        weights.append(k.map { Int32($0 < 0 ? -0.5 + $0 * one : 0.5 + $0 * one) })
        bounds.append((xmin, max(xmax, 0)))
    }
    return (bounds, weights)
}

@inline(__always) private func clip8(_ v: Int64) -> UInt8 {
    if v >= Int64(1) << (precisionBits + 8) { return 255 }
    if v <= 0 { return 0 }
    return UInt8(truncatingIfNeeded: v >> Int64(precisionBits))
}

/// Resize like Pillow's Image.resize(size, BILINEAR) on an RGB image (alpha is carried along, not used).
public func resizeBilinear(_ image: RGBAImage, width outW: Int, height outH: Int) -> RGBAImage {
    var current = image
    if outW != image.width {
        let (bounds, weights) = resampleCoefficients(inSize: image.width, outSize: outW)
        var out = [UInt8](repeating: 255, count: outW * image.height * 4)
        for y in 0 ..< image.height {
            for xx in 0 ..< outW {
                let (xmin, count) = bounds[xx]
                let k = weights[xx]
                for c in 0 ..< 3 {
                    var acc = Int64(1) << Int64(precisionBits - 1)
                    for x in 0 ..< count {
                        acc += Int64(current.pixels[(y * image.width + xmin + x) * 4 + c]) * Int64(k[x])
                    }
                    out[(y * outW + xx) * 4 + c] = clip8(acc)
                }
            }
        }
        current = RGBAImage(width: outW, height: image.height, pixels: out)
    }
    if outH != image.height {
        let (bounds, weights) = resampleCoefficients(inSize: image.height, outSize: outH)
        var out = [UInt8](repeating: 255, count: outW * outH * 4)
        for yy in 0 ..< outH {
            let (ymin, count) = bounds[yy]
            let k = weights[yy]
            for x in 0 ..< outW {
                for c in 0 ..< 3 {
                    var acc = Int64(1) << Int64(precisionBits - 1)
                    for y in 0 ..< count {
                        acc += Int64(current.pixels[((ymin + y) * outW + x) * 4 + c]) * Int64(k[y])
                    }
                    out[(yy * outW + x) * 4 + c] = clip8(acc)
                }
            }
        }
        current = RGBAImage(width: outW, height: outH, pixels: out)
    }
    return current
}

/// The size the short-side resize gives: short side resolution / crop_fraction (Python's round-half-even).
public func resizedSize(width: Int, height: Int, resolution: Int, cropFraction: Double) -> (width: Int, height: Int) {
    let short = Double(resolution) / cropFraction
    let scale = short / Double(min(width, height))
    return (max(resolution, Int((Double(width) * scale).rounded(.toNearestOrEven))),
            max(resolution, Int((Double(height) * scale).rounded(.toNearestOrEven))))
}

/// Short side to resolution / crop_fraction (Python's round-half-even), then the centered square crop.
public func resizeAndCenterCrop(_ image: RGBAImage, resolution: Int, cropFraction: Double) -> RGBAImage {
    let (newW, newH) = resizedSize(width: image.width, height: image.height, resolution: resolution,
                                   cropFraction: cropFraction)
    let resized = resizeBilinear(image, width: newW, height: newH)
    let left = (newW - resolution) / 2
    let top = (newH - resolution) / 2
    var out = [UInt8](repeating: 0, count: resolution * resolution * 4)
    for y in 0 ..< resolution {
        let src = ((top + y) * newW + left) * 4
        out.replaceSubrange(y * resolution * 4 ..< (y + 1) * resolution * 4,
                            with: resized.pixels[src ..< src + resolution * 4])
    }
    return RGBAImage(width: resolution, height: resolution, pixels: out)
}
