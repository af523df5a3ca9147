// VoiceRelay suite: a shard's relayed voice for one whole tick period (issue #6: server voice routing ≤ 10 % of a
// core at expo-1000: 1,000 avatars, 10 % talking, at most 8 streams per listener).
//
//   VoiceRelay tick 1000 avatars 100 speakers spread    groups of ten over the whole expo hall, one talker each
//   VoiceRelay tick 1000 avatars 100 speakers crowded   everyone within ~20 m (in front of the main stage): the
//                                                       8-stream cap and its hysteresis bind for every listener
//
// One operation is what the worker does with voice in one 30 Hz tick period at `voice_flushes_per_tick: 2` (the
// default), through the shard's @_spi(Benchmarks) surface: the VOICE frames that arrive in the first half are
// received (`receiveVoice`, Opus check and queue) and forwarded at the flush point between ticks
// (`forwardVoice`, along last tick's routes), the second half's are received, then the tick routes and bundles
// (`routeVoice`: VoiceRouter.route and every relay listener's VOICE_BUNDLE) and ends its frames (`mixVoice`; no
// listener is in mix mode). Each talker sends a 60-byte Opus frame every 20 ms at its own phase, so a period
// carries 1–2 frames per talker. The outbox only counts bytes (no sealing, no ENet).
//
// Between measured periods (not measured) everyone moves (`HeadsetMotion`), the shard ingests the POSEs and
// composes its snapshots (which builds the interest table voice reads zones from). Before the first, 3 s of
// periods settle routes and hysteresis.

@_spi(Benchmarks) import AtriumServer
import AtriumTransport
import AtriumWire
import AtriumWorld
import Benchmark
import BenchmarkSupport

let benchmarks: @Sendable () -> Void = {
    let world = BenchmarkWorlds.load("expo-hall")
    let threadCPU = BenchmarkMetric.threadCPU
    // What the period sent (the same in every run: the inputs are seeded), to check that faster means equal.
    let copies = BenchmarkMetric.custom("frame copies sent", polarity: .prefersLarger, useScalingFactor: false)
    let bundles = BenchmarkMetric.custom("bundles sent", polarity: .prefersLarger, useScalingFactor: false)

    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, copies, bundles],
        units: [threadCPU: .count, copies: .count, bundles: .count],
        warmupIterations: 10, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 2_000)

    for layout in [VoiceRelayPeriod.Layout.spread, .crowded] {
        let box = VoiceRelayBox(VoiceRelayPeriod(world: world, avatars: 1_000, layout: layout, seed: 0x0F_CE11))
        Benchmark("VoiceRelay tick 1000 avatars 100 speakers \(layout)", configuration: configuration) { benchmark in
            box.period.advance()
            let before = box.period.shard.voiceCounters
            benchmark.startMeasurement()
            let cpu = ThreadCPUClock()
            box.period.voice()
            let cpuTime = cpu.elapsed()
            benchmark.stopMeasurement()
            let after = box.period.shard.voiceCounters
            benchmark.measurement(threadCPU, cpuTime)
            benchmark.measurement(copies, Int(after.framesForwarded - before.framesForwarded))
            benchmark.measurement(bundles, Int(after.bundlesSent - before.bundlesSent))
        } setup: {
            box.period.settle(ticks: 90)
        }
    }
}

/// Shares one shard between the benchmark closure and its setup.
final class VoiceRelayBox {
    var period: VoiceRelayPeriod
    init(_ period: VoiceRelayPeriod) { self.period = period }
}

/// A shard of the expo hall with `avatars` clients moving, one in ten talking.
struct VoiceRelayPeriod {
    enum Layout: CustomStringConvertible {
        case spread, crowded
        var description: String {
            switch self {
            case .spread: "spread"
            case .crowded: "crowded"
            }
        }
    }

    static let periodMicros: UInt64 = 33_333
    static let frameMicros: UInt64 = 20_000

    let shard: Shard
    let outbox: Outbox
    var motions: [HeadsetMotion]
    /// Talkers: avatar id, its phase in the 20 ms frame clock, its packet, its level, its next sequence.
    var talkers: [(id: UInt16, phase: UInt64, opus: [UInt8], level: VoiceLevel, sequence: UInt16)] = []
    let dt: Double
    var tick: UInt64 = 0
    var inputSequence: UInt32 = 0

    init(world: WorldDefinition, avatars count: Int, layout: Layout, seed: UInt64) {
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
            // One presenter on the main stage, and talking (a zone broadcast).
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
                    kind: presenter || i % 2 == 1 ? .dwelling : .walking, seed: seed &+ UInt64(i) &* 7919,
                    centre: centre, spread: spread))
            _ = shard.admit(
                peer: PeerHandle(slot: UInt16(i), connectID: UInt32(i)), displayName: "bot \(i)",
                role: presenter ? .presenter : .visitor, version: 2, nowMicros: 0, outbox: outbox)
            if i % 10 == 7 {
                // TOC 0x78: config 15 (hybrid, full band, 20 ms), mono, one frame; 59 bytes of payload (24 kbit/s).
                var opus: [UInt8] = [0x78]
                for _ in 0..<59 { opus.append(UInt8(truncatingIfNeeded: rng.next())) }
                talkers.append(
                    (UInt16(i + 1), rng.next() % Self.frameMicros, opus,
                     VoiceLevel(voiceActivity: true, minusDBov: Int(rng.next() % 40)), 0))
            }
        }
    }

    /// Between measured periods: everyone moves and sends its POSE, the shard ingests them and sends its
    /// snapshots (the interest table voice reads zones from).
    mutating func advance() {
        tick += 1
        inputSequence &+= 1
        let now = tick * Self.periodMicros
        for i in motions.indices {
            let pose = motions[i].step(dt)
            _ = shard.submit(
                PoseInput(
                    inputSequence: inputSequence, clientTimeMs: UInt32(truncatingIfNeeded: now / 1000),
                    ackSnapshot: 0, pose: pose),
                from: UInt16(i + 1), receivedMicros: now)
        }
        shard.ingest { _, _ in }
        shard.sendSnapshots(nowMicros: now, outbox: outbox)
    }

    /// The measured part: one tick period of voice, from the previous tick to this one.
    mutating func voice() {
        let end = tick * Self.periodMicros
        let start = end - Self.periodMicros
        let middle = start + Self.periodMicros / 2
        receive(from: start, to: middle)
        shard.forwardVoice(outbox: outbox)
        receive(from: middle, to: end)
        shard.routeVoice(nowMicros: end, outbox: outbox)
        shard.mixVoice(nowMicros: end, outbox: outbox)
    }

    /// Every talker's frames whose 20 ms slot falls in [from, to).
    private mutating func receive(from: UInt64, to: UInt64) {
        for k in talkers.indices {
            let phase = talkers[k].phase
            // The first slot at or after `from`.
            var at = from <= phase ? phase : phase + (from - phase + Self.frameMicros - 1) / Self.frameMicros * Self.frameMicros
            while at < to {
                let frame = VoiceFrame(sequence: talkers[k].sequence, level: talkers[k].level, opus: talkers[k].opus)
                talkers[k].sequence &+= 1
                shard.receiveVoice(frame, from: talkers[k].id, nowMicros: at)
                at += Self.frameMicros
            }
        }
    }

    mutating func settle(ticks: Int) {
        for _ in 0..<ticks {
            advance()
            voice()
        }
    }
}

/// Where the benchmark's outbox counts bytes (so the datagrams are used).
final class ByteSink: @unchecked Sendable {
    var bytes = 0
}
