import AtriumBots
import AtriumReport
import AtriumSecurity
import AtriumServer
import AtriumTransport
import AtriumWorld
import Foundation
import Logging
import Testing

func localNode() throws -> NodeRuntime {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.bindAddress = "127.0.0.1"
    configuration.shutdownGraceMs = 500
    let (worlds, errors) = LoadedWorld.loadDirectory(packageRoot.appendingPathComponent("Worlds").path)
    #expect(errors.isEmpty)
    var logger = Logger(label: "bots-test")
    logger.logLevel = .critical
    return try NodeRuntime.start(configuration: configuration, worlds: worlds, logger: logger)
}

func expoWorld() throws -> WorldDefinition {
    try WorldLoader.load(path: packageRoot.appendingPathComponent("Worlds/expo-hall.yaml").path)
}

@Suite(.serialized) struct LoadRunTests {
    /// The tool end to end against an in-process node: bots join, move, are measured, and SLOs decide.
    @Test func shortRunMeasuresAndPasses() async throws {
        let node = try localNode()
        var scenario = Scenario(name: "unit", world: "expo-hall", bots: 6, target: .local(configPath: nil))
        scenario.durationSeconds = 4
        scenario.rampPerSecond = 50
        scenario.behaviours = [BehaviourShare(kind: .wander, weight: 1), BehaviourShare(kind: .visitBooths, weight: 1)]
        scenario.measuringBots = 3
        let tickets = KeyringTicketSource(keyring: node.tokenKeyring, serverAddress: "127.0.0.1:\(node.port)")
        let runner = try LoadRunner(scenario: scenario, world: try expoWorld(), tickets: tickets) {
            let s = node.statistics
            return s.ticks == 0 ? nil : ServerSample(
                tickMillisP50: s.tickMillisP50, tickMillisP99: s.tickMillisP99, cpuCores: s.workerCpuCores,
                datagramsInPerSecond: s.datagramsInPerSecond, datagramsOutPerSecond: s.datagramsOutPerSecond,
                tickOverruns: s.tickOverruns)
        }
        runner.serverAddress = TransportAddress(host: "127.0.0.1", port: node.port)
        var lines = 0
        var report = runner.run(startedAt: "2026-01-01T00:00:00Z") { _ in lines += 1 }
        report.applySLO([
            SLOThreshold(metric: "bots.connected", min: 6), SLOThreshold(metric: "bots.failed", max: 0),
            SLOThreshold(metric: "snapshots_per_s_per_bot.mean", min: 10),
        ])
        await node.shutdown()

        #expect(lines >= 3)
        #expect(report.botsConnected == 6 && report.botsFailed == 0)
        #expect(report.connectMs.p50 != nil && report.rttMs.p99 != nil)
        #expect(report.poseLatencyMs.p50 != nil, "measuring bots saw others' inputs advance")
        #expect((report.downKbpsPerBot.mean ?? 0) > 0 && (report.upKbpsPerBot.mean ?? 0) > 0)
        #expect((report.poseBytesAbsoluteMean ?? 0) > 10)
        #expect((report.poseDeltaSpanMean ?? 0) >= 1, "a delta spans at least one input")
        #expect(report.serverTickMs.p99 != nil && report.serverCpuCores != nil)
        #expect(report.timeline.count >= 3)
        #expect(report.slo.passed && report.exitCode == 0, "\(report.slo.failures)")

        // The same report against an impossible limit fails with exit code 1.
        var failing = report
        failing.applySLO([SLOThreshold(metric: "rtt_ms.p99", max: 0.000_001)])
        #expect(!failing.slo.passed && failing.exitCode == 1)
        #expect(failing.slo.failures.first?.contains("rtt_ms.p99") == true)

        // Only a failure while the tool saturated is worth another attempt.
        #expect(!report.failedWhileSaturated && !failing.failedWhileSaturated)
        var stalled = failing
        stalled.botSaturated = true
        #expect(stalled.failedWhileSaturated)
        stalled.applySLO([])
        #expect(!stalled.failedWhileSaturated, "a saturated run that passed stands")
    }

    /// Nothing listens there: the run gives up once the connect timeout has passed, not at the end.
    @Test func unreachableServerStopsWithinTheConnectTimeout() throws {
        var scenario = Scenario(name: "nowhere", world: "expo-hall", bots: 3, target: .remote(TransportAddress(host: "127.0.0.1", port: 9)))
        scenario.durationSeconds = 60
        scenario.connectTimeoutSeconds = 1
        let runner = try LoadRunner(
            scenario: scenario, world: try expoWorld(),
            tickets: KeyringTicketSource(keyring: .development, serverAddress: "127.0.0.1:9"))
        runner.serverAddress = TransportAddress(host: "127.0.0.1", port: 9)
        let started = MonotonicClock.nowMicros()
        let report = runner.run(startedAt: "") { _ in }
        #expect(MonotonicClock.nowMicros() - started < 5_000_000)
        #expect(report.botsConnected == 0 && report.botsFailed == 3)
        #expect(report.exitCode == 1)
        #expect(report.notes.contains { $0.contains("no bot could connect") })
    }
}
