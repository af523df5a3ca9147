// Compose suite: one whole spatial compose tick of the server, for every recipient (issue #4: 1,000 avatars in
// one hall with the server on ≤ 1 core and tick work p99 ≤ 5 ms).
//
//   Compose tick 1000 avatars crowded   everyone within about 20 m of everyone (the audience in front of the
//                                       main stage): the relevance cap (128) and the byte budget bind
//   Compose tick 1000 avatars spread    everyone in small groups spread over the whole expo hall (~30 relevant)
//
// One operation is `Shard.sendSnapshots` (Sources/AtriumServer/Shard/Shard.swift) in the server's default spatial
// mode: the composer's per-tick tables, then per recipient relevance (a third of them each tick), priorities,
// budget selection, the delta entries against the recipient's acknowledged view, encoding, and handing the
// datagram to the outbox (here a counter: sealing and ENet are not included). The shard is driven through its
// @_spi(Benchmarks) surface: admit, submit, ingest, sendSnapshots.
//
// Between measured ticks (not measured): every avatar moves (`HeadsetMotion`: half walking, half standing and
// looking around, both hands tracked), submits its POSE acknowledging the snapshot of 2–5 ticks before (a
// round trip), and the shard ingests them. Before the first measured tick, three seconds of ticks bring every
// recipient's views, sets and accumulators to their steady state.

@_spi(Benchmarks) import AtriumServer
import AtriumTransport
import AtriumWire
import AtriumWorld
import Benchmark
import BenchmarkSupport

let benchmarks: @Sendable () -> Void = {
    let world = BenchmarkWorlds.load("expo-hall")
    let threadCPU = BenchmarkMetric.threadCPU
    // What the tick sent, per recipient (the same in every percentile, near enough).
    let bytes = BenchmarkMetric.custom("bytes per snapshot", polarity: .prefersSmaller, useScalingFactor: false)
    let entries = BenchmarkMetric.custom("entries per snapshot", polarity: .prefersLarger, useScalingFactor: false)

    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, bytes, entries],
        units: [threadCPU: .count, bytes: .count, entries: .count],
        warmupIterations: 10, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 2_000)

    for layout in [ComposeTick.Layout.crowded, .spread] {
        let box = ComposeTickBox(ComposeTick(world: world, avatars: 1_000, layout: layout, seed: 0xC0_4405E))
        Benchmark("Compose tick 1000 avatars \(layout)", configuration: configuration) { benchmark in
            box.tick.advance()
            let before = box.tick.shard.counters
            benchmark.startMeasurement()
            let cpu = ThreadCPUClock()
            box.tick.compose()
            let cpuTime = cpu.elapsed()
            benchmark.stopMeasurement()
            let after = box.tick.shard.counters
            let snapshots = max(1, Int(after.snapshotsSent - before.snapshotsSent))
            let sent = Int(after.fullEntries + after.updateEntries + after.leaveEntries)
                - Int(before.fullEntries + before.updateEntries + before.leaveEntries)
            benchmark.measurement(threadCPU, cpuTime)
            benchmark.measurement(bytes, Int(after.snapshotBytes - before.snapshotBytes) / snapshots)
            benchmark.measurement(entries, sent / snapshots)
        } setup: {
            box.tick.settle(ticks: 90)
        }
    }
}

/// Shares one shard between the benchmark closure and its setup.
final class ComposeTickBox {
    var tick: ComposeTick
    init(_ tick: ComposeTick) { self.tick = tick }
}

/// A shard of the expo hall with `avatars` clients moving and acknowledging snapshots.
struct ComposeTick {
    enum Layout: CustomStringConvertible {
        /// Everyone within ~20 m of everyone: a crowd of radius 9 m in front of the main stage.
        case crowded
        /// Groups of 10 (radius 10 m) at random spots over the whole hall.
        case spread

        var description: String {
            switch self {
            case .crowded: "crowded"
            case .spread: "spread"
            }
        }
    }

    let shard: Shard
    let outbox: Outbox
    var motions: [HeadsetMotion]
    let dt: Double
    var tick: UInt64 = 0
    var inputSequence: UInt32 = 0

    init(world: WorldDefinition, avatars count: Int, layout: Layout, seed: UInt64) {
        // Lenient movement limits: the first POSE takes each avatar from its spawn point to its place.
        shard = Shard(
            world: LoadedWorld(definition: world, path: "", contentHash: [UInt8](repeating: 0, count: 32)),
            limits: MovementLimits(maxSpeed: 1_000, maxReach: 2, teleportDistance: 1_000),
            snapshotMaxBytes: WireLimits.snapshotDatagramBytes)
        let sink = ByteSink()
        outbox = Outbox { _, bytes, _ in sink.bytes &+= bytes.count }
        dt = 1 / Double(world.tickRate)
        var rng = SplitMix64(seed: seed)
        var centres: [(x: Double, z: Double)] = []
        motions = []
        for i in 0..<count {
            // One presenter on the main stage (always relevant to everyone in the stage zone).
            let presenter = i == 7
            let centre: (x: Double, z: Double)
            let spread: Double
            if presenter {
                centre = (0, -88)
                spread = 2
            } else {
                switch layout {
                case .crowded:
                    centre = (0, -66)
                    spread = 9
                case .spread:
                    if i % 10 == 0 { centres.append((rng.double(-85...85), rng.double(-85...85))) }
                    centre = centres[centres.count - 1]
                    spread = 10
                }
            }
            motions.append(
                HeadsetMotion(
                    kind: presenter || i % 2 == 1 ? .dwelling : .walking, seed: seed &+ UInt64(i) &* 7919, centre: centre,
                    spread: spread))
            _ = shard.admit(
                peer: PeerHandle(slot: UInt16(i), connectID: UInt32(i)), displayName: "bot \(i)",
                role: presenter ? .presenter : .visitor, version: 2, nowMicros: 0, outbox: outbox)
        }
    }

    /// One tick of the world between measured ticks: every client moves and sends its POSE, acknowledging
    /// the snapshot of 2–5 ticks before; the shard ingests them.
    mutating func advance() {
        tick += 1
        inputSequence &+= 1
        let now = tick * 33_333
        for i in motions.indices {
            let pose = motions[i].step(dt)
            let lag = UInt64(2 + i % 4)
            let ack = tick > lag ? UInt32(tick - lag) : 0
            _ = shard.submit(
                PoseInput(inputSequence: inputSequence, clientTimeMs: UInt32(truncatingIfNeeded: now / 1000), ackSnapshot: ack, pose: pose),
                from: UInt16(i + 1), receivedMicros: now)
        }
        shard.ingest { _, _ in }
    }

    /// The measured part: one spatial compose tick for every recipient.
    func compose() {
        shard.sendSnapshots(nowMicros: tick * 33_333, outbox: outbox)
    }

    mutating func settle(ticks: Int) {
        for _ in 0..<ticks {
            advance()
            compose()
        }
    }
}

/// Where the benchmark's outbox counts bytes (so the datagrams are used).
final class ByteSink: @unchecked Sendable {
    var bytes = 0
}
