import AtriumClient
import AtriumTransport
import AtriumWire
import AtriumWorld
import Foundation
import Testing

@_spi(Benchmarks) @testable import AtriumServer

/// Rate tiers through the whole shard pipeline: inputs, relevance, priorities, deltas against acknowledged
/// views, snapshots decoded by a real client session.
@Suite struct RateTierTests {
    /// A 60 m hall, interest radius 20 m, and one spawn point per test avatar: the watcher at the centre
    /// facing north (−z), one avatar 5 m in front, one 18 m in front, one 16 m behind.
    static func hallDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atrium-tiers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let world = """
            id: hall
            name: Hall
            bounds:
              min: [0, 0, 0]
              max: [60, 5, 60]
            interest_radius: 20
            capacity: 10
            roles: [visitor]
            default_role: visitor
            spawn_points:
              - {position: [30, 0, 30], yaw_degrees: 0}
              - {position: [30, 0, 25], yaw_degrees: 0}
              - {position: [30, 0, 12], yaw_degrees: 0}
              - {position: [30, 0, 46], yaw_degrees: 0}
            """
        try world.write(to: dir.appendingPathComponent("hall.yaml"), atomically: true, encoding: .utf8)
        return dir.path
    }

    final class Mailbox {
        var messages: [(PeerHandle, [UInt8])] = []
    }

    struct Run {
        /// Per avatar (watcher, near in front, far in front, far behind): the ticks at which it appeared
        /// in the watcher's snapshots.
        var seen: [[Int]]
        var counters: ShardCounters
    }

    /// Everyone moves 1 cm per tick; the watcher acknowledges every snapshot it decodes.
    func run(threshold: Float, ticks: Int) throws -> Run {
        let (worlds, errors) = LoadedWorld.loadDirectory(try Self.hallDirectory())
        #expect(errors.isEmpty)
        var settings = InterestSettings()
        settings.sendThreshold = threshold
        let shard = Shard(
            world: try #require(worlds.first), limits: MovementLimits(), snapshotMaxBytes: 1200, interest: settings)
        let mailbox = Mailbox()
        let outbox = Outbox { peer, bytes, _ in mailbox.messages.append((peer, bytes)) }
        let peers = (0..<4).map { PeerHandle(slot: UInt16($0), connectID: 1) }
        var avatars: [Avatar] = []
        for (i, peer) in peers.enumerated() {
            avatars.append(try #require(shard.admit(
                peer: peer, displayName: "a\(i)", role: .visitor, version: ProtocolVersion.supported.upperBound,
                nowMicros: 0, outbox: outbox)))
        }
        var watcher = ClientSession()
        var seen: [[Int]] = Array(repeating: [], count: 4)
        let index = Dictionary(uniqueKeysWithValues: avatars.enumerated().map { ($1.id, $0) })
        let tickMicros: UInt64 = 33_333
        for tick in 1...ticks {
            let now = UInt64(tick) * tickMicros
            for (i, avatar) in avatars.enumerated() {
                var pose = avatar.pose
                pose.headPosition.x += 0.01 * Float(tick)
                let input = PoseInput(
                    inputSequence: UInt32(tick), clientTimeMs: UInt32(now / 1000),
                    ackSnapshot: i == 0 ? watcher.newestSnapshot : 0, pose: pose)
                #expect(shard.submit(input, from: avatar.id, receivedMicros: now - 1000) == nil)
            }
            shard.tick(nowMicros: now, outbox: outbox) { _, rejection in Issue.record("rejected: \(rejection)") }
            for (peer, bytes) in mailbox.messages where peer == peers[0] {
                if case .snapshot(let update) = watcher.receive(bytes, nowMicros: now) {
                    for entry in update.entries {
                        if case .leave = entry { continue }
                        if let k = index[entry.id] { seen[k].append(tick) }
                    }
                }
            }
            mailbox.messages.removeAll()
        }
        return Run(seen: seen, counters: shard.counters)
    }

    @Test func farAvatarsArriveLessOften() throws {
        let threshold = PriorityWeights.standard.defaultSendThreshold
        let tiered = try run(threshold: threshold, ticks: 60)
        // After the first tick (everyone enters at once): own and near in view every tick, far in front
        // (priority 2.06) every 2nd, far behind (1.12) every 3rd.
        let periods = [1, 1, 2, 3]
        for k in 0..<4 {
            #expect(tiered.seen[k].first == 1, "avatar \(k)")
            #expect(tiered.seen[k] == Array(stride(from: 1, through: 60, by: periods[k])), "avatar \(k): \(tiered.seen[k])")
        }
        #expect(tiered.counters.deferredByRate > 0 && tiered.counters.deferredByBudget == 0)

        // Threshold 0: every changed avatar every tick.
        let flat = try run(threshold: 0, ticks: 60)
        for k in 0..<4 { #expect(flat.seen[k] == Array(1...60), "avatar \(k)") }
        #expect(flat.counters.deferredByRate == 0 && flat.counters.deferredByBudget == 0)
        #expect(tiered.counters.snapshotBytes < flat.counters.snapshotBytes)
    }
}
