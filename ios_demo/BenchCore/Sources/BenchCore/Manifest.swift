// The exporter's `<artifact>.manifest.json`, decoded with only the fields the app needs.
//
// Apps read the manifest, never the file name: resolution, input layout, preprocessing, labels file,
// precision, target and the artifact's sha256 all come from here. Unknown keys are ignored so newer
// exporters stay readable.
import Foundation

public struct ModelManifest: Decodable, Equatable {
    public struct Artifact: Decodable, Equatable {
        public var file: String
        public var format: String?
        public var sha256: String
        public var sizeBytes: Int?
        public var isDirectory: Bool?

        enum CodingKeys: String, CodingKey {
            case file, format, sha256
            case sizeBytes = "size_bytes"
            case isDirectory = "is_directory"
        }
    }

    public struct Variant: Decodable, Equatable {
        public var name: String
        public var alpha: Double
        public var resolution: Int
        public var numClasses: Int?

        enum CodingKeys: String, CodingKey {
            case name, alpha, resolution
            case numClasses = "num_classes"
        }
    }

    /// One dimension of the input shape: a number, or a symbolic name such as "N" (dynamic batch).
    public enum Dim: Decodable, Equatable {
        case fixed(Int)
        case symbolic(String)

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Int.self) { self = .fixed(v) } else { self = .symbolic(try c.decode(String.self)) }
        }
    }

    public struct Input: Decodable, Equatable {
        public var shape: [Dim]
        public var layout: String
        public var dtype: String?
    }

    public struct Runtime: Decodable, Equatable {
        public var name: String
        public var version: String?
    }

    public var artifact: Artifact
    public var variant: Variant
    public var target: String
    public var precision: String
    public var runtime: Runtime?
    public var delegate: String?
    public var input: Input
    public var preprocessing: PreprocessingSpec
    public var labelsFile: String?
    public var weightsKind: String?
    public var minimumDeploymentTarget: String?

    enum CodingKeys: String, CodingKey {
        case artifact, variant, target, precision, runtime, delegate, input, preprocessing, weights, options, backend
        case labelsFile = "labels_file"
    }

    private struct Weights: Decodable { var kind: String? }
    private struct Options: Decodable {
        var minimumDeploymentTarget: String?
        enum CodingKeys: String, CodingKey { case minimumDeploymentTarget = "minimum_deployment_target" }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        artifact = try c.decode(Artifact.self, forKey: .artifact)
        variant = try c.decode(Variant.self, forKey: .variant)
        target = try c.decode(String.self, forKey: .target)
        precision = try c.decode(String.self, forKey: .precision)
        runtime = try c.decodeIfPresent(Runtime.self, forKey: .runtime)
        delegate = try c.decodeIfPresent(String.self, forKey: .delegate)
        input = try c.decode(Input.self, forKey: .input)
        preprocessing = try c.decode(PreprocessingSpec.self, forKey: .preprocessing)
        labelsFile = try c.decodeIfPresent(String.self, forKey: .labelsFile)
        weightsKind = try c.decodeIfPresent(Weights.self, forKey: .weights)?.kind
        let backend = try? c.decodeIfPresent(Options.self, forKey: .backend)
        let options = try? c.decodeIfPresent(Options.self, forKey: .options)
        minimumDeploymentTarget = backend?.minimumDeploymentTarget ?? options?.minimumDeploymentTarget
    }

    public static func load(from url: URL) throws -> ModelManifest {
        try JSONDecoder().decode(ModelManifest.self, from: Data(contentsOf: url))
    }

    /// `<artifact>.manifest.json` beside the artifact, as toolkit.runtimes.manifest_path names it.
    public static func url(forArtifact artifact: URL) -> URL {
        artifact.deletingLastPathComponent().appendingPathComponent(artifact.lastPathComponent + ".manifest.json")
    }

    /// The major iOS version a Core ML model needs ("iOS16" -> 16), nil when the manifest does not say.
    public var minimumIOSMajor: Int? {
        guard let target = minimumDeploymentTarget?.lowercased(), target.hasPrefix("ios") else { return nil }
        return Int(target.dropFirst(3).split(separator: ".").first ?? "")
    }

    public var isChannelsLast: Bool { input.layout.lowercased() == "nhwc" }
}

/// Reads the labels file the manifest names: one class name per line.
public func loadLabels(artifact: URL, manifest: ModelManifest) -> [String] {
    guard let name = manifest.labelsFile else { return [] }
    let url = artifact.deletingLastPathComponent().appendingPathComponent(name)
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
    var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    if lines.last == "" { lines.removeLast() }  // the final newline, as Python's splitlines() drops it
    return lines
}
