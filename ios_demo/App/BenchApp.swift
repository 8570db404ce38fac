// App entry point. Launched with `--benchmark ...` (by toolkit/profile/ios.py through pymobiledevice3 or
// devicectl) it runs one headless measurement through BenchCore's HeadlessBenchmark, which writes
// Documents/results/<run-id>.json or <run-id>.error.txt, and exits; otherwise it shows the classifier.
import BenchCore
import SwiftUI
import UIKit

@main
struct BenchApp: App {
    private let argv = CommandLine.arguments

    var body: some Scene {
        WindowGroup {
            if argv.contains("--benchmark") {
                HeadlessBenchmarkView(argv: argv)
            } else {
                ContentView()
            }
        }
    }
}

/// Shown while the headless benchmark runs; the phone must stay unlocked with the app in the foreground.
struct HeadlessBenchmarkView: View {
    let argv: [String]
    @State private var status = "Benchmarking..."

    var body: some View {
        VStack(spacing: 12) {
            ProgressView()
            Text(status).font(.headline)
            Text(argv.drop { $0 != "--model" }.dropFirst().first ?? "").font(.caption).foregroundStyle(.secondary)
        }
        .padding()
        .task { await measure() }
    }

    /// On the main actor (UIApplication), with the measurement itself on a background task.
    @MainActor private func measure() async {
        // No auto-lock while measuring: a locked phone suspends the app mid-run.
        let idleTimerWasDisabled = UIApplication.shared.isIdleTimerDisabled
        UIApplication.shared.isIdleTimerDisabled = true
        let argv = self.argv
        // Off the main thread: a long measurement must not freeze the UI (the watchdog kills frozen apps).
        let outcome = await Task.detached(priority: .userInitiated) {
            HeadlessBenchmark(documents: ModelStore.documentsDirectory, platform: PhonePlatform()).run(argv: argv)
        }.value
        UIApplication.shared.isIdleTimerDisabled = idleTimerWasDisabled
        status = outcome == .measured ? "Done" : "Failed"
        exit(outcome.rawValue)
    }
}
