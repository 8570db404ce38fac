// UIImage to BenchCore's RGBA buffer, and the bundled photo the headless benchmark classifies.
import BenchCore
import CoreGraphics
import UIKit

enum SampleImage {
    /// Draws the image upright (EXIF orientation applied) into 8-bit RGBA, alpha premultiplied-last.
    static func rgba(from image: UIImage) -> RGBAImage? {
        let size = image.size
        let width = Int(size.width * image.scale), height = Int(size.height * image.scale)
        guard width > 0, height > 0 else { return nil }
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        let drawn: Bool = pixels.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                                          bytesPerRow: width * 4, space: CGColorSpaceCreateDeviceRGB(),
                                          bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) else { return false }
            UIGraphicsPushContext(context)
            context.translateBy(x: 0, y: CGFloat(height))
            context.scaleBy(x: 1, y: -1)
            image.draw(in: CGRect(x: 0, y: 0, width: width, height: height))
            UIGraphicsPopContext()
            return true
        }
        return drawn ? RGBAImage(width: width, height: height, pixels: pixels) : nil
    }

    /// The photo bundled as Resources/sample.png: the toolkit's chelsea_cat.jpg as Pillow decodes it, stored
    /// losslessly, so the phone starts from exactly the pixels the host verified (JPEG decoders differ).
    static func rgba() throws -> RGBAImage {
        guard let url = Bundle.main.url(forResource: "sample", withExtension: "png"),
              let image = UIImage(contentsOfFile: url.path), let rgba = rgba(from: image) else {
            throw AppError.message("the bundled sample.png is missing")
        }
        return rgba
    }
}
