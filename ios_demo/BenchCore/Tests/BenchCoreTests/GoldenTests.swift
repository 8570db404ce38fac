// Bit-for-bit agreement with the Python harness, from the golden file tests/test_ios_golden.py writes.
// When BENCHCORE_OUT is set, the Swift answers are also written there for pytest to compare and validate.
import BenchCore
import Foundation
import XCTest

struct Golden: Decodable {
    struct SplitMix: Decodable { var seed: UInt64; var first: [String] }
    struct StatsCase: Decodable { var name: String; var samples: [Double]; var expected: LatencyStats }
    struct PreprocessCase: Decodable {
        var name: String
        var width: Int
        var height: Int
        var resolution: Int
        var layout: String
        var preprocessing: PreprocessingSpec
        var rgba_b64: String
        var expected_f32le_b64: String
    }

    var regenerate: String
    var splitmix64: SplitMix
    var stats: [StatsCase]
    var preprocess: [PreprocessCase]
}

let resourcesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources")

/// Where pytest collects the Swift outputs (nil when `swift test` runs on its own).
func outputDirectory() -> URL? {
    guard let dir = ProcessInfo.processInfo.environment["BENCHCORE_OUT"], !dir.isEmpty else { return nil }
    let url = URL(fileURLWithPath: dir)
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func floatsToBase64(_ values: [Float]) -> String {
    var bytes = Data(capacity: values.count * 4)
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    return bytes.base64EncodedString()
}

func base64ToFloats(_ text: String) -> [Float] { floats([UInt8](Data(base64Encoded: text)!)) }

/// Little-endian float32 bytes as floats.
func floats(_ bytes: [UInt8]) -> [Float] {
    var out: [Float] = []
    out.reserveCapacity(bytes.count / 4)
    for i in stride(from: 0, to: bytes.count, by: 4) {
        var bits = UInt32(bytes[i])
        bits |= UInt32(bytes[i + 1]) << 8
        bits |= UInt32(bytes[i + 2]) << 16
        bits |= UInt32(bytes[i + 3]) << 24
        out.append(Float(bitPattern: bits))
    }
    return out
}

final class GoldenTests: XCTestCase {
    var golden: Golden!

    override func setUpWithError() throws {
        let url = resourcesDirectory.appendingPathComponent("golden.json")
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path),
                      "golden.json missing: run `ACCEPT=1 python -m pytest tests/test_ios_golden.py -k golden_file`")
        golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }

    func testSplitMix64MatchesPython() {
        var rng = SplitMix64(seed: golden.splitmix64.seed)
        for expected in golden.splitmix64.first {
            XCTAssertEqual(String(rng.nextU64()), expected)
        }
    }

    func testStatsMatchPythonBitForBit() throws {
        var computed: [String: LatencyStats] = [:]
        for c in golden.stats {
            let got = try LatencyStats.summarize(c.samples)
            computed[c.name] = got
            XCTAssertEqual(got.n, c.expected.n, c.name)
            let pairs: [(String, Double, Double)] = [
                ("median", got.medianMs, c.expected.medianMs), ("p90", got.p90Ms, c.expected.p90Ms),
                ("mean", got.meanMs, c.expected.meanMs), ("std", got.stdMs, c.expected.stdMs),
                ("min", got.minMs, c.expected.minMs), ("max", got.maxMs, c.expected.maxMs),
                ("trimmed", got.trimmedMeanMs, c.expected.trimmedMeanMs),
                ("ci_low", got.ci95LowMs, c.expected.ci95LowMs), ("ci_high", got.ci95HighMs, c.expected.ci95HighMs),
            ]
            for (field, a, b) in pairs {
                XCTAssertEqual(a.bitPattern, b.bitPattern, "\(c.name).\(field): swift \(a) vs python \(b)")
            }
        }
        if let out = outputDirectory() {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try encoder.encode(computed).write(to: out.appendingPathComponent("stats_swift.json"))
        }
    }

    func testPreprocessingMatchesPythonOnRealPhotos() throws {
        var computed: [String: String] = [:]
        for c in golden.preprocess {
            let rgba = [UInt8](Data(base64Encoded: c.rgba_b64)!)
            let image = RGBAImage(width: c.width, height: c.height, pixels: rgba)
            let r = c.resolution
            let spec = c.layout == "nhwc" ? TensorSpec(dtype: .float32, shape: [1, r, r, 3], layout: .nhwc)
                : TensorSpec(dtype: .float32, shape: [1, 3, r, r], layout: .nchw)
            let encoder = try InputEncoder(spec: spec, resolution: r, preprocessing: c.preprocessing)
            let got = floats(try encoder.encode(photo: image, cropFraction: c.preprocessing.cropFraction).bytes)
            let want = base64ToFloats(c.expected_f32le_b64)
            XCTAssertEqual(got.count, want.count, c.name)
            let mismatches = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(mismatches, 0, "\(c.name): \(mismatches) of \(want.count) values differ from Python")
            computed[c.name] = floatsToBase64(got)
        }
        if let out = outputDirectory() {
            try JSONEncoder().encode(computed).write(to: out.appendingPathComponent("preprocess_swift.json"))
        }
    }
}
