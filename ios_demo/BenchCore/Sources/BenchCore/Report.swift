// The shared result record (toolkit/schemas/result.schema.json, schema_version 1) as Codable Swift.
//
// The iOS app writes exactly this JSON into Documents/results/; the toolkit pulls it over house_arrest and
// stores it beside host and Android results. Optional fields are omitted when nil (the schema allows that),
// and property names follow the schema's snake_case through CodingKeys.
import Foundation

public struct DeviceInfo: Codable, Equatable {
    public var kind: String
    public var name: String
    public var serial: String?
    public var os: String
    public var cpu: String?
    public var cores: Int?

    public init(kind: String = "ios", name: String, serial: String? = nil, os: String, cpu: String? = nil,
                cores: Int? = nil) {
        self.kind = kind
        self.name = name
        self.serial = serial
        self.os = os
        self.cpu = cpu
        self.cores = cores
    }
}

/// Where a runtime version comes from: asked of the runtime itself, or declared (the version the exporter
/// built against, for a runtime with no version API on the phone).
public enum VersionSource: String, Codable {
    case runtime, declared
}

public struct RuntimeInfo: Codable, Equatable {
    public var name: String
    public var version: String
    public var versionSource: VersionSource?
    public var delegate: String?

    enum CodingKeys: String, CodingKey {
        case name, version, delegate
        case versionSource = "version_source"
    }

    public init(name: String, version: String, versionSource: VersionSource? = nil, delegate: String? = nil) {
        self.name = name
        self.version = version
        self.versionSource = versionSource
        self.delegate = delegate
    }
}

public struct ArtifactInfo: Codable, Equatable {
    public var sha256: String
    public var file: String
    public var variant: String?
    public var target: String?
    public var precision: String?
    public var weights: String?

    public init(sha256: String, file: String, variant: String? = nil, target: String? = nil,
                precision: String? = nil, weights: String? = nil) {
        self.sha256 = sha256
        self.file = file
        self.variant = variant
        self.target = target
        self.precision = precision
        self.weights = weights
    }
}

public struct RunConfig: Codable, Equatable {
    public var threads: Int
    public var warmup: Int
    public var iterations: Int
    public var durationS: Double?
    public var cooldownS: Double?
    public var maxTempC: Double?
    public var batch: Int?

    enum CodingKeys: String, CodingKey {
        case threads, warmup, iterations, batch
        case durationS = "duration_s"
        case cooldownS = "cooldown_s"
        case maxTempC = "max_temp_c"
    }

    public init(threads: Int = 0, warmup: Int = 10, iterations: Int = 100, durationS: Double? = nil,
                cooldownS: Double? = nil, maxTempC: Double? = nil, batch: Int? = 1) {
        self.threads = threads
        self.warmup = warmup
        self.iterations = iterations
        self.durationS = durationS
        self.cooldownS = cooldownS
        self.maxTempC = maxTempC
        self.batch = batch
    }
}

public struct Temperatures: Codable, Equatable {
    public var before: Double?
    public var after: Double?
    public var thermalState: String?

    enum CodingKeys: String, CodingKey {
        case before, after
        case thermalState = "thermal_state"
    }

    public init(before: Double? = nil, after: Double? = nil, thermalState: String? = nil) {
        self.before = before
        self.after = after
        self.thermalState = thermalState
    }
}

/// The record's "preprocess" block: each timed iteration's frame preprocessing (resize, crop, normalize, write
/// into the model's input; decode excluded), one per timed inference, with the same statistics as latency_ms.
public struct PreprocessRecord: Codable, Equatable {
    public var latencyMs: [Double]
    public var stats: LatencyStats
    public var steps: String?

    enum CodingKeys: String, CodingKey {
        case stats, steps
        case latencyMs = "latency_ms"
    }

    public init(latencyMs: [Double], stats: LatencyStats, steps: String? = nil) {
        self.latencyMs = latencyMs
        self.stats = stats
        self.steps = steps
    }
}

public struct BenchmarkReport: Codable, Equatable {
    public var schemaVersion: Int = 1
    public var timestamp: String
    public var device: DeviceInfo
    public var runtime: RuntimeInfo
    public var artifact: ArtifactInfo
    public var config: RunConfig
    public var latencyMs: [Double]
    public var stats: LatencyStats
    public var loadMs: Double?
    public var firstInferenceMs: Double?
    public var peakMemoryMb: Double?
    public var temperatureC: Temperatures?
    public var notes: [String]?
    public var preprocess: PreprocessRecord?

    enum CodingKeys: String, CodingKey {
        case timestamp, device, runtime, artifact, config, stats, notes, preprocess
        case schemaVersion = "schema_version"
        case latencyMs = "latency_ms"
        case loadMs = "load_ms"
        case firstInferenceMs = "first_inference_ms"
        case peakMemoryMb = "peak_memory_mb"
        case temperatureC = "temperature_c"
    }

    public init(timestamp: Date = Date(), device: DeviceInfo, runtime: RuntimeInfo, artifact: ArtifactInfo,
                config: RunConfig, latencyMs: [Double], stats: LatencyStats, loadMs: Double? = nil,
                firstInferenceMs: Double? = nil, peakMemoryMb: Double? = nil, temperatureC: Temperatures? = nil,
                notes: [String]? = nil, preprocess: PreprocessRecord? = nil) {
        self.timestamp = BenchmarkReport.iso8601(timestamp)
        self.device = device
        self.runtime = runtime
        self.artifact = artifact
        self.config = config
        self.latencyMs = latencyMs
        self.stats = stats
        self.loadMs = loadMs
        self.firstInferenceMs = firstInferenceMs
        self.peakMemoryMb = peakMemoryMb
        self.temperatureC = temperatureC
        self.notes = notes
        self.preprocess = preprocess
    }

    /// ISO 8601 UTC with a Z suffix, like the host profiler's timestamps.
    public static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// Writes atomically (temp file, then rename) so the host never pulls half a report.
    public func write(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try jsonData().write(to: url, options: .atomic)
    }
}
