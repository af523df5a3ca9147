// Voice suite: the server's voice work (issue #6).
//
//   Voice routing tick 1000 listeners 100 speakers   one VoiceRouter.route over the expo hall: 1,000 avatars
//                                                    listening, 100 of them talking (10 %), a presenter on the
//                                                    main stage; everyone's zone context from InterestContext.
//                                                    Target: ≤ 10 % of a core at 30 Hz, i.e. ≤ 3.3 ms per tick.
//   Voice mix 8 speakers (decode + encode)           one VoiceMixer.mix for one listener: 8 speakers' 20 ms
//                                                    frames decoded, panned, summed, encoded (stereo, 48 kbit/s,
//                                                    complexity 5). Mixed listeners one core sustains =
//                                                    20 ms / this time.
//   Voice validate + bundle 100 frames               OpusPacketValidator on 100 real frames and VoiceBundleWriter
//                                                    building the 1,000 listeners' bundles the routing implies
//                                                    (relay mode: 8 frames per listener).
//
// Inputs are fixed-seed: speakers' audio is VoiceLoop (SyntheticSpeech encoded at 24 kbit/s, 20 ms frames).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumVoice
import AtriumWire
import AtriumWorld
import Benchmark
import BenchmarkSupport

let benchmarks: @Sendable () -> Void = {
    let world = BenchmarkWorlds.load("expo-hall")
    let threadCPU = BenchmarkMetric.threadCPU
    let routed = BenchmarkMetric.custom("streams per listener", polarity: .prefersLarger, useScalingFactor: false)
    let perCore = BenchmarkMetric.custom("mixed listeners per core", polarity: .prefersLarger, useScalingFactor: false)

    let tickConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, .mallocCountTotal, routed],
        units: [threadCPU: .count, routed: .count],
        warmupIterations: 10, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 5_000)

    let routing = VoiceRoutingBox(VoiceRoutingTick(world: world, listeners: 1_000, speakers: 100, seed: 0x70_1CE))
    Benchmark("Voice routing tick 1000 listeners 100 speakers", configuration: tickConfiguration) { benchmark in
        routing.tick.walk()
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        routing.tick.run()
        let cpuTime = cpu.elapsed()
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, cpuTime)
        benchmark.measurement(routed, routing.tick.streamsPerListener)
    } setup: {
        routing.tick.settle(ticks: 60)
    }

    let loops = (0..<8).map { k in try! VoiceLoop(seed: 0xA0DE + UInt64(k), seconds: 4) }
    let mixConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, perCore],
        units: [threadCPU: .count, perCore: .count],
        warmupIterations: 20, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 10_000)
    let mixer = MixerBox(try! VoiceMixer())
    Benchmark("Voice mix 8 speakers (decode + encode)", configuration: mixConfiguration) { benchmark in
        let f = mixer.frame
        mixer.frame += 1
        let inputs = (0..<8).map { k in
            VoiceMixInput(
                speakerId: UInt16(k + 1), packet: loops[k][f + 13 * k].opus, gain: 0.2 + 0.1 * Float(k),
                azimuth: Float(k) * 0.8 - 2.8)
        }
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        blackHole(try! mixer.mixer.mix(inputs))
        let cpuTime = cpu.elapsed()
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, cpuTime)
        benchmark.measurement(perCore, 20_000_000 / max(cpuTime, 1))
    }

    let frames = (0..<100).map { k in loops[k % 8][k * 7].opus }
    Benchmark("Voice validate + bundle 100 frames", configuration: tickConfiguration) { benchmark in
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        var valid = 0
        for f in frames where (try? OpusPacketValidator.validate(f)) != nil { valid += 1 }
        var writer = VoiceBundleWriter()
        var bytes = 0
        for listener in 0..<1_000 {
            for k in 0..<8 {
                let f = frames[(listener + 13 * k) % frames.count]
                _ = writer.append(speakerId: UInt16(k + 1), sequence: UInt16(listener), level: VoiceLevel(rawValue: 0x95), opus: f)
            }
            bytes += writer.finish()?.count ?? 0
        }
        let cpuTime = cpu.elapsed()
        benchmark.stopMeasurement()
        blackHole(valid + bytes)
        benchmark.measurement(threadCPU, cpuTime)
        benchmark.measurement(routed, 8)
    }
}

final class MixerBox {
    let mixer: VoiceMixer
    var frame = 0
    init(_ mixer: VoiceMixer) { self.mixer = mixer }
}

final class VoiceRoutingBox {
    var tick: VoiceRoutingTick
    init(_ tick: VoiceRoutingTick) { self.tick = tick }
}

/// 1,000 avatars walking over the expo hall, 100 of them talking (changing every few seconds), and the
/// server's per-tick voice routing for all of them.
struct VoiceRoutingTick {
    struct Walker {
        var position: Vec3
        var heading: Float
        let speed: Float
        let role: Role
        var talking: Bool
        var level: VoiceLevel
    }

    let context: InterestContext
    let dt: Float
    let lo: Vec3, hi: Vec3
    var rng: SplitMix64
    var walkers: [Walker]
    var router: VoiceRouter
    var speakers: [VoiceSpeaker] = []
    var listeners: [VoiceListener] = []
    var now: UInt64 = 0
    var streamsPerListener = 0

    init(world: WorldDefinition, listeners count: Int, speakers talking: Int, seed: UInt64) {
        context = InterestContext(world: world)
        dt = 1 / Float(world.tickRate)
        lo = world.bounds.min + Vec3(2, 0, 2)
        hi = world.bounds.max - Vec3(2, 0, 2)
        var rng = SplitMix64(seed: seed)
        walkers = (0..<count).map { i in
            // A presenter on the main stage (id 8); everyone else walks the floor.
            let onStage = i == 7
            return Walker(
                position: onStage
                    ? Vec3(0, 1.7, -90)
                    : Vec3(Float.random(in: -100...100, using: &rng), 1.6, Float.random(in: -100...100, using: &rng)),
                heading: Float.random(in: -Float.pi...Float.pi, using: &rng), speed: onStage ? 0 : Float.random(in: 0.9...1.4, using: &rng),
                role: onStage ? .presenter : .visitor, talking: i % (count / talking) == 7,
                level: VoiceLevel(voiceActivity: true, minusDBov: Int.random(in: 15...35, using: &rng)))
        }
        self.rng = rng
        router = VoiceRouter(settings: VoiceRoutingSettings(hearingRadius: world.interestRadius))
        speakers.reserveCapacity(count)
        listeners.reserveCapacity(count)
    }

    mutating func walk() {
        now += UInt64(dt * 1_000_000)
        for i in walkers.indices {
            var w = walkers[i]
            if rng.next() % 64 == 0 { w.heading += Float.random(in: -1...1, using: &rng) }
            var next = w.position + Vec3(-sinf(w.heading), 0, -cosf(w.heading)) * (w.speed * dt)
            if next.x < lo.x || next.x > hi.x || next.z < lo.z || next.z > hi.z {
                w.heading += Float.pi + Float.random(in: -0.5...0.5, using: &rng)
                next = Vec3(min(max(next.x, lo.x), hi.x), next.y, min(max(next.z, lo.z), hi.z))
            }
            w.position = next
            // Levels move by a few dB from frame to frame; now and then a talker swaps with a listener.
            w.level = VoiceLevel(voiceActivity: true, minusDBov: max(10, min(45, w.level.minusDBov + Int(rng.next() % 5) - 2)))
            walkers[i] = w
        }
        if rng.next() % 4 == 0 {
            let a = Int(rng.next() % UInt64(walkers.count)), b = Int(rng.next() % UInt64(walkers.count))
            if walkers[a].talking != walkers[b].talking && a != 7 && b != 7 {
                walkers[a].talking.toggle()
                walkers[b].talking.toggle()
            }
        }
    }

    /// One tick (measured): classify everyone (as the interest pass does anyway), route.
    mutating func run() {
        speakers.removeAll(keepingCapacity: true)
        listeners.removeAll(keepingCapacity: true)
        for i in walkers.indices {
            let w = walkers[i]
            let id = UInt16(i + 1)
            let zone = context.zoneContext(position: w.position, role: w.role)
            listeners.append(VoiceListener(id: id, position: w.position, zone: zone))
            if w.talking { speakers.append(VoiceSpeaker(id: id, position: w.position, zone: zone, level: w.level)) }
        }
        router.route(speakers: speakers, listeners: listeners, nowMicros: now)
        var total = 0
        for i in listeners.indices { total += router.routes(forListenerAt: i).count }
        streamsPerListener = (total + listeners.count / 2) / listeners.count
    }

    mutating func settle(ticks: Int) {
        for _ in 0..<ticks {
            walk()
            run()
        }
    }
}
