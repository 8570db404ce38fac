// App entry point. Launched with `--benchmark ...` (by toolkit/profile/ios.py through pymobiledevice3 or
// devicectl) it runs one headless measurement, writes Documents/results/<run-id>.json and exits; otherwise it
// shows the interactive classifier.
import BenchCore
import SwiftUI

@main
struct BenchApp: App {
    private let benchmark: Result<BenchmarkArguments?, Error> = Result {
        try BenchmarkArguments.parse(CommandLine.arguments)
    }

    var body: some Scene {
        WindowGroup {
            switch benchmark {
            case let .success(args?):
                HeadlessBenchmarkView(arguments: args)
            case .success(nil):
                ContentView()
            case let .failure(error):
                HeadlessBenchmarkView(argumentError: error)
            }
        }
    }
}

/// Shown while the headless benchmark runs; the phone must stay unlocked with the app in the foreground.
struct HeadlessBenchmarkView: View {
    var arguments: BenchmarkArguments?
    var argumentError: Error?
    @State private var status = "Benchmarking..."

    init(arguments: BenchmarkArguments) { self.arguments = arguments }
    init(argumentError: Error) { self.argumentError = argumentError }

    var body: some View {
        VStack(spacing: 12) {
            ProgressView()
            Text(status).font(.headline)
            Text(arguments?.model ?? "").font(.caption).foregroundStyle(.secondary)
        }
        .padding()
        .task {
            let runner = HeadlessBenchmark(documents: ModelStore.documentsDirectory)
            if let error = argumentError {
                runner.writeError("\(error)", runID: "latest")
                exit(2)
            }
            guard let args = arguments else { return }
            // Off the main thread: a long measurement must not freeze the UI (the watchdog kills frozen apps).
            let ok = await Task.detached(priority: .userInitiated) { runner.run(args) }.value
            status = ok ? "Done" : "Failed"
            exit(ok ? 0 : 1)
        }
    }
}
