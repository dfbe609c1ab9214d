// swift-tools-version:6.0
//
// libFuzzer targets for Glassbox's file decoders (README.md, "Fuzzing"; run them with `make fuzz`
// from the repository root). A package of its own, so the root package's `swift build` and
// `swift test` never link libFuzzer. It uses the root package's library products.
import PackageDescription

// SwiftPM names a path dependency after its folder, so the root package is called whatever this
// clone's folder is called. (That is also why this folder is not named "Fuzz": a clone in a
// folder named "fuzz" would give both packages the same identity.)
let root = Context.packageDirectory.split(separator: "/").dropLast().last.map(String.init) ?? ""

let package = Package(
    name: "GlassboxFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        // One header declaring LLVMFuzzerRunDriver (no code: the symbol comes from libFuzzer).
        .systemLibrary(name: "CFuzzer", path: "Sources/CFuzzer"),
        .executableTarget(name: "glassbox-fuzz", dependencies: [
            "CFuzzer",
            .product(name: "Engine", package: root), .product(name: "Media", package: root),
            .product(name: "Datasets", package: root), .product(name: "Models", package: root),
        ]),
    ]
)
