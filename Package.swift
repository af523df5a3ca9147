// swift-tools-version: 6.1
import PackageDescription

// Module graph (arrows point down only):
//   atrium, atrium-bots          thin executables
//   AtriumBots                   → AtriumClient, AtriumBehaviours, AtriumReport
//   AtriumBehaviours             → Wire, World (pure: what a bot does, time in, pose out)
//   AtriumServer                 → Wire, World, Crypto, Transport, Voice, YAML, Security
//   AtriumClient                 → Wire, Transport, Security
//   AtriumVoice                  → COpus, CAtriumShim
//   AtriumWorld                  → Wire, YAML
//   AtriumSecurity               → Crypto, Transport (tokens, cookies, sealed sessions, rate limits)
//   AtriumTransport              → CENet
//   AtriumCrypto                 → COpenSSL
//   AtriumWire, AtriumYAML       pure
//   AtriumReport                 pure: load-test results, SLOs, JSON/HTML/table output
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Atrium",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "atrium", targets: ["atrium"]),
        .executable(name: "atrium-bots", targets: ["atrium-bots"]),
        .executable(name: "atrium-floor", targets: ["atrium-floor"]),
        .library(name: "AtriumClient", targets: ["AtriumClient"]),
        .library(name: "AtriumWire", targets: ["AtriumWire"]),
        .library(name: "AtriumWorld", targets: ["AtriumWorld"]),
        .library(name: "AtriumServer", targets: ["AtriumServer"]),
        .library(name: "AtriumTransport", targets: ["AtriumTransport"]),
        .library(name: "AtriumVoice", targets: ["AtriumVoice"]),
        // For the fuzzing package (Fuzz/), which depends on this one by path.
        .library(name: "AtriumSecurity", targets: ["AtriumSecurity"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // System libraries. Debian: libenet-dev, libopus-dev, libssl-dev.
        .systemLibrary(name: "CENet", pkgConfig: "libenet", providers: [.apt(["libenet-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // C calls Swift cannot make directly (variadic ctl functions, function-like macros).
        .target(name: "CAtriumShim", dependencies: ["COpus"]),

        .target(name: "AtriumWire", swiftSettings: strict),
        .target(name: "AtriumReport", swiftSettings: strict),
        .target(name: "AtriumYAML", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: strict),
        .target(name: "AtriumWorld", dependencies: ["AtriumWire", "AtriumYAML"], swiftSettings: strict),
        .target(name: "AtriumBehaviours", dependencies: ["AtriumWire", "AtriumWorld"], swiftSettings: strict),
        .target(name: "AtriumCrypto", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "AtriumTransport", dependencies: ["CENet"], swiftSettings: strict),
        .target(name: "AtriumSecurity", dependencies: ["AtriumCrypto", "AtriumTransport"], swiftSettings: strict),
        .target(name: "AtriumVoice", dependencies: ["COpus", "CAtriumShim"], swiftSettings: strict),
        .target(
            name: "AtriumServer",
            dependencies: [
                "AtriumWire", "AtriumYAML", "AtriumWorld", "AtriumCrypto", "AtriumTransport", "AtriumVoice", "AtriumSecurity",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AtriumClient",
            dependencies: ["AtriumWire", "AtriumTransport", "AtriumSecurity"],
            swiftSettings: strict
        ),
        .target(
            name: "AtriumBots",
            dependencies: [
                "AtriumSecurity", "AtriumClient", "AtriumWire", "AtriumWorld", "AtriumYAML", "AtriumTransport", "AtriumReport", "AtriumBehaviours", "AtriumVoice",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "atrium",
            dependencies: [
                "AtriumServer", "AtriumWorld", "AtriumCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "atrium-bots",
            dependencies: [
                "AtriumBots", "AtriumServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The raw-ENet floor for load reports (LoadTests/Floor): bare ENet with a run's datagram pattern.
        .executableTarget(
            name: "atrium-floor",
            dependencies: ["AtriumTransport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "LoadTests/Floor",
            swiftSettings: strict
        ),
        // Spoofed-CONNECT flood against the admission filter (LoadTests/Flood).
        .executableTarget(
            name: "atrium-flood",
            dependencies: ["AtriumSecurity", "AtriumTransport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "LoadTests/Flood",
            swiftSettings: strict
        ),

        .testTarget(name: "AtriumWireTests", dependencies: ["AtriumWire", "AtriumBehaviours", "AtriumWorld"], resources: [], swiftSettings: strict),
        .testTarget(name: "AtriumWorldTests", dependencies: ["AtriumWorld", "AtriumYAML", "AtriumWire"], swiftSettings: strict),
        .testTarget(name: "AtriumCryptoTests", dependencies: ["AtriumCrypto"], swiftSettings: strict),
        .testTarget(name: "AtriumTransportTests", dependencies: ["AtriumTransport"], swiftSettings: strict),
        .testTarget(
            name: "AtriumSecurityTests", dependencies: ["AtriumSecurity", "AtriumCrypto", "AtriumTransport"],
            swiftSettings: strict),
        .testTarget(name: "AtriumVoiceTests", dependencies: ["AtriumVoice"], swiftSettings: strict),
        .testTarget(
            name: "AtriumServerTests",
            dependencies: ["AtriumServer", "AtriumClient", "AtriumWire", "AtriumWorld", "AtriumTransport", "AtriumSecurity", "AtriumVoice"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AtriumBehavioursTests", dependencies: ["AtriumBehaviours", "AtriumWorld", "AtriumWire"],
            swiftSettings: strict),
        .testTarget(name: "AtriumReportTests", dependencies: ["AtriumReport"], swiftSettings: strict),
        .testTarget(name: "AtriumClientTests", dependencies: ["AtriumClient"], swiftSettings: strict),
        .testTarget(name: "AtriumBotsTests", dependencies: ["AtriumBots", "AtriumServer", "AtriumSecurity"], swiftSettings: strict),
    ]
)
