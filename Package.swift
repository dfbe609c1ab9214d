// swift-tools-version:6.0
//
// Module graph (STYLE.md §1; nothing imports upward):
//   CBLAS → Engine → Media (+ CPNG, CJPEG, CSndfile) → Datasets → Models → CLI
//   Engine, Media → Probes;  Models + Probes → Explanations → CLI;  Assets (speech clips) → Datasets
// `Datasets` is the guide's "Data" module, renamed so it cannot shadow Foundation's `Data` type.
import PackageDescription

// Release builds use Swift's plain -O, so preconditions stay checked and another package can
// depend on these libraries by version (SwiftPM refuses unsafeFlags there). -Ounchecked was
// measured no faster: 300 training steps 0.99x, KernelSHAP over every word 1.01x (whole
// processes, 3-5 alternating pairs, 2026-11-24).

let package = Package(
    name: "Glassbox",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "glassbox", targets: ["CLI"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Media", targets: ["Media"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Probes", targets: ["Probes"]),
        .library(name: "Explanations", targets: ["Explanations"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Native libraries (Debian: libopenblas-dev, libpng-dev, libjpeg-dev, libsndfile1-dev).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas"),
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png")]),
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .systemLibrary(name: "CSndfile", path: "Sources/CSndfile", pkgConfig: "sndfile"),

        .target(name: "Engine", dependencies: ["CBLAS"], exclude: ["README.md"]),
        .target(name: "Media", dependencies: ["Engine", "CPNG", "CJPEG", "CSndfile"], exclude: ["README.md"]),
        // Small shipped data (speech clips for the scenes dataset), as a resource bundle.
        .target(name: "Assets", path: "Assets", sources: ["ShippedAssets.swift"], resources: [.copy("speech")]),
        .target(name: "Datasets", dependencies: ["Engine", "Media", "Assets"], exclude: ["README.md"]),
        .target(name: "Models", dependencies: ["Engine", "Media", "Datasets"], exclude: ["README.md"]),
        .target(name: "Probes", dependencies: ["Engine", "Media"], path: "Probes", exclude: ["README.md"]),
        // The caption model seen through the probes: target functions, features, attention graphs, explain files.
        .target(name: "Explanations", dependencies: ["Engine", "Media", "Datasets", "Models", "Probes"], exclude: ["README.md"]),
        .executableTarget(
            name: "CLI",
            dependencies: [
                "Engine", "Media", "Datasets", "Models", "Probes", "Explanations", "CBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]),

        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"]),
        .testTarget(name: "MediaTests", dependencies: ["Engine", "Media", "CPNG", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Engine", "Media", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Datasets", "Engine", "Media", "TestSupport"]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "Engine", "Media", "TestSupport"]),
        .testTarget(name: "ExplanationsTests", dependencies: ["Explanations", "Probes", "Models", "Datasets", "Engine", "Media", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["CLI", "Media", "TestSupport"]),
    ]
)
