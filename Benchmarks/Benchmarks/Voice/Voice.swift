// Voice suite: the server's voice work (issue #6).
//
//   Voice routing tick 1000 listeners 100 speakers   one VoiceRouter.route over the expo hall: 1,000 avatars
//                                                    listening, 100 of them talking (10 %), a presenter on the
//                                                    main stage; everyone's zone context from InterestContext.
//                                                    Target: ≤ 10 % of a core at 30 Hz, i.e. ≤ 3.3 ms per tick.
//   Voice mix period 100 listeners 8 of 40 speakers  mix mode, one whole 20 ms frame period: VoiceDecodeStage
//                                                    decodes 40 speakers once, then 100 listeners' VoiceMixers
//                                                    each pan, sum, soft-clip and encode 8 of them (the server
//                                                    encoding). Mixed listeners one core sustains =
//                                                    100 × 20 ms / this time.
//   Voice mix 1 listener 8 speakers (mix + encode)   one VoiceMixer.mix from already decoded frames: the cost
//                                                    each further mixed listener adds.
//   Voice decode stage 40 speakers                   one VoiceDecodeStage.decode of 40 speakers' frames: the
//                                                    shared cost of a period, paid once however many listen.
//   Voice encode stereo 20 ms <settings>             one stereo Opus encode of a mixed 20 ms frame (8 speakers
//                                                    panned), for the encoder settings a mixer could use:
//                                                    what each costs and the bitrate it gives.
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

    let loops = (0..<40).map { k in try! VoiceLoop(seed: 0xA0DE + UInt64(k), seconds: 4) }
    let perCoreConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, perCore],
        units: [threadCPU: .count, perCore: .count],
        warmupIterations: 20, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 10_000)

    // Mix mode, whole period: 40 speakers decoded once, 100 listeners each hearing 8 of them.
    let period = MixPeriod(loops: loops, listeners: 100, speakersPerListener: 8)
    Benchmark("Voice mix period 100 listeners 8 of 40 speakers", configuration: perCoreConfiguration) { benchmark in
        let speakerFrames = period.nextSpeakerFrames()
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        let frames = try! period.stage.decode(speakerFrames)
        for (mixer, sources) in zip(period.mixers, period.sources) { blackHole(try! mixer.mix(sources, from: frames)) }
        let cpuTime = cpu.elapsed()
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, cpuTime)
        benchmark.measurement(perCore, period.mixers.count * 20_000_000 / max(cpuTime, 1))
    }

    // One more mixed listener: pan + sum + encode over frames decoded already.
    let single = MixPeriod(loops: loops, listeners: 1, speakersPerListener: 8)
    Benchmark("Voice mix 1 listener 8 speakers (mix + encode)", configuration: perCoreConfiguration) { benchmark in
        let frames = try! single.stage.decode(single.nextSpeakerFrames())
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        blackHole(try! single.mixers[0].mix(single.sources[0], from: frames))
        let cpuTime = cpu.elapsed()
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, cpuTime)
        benchmark.measurement(perCore, 20_000_000 / max(cpuTime, 1))
    }

    let decodeOnly = MixPeriod(loops: loops, listeners: 0, speakersPerListener: 8)
    Benchmark("Voice decode stage 40 speakers", configuration: tickConfiguration) { benchmark in
        let speakerFrames = decodeOnly.nextSpeakerFrames()
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        blackHole(try! decodeOnly.stage.decode(speakerFrames))
        let cpuTime = cpu.elapsed()
        benchmark.stopMeasurement()
        benchmark.measurement(threadCPU, cpuTime)
        benchmark.measurement(routed, 40)
    }

    // Encoder settings for the mixed stream, on the same mixed audio.
    let kbps = BenchmarkMetric.custom("kbit/s produced", polarity: .prefersSmaller, useScalingFactor: false)
    let encodeConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, perCore, kbps],
        units: [threadCPU: .count, perCore: .count, kbps: .count],
        warmupIterations: 20, scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 5_000)
    let mixedAudio = MixedAudio(loops: Array(loops[0..<8]))
    let settings: [(name: String, application: OpusApplication, complexity: Int32, bitrate: Int32, ms: Int)] = [
        ("voip c5 48k", .voip, 5, 48_000, 20),
        ("voip c3 40k", .voip, 3, 40_000, 20),
        ("voip c1 40k", .voip, 1, 40_000, 20),
        ("voip c0 40k", .voip, 0, 40_000, 20),
        ("voip c1 40k 10 ms", .voip, 1, 40_000, 10),
        ("audio c1 40k", .audio, 1, 40_000, 20),
        ("lowdelay c0 40k", .restrictedLowDelay, 0, 40_000, 20),
        ("lowdelay c1 40k", .restrictedLowDelay, 1, 40_000, 20),
        ("lowdelay c1 32k", .restrictedLowDelay, 1, 32_000, 20),
        ("lowdelay c1 48k", .restrictedLowDelay, 1, 48_000, 20),
        ("lowdelay c2 48k", .restrictedLowDelay, 2, 48_000, 20),
        ("lowdelay c5 48k", .restrictedLowDelay, 5, 48_000, 20),
        ("lowdelay c1 48k 10 ms", .restrictedLowDelay, 1, 48_000, 10),
    ]
    for setting in settings {
        let box = EncoderBox(
            try! OpusVoiceEncoder(channels: 2, bitrate: setting.bitrate, application: setting.application),
            frameSamples: 48 * setting.ms)
        try! box.encoder.setComplexity(setting.complexity)
        Benchmark("Voice encode stereo 20 ms \(setting.name)", configuration: encodeConfiguration) { benchmark in
            let pcm = mixedAudio.frame(box.frame)
            box.frame += 1
            benchmark.startMeasurement()
            let cpu = ThreadCPUClock()
            var bytes = 0
            // 20 ms of audio, in frames of `ms`.
            for start in stride(from: pcm.startIndex, to: pcm.endIndex, by: 2 * box.frameSamples) {
                bytes += try! box.encoder.encode(Array(pcm[start..<(start + 2 * box.frameSamples)])).count
            }
            let cpuTime = cpu.elapsed()
            benchmark.stopMeasurement()
            benchmark.measurement(threadCPU, cpuTime)
            benchmark.measurement(perCore, 20_000_000 / max(cpuTime, 1))
            benchmark.measurement(kbps, bytes * 8 / 20)
        }
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

/// One mix-mode frame period: `listeners` mixed listeners, each hearing `speakersPerListener` of the loops'
/// speakers (a fixed, seeded choice with gains and azimuths), and the stage that decodes the speakers.
final class MixPeriod {
    let loops: [VoiceLoop]
    let stage = VoiceDecodeStage()
    let mixers: [VoiceMixer]
    let sources: [[VoiceMixSource]]
    var frame = 0

    init(loops: [VoiceLoop], listeners: Int, speakersPerListener: Int) {
        self.loops = loops
        var rng = SplitMix64(seed: 0x5EED_0F_4D1)
        mixers = (0..<listeners).map { _ in try! VoiceMixer() }
        sources = (0..<listeners).map { _ in
            var chosen: [Int] = []
            while chosen.count < speakersPerListener {
                let k = Int(rng.next() % UInt64(loops.count))
                if !chosen.contains(k) { chosen.append(k) }
            }
            return chosen.map { k in
                VoiceMixSource(
                    speakerId: UInt16(k + 1), gain: Float.random(in: 0.1...1, using: &rng),
                    azimuth: Float.random(in: -Float.pi...Float.pi, using: &rng))
            }
        }
    }

    /// Every speaker's next frame (each speaker at its own offset into its loop).
    func nextSpeakerFrames() -> [VoiceSpeakerFrame] {
        defer { frame += 1 }
        return loops.indices.map { k in
            VoiceSpeakerFrame(
                speakerId: UInt16(k + 1), sequence: UInt16(truncatingIfNeeded: frame),
                packet: loops[k][frame + 13 * k].opus)
        }
    }
}

/// 4 s of 8 speakers mixed to stereo (decoded from their loops, panned around the listener): what a
/// mixer's encoder gets.
struct MixedAudio {
    let pcm: [Int16]
    let frames: Int

    init(loops: [VoiceLoop]) {
        frames = loops.map(\.count).min() ?? 0
        var sum = [Float](repeating: 0, count: 2 * 960 * frames)
        for (k, loop) in loops.enumerated() {
            let decoder = try! OpusVoiceDecoder(channels: 1)
            let (l, r) = VoiceMixer.pan(azimuth: Float(k) * 0.8 - 2.8)
            let gain = 0.2 + 0.1 * Float(k)
            for f in 0..<frames {
                let mono = try! decoder.decode(loop[f].opus)
                for (i, v) in mono.prefix(960).enumerated() {
                    sum[2 * (960 * f + i)] += Float(v) * l * gain
                    sum[2 * (960 * f + i) + 1] += Float(v) * r * gain
                }
            }
        }
        pcm = sum.map { Int16(max(-32767, min(32767, $0))) }
    }

    /// Interleaved stereo of frame `index` of the endless loop.
    func frame(_ index: Int) -> ArraySlice<Int16> {
        let f = index % frames
        return pcm[(2 * 960 * f)..<(2 * 960 * (f + 1))]
    }
}

final class EncoderBox {
    let encoder: OpusVoiceEncoder
    let frameSamples: Int
    var frame = 0
    init(_ encoder: OpusVoiceEncoder, frameSamples: Int) {
        self.encoder = encoder
        self.frameSamples = frameSamples
    }
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
