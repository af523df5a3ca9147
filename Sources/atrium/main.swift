import ArgumentParser
import AtriumServer
import AtriumWire
import AtriumWorld
import Foundation
import Logging
import ServiceLifecycle

let atriumVersion = "0.1.0"

@main
struct Atrium: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atrium",
        abstract: "Atrium: an authoritative UDP state-sync server for shared XR spaces.",
        version: "atrium \(atriumVersion) (protocol \(ProtocolVersion.current))",
        subcommands: [Serve.self, CheckWorld.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve every world in the worlds directory (one shard per world).",
        discussion: "Layering: defaults < configuration file < ATRIUM_* environment < these flags. See docs/CONFIGURATION.md.")

    @Option(help: "Configuration file (YAML). Default: Config/atrium.yaml when present, else built-in defaults.")
    var config: String?
    @Option(help: "UDP port (0…65535).") var port: String?
    @Option(name: .customLong("bind-address"), help: "Address to bind.") var bindAddress: String?
    @Option(name: .customLong("worlds-dir"), help: "Directory of world files.") var worldsDir: String?
    @Option(name: .customLong("max-clients"), help: "Most simultaneous connections.") var maxClients: String?
    @Option(name: .customLong("hello-timeout-ms"), help: "HELLO deadline after connect.") var helloTimeoutMs: String?
    @Option(name: .customLong("peer-timeout-ms"), help: "Silent peer time-out.") var peerTimeoutMs: String?
    @Option(name: .customLong("shutdown-grace-ms"), help: "Time for CLOSING to reach clients on shutdown.")
    var shutdownGraceMs: String?
    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical.") var logLevel: String?
    @Option(name: .customLong("snapshot-max-bytes"), help: "Largest snapshot datagram.") var snapshotMaxBytes: String?
    @Option(name: .customLong("max-speed-mps"), help: "Speed limit (m/s).") var maxSpeedMps: String?
    @Option(name: .customLong("max-reach-m"), help: "Hand reach limit (m).") var maxReachM: String?
    @Option(name: .customLong("stats-interval-ms"), help: "Statistics interval.") var statsIntervalMs: String?
    @Option(name: .customLong("max-instances-per-world"), help: "Instances a world may open.")
    var maxInstancesPerWorld: String?
    @Option(name: .customLong("admin-port"), help: "HTTP admin port; 0 turns it off.") var adminPort: String?
    @Option(name: .customLong("admin-bind-address"), help: "Admin endpoint address.") var adminBindAddress: String?
    @Option(name: .customLong("interest-mode"), help: "spatial | naive.") var interestMode: String?
    @Option(name: .customLong("bandwidth-kbps"), help: "Downstream budget per client.") var bandwidthKbps: String?
    @Option(name: .customLong("max-full-rate-avatars"), help: "Avatars updated per client per tick.")
    var maxFullRateAvatars: String?
    @Option(name: .customLong("interest-leave-margin-m"), help: "Interest hysteresis margin.")
    var interestLeaveMarginM: String?
    @Option(name: .customLong("set"), help: "Any configuration key as key=value (repeatable), e.g. --set token_lifetime_s=30.")
    var settings: [String] = []

    var flagOverrides: [String: String] {
        let pairs: [(String, String?)] = [
            ("port", port), ("bind_address", bindAddress), ("worlds_dir", worldsDir), ("max_clients", maxClients),
            ("hello_timeout_ms", helloTimeoutMs), ("peer_timeout_ms", peerTimeoutMs),
            ("shutdown_grace_ms", shutdownGraceMs), ("log_level", logLevel), ("snapshot_max_bytes", snapshotMaxBytes),
            ("max_speed_mps", maxSpeedMps), ("max_reach_m", maxReachM), ("stats_interval_ms", statsIntervalMs),
            ("max_instances_per_world", maxInstancesPerWorld), ("admin_port", adminPort),
            ("admin_bind_address", adminBindAddress), ("interest_mode", interestMode), ("bandwidth_kbps", bandwidthKbps),
            ("max_full_rate_avatars", maxFullRateAvatars), ("interest_leave_margin_m", interestLeaveMarginM),
        ]
        var flags = Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
        for setting in settings {
            // "key=value"; a setting without "=" keeps its whole text as the key so the loader names it.
            let parts = setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            flags[String(parts[0])] = parts.count == 2 ? String(parts[1]) : ""
        }
        return flags
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: ServerConfiguration
        do {
            configuration = try loadConfiguration(environment: environment)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }

        let (worlds, errors) = LoadedWorld.loadDirectory(configuration.worldsDirectory)
        guard errors.isEmpty else {
            for error in errors { printError("world error: \(error)") }
            throw ExitCode(1)
        }

        let level = Logger.Level(rawValue: configuration.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "atrium")
        for world in worlds {
            logger.info(
                "world loaded",
                metadata: [
                    "world": "\(world.definition.id)", "file": "\(world.path)", "zones": "\(world.definition.zones.count)",
                    "tick_rate": "\(world.definition.tickRate)",
                ])
        }
        let board = StatisticsBoard()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: AtriumNodeService(configuration: configuration, worlds: worlds, logger: logger, board: board))
        ]
        if configuration.adminPort != 0 {
            let join: JoinIssuer
            do {
                join = try JoinIssuer(configuration: configuration, worlds: worlds, board: board)
            } catch {
                printError(error.description)
                throw ExitCode(2)
            }
            let admin = AdminHTTP.application(
                board: board, host: configuration.adminBindAddress, port: configuration.adminPort, logger: logger, join: join)
            services.append(.init(service: admin))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("node failed: \(error)")
            throw ExitCode(1)
        }
    }

    func loadConfiguration(environment: [String: String]) throws(ConfigurationError) -> ServerConfiguration {
        var path = config ?? environment["ATRIUM_CONFIG"]
        let explicit = path != nil
        if path == nil, FileManager.default.fileExists(atPath: "Config/atrium.yaml") { path = "Config/atrium.yaml" }
        var text: String?
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(
                    message: "configuration error: cannot read \(explicit ? "" : "default ")configuration file \(path)")
            }
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigurationError(message: "configuration error: \(path) is not UTF-8 text")
            }
            text = decoded
        }
        return try ConfigurationLoader.load(
            fileText: text, filePath: path ?? "(defaults)", environment: environment, flags: flagOverrides)
    }
}

struct CheckWorld: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-world", abstract: "Validate world files; exit 0 when all are valid, 1 otherwise.")

    @Argument(help: "World files to check.") var files: [String]

    func run() throws {
        var failed = false
        for file in files {
            do {
                let world = try WorldLoader.load(path: file)
                print("ok \(file): \(world.id) — \(world.zones.count) zones, \(world.spawnPoints.count) spawn points, capacity \(world.capacity)")
            } catch {
                printError("\(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
