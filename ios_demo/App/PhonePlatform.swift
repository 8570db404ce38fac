// What only the phone has, behind BenchCore's BenchPlatform: the bundled photo, the device's description,
// its thermal state and memory, and the two runtimes. Everything else happens in BenchCore.
import BenchCore
import Foundation
import UIKit

struct PhonePlatform: BenchPlatform {
    func samplePhoto() throws -> RGBAImage { try SampleImage.rgba() }

    func deviceInfo() -> DeviceInfo { DeviceProbe.deviceInfo() }

    func thermalState() -> String { DeviceProbe.thermalState() }

    func peakMemoryMb() -> Double? { DeviceProbe.physicalFootprintMb() }

    var osMajorVersion: Int { ProcessInfo.processInfo.operatingSystemVersion.majorVersion }

    func sleep(seconds: Double) { Thread.sleep(forTimeInterval: seconds) }

    func makeBackend(_ kind: BackendKind, model: URL, manifest: ModelManifest, sha256: String,
                     arguments: BenchmarkArguments) throws -> Backend {
        switch kind {
        case .coreml:
            return CoreMLBackend(modelURL: model, manifest: manifest, sha256: sha256, computeUnits: arguments.computeUnits)
        case .executorch:
            #if canImport(ExecuTorch)
            return ExecuTorchBackend(modelURL: model, manifest: manifest)
            #else
            throw AppError.message("this build has no ExecuTorch runtime (add the executorch Swift package)")
            #endif
        }
    }
}

enum AppError: Error, CustomStringConvertible {
    case message(String)

    var description: String {
        switch self { case let .message(text): return text }
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
