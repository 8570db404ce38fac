// The headless benchmark mode's command line, shared by the app and the toolkit (toolkit/profile/ios.py).
//
// The toolkit installs models into the app's Documents/models/, launches the app with
//   --benchmark --model FILE --compute-units all --threads N --warmup W --iterations I --run-id ID
// and polls Documents/results/ for ID.json (the result record) or ID.error.txt (one line saying why).
import Foundation

public enum ComputeUnits: String, CaseIterable, Codable {
    case cpuOnly = "cpu_only"
    case cpuAndGPU = "cpu_and_gpu"
    case cpuAndNeuralEngine = "cpu_and_ne"
    case all

    public var title: String {
        switch self {
        case .cpuOnly: return "CPU only"
        case .cpuAndGPU: return "CPU + GPU"
        case .cpuAndNeuralEngine: return "CPU + Neural Engine"
        case .all: return "All"
        }
    }
}

public enum DocumentsLayout {
    public static let models = "models"
    public static let results = "results"

    public static func resultName(runID: String) -> String { "\(runID).json" }
    public static func errorName(runID: String) -> String { "\(runID).error.txt" }
}

public struct BenchmarkArguments: Equatable {
    public var model: String
    public var computeUnits: ComputeUnits
    public var threads: Int
    public var warmup: Int
    public var iterations: Int
    public var durationS: Double?
    public var cooldownS: Double?
    public var runID: String

    public init(model: String, computeUnits: ComputeUnits = .all, threads: Int = 0, warmup: Int = 10,
                iterations: Int = 100, durationS: Double? = nil, cooldownS: Double? = nil, runID: String = "latest") {
        self.model = model
        self.computeUnits = computeUnits
        self.threads = threads
        self.warmup = warmup
        self.iterations = iterations
        self.durationS = durationS
        self.cooldownS = cooldownS
        self.runID = runID
    }

    public var runConfig: RunConfig {
        RunConfig(threads: threads, warmup: warmup, iterations: iterations, durationS: durationS,
                  cooldownS: cooldownS, batch: 1)
    }

    /// nil when `--benchmark` is absent (the interactive app); throws on a malformed benchmark command line.
    public static func parse(_ argv: [String]) throws -> BenchmarkArguments? {
        guard argv.contains("--benchmark") else { return nil }
        var values: [String: String] = [:]
        var i = 0
        while i < argv.count {
            let arg = argv[i]
            if arg == "--benchmark" || arg == "--" || !arg.hasPrefix("--") { i += 1; continue }
            guard i + 1 < argv.count, !argv[i + 1].hasPrefix("--") else { throw ArgumentError("\(arg) needs a value") }
            values[arg] = argv[i + 1]
            i += 2
        }
        guard let model = values.removeValue(forKey: "--model") else { throw ArgumentError("--model is required") }
        var out = BenchmarkArguments(model: model, runID: values.removeValue(forKey: "--run-id") ?? "latest")
        guard !model.contains("/"), !model.hasPrefix("."), !out.runID.contains("/") else {
            throw ArgumentError("--model and --run-id are plain file names inside Documents")
        }
        if let units = values.removeValue(forKey: "--compute-units") {
            guard let parsed = ComputeUnits(rawValue: units) else {
                let known = ComputeUnits.allCases.map(\.rawValue).joined(separator: ", ")
                throw ArgumentError("--compute-units must be one of \(known), got \(units)")
            }
            out.computeUnits = parsed
        }
        out.threads = try int(values.removeValue(forKey: "--threads"), "--threads", min: 0) ?? out.threads
        out.warmup = try int(values.removeValue(forKey: "--warmup"), "--warmup", min: 0) ?? out.warmup
        out.iterations = try int(values.removeValue(forKey: "--iterations"), "--iterations", min: 1) ?? out.iterations
        out.durationS = try seconds(values.removeValue(forKey: "--duration"), "--duration")
        out.cooldownS = try seconds(values.removeValue(forKey: "--cooldown"), "--cooldown")
        if let unknown = values.keys.sorted().first { throw ArgumentError("unknown option \(unknown)") }
        return out
    }

    /// The command line for these arguments (the inverse of parse).
    public var argv: [String] {
        var out = ["--benchmark", "--model", model, "--compute-units", computeUnits.rawValue,
                   "--threads", String(threads), "--warmup", String(warmup), "--iterations", String(iterations),
                   "--run-id", runID]
        if let d = durationS { out += ["--duration", String(d)] }
        if let c = cooldownS { out += ["--cooldown", String(c)] }
        return out
    }

    private static func int(_ text: String?, _ name: String, min: Int) throws -> Int? {
        guard let text = text else { return nil }
        guard let v = Int(text), v >= min else { throw ArgumentError("\(name) must be an integer >= \(min), got \(text)") }
        return v
    }

    private static func seconds(_ text: String?, _ name: String) throws -> Double? {
        guard let text = text else { return nil }
        guard let v = Double(text), v >= 0, v.isFinite else { throw ArgumentError("\(name) must be seconds >= 0") }
        return v
    }
}

public struct ArgumentError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
