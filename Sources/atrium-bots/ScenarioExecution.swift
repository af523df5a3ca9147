import ArgumentParser
import AtriumBots
import AtriumReport
import AtriumServer
import AtriumTransport
import AtriumWorld
import Foundation
import Logging

// What `run` and `capacity` share: the scenario and its overrides, one run against its target (a fresh local node
// or a remote server), and the rerun of a run the tool itself could not drive.

/// The scenario and the flags that override it.
struct ScenarioOptions: ParsableArguments {
    @Argument(help: "Scenario file (YAML). Without one, flags describe an ad-hoc run against --server.")
    var scenario: String?
    @Option(help: "Server host:port (overrides the scenario's target).") var server: String?
    @Option(help: "World id (ad-hoc runs; default expo-hall).") var world: String?
    @Option(help: "Run length in seconds.") var duration: Double?
    @Option(help: "Seed for behaviours and impairment.") var seed: UInt64?
    @Option(help: "Joins per second.") var ramp: Double?
    @Option(name: .customLong("pose-rate"), help: "Poses per bot per second (1…90).") var poseRate: Double?
    @Option(name: .customLong("measuring-bots"), help: "Bots that decode every snapshot for latency figures.")
    var measuringBots: Int?
    @Option(name: .customLong("stats-url"), help: "A remote node's GET /v1/stats URL, for server figures.")
    var statsURL: String?
    @Option(name: .customLong("join-url"), help: "A remote node's POST /v1/join URL (default: from --stats-url, else port 7780).")
    var joinURL: String?

    /// The scenario with the flags applied (`bots` too, when given) and its world; exit code 2 on any problem.
    func load(bots: Int?) throws -> (Scenario, WorldDefinition) {
        let scenario: Scenario
        do {
            scenario = try scenarioWithOverrides(bots: bots)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        do {
            return (scenario, try WorldLoader.load(path: scenario.worldFile))
        } catch {
            printError("world error: \(error)")
            throw ExitCode(2)
        }
    }

    /// The scenario file (or an ad-hoc scenario) with the flags applied.
    func scenarioWithOverrides(bots: Int?) throws -> Scenario {
        var scenario: Scenario
        if let path = self.scenario {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else { throw ValidationError("cannot read scenario file \(path)") }
            scenario = try Scenario.parse(text, file: path)
            if let world, world != scenario.world { throw ValidationError("--world conflicts with the scenario's world") }
        } else {
            let target = TransportAddress.parse(server ?? "127.0.0.1:7777")
            guard let target else { throw ValidationError("--server must be host:port") }
            scenario = Scenario(name: "adhoc", world: world ?? "expo-hall", bots: 50, target: .remote(target))
            scenario.behaviours = [BehaviourShare(kind: .wander, weight: 1), BehaviourShare(kind: .visitBooths, weight: 1)]
        }
        if let server {
            guard let address = TransportAddress.parse(server) else { throw ValidationError("--server must be host:port") }
            scenario.target = .remote(address)
        }
        if let bots {
            guard (1...20_000).contains(bots) else { throw ValidationError("--bots must be 1…20000") }
            scenario.bots = bots
        }
        if let duration {
            guard duration > 0 else { throw ValidationError("--duration must be positive") }
            scenario.durationSeconds = duration
        }
        if let seed { scenario.seed = seed }
        if let ramp {
            guard ramp > 0 else { throw ValidationError("--ramp must be positive") }
            scenario.rampPerSecond = ramp
        }
        if let poseRate {
            guard (1...90).contains(poseRate) else { throw ValidationError("--pose-rate must be 1…90") }
            scenario.poseRateHz = poseRate
        }
        if let measuringBots { scenario.measuringBots = max(0, measuringBots) }
        if let statsURL { scenario.statsURL = statsURL }
        if let joinURL { scenario.joinURL = joinURL }
        return scenario
    }
}

/// Runs the scenario, and again from a fresh node while a run fails an SLO with the tool saturated (at most the
/// scenario's `saturation_retries` times); the last report, its notes saying what the earlier attempts failed.
func runWithSaturationRetries(_ scenario: Scenario, world: WorldDefinition) throws -> LoadReport {
    var report = try runOnce(scenario, world: world)
    var attempt = 1
    var earlier: [String] = []
    while report.failedWhileSaturated && attempt <= scenario.saturationRetries && !interrupted.load(ordering: .relaxed) {
        let reasons = report.botSaturationReasons.joined(separator: "; ")
        let failed = report.slo.failures.joined(separator: "; ")
        earlier.append("attempt \(attempt) failed while the tool was saturated (\(reasons)): \(failed)")
        print("atrium-bots: attempt \(attempt) failed while the tool was saturated; running again (saturation_retries \(scenario.saturationRetries))")
        attempt += 1
        report = try runOnce(scenario, world: world)
    }
    report.notes = earlier + report.notes
    return report
}

/// One run of the scenario: its target (a fresh local node, or the remote server), the bots, the report with
/// its SLOs evaluated.
func runOnce(_ scenario: Scenario, world: WorldDefinition) throws -> LoadReport {
    // The target: a running server, or a node started here on a free loopback port.
    var node: NodeRuntime?
    var address: TransportAddress
    var stats: (@Sendable () -> ServerSample?)?
    var tickets: TicketSource
    var statsPoller: ServerStatsPoller?
    defer { statsPoller?.stop() }
    switch scenario.target {
    case .remote(let remote):
        address = remote
        // The organizer API key comes from the environment (never a flag: flags show in `ps`).
        let apiKey = ProcessInfo.processInfo.environment["ATRIUM_JOIN_API_KEY"] ?? SecuritySettings.developmentJoinApiKey
        let url = scenario.effectiveJoinURL ?? ""
        guard let source = JoinServiceTicketSource(url: url, apiKey: apiKey) else {
            printError("join_url '\(url)' is not a URL")
            throw ExitCode(2)
        }
        tickets = source
        if let url = scenario.statsURL {
            guard let poller = ServerStatsPoller(url: url) else {
                printError("stats_url '\(url)' is not a URL")
                throw ExitCode(2)
            }
            poller.start()
            statsPoller = poller
            stats = { poller.sample }
        }
    case .local(let configPath):
        let runtime = try startLocalNode(configPath: configPath)
        node = runtime
        address = TransportAddress(host: "127.0.0.1", port: runtime.port)
        tickets = KeyringTicketSource(keyring: runtime.tokenKeyring, serverAddress: "\(address)")
        stats = {
            let s = runtime.statistics
            guard s.ticks > 0 else { return nil }
            return ServerSample(
                tickMillisP50: s.tickMillisP50, tickMillisP99: s.tickMillisP99, cpuCores: s.workerCpuCores,
                datagramsInPerSecond: s.datagramsInPerSecond, datagramsOutPerSecond: s.datagramsOutPerSecond,
                tickOverruns: s.tickOverruns, voiceCpuCores: s.voiceCpuCores,
                voiceAddedMs: s.voiceAddedMillis.map { Percentiles(p50: $0.p50, p99: $0.p99, max: $0.max) },
                voiceAddedSinceStart: s.voiceAddedCounts.isEmpty
                    ? nil : LatencyBuckets(bucketMicros: NodeStatistics.voiceAddedBucketMicros, counts: s.voiceAddedCounts),
                socketDrops: s.socketDrops, voiceFramesOverflowed: s.voice.framesOverflowed,
                    tickCpuMillisP50: s.tickCpuMillisP50, tickCpuMillisP99: s.tickCpuMillisP99)
        }
    }

    let runner: LoadRunner
    do {
        runner = try LoadRunner(scenario: scenario, world: world, tickets: tickets, serverStats: stats) {
            interrupted.load(ordering: .relaxed)
        }
    } catch {
        printError("cannot create bot hosts: \(error)")
        throw ExitCode(1)
    }
    runner.serverAddress = address
    print("atrium-bots: \(scenario.name) — \(scenario.bots) bots → \(address) world \(scenario.world), \(Int(scenario.durationSeconds)) s")
    let tty = isatty(STDOUT_FILENO) == 1
    var report = runner.run(startedAt: ISO8601DateFormatter().string(from: Date())) { progress in
        if tty {
            // Redraw in place: carriage return, clear the line.
            FileHandle.standardOutput.write(Data(("\r\u{1B}[2K" + progress.line).utf8))
        } else {
            print(progress.line)
        }
    }
    if tty { print("") }
    if let node {
        node.stop()
        while !node.isStopped { usleep(10_000) }
    }
    report.applySLO(scenario.slo)
    return report
}

/// A node in this process, configured like `atrium serve` (file < environment), on a free loopback port.
func startLocalNode(configPath: String?) throws -> NodeRuntime {
    var text: String?
    if let configPath {
        guard let data = FileManager.default.contents(atPath: configPath) else {
            printError("cannot read configuration file \(configPath)")
            throw ExitCode(2)
        }
        text = String(decoding: data, as: UTF8.self)
    }
    var configuration: ServerConfiguration
    do {
        configuration = try ConfigurationLoader.load(
            fileText: text, filePath: configPath ?? "(defaults)", environment: ProcessInfo.processInfo.environment,
            flags: [:])
    } catch {
        printError(error.description)
        throw ExitCode(2)
    }
    configuration.port = 0
    configuration.bindAddress = "127.0.0.1"
    configuration.shutdownGraceMs = min(configuration.shutdownGraceMs, 1000)
    let (worlds, errors) = LoadedWorld.loadDirectory(configuration.worldsDirectory)
    guard errors.isEmpty else {
        for error in errors { printError("world error: \(error)") }
        throw ExitCode(2)
    }
    var logger = Logger(label: "atrium-local")
    logger.logLevel = .warning
    do {
        return try NodeRuntime.start(configuration: configuration, worlds: worlds, logger: logger)
    } catch {
        printError("cannot start the local server: \(error)")
        throw ExitCode(1)
    }
}

func write(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try data.write(to: url)
}
