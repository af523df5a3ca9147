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

    /// One downstream budget per client: voice sent to a client since its last snapshot comes out of that
    /// snapshot's share, down to the floor state always keeps, and what a snapshot overran (entry sizes are
    /// estimated when selected) comes out of the next; a client that heard nothing keeps it all.
    @Test func voiceSentToAClientComesOutOfItsStateBudget() throws {
        var settings = InterestSettings()
        settings.bandwidthKbps = 96
        var run = ComposerRun(world: Self.world, avatars: 40, settings: settings, historyCapacity: 64, seed: 0xB0D6E7)
        let perTickBits = run.composer.tickBudgetBits
        let floorBits = perTickBits / SnapshotComposer.stateFloorShare
        let overheadBits = SnapshotComposer.datagramOverheadBytes * 8
        let listener = PeerHandle(slot: 0, connectID: 1)
        var uncharged: [Int] = []
        var halfVoiceTotal = 0
        var floorTicks: [Int] = []
        for tick in 1...150 {
            // From tick 60 the first client hears voice worth half its budget each tick, from 100 all of it.
            let voiceBits = tick >= 100 ? perTickBits : tick >= 60 ? perTickBits / 2 : 0
            if voiceBits > 0 {
                run.shard.composer.chargeVoice(voiceBits / 8 - SnapshotComposer.datagramOverheadBytes, to: listener)
            }
            try run.step()
            let sizes = run.lastSnapshotBytes[0] ?? []
            #expect(sizes.count == 1, "one snapshot datagram per tick")
            let bits = sizes.reduce(0, +) * 8 + overheadBits
            switch tick {
            case 30..<60: uncharged.append(bits)
            case 60..<100: halfVoiceTotal += bits + voiceBits
            case 100...: floorTicks.append(bits)
            default: break
            }
        }
        #expect(run.mismatches == 0)
        // Without voice the client's state used more than half the budget: the charge below makes a difference.
        #expect(uncharged.reduce(0, +) / uncharged.count > perTickBits / 2)
        // Voice and state together stay within the budget over the 40 ticks (one tick's overrun carried at most).
        #expect(halfVoiceTotal <= 40 * perTickBits + perTickBits)
        // Voice alone fills the budget: state gets its floor (at this small budget the floor is mostly the
        // datagram's overhead and header; estimates may overrun it a little, never double).
        #expect(floorTicks.reduce(0, +) / floorTicks.count <= floorBits + floorBits / 4)
        #expect(floorTicks.allSatisfy { $0 < 2 * floorBits })
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
    /// By client index: the sizes of the SNAPSHOT datagrams it was sent in the last tick.
    var lastSnapshotBytes: [Int: [Int]] = [:]

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
        shard.remove(UInt16(index + 1), reason: .timeout)
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
        lastSnapshotBytes = Dictionary(grouping: inbox.messages, by: { Int($0.0.slot) }).mapValues { $0.map(\.1.count) }
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
