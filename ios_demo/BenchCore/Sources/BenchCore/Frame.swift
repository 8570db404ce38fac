// One camera frame's preprocessing, timed beside every inference (the record's "preprocess" block).
//
// A camera app resizes, crops, normalizes and writes each new frame into the model's input before it runs the
// model. The benchmark does the same with its decoded photo (decoding is not part of a frame: a camera hands
// over decoded pixels): before each warm-up and timed inference, the frame is encoded straight into the
// backend's input memory (Backend.writeInput), timed on its own, then the inference is timed exactly as it is
// without frames. Sample i of both is one frame from pixels to scores.
import Foundation

/// Something that writes the next input, in the input's layout and dtype.
public protocol InputFrame {
    /// What `encode` does, for the record ("resize 451x300 to 110x73 (bilinear), crop 64, normalize, ...").
    var steps: String { get }
    /// Writes one whole input (the spec's byteCount bytes) into `destination`.
    func encode(into destination: UnsafeMutableRawBufferPointer) throws
}

/// The bundled photo as a camera frame: resize, center-crop, normalize and write, every time.
public struct PhotoFrame: InputFrame {
    public let encoder: InputEncoder
    public let photo: RGBAImage
    public let cropFraction: Double
    public let steps: String

    public init(encoder: InputEncoder, photo: RGBAImage, cropFraction: Double) {
        self.encoder = encoder
        self.photo = photo
        self.cropFraction = cropFraction
        steps = PhotoFrame.steps(width: photo.width, height: photo.height, spec: encoder.spec,
                                 resolution: encoder.resolution, cropFraction: cropFraction)
    }

    /// The record's description of a frame from a width x height photo (tests/fake_ios writes the same).
    public static func steps(width: Int, height: Int, spec: TensorSpec, resolution: Int, cropFraction: Double) -> String {
        let size = resizedSize(width: width, height: height, resolution: resolution, cropFraction: cropFraction)
        let normalize = spec.layout == .image ? "" : "normalize, "  // an image input takes the pixels as they are
        return "resize \(width)x\(height) to \(size.width)x\(size.height) (bilinear), crop \(resolution), "
            + "\(normalize)write \(spec.dtype.rawValue) \(spec.layout?.rawValue ?? "?")"
    }

    public func encode(into destination: UnsafeMutableRawBufferPointer) throws {
        try encoder.encode(resizeAndCenterCrop(photo, resolution: encoder.resolution, cropFraction: cropFraction),
                           into: destination)
    }

    /// One frame as bytes of its own: the input the backend binds before the first inference.
    public func encoded() throws -> EncodedInput {
        var bytes = [UInt8](repeating: 0, count: encoder.spec.byteCount)
        try bytes.withUnsafeMutableBytes { try encode(into: $0) }
        return EncodedInput(spec: encoder.spec, bytes: bytes)
    }
}
