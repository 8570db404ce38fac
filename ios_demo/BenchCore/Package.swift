// swift-tools-version:5.9
// BenchCore: the platform-neutral half of the iOS demo app (statistics, result report, benchmark loop,
// preprocessing, top-k, manifest). It builds with Foundation only, so `swift test` runs on Linux in CI and the
// same sources compile into the iOS app through Xcode.
import PackageDescription

let package = Package(
    name: "BenchCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "BenchCore", targets: ["BenchCore"]),
    ],
    targets: [
        .target(name: "BenchCore"),
        .testTarget(
            name: "BenchCoreTests",
            dependencies: ["BenchCore"],
            exclude: ["Resources"]
        ),
    ]
)
