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

        public var text: String {
            switch self {
            case let .fixed(n): return String(n)
            case let .symbolic(name): return name
            }
        }
    }

    /// A manifest's `input` or `output` block as written; TensorSpec.input/.output validate it.
    public struct TensorBlock: Decodable, Equatable {
        public var shape: [Dim]
        public var layout: String?
        public var dtype: String?
        public var quantization: Quantization?
        public var kind: String?

        public init(shape: [Dim], layout: String? = nil, dtype: String? = nil, quantization: Quantization? = nil,
                    kind: String? = nil) {
            self.shape = shape
            self.layout = layout
            self.dtype = dtype
            self.quantization = quantization
            self.kind = kind
        }
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
    public var input: TensorBlock
    public var output: TensorBlock
    public var preprocessing: PreprocessingSpec
    public var labelsFile: String?
    public var weightsKind: String?
    public var minimumDeploymentTarget: String?

    enum CodingKeys: String, CodingKey {
        case artifact, variant, target, precision, runtime, delegate, input, output, preprocessing, weights, options
        case backend
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
        input = try c.decode(TensorBlock.self, forKey: .input)
        output = try c.decode(TensorBlock.self, forKey: .output)
        preprocessing = try c.decode(PreprocessingSpec.self, forKey: .preprocessing)
        labelsFile = try c.decodeIfPresent(String.self, forKey: .labelsFile)
        weightsKind = try c.decodeIfPresent(Weights.self, forKey: .weights)?.kind
        let backend = try? c.decodeIfPresent(Options.self, forKey: .backend)
        let options = try? c.decodeIfPresent(Options.self, forKey: .options)
        minimumDeploymentTarget = backend?.minimumDeploymentTarget ?? options?.minimumDeploymentTarget
    }

    /// One clear line when the file is missing or is not a manifest the app understands.
    public static func load(from url: URL) throws -> ModelManifest {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ContractError("no manifest \(url.lastPathComponent) beside the model")
        }
        do { return try JSONDecoder().decode(ModelManifest.self, from: data) } catch let error as DecodingError {
            throw ContractError("cannot read \(url.lastPathComponent): \(describe(error))")
        }
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

    /// The labels file the manifest names, beside the artifact. A name that would leave the artifact's
    /// folder (a path, "..") is refused: a manifest must not make the app read other files.
    public func labelsURL(artifact: URL) throws -> URL? {
        guard let name = labelsFile else { return nil }
        guard isPlainFileName(name) else {
            throw ContractError("labels_file '\(name)' leaves the model's folder; it must be a file name beside the model")
        }
        return artifact.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// The class names, one per line (empty when the manifest names no labels file or it is absent).
    public func labels(artifact: URL) throws -> [String] {
        guard let url = try labelsURL(artifact: artifact),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        if lines.last == "" { lines.removeLast() }  // the final newline, as Python's splitlines() drops it
        return lines
    }
}

/// A name that stays in its folder: not empty, not "." or "..", no path separator or NUL.
func isPlainFileName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
        && !name.contains("\u{0}")
}

/// A DecodingError as the one line a user can act on: which key, and what was wrong with it.
private func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case let .keyNotFound(key, context):
        let at = path(context)
        return "missing \(at.isEmpty ? key.stringValue : at + "." + key.stringValue)"
    case let .typeMismatch(_, context), let .valueNotFound(_, context):
        return "unexpected value at \(path(context))"
    case let .dataCorrupted(context):
        return context.codingPath.isEmpty ? "not valid JSON" : "bad value at \(path(context))"
    @unknown default:
        return "\(error)"
    }
}
