// swift-tools-version: 6.1
import PackageDescription

// Microbenchmarks for Atrium, kept in their own package so that the root package (`make test`)
// never builds or resolves the benchmark dependency. Run from this directory:
//   swift package --disable-sandbox benchmark
// One executable target per suite; sources in Benchmarks/<Suite>/ (the layout the plugin discovers). Helpers
// shared by suites are in Support/ (the BenchmarkSupport library).
let package = Package(
    name: "AtriumBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Atrium", path: ".."),
        // MallocInterposer only (not the default traits): malloc counts without jemalloc.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Helpers the suites share (thread-CPU metric, seeded generator, loading Worlds/, headset motion); not a
        // benchmark.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Support",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "Wire",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Benchmarks/Wire",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Interest",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Benchmarks/Interest",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Compose",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                // The shard through its @_spi(Benchmarks) surface.
                .product(name: "AtriumServer", package: "Atrium"),
                .product(name: "AtriumTransport", package: "Atrium"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Benchmarks/Compose",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Voice",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AtriumVoice", package: "Atrium"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Benchmarks/Voice",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "VoiceRelay",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                // The shard through its @_spi(Benchmarks) surface.
                .product(name: "AtriumServer", package: "Atrium"),
                .product(name: "AtriumTransport", package: "Atrium"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Benchmarks/VoiceRelay",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Datagram",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AtriumSecurity", package: "Atrium"),
                .product(name: "AtriumTransport", package: "Atrium"),
                .product(name: "AtriumWire", package: "Atrium"),
                .product(name: "AtriumWorld", package: "Atrium"),
            ],
            path: "Benchmarks/Datagram",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
