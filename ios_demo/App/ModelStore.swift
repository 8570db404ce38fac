// Finds models: bundled with the app, or copied into Documents/models (Finder/iTunes file sharing, the Files
// app, or the toolkit over house_arrest). A model is listed only when its manifest sits beside it.
import BenchCore
import Foundation

struct ModelEntry: Identifiable, Hashable {
    let url: URL
    let manifest: ModelManifest
    var id: URL { url }
    var title: String { "\(manifest.variant.name) \(manifest.target) \(manifest.precision)" }

    static func == (a: ModelEntry, b: ModelEntry) -> Bool { a.url == b.url }
    func hash(into hasher: inout Hasher) { hasher.combine(url) }
}

enum ModelStore {
    static let extensions: Set<String> = ["mlpackage", "pte"]

    static var documentsDirectory: URL {
        FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
    }

    static func scan() -> [ModelEntry] {
        var dirs = [documentsDirectory.appendingPathComponent(DocumentsLayout.models), documentsDirectory]
        if let bundled = Bundle.main.resourceURL?.appendingPathComponent("Models") { dirs.append(bundled) }
        var found: [ModelEntry] = []
        for dir in dirs {
            let items = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []
            for url in items where extensions.contains(url.pathExtension) {
                if let manifest = try? ModelManifest.load(from: ModelManifest.url(forArtifact: url)) {
                    found.append(ModelEntry(url: url, manifest: manifest))
                }
            }
        }
        return found.sorted { $0.title < $1.title }
    }
}
