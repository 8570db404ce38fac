// The headless benchmark: the same protocol as the host harness (BenchCore.BenchmarkLoop), on the phone.
import BenchCore
import Foundation
import UIKit

struct HeadlessBenchmark {
    let documents: URL

    private var resultsDirectory: URL { documents.appendingPathComponent(DocumentsLayout.results) }

    /// Runs one measurement and writes the result record, or a one-line error file the toolkit reports.
    func run(_ args: BenchmarkArguments) -> Bool {
        do {
            let report = try measure(args)
            try report.write(to: resultsDirectory.appendingPathComponent(DocumentsLayout.resultName(runID: args.runID)))
            return true
        } catch {
            writeError("\(error)", runID: args.runID)
            return false
        }
    }

    func writeError(_ message: String, runID: String) {
        let url = resultsDirectory.appendingPathComponent(DocumentsLayout.errorName(runID: runID))
        try? FileManager.default.createDirectory(at: resultsDirectory, withIntermediateDirectories: true)
        let line = message.split(separator: "\n").first.map(String.init) ?? message
        try? (line + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    private func measure(_ args: BenchmarkArguments) throws -> BenchmarkReport {
        let model = documents.appendingPathComponent(DocumentsLayout.models).appendingPathComponent(args.model)
        guard FileManager.default.fileExists(atPath: model.path) else {
            throw AppError.message("model \(args.model) is not in Documents/models")
        }
        let manifest = try ModelManifest.load(from: ModelManifest.url(forArtifact: model))
        if let need = manifest.minimumIOSMajor,
           ProcessInfo.processInfo.operatingSystemVersion.majorVersion < need {
            throw AppError.message("\(args.model) needs iOS \(need) or newer")
        }
        let backend = try makeBackend(model: model, manifest: manifest, computeUnits: args.computeUnits,
                                      threads: args.threads)
        let input = try modelInput(SampleImage.rgba(), manifest: manifest)
        if let cooldown = args.cooldownS, cooldown > 0 { Thread.sleep(forTimeInterval: cooldown) }
        let before = DeviceProbe.thermalState()
        let loop = BenchmarkLoop(config: args.runConfig)
        let outcome = try loop.run(backend, input: input)
        let after = DeviceProbe.thermalState()
        var notes = ["thermal state before: \(before)"]
        if args.threads > 0 { notes.append("threads is a request; Core ML chooses its own threading") }
        return loop.report(outcome, backend: backend, device: DeviceProbe.deviceInfo(),
                           artifact: ArtifactInfo(manifest: manifest),
                           temperatures: Temperatures(thermalState: after),
                           peakMemoryMb: DeviceProbe.physicalFootprintMb(), notes: notes)
    }
}

enum AppError: Error, CustomStringConvertible {
    case message(String)

    var description: String {
        switch self { case let .message(text): return text }
    }
}

/// The backend for an artifact, chosen by the manifest's target.
func makeBackend(model: URL, manifest: ModelManifest, computeUnits: ComputeUnits, threads: Int) throws -> Backend {
    switch manifest.target {
    case "coreml":
        return CoreMLBackend(modelURL: model, manifest: manifest, labels: loadLabels(artifact: model, manifest: manifest),
                             computeUnits: computeUnits)
    case "executorch":
        #if canImport(ExecuTorch)
        return ExecuTorchBackend(modelURL: model, manifest: manifest)
        #else
        throw AppError.message("this build has no ExecuTorch runtime (add the executorch Swift package)")
        #endif
    default:
        throw AppError.message("target \(manifest.target) does not run on iOS; export coreml or executorch")
    }
}

/// What the phone says about itself, for the result record.
enum DeviceProbe {
    static func modelIdentifier() -> String {
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.machine) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    static func deviceInfo() -> DeviceInfo {
        DeviceInfo(kind: "ios", name: modelIdentifier(), os: "iOS \(UIDevice.current.systemVersion)",
                   cpu: modelIdentifier(), cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    static func thermalState() -> String {
        switch ProcessInfo.processInfo.thermalState {
        case .nominal: return "nominal"
        case .fair: return "fair"
        case .serious: return "serious"
        case .critical: return "critical"
        @unknown default: return "unknown"
        }
    }

    /// phys_footprint, the number Xcode's memory gauge and jetsam use.
    static func physicalFootprintMb() -> Double? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let kr = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) {
                task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count)
            }
        }
        return kr == KERN_SUCCESS ? Double(info.phys_footprint) / 1_048_576.0 : nil
    }
}
