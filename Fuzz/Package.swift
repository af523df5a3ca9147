// swift-tools-version: 6.1
// libFuzzer harnesses for Atrium's decoders. Build and run them with `make fuzz` from the repository root.
//
// Every directory under Harnesses/ is one harness: an executable target of the same name with one small file,
// whose @main calls `fuzzMain { data, size in … }` (FuzzSupport: libFuzzer's LLVMFuzzerRunDriver). Adding a
// harness = adding one directory with one file (and seeds in Corpus/<name>/).
import Foundation
import PackageDescription

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let harnesses = ((try? FileManager.default.contentsOfDirectory(atPath: here.appendingPathComponent("Harnesses").path)) ?? [])
    .filter { !$0.hasPrefix(".") }
    .sorted()
// A path dependency's identity is its directory's name (e.g. "main" or a worktree's name).
let root = here.deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "AtriumFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzDriver", path: "Support/FuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["FuzzDriver"], path: "Support/FuzzSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
    ] + harnesses.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "AtriumWire", package: root),
                .product(name: "AtriumTransport", package: root),
                .product(name: "AtriumSecurity", package: root),
            ],
            path: "Harnesses/\(name)",
            swiftSettings: [.swiftLanguageMode(.v6)],
            // gold (the default linker here) dies with an internal error on the sanitizer runtimes; lld links them.
            linkerSettings: [.unsafeFlags(["-use-ld=lld"])]
        )
    }
)
