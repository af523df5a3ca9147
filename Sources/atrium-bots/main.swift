import ArgumentParser
import AtriumBots
import AtriumTransport
import AtriumWire
import Foundation
import Synchronization

@main
struct AtriumBotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atrium-bots",
        abstract: "Headless XR bots for load-testing an Atrium server.",
        subcommands: [Run.self]
    )
}

/// Set by SIGINT so the run stops early and still reports.
let interrupted = Atomic<Bool>(false)

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Join bots to a server, move them, and report.")

    @Option(help: "Server address host:port.") var server: String = "127.0.0.1:7777"
    @Option(help: "World id to join.") var world: String = "expo-hall"
    @Option(help: "Number of bots.") var bots: Int = 50
    @Option(help: "Run length in seconds.") var duration: Double = 60
    @Option(help: "Joins per second.") var ramp: Double = 100
    @Option(name: .customLong("pose-rate"), help: "Poses per bot per second (1…90).") var poseRate: Double = 30
    @Option(help: "Seed for bot behaviour.") var seed: UInt64 = 1
    @Option(help: "Role the bots request.") var role: String = "visitor"

    func validate() throws {
        guard TransportAddress.parse(server) != nil else { throw ValidationError("--server must be host:port") }
        guard (1...4095).contains(bots) else { throw ValidationError("--bots must be 1…4095") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard (1...90).contains(poseRate) else { throw ValidationError("--pose-rate must be 1…90") }
        guard ramp > 0 else { throw ValidationError("--ramp must be positive") }
        guard Role(name: role) != nil else { throw ValidationError("--role: unknown role '\(role)'") }
    }

    func run() throws {
        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        let configuration = BotRunConfiguration(
            server: TransportAddress.parse(server)!, worldId: world, bots: bots, durationSeconds: duration,
            rampPerSecond: ramp, poseRateHz: poseRate, seed: seed, role: Role(name: role)!)
        let runner = try BotRunner(configuration: configuration) { interrupted.load(ordering: .relaxed) }
        let result = runner.run { progress in print(progress.line) }
        print(
            "summary: bots=\(result.requested) connected=\(result.connected) failed=\(result.failed) "
                + "rtt_ms p50=\(String(format1: result.rtt.p50)) p99=\(String(format1: result.rtt.p99)) "
                + "pose_ms p50=\(String(format1: result.poseLatency.p50)) p99=\(String(format1: result.poseLatency.p99)) "
                + "snapshots/s/bot=\(String(format1: result.snapshotsPerSecondPerBot)) "
                + "down_kbps/bot=\(String(format1: result.downBytesPerSecondPerBot * 8 / 1000)) "
                + "up_kbps/bot=\(String(format1: result.upBytesPerSecondPerBot * 8 / 1000))")
        for (reason, count) in result.failureReasons.sorted(by: { $0.key < $1.key }) {
            print("  failed: \(count) × \(reason)")
        }
        if result.connected == 0 { throw ExitCode(1) }
    }
}
