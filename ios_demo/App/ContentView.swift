// The interactive screen: pick a photo, a model and (for Core ML) the compute units; see top-5 and latency.
import BenchCore
import PhotosUI
import SwiftUI

struct ContentView: View {
    @StateObject private var vm = ClassifierViewModel()
    @State private var photoItem: PhotosPickerItem?

    var body: some View {
        NavigationStack {
            Form {
                Section("Photo") {
                    PhotosPicker(selection: $photoItem, matching: .images) {
                        Label(vm.image == nil ? "Choose a photo" : "Change photo", systemImage: "photo")
                    }
                    if let image = vm.image {
                        Image(uiImage: image).resizable().scaledToFit().frame(maxHeight: 220)
                    }
                }
                Section("Model") {
                    Picker("Model", selection: $vm.selected) {
                        Text("None").tag(ModelEntry?.none)
                        ForEach(vm.models) { Text($0.title).tag(ModelEntry?.some($0)) }
                    }
                    if vm.selected?.manifest.target == "coreml" {
                        Picker("Compute units", selection: $vm.computeUnits) {
                            ForEach(ComputeUnits.allCases, id: \.self) { Text($0.title).tag($0) }
                        }
                    }
                    Button("Reload models") { vm.reloadModels() }
                }
                Section("Result") {
                    Button("Classify") { vm.classify() }.disabled(vm.image == nil || vm.selected == nil || vm.busy)
                    if vm.busy { ProgressView() }
                    ForEach(vm.predictions, id: \.index) { p in
                        HStack {
                            Text(p.label)
                            Spacer()
                            Text(String(format: "%.1f%%", p.probability * 100)).monospacedDigit()
                        }
                    }
                    if let ms = vm.latencyMs {
                        Text(String(format: "Latency %.2f ms (median of %d runs)", ms, vm.runs)).monospacedDigit()
                    }
                    if let error = vm.error { Text(error).foregroundStyle(.red) }
                }
            }
            .navigationTitle("MobileNet Bench")
            .onChange(of: photoItem) { item in vm.load(item) }
            .onAppear { vm.reloadModels() }
        }
    }
}

@MainActor
final class ClassifierViewModel: ObservableObject {
    @Published var models: [ModelEntry] = []
    @Published var selected: ModelEntry?
    @Published var computeUnits: ComputeUnits = .all
    @Published var image: UIImage?
    @Published var predictions: [Prediction] = []
    @Published var latencyMs: Double?
    @Published var error: String?
    @Published var busy = false
    let runs = 10

    func reloadModels() {
        models = ModelStore.scan()
        if let s = selected, !models.contains(s) { selected = nil }
        if selected == nil { selected = models.first }
    }

    func load(_ item: PhotosPickerItem?) {
        Task {
            guard let data = try? await item?.loadTransferable(type: Data.self) else { return }
            image = UIImage(data: data)
            predictions = []
            latencyMs = nil
        }
    }

    func classify() {
        guard let entry = selected, let image = image, let rgba = SampleImage.rgba(from: image) else { return }
        busy = true
        error = nil
        let units = computeUnits
        let runs = self.runs
        Task.detached(priority: .userInitiated) {
            do {
                // The same checks, encoding and decoding as the headless benchmark (BenchCore.PreparedModel).
                let os = ProcessInfo.processInfo.operatingSystemVersion.majorVersion
                let model = try PreparedModel(url: entry.url, photo: { rgba }, osMajorVersion: os)
                let args = BenchmarkArguments(model: entry.url.lastPathComponent, computeUnits: units)
                let backend = try PhonePlatform().makeBackend(model.kind, model: entry.url, manifest: model.manifest,
                                                              sha256: model.sha256, arguments: args)
                let outcome = try BenchmarkLoop(config: RunConfig(warmup: 1, iterations: runs)).run(backend, input: model.input)
                let top = topK(try model.decoder.decode(outcome.output), k: 5, labels: model.labels)
                await MainActor.run {
                    self.predictions = top
                    self.latencyMs = outcome.stats.medianMs
                    self.busy = false
                }
            } catch {
                await MainActor.run {
                    self.error = "\(error)"
                    self.busy = false
                }
            }
        }
    }
}
