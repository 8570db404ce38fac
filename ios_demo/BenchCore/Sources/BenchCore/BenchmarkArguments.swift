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
                iterations: Int = 100, durationS: Double? = nil, cooldownS: Double? = nil,
                runID: String = BenchmarkArguments.defaultRunID) {
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

    /// nil when `--benchmark` is absent (the interactive app); throws ArgumentError on a malformed command line.
    ///
    /// `--run-id` is read and checked first, so any later error still names the run: the app writes it to
    /// `<run-id>.error.txt`, the file the toolkit polls (a missing or malformed run id falls back to "latest").
    public static func parse(_ argv: [String]) throws -> BenchmarkArguments? {
        guard argv.contains("--benchmark") else { return nil }
        var values: [String: String] = [:]
        var pairError: String?
        var i = 0
        while i < argv.count {
            let arg = argv[i]
            if arg == "--benchmark" || arg == "--" || !arg.hasPrefix("--") { i += 1; continue }
            guard i + 1 < argv.count, !argv[i + 1].hasPrefix("--") else {
                pairError = pairError ?? "\(arg) needs a value"
                i += 1
                continue
            }
            if values[arg] != nil { pairError = pairError ?? "\(arg) is given twice" }
            values[arg] = argv[i + 1]
            i += 2
        }
        let runID = values.removeValue(forKey: "--run-id") ?? defaultRunID
        if let why = fileNameProblem(runID, maxLength: maxRunIDLength) {
            throw ArgumentError("--run-id \(why)", runID: nil)
        }
        func fail(_ message: String) -> ArgumentError { ArgumentError(message, runID: runID) }
        if let message = pairError { throw fail(message) }
        guard let model = values.removeValue(forKey: "--model") else { throw fail("--model is required") }
        if let why = fileNameProblem(model, maxLength: maxModelNameLength) { throw fail("--model \(why)") }
        var out = BenchmarkArguments(model: model, runID: runID)
        if let units = values.removeValue(forKey: "--compute-units") {
            guard let parsed = ComputeUnits(rawValue: units) else {
                let known = ComputeUnits.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail("--compute-units must be one of \(known), got \(units)")
            }
            out.computeUnits = parsed
        }
        do {
            out.threads = try int(values.removeValue(forKey: "--threads"), "--threads", min: 0) ?? out.threads
            out.warmup = try int(values.removeValue(forKey: "--warmup"), "--warmup", min: 0) ?? out.warmup
            out.iterations = try int(values.removeValue(forKey: "--iterations"), "--iterations", min: 1) ?? out.iterations
            out.durationS = try seconds(values.removeValue(forKey: "--duration"), "--duration", positive: true)
            out.cooldownS = try seconds(values.removeValue(forKey: "--cooldown"), "--cooldown", positive: false)
        } catch let error as ArgumentError {
            throw fail(error.description)
        }
        if let unknown = values.keys.sorted().first { throw fail("unknown option \(unknown)") }
        return out
    }

    public static let defaultRunID = "latest"
    public static let maxRunIDLength = 128
    public static let maxModelNameLength = 255

    /// Why `name` cannot be a run id or model file name, nil when it can: 1...maxLength characters from
    /// [A-Za-z0-9._-], not starting with a dot. The toolkit checks run ids and model names by the same rule
    /// (toolkit/profile/ios.py), so nothing with spaces, slashes or shell characters reaches a phone.
    public static func fileNameProblem(_ name: String, maxLength: Int) -> String? {
        guard !name.isEmpty, name.unicodeScalars.count <= maxLength else {
            return "must be 1 to \(maxLength) characters, got \(name.unicodeScalars.count)"
        }
        guard !name.hasPrefix(".") else { return "must not start with a dot: \(name)" }
        let allowed = name.unicodeScalars.allSatisfy { s in
            ("a" ... "z").contains(s) || ("A" ... "Z").contains(s) || ("0" ... "9").contains(s) || "._-".unicodeScalars.contains(s)
        }
        return allowed ? nil : "may only hold letters, digits, '.', '_' and '-': \(name)"
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

    private static func seconds(_ text: String?, _ name: String, positive: Bool) throws -> Double? {
        guard let text = text else { return nil }
        guard let v = Double(text), v.isFinite, positive ? v > 0 : v >= 0 else {
            throw ArgumentError("\(name) must be seconds \(positive ? ">" : ">=") 0, got \(text)")
        }
        return v
    }
}

public struct ArgumentError: Error, Equatable, CustomStringConvertible {
    public let description: String
    /// The run the error belongs to (its error file's name), nil when the run id itself is bad.
    public let runID: String?

    public init(_ description: String, runID: String? = nil) {
        self.description = description
        self.runID = runID
    }
}
