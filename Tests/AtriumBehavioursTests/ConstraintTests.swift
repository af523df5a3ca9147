import AtriumBehaviours
import AtriumWire
import AtriumWorld
import Testing

/// Every behaviour in every shipped world keeps every pose acceptable to the server.
@Suite struct ConstraintTests {
    static let cases: [(String, BehaviourKind)] = Worlds.ids.flatMap { id in BehaviourKind.allCases.map { (id, $0) } }

    @Test("10 minutes at 30 and 90 Hz, three seeds", arguments: cases)
    func posesStayValid(worldId: String, kind: BehaviourKind) {
        let world = Worlds.named(worldId)
        for rate in [30.0, 90.0] {
            for seed: UInt64 in [1, 7, 12345] {
                // A bot in the middle of a group, so group placement (seats, lanes, turns) is exercised.
                var bot = makeBot(kind, world: world, botIndex: 2, botCount: 5, kindIndex: 2, kindCount: 5, seed: seed)
                let samples = simulate(&bot, rate: rate, to: 600)
                let problems = violations(samples, bounds: world.bounds, previousHead: spawnHead(world, 2))
                #expect(problems.isEmpty, "\(worldId) \(kind) \(rate) Hz seed \(seed): \(problems)")
            }
        }
    }

    @Test("irregular step times, stalls and long gaps", arguments: cases)
    func irregularTiming(worldId: String, kind: BehaviourKind) {
        let world = Worlds.named(worldId)
        var random = SeededRandom(seed: 99)
        var bot = makeBot(kind, world: world, botIndex: 1, botCount: 3, seed: 3)
        var samples: [Sample] = []
        var t = 0.0
        while t < 900 {
            samples.append(Sample(time: t, intent: bot.step(at: t)))
            switch random.unit() {
            case ..<0.02: t += random.uniform(5.0...120.0)  // the runner stalled
            case ..<0.10: t += random.uniform(0.1...1.0)  // 1 Hz and the like
            case ..<0.15: t += 0.0005  // two steps almost together
            default: t += random.uniform((1.0 / 90)...(1.0 / 20))
            }
        }
        let problems = violations(samples, bounds: world.bounds, previousHead: spawnHead(world, 1))
        #expect(problems.isEmpty, "\(worldId) \(kind): \(problems)")
    }

    @Test("one step per second still walks, without jumps")
    func oneHertz() {
        let world = Worlds.named("expo-hall")
        var bot = makeBot(.visitBooths, world: world)
        let samples = simulate(&bot, rate: 1, to: 600)
        #expect(violations(samples, bounds: world.bounds).isEmpty)
        let travelled = zip(samples, samples.dropFirst()).reduce(Float(0)) { $0 + Vec3.distance($1.0.head, $1.1.head) }
        #expect(travelled > 100, "walked only \(travelled) m in 10 minutes")
    }

    @Test("time going backwards or not finite counts as no time passing")
    func oddTimes() {
        let world = Worlds.named("classroom")
        var bot = makeBot(.teacher, world: world)
        var samples = simulate(&bot, rate: 30, to: 20)
        for t in [19.0, 5.0, .nan, .infinity, -.infinity, 20.5] {
            samples.append(Sample(time: max(20, t.isFinite ? t : 20), intent: bot.step(at: t)))
        }
        #expect(violations(samples, bounds: world.bounds).isEmpty)
    }

    @Test("behaviours whose zones the world lacks wander instead")
    func fallbacks() {
        let expected: [String: Set<BehaviourKind>] = [
            "expo-hall": [.podiumSpeaker, .villageHeadBroadcast, .sitListen, .breakout, .teacher],
            "village-assembly": [.visitBooths, .gatherStage, .presenter, .sitListen, .breakout, .teacher],
            "classroom": [.visitBooths, .gatherStage, .presenter, .podiumSpeaker, .villageHeadBroadcast],
        ]
        for (id, wandering) in expected {
            let world = Worlds.named(id)
            for kind in BehaviourKind.allCases {
                let bot = makeBot(kind, world: world)
                #expect(bot.kind == kind)
                #expect(bot.effectiveKind == (wandering.contains(kind) ? .wander : kind), "\(id) \(kind)")
            }
        }
    }

    @Test("a tiny or odd world: no zones, cylinder zones, a low ceiling")
    func oddWorlds() {
        let tiny = WorldDefinition(
            id: "tiny", name: "Tiny", bounds: WorldBounds(min: Vec3(0, 0, 0), max: Vec3(1.5, 2.0, 1.5)),
            interestRadius: 5, capacity: 4, allowedRoles: [.visitor], defaultRole: .visitor,
            spawnPoints: [SpawnPoint(position: Vec3(0.75, 0, 0.75))], zones: [])
        let round = WorldDefinition(
            id: "round", name: "Round", bounds: WorldBounds(min: Vec3(-20, 0, -20), max: Vec3(20, 5, 20)),
            interestRadius: 5, capacity: 50, allowedRoles: [.visitor], defaultRole: .visitor,
            spawnPoints: [SpawnPoint(position: Vec3(0, 0, 18))],
            zones: [
                Zone(
                    id: "stage", name: "S", kind: .stage,
                    shape: .cylinder(center: Vec3(0, 0, -10), radius: 8, height: 4)),
                Zone(
                    id: "booth", name: "B", kind: .booth, shape: .cylinder(center: Vec3(12, 0, 5), radius: 3, height: 3)
                ),
                Zone(id: "seats", name: "Seats", kind: .seating, shape: .box(min: Vec3(-6, 0, 2), max: Vec3(6, 3, 10))),
                Zone(id: "pod", name: "P", kind: .podium, shape: .box(min: Vec3(-4, 0, -2), max: Vec3(4, 3, 1))),
            ])
        for world in [tiny, round] {
            for kind in BehaviourKind.allCases {
                for rate in [30.0, 90.0] {
                    var bot = makeBot(kind, world: world, botIndex: 1, botCount: 3)
                    let samples = simulate(&bot, rate: rate, to: 300)
                    let problems = violations(samples, bounds: world.bounds)
                    #expect(problems.isEmpty, "\(world.id) \(kind) \(rate) Hz: \(problems)")
                }
            }
        }
    }
}
