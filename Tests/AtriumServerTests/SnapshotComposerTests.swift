import AtriumTransport
import AtriumWire
import AtriumWorld
import Testing

@_spi(Benchmarks) @testable import AtriumServer

/// The spatial composer end to end without a network: a shard, clients that decode every SNAPSHOT with a
/// `SnapshotReceiver`, lose some, and acknowledge late. Every state a client decodes must be the state the
/// server had for that avatar at that tick: a delta written against anything but exactly what the client holds
/// would decode to something else (or not at all).
@Suite struct SnapshotComposerTests {
    /// A 60 × 60 m room, interest radius 10 m.
    static let world: WorldDefinition = {
        let text = """
            id: composer-test
            name: Composer test room
            bounds:
              min: [-30, 0, -30]
              max: [30, 6, 30]
            interest_radius: 10
            tick_rate: 30
            capacity: 500
            roles: [visitor, presenter]
            default_role: visitor
            spawn_points:
              - position: [0, 0, 0]
            """
        do {
            return try WorldLoader.parse(text, file: "composer-test.yaml")
        } catch {
            fatalError("composer test world: \(error)")
        }
    }()

    /// Clients in two groups 16 m apart (beyond the radius), some walking between them so avatars enter and
    /// leave; a tight budget so the scheduler defers some; 10 % of snapshots lost, acknowledgements 1–6 ticks
    /// late; two avatars leave halfway.
    @Test(arguments: [64, 2])
    func clientsDecodeExactlyTheServersStates(historyCapacity: Int) throws {
        var settings = InterestSettings()
        settings.bandwidthKbps = 96
        var run = ComposerRun(
            world: Self.world, avatars: 40, settings: settings, historyCapacity: historyCapacity, seed: 0x5EED)
        for tick in 1...240 {
            if tick == 120 {
                run.remove(avatar: 3)
                run.remove(avatar: 17)
            }
            try run.step()
        }
        #expect(run.mismatches == 0)
        #expect(run.decodedEntries > 10_000)
        #expect(run.leavesDecoded > 0)
        #expect(run.counters.deferredByBudget > 0)
        #expect(run.counters.snapshotsFromBaseline > run.counters.snapshotsSent / 2)
        if historyCapacity < 4 {
            // Acknowledgements lag more than the history holds: some bases had to go out in full.
            #expect(run.composer.historyFallbacks > 0)
        } else {
            #expect(run.composer.historyFallbacks == 0)
            #expect(run.updatesDecoded > run.decodedEntries / 2)
        }
    }
}

/// Drives one shard tick by tick with simulated clients.
struct ComposerRun {
    struct Client {
        var receiver = SnapshotReceiver()
        /// The receiver's acknowledgement after each tick; a POSE carries one from `lag` ticks before.
        var acknowledgements: [UInt32] = []
        var position: Vec3
        var target: Vec3
        var inputSequence: UInt32 = 0
        var present = true
    }

    let shard: Shard
    let codec: PoseCodec
    var clients: [Client] = []
    var rng: SplitMix
    var tick: UInt64 = 0
    var inbox: MessageInbox
    let outbox: Outbox
    var mismatches = 0
    var decodedEntries = 0
    var updatesDecoded = 0
    var leavesDecoded = 0

    var counters: ShardCounters { shard.counters }
    var composer: SnapshotComposer { shard.composer }

    init(world: WorldDefinition, avatars: Int, settings: InterestSettings, historyCapacity: Int, seed: UInt64) {
        shard = Shard(
            world: LoadedWorld(definition: world, path: "", contentHash: [UInt8](repeating: 0, count: 32)),
            limits: MovementLimits(maxSpeed: 1_000, maxReach: 2, teleportDistance: 1_000),
            snapshotMaxBytes: WireLimits.snapshotDatagramBytes, interest: settings, historyCapacity: historyCapacity)
        codec = shard.codec
        rng = SplitMix(seed: seed)
        let inbox = MessageInbox()
        self.inbox = inbox
        outbox = Outbox { peer, bytes, channel in
            if channel == .state { inbox.messages.append((peer, bytes)) }
        }
        let groups = [Vec3(-8, 1.6, 0), Vec3(8, 1.6, 0)]
        for i in 0..<avatars {
            let home = groups[i % 2] + Vec3(Float(rng.unit() * 6 - 3), 0, Float(rng.unit() * 6 - 3))
            // Every fifth walks over to the other group and back.
            let target = i % 5 == 0 ? groups[(i + 1) % 2] : home
            clients.append(Client(position: home, target: target))
            _ = shard.admit(
                peer: PeerHandle(slot: UInt16(i), connectID: 1), displayName: "c\(i)", role: i == 4 ? .presenter : .visitor,
                version: 2, nowMicros: 0, outbox: outbox)
        }
        inbox.messages.removeAll()
    }

    mutating func remove(avatar index: Int) {
        clients[index].present = false
        shard.remove(UInt16(index + 1), reason: .timeout, outbox: outbox)
        inbox.messages.removeAll()
    }

    /// One tick: every present client moves and sends a POSE, the shard ticks, every client takes the SNAPSHOT
    /// it was sent (or loses it) and the decoded states are checked against the shard's.
    mutating func step() throws {
        tick += 1
        let now = tick * 33_333
        for i in clients.indices where clients[i].present {
            var c = clients[i]
            let towards = c.target - c.position
            let distance = towards.length
            if distance < 0.1 {
                if i % 5 == 0 { c.target = Vec3(-c.target.x, c.target.y, c.target.z) }
            } else {
                c.position = c.position + towards * (Float(min(0.04, distance)) / distance)
            }
            c.position = c.position + Vec3(Float(rng.unit() - 0.5) * 0.004, 0, Float(rng.unit() - 0.5) * 0.004)
            let lag = 1 + Int(rng.next() % 6)
            let ack = c.acknowledgements.count >= lag ? c.acknowledgements[c.acknowledgements.count - lag] : 0
            c.inputSequence += 1
            let pose = AvatarPose(
                headPosition: c.position, headRotation: Quat.yaw(Float(rng.unit() * 6.28)),
                leftHand: i % 3 == 0 ? nil : HandPose(position: c.position + Vec3(-0.3, -0.4, 0.2), rotation: Quat.yaw(0.3)),
                rightHand: HandPose(position: c.position + Vec3(0.3, -0.4, Float(rng.unit()) * 0.3), rotation: Quat.yaw(-0.2)),
                handRaised: false, speaking: i % 7 == 0)
            _ = shard.submit(
                PoseInput(inputSequence: c.inputSequence, clientTimeMs: UInt32(now / 1000), ackSnapshot: ack, pose: pose),
                from: UInt16(i + 1), receivedMicros: now)
            clients[i] = c
        }
        shard.tick(nowMicros: now, outbox: outbox) { _, _ in }

        let truth = shard.avatars.mapValues { $0.viewEntry }
        for (peer, bytes) in inbox.messages {
            let i = Int(peer.slot)
            guard rng.unit() >= 0.1 else { continue }  // lost
            guard case .applied(let part) = try clients[i].receiver.receive(bytes, codec: codec) else {
                mismatches += 1
                continue
            }
            for entry in part.entries {
                decodedEntries += 1
                switch entry {
                case .update(let state), .full(let state):
                    if case .update = entry { updatesDecoded += 1 }
                    if truth[state.id] != state {
                        mismatches += 1
                    }
                case .leave:
                    leavesDecoded += 1
                }
            }
        }
        inbox.messages.removeAll()
        for i in clients.indices { clients[i].acknowledgements.append(clients[i].receiver.acknowledgement) }
    }
}

/// Where the test outbox puts SNAPSHOTs.
final class MessageInbox {
    var messages: [(PeerHandle, [UInt8])] = []
}

/// A small seeded generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// 0 ..< 1.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
