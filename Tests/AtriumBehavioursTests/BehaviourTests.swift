import AtriumBehaviours
import AtriumWire
import AtriumWorld
import Foundation
import Testing

@Suite struct VoiceTests {
    @Test(arguments: [0.05, 0.2, 0.5, 0.8])
    func ordinaryBotsTalkTheirDutyCycle(duty: Double) {
        let world = Worlds.named("expo-hall")
        let kinds: [BehaviourKind] = [.wander, .visitBooths, .gatherStage]
        var shares: [Double] = []
        for (k, kind) in kinds.enumerated() {
            for i in 0..<8 {
                var bot = makeBot(kind, world: world, botIndex: k * 8 + i, botCount: 24, seed: 5, duty: duty)
                let samples = simulate(&bot, rate: 10, to: 600)
                shares.append(talkingShare(samples))
                // Bursts last 1–5 s.
                var start: Double?
                for s in samples {
                    if s.intent.talking, start == nil { start = s.time }
                    if !s.intent.talking, let st = start {
                        if st > 0 { #expect(s.time - st >= 0.9 && s.time - st <= 5.2, "burst of \(s.time - st) s") }
                        start = nil
                    }
                }
            }
        }
        let mean = shares.reduce(0, +) / Double(shares.count)
        #expect(abs(mean - duty) < 0.03, "mean talking share \(mean) for duty \(duty)")
        for share in shares { #expect(abs(share - duty) < 0.15, "a bot talks \(share) for duty \(duty)") }
    }

    @Test func silentAndNonStop() {
        let world = Worlds.named("village-assembly")
        var quiet = makeBot(.takeSeat, world: world, duty: 0)
        #expect(simulate(&quiet, rate: 10, to: 300).allSatisfy { !$0.intent.talking && !$0.intent.pose.speaking })
        var chatty = makeBot(.takeSeat, world: world, duty: 1)
        #expect(simulate(&chatty, rate: 10, to: 300).allSatisfy { $0.intent.talking && $0.intent.pose.speaking })
    }
}

@Suite struct DeterminismTests {
    @Test(arguments: BehaviourKind.allCases)
    func sameSeedSamePosesOtherSeedOtherPoses(kind: BehaviourKind) {
        for id in Worlds.ids {
            let world = Worlds.named(id)
            func run(_ seed: UInt64) -> [BotIntent] {
                var bot = makeBot(kind, world: world, botIndex: 1, botCount: 4, seed: seed, duty: 0.3)
                return simulate(&bot, rate: 30, to: 120).map(\.intent)
            }
            let a = run(42)
            #expect(a == run(42), "\(id) \(kind) differs between two runs with the same seed")
            #expect(a != run(43), "\(id) \(kind) identical with another seed")
        }
    }

    @Test func botsOfOneRunDiffer() {
        let world = Worlds.named("expo-hall")
        var a = makeBot(.wander, world: world, botIndex: 0, botCount: 2)
        var b = makeBot(.wander, world: world, botIndex: 1, botCount: 2)
        #expect(simulate(&a, rate: 10, to: 30).map(\.intent) != simulate(&b, rate: 10, to: 30).map(\.intent))
    }
}

@Suite struct MixTests {
    @Test func largestRemainderGivesExactCounts() {
        let shares: [(kind: BehaviourKind, weight: Double)] = [
            (.wander, 0.5), (.visitBooths, 0.35), (.gatherStage, 0.15),
        ]
        let mix = BehaviourMix.assign(botCount: 1000, shares: shares)
        #expect(mix.count == 1000)
        #expect(mix.filter { $0.kind == .wander }.count == 500)
        #expect(mix.filter { $0.kind == .visitBooths }.count == 350)
        #expect(mix.filter { $0.kind == .gatherStage }.count == 150)
        for kind in [BehaviourKind.wander, .visitBooths, .gatherStage] {
            let mine = mix.filter { $0.kind == kind }
            #expect(mine.map(\.kindIndex) == Array(0..<mine.count))
            #expect(mine.allSatisfy { $0.kindCount == mine.count })
        }
        // Interleaved: any prefix of the bots has about the mix.
        let first20 = mix.prefix(20)
        #expect(first20.filter { $0.kind == .wander }.count == 10)
        #expect(first20.filter { $0.kind == .visitBooths }.count == 7)
        #expect(first20.filter { $0.kind == .gatherStage }.count == 3)
        // Deterministic.
        let again = BehaviourMix.assign(botCount: 1000, shares: shares)
        #expect(mix.map(\.kind) == again.map(\.kind) && mix.map(\.kindIndex) == again.map(\.kindIndex))
    }

    @Test func remaindersAndOddWeights() {
        // 10 bots at 1:1:1 → 4/3/3, the extra one to the first share.
        let thirds = BehaviourMix.assign(botCount: 10, shares: [(.takeSeat, 1), (.raiseHand, 1), (.podiumSpeaker, 1)])
        #expect(thirds.filter { $0.kind == .takeSeat }.count == 4)
        #expect(thirds.filter { $0.kind == .raiseHand }.count == 3)
        #expect(thirds.filter { $0.kind == .podiumSpeaker }.count == 3)
        // Largest remainder, not first-come: 7 bots at 0.1/0.45/0.45 → 1/3/3 (quotas 0.7/3.15/3.15).
        let lr = BehaviourMix.assign(botCount: 7, shares: [(.teacher, 0.1), (.sitListen, 0.45), (.breakout, 0.45)])
        #expect(lr.filter { $0.kind == .teacher }.count == 1)
        #expect(lr.filter { $0.kind == .sitListen }.count == 3)
        #expect(lr.filter { $0.kind == .breakout }.count == 3)
        // Zero, negative and NaN weights get nobody; a kind listed twice counts once.
        let odd = BehaviourMix.assign(
            botCount: 9,
            shares: [(.wander, 0), (.presenter, -1), (.teacher, .nan), (.visitBooths, 1), (.visitBooths, 2)])
        #expect(odd.allSatisfy { $0.kind == .visitBooths })
        #expect(odd.map(\.kindIndex) == Array(0..<9))
        // Nothing to go by: everybody wanders.
        #expect(BehaviourMix.assign(botCount: 3, shares: []).map(\.kind) == [.wander, .wander, .wander])
        #expect(BehaviourMix.assign(botCount: 0, shares: [(.wander, 1)]).isEmpty)
        // One bot, tiny weights.
        let one = BehaviourMix.assign(botCount: 1, shares: [(.teacher, 1e-9), (.sitListen, 2e-9)])
        #expect(one.count == 1 && one[0].kind == .sitListen && one[0].kindCount == 1)
    }

    @Test func manyShapesSumExactly() {
        var random = SeededRandom(seed: 8)
        for _ in 0..<200 {
            let n = random.index(below: 3000) + 1
            let kinds = BehaviourKind.allCases.shuffled(using: &random).prefix(random.index(below: 5) + 1)
            let shares = kinds.map { (kind: $0, weight: Double(random.uniform(Float(0)...Float(1)))) }
            let mix = BehaviourMix.assign(botCount: n, shares: shares)
            #expect(mix.count == n)
            let total = shares.reduce(0) { $0 + $1.weight }
            guard total > 0 else { continue }
            for share in shares {
                let count = mix.filter { $0.kind == share.kind }.count
                #expect(abs(Double(count) - Double(n) * share.weight / total) < 1)
            }
        }
    }
}

@Suite struct ResyncTests {
    @Test(arguments: [BehaviourKind.wander, .visitBooths, .takeSeat, .sitListen, .teacher, .podiumSpeaker])
    func continuesFromTheCorrectedPosition(kind: BehaviourKind) {
        for id in Worlds.ids {
            let world = Worlds.named(id)
            for rate in [30.0, 90.0] {
                var bot = makeBot(kind, world: world, botIndex: 1, botCount: 3)
                var samples = simulate(&bot, rate: rate, to: 100)
                // The server puts us back 2 m (somewhere we were earlier, as a rubber band does).
                let before = samples.last!.head
                let corrected =
                    samples.reversed().first { Vec3.distance($0.head, before) > 1.5 }?.head
                    ?? world.bounds.clamp(before + Vec3(1.5, 0, 1.5))
                bot.resync(to: corrected)
                let after = simulate(&bot, rate: rate, from: 100 + 1 / rate, to: 200)
                let first = after[0].head
                #expect(
                    Vec3.distance(first, corrected) < 0.05,
                    "\(id) \(kind): first pose \(first) after resync to \(corrected)")
                let problems = violations(after, bounds: world.bounds, previousHead: corrected)
                #expect(problems.isEmpty, "\(id) \(kind) \(rate) Hz: \(problems)")
                samples += after
                // And still gets where it was going: a seated bot ends on the same seat as without the resync.
                var twin = makeBot(kind, world: world, botIndex: 1, botCount: 3)
                let undisturbed = simulate(&twin, rate: rate, to: 200)
                if kind == .takeSeat || kind == .sitListen {
                    let d = Vec3.distance(undisturbed.last!.head, samples.last!.head)
                    if bot.effectiveKind != .wander {
                        #expect(d < 0.3, "\(id) \(kind): ends \(d) m from where it would have without the resync")
                    }
                }
            }
        }
    }

    @Test func aCorrectionIntoTheWallMarginIsLeftSmoothly() {
        let world = Worlds.named("classroom")
        var bot = makeBot(.sitListen, world: world)
        var samples = simulate(&bot, rate: 90, to: 30)
        let corner = Vec3(world.bounds.max.x - 0.05, 1.6, world.bounds.min.z + 0.1)
        bot.resync(to: corner)
        let after = simulate(&bot, rate: 90, from: 30 + 1.0 / 90, to: 60)
        #expect(Vec3.distance(after[0].head, corner) < 0.05)
        // Hard limits hold throughout; the 0.3 m margin is back within two seconds.
        let hard = violations(after, bounds: world.bounds, previousHead: corner).filter { !$0.contains("from a wall") }
        #expect(hard.isEmpty, "\(hard)")
        #expect(violations(after.filter { $0.time > 32 }, bounds: world.bounds).isEmpty)
        samples += after
        #expect(world.zones.contains { $0.kind == .seat && $0.contains(samples.last!.head) })
    }

    @Test func wanderBehaviourWrapperStillWorks() {
        let bounds = WorldBounds(min: Vec3(-50, 0, -50), max: Vec3(50, 5, 50))
        var wander = WanderBehaviour(bounds: bounds, start: Vec3(0, 1.6, 0), seed: 3)
        var samples: [Sample] = []
        for i in 0..<3000 {
            let t = Double(i) / 30
            let pose = wander.pose(at: t)
            samples.append(Sample(time: t, intent: BotIntent(pose: pose, talking: pose.speaking)))
        }
        #expect(violations(samples, bounds: bounds).isEmpty)
        #expect(Vec3.distance(samples.first!.head, samples.last!.head) > 1)
        wander.resync(to: Vec3(10, 1.6, 10))
        #expect(Vec3.distance(wander.pose(at: 100.03).headPosition, Vec3(10, 1.6, 10)) < 0.05)
    }
}

@Suite struct CostTests {
    @Test func stepCost() {
        let clock = ContinuousClock()
        var lines: [String] = []
        for (id, kind) in [
            ("expo-hall", BehaviourKind.visitBooths), ("village-assembly", .raiseHand), ("classroom", .teacher),
        ] {
            let world = Worlds.named(id)
            var bots = (0..<100).map { makeBot(kind, world: world, botIndex: $0, botCount: 100, duty: 0.2) }
            let steps = 300
            var sink: Float = 0
            let elapsed = clock.measure {
                for s in 0..<steps {
                    let t = Double(s) / 30
                    for i in bots.indices { sink += bots[i].step(at: t).pose.headPosition.x }
                }
            }
            let ns = Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9
            lines.append(String(format: "%@ %@: %.0f ns per step", id, kind.rawValue, ns / Double(steps * bots.count)))
            #expect(sink.isFinite)
            let built = clock.measure {
                bots = (0..<100).map { makeBot(kind, world: world, botIndex: $0, botCount: 100) }
            }
            let nsInit = Double(built.components.attoseconds) / 1e9 + Double(built.components.seconds) * 1e9
            lines.append(String(format: "%@ %@: %.0f ns per init", id, kind.rawValue, nsInit / 100))
        }
        print("step cost:\n  " + lines.joined(separator: "\n  "))
    }
}
