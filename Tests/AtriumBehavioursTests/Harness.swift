import AtriumBehaviours
import AtriumWire
import AtriumWorld
import Foundation
import Testing

/// The shipped worlds, loaded once.
enum Worlds {
    static let directory: String = {
        // Tests/AtriumBehavioursTests/Harness.swift → repository root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Worlds").path
    }()

    static let all: [String: WorldDefinition] = {
        let loaded = WorldLoader.loadDirectory(directory)
        precondition(loaded.errors.isEmpty, "world files: \(loaded.errors)")
        return Dictionary(uniqueKeysWithValues: loaded.worlds.map { ($0.world.id, $0.world) })
    }()

    static var ids: [String] { all.keys.sorted() }
    static func named(_ id: String) -> WorldDefinition { all[id]! }
}

/// One sample of a simulated bot.
struct Sample {
    var time: Double
    var intent: BotIntent
    var head: Vec3 { intent.pose.headPosition }
}

/// A bot spawned like the server does it: at spawn point `n` (round robin), head 1.6 m above it.
func spawnHead(_ world: WorldDefinition, _ n: Int) -> Vec3 {
    let spawn = world.spawnPoints[n % world.spawnPoints.count]
    return spawn.position + Vec3(0, 1.6, 0)
}

func makeBot(
    _ kind: BehaviourKind, world: WorldDefinition, botIndex: Int = 0, botCount: Int = 1, kindIndex: Int? = nil,
    kindCount: Int? = nil, seed: UInt64 = 1, duty: Double = 0.2
) -> BotBehaviour {
    let context = BotContext(
        world: world, botIndex: botIndex, botCount: botCount, kindIndex: kindIndex ?? botIndex,
        kindCount: kindCount ?? botCount, seed: seed, voiceDutyCycle: duty)
    return BotBehaviour(kind: kind, context: context, start: spawnHead(world, botIndex))
}

/// Steps `bot` at `rate` Hz from `from` to `to` seconds.
func simulate(_ bot: inout BotBehaviour, rate: Double, from: Double = 0, to: Double) -> [Sample] {
    let steps = Int(((to - from) * rate).rounded())
    var samples: [Sample] = []
    samples.reserveCapacity(steps + 1)
    for i in 0...steps {
        let t = from + Double(i) / rate
        samples.append(Sample(time: t, intent: bot.step(at: t)))
    }
    return samples
}

/// A group of bots of one kind, simulated together (kindIndex = botIndex).
func simulateGroup(
    _ kind: BehaviourKind, world: WorldDefinition, count: Int, rate: Double = 10, duration: Double = 600,
    seed: UInt64 = 1, duty: Double = 0.2
) -> [[Sample]] {
    (0..<count).map { i in
        var bot = makeBot(kind, world: world, botIndex: i, botCount: count, seed: seed, duty: duty)
        return simulate(&bot, rate: rate, to: duration)
    }
}

/// Every rule the server and the brief put on poses; returns the first few broken ones.
func violations(_ samples: [Sample], bounds: WorldBounds, previousHead: Vec3? = nil, limit: Int = 5) -> [String] {
    var problems: [String] = []
    func report(_ s: String) { if problems.count < limit { problems.append(s) } }
    var previous: Sample?
    for s in samples {
        let pose = s.intent.pose
        let t = String(format: "t=%.3f", s.time)
        let head = pose.headPosition
        guard head.isFinite, pose.headRotation.isFinite else {
            report("\(t): non-finite head \(head) \(pose.headRotation)")
            continue
        }
        if !bounds.contains(head) { report("\(t): head \(head) outside bounds") }
        let wall = min(
            head.x - bounds.min.x, bounds.max.x - head.x, head.z - bounds.min.z, bounds.max.z - head.z)
        if wall < 0.3 { report("\(t): head \(head) only \(wall) m from a wall") }
        if abs(pose.headRotation.lengthSquared - 1) > 1e-4 { report("\(t): head rotation not unit") }
        for (name, hand) in [("left", pose.leftHand), ("right", pose.rightHand)] {
            guard let hand else {
                report("\(t): \(name) hand missing")
                continue
            }
            guard hand.position.isFinite, hand.rotation.isFinite else {
                report("\(t): \(name) hand not finite")
                continue
            }
            if Vec3.distance(hand.position, head) > 0.9 {
                report("\(t): \(name) hand \(Vec3.distance(hand.position, head)) m from head")
            }
            if abs(hand.rotation.lengthSquared - 1) > 1e-4 { report("\(t): \(name) hand rotation not unit") }
            if !bounds.contains(hand.position) { report("\(t): \(name) hand outside bounds") }
        }
        if pose.speaking != s.intent.talking { report("\(t): speaking flag differs from talking") }
        if pose.handRaised, let right = pose.rightHand, right.position.y <= head.y {
            report("\(t): hand raised but the right hand is not above the head")
        }
        let before = previous?.intent.pose.headPosition ?? previousHead
        if let before {
            let jump = Vec3.distance(before, head)
            if jump > 1 { report("\(t): jump of \(jump) m") }
            if let p = previous, s.time > p.time {
                let speed = jump / Float(s.time - p.time)
                if speed > 3 { report("\(t): head speed \(speed) m/s") }
            }
        }
        previous = s
    }
    return problems
}

/// Horizontal speed at each sample, averaged over the last `window` seconds.
func horizontalSpeeds(_ samples: [Sample], window: Double = 1) -> [Float] {
    var result: [Float] = []
    var j = 0
    for i in samples.indices {
        while samples[i].time - samples[j].time > window { j += 1 }
        let dt = samples[i].time - samples[j].time
        if dt <= 0 {
            result.append(0)
            continue
        }
        let a = samples[j].head
        let b = samples[i].head
        result.append(((b.x - a.x) * (b.x - a.x) + (b.z - a.z) * (b.z - a.z)).squareRoot() / Float(dt))
    }
    return result
}

func talkingShare(_ samples: [Sample], from: Double = 0) -> Double {
    let used = samples.filter { $0.time >= from }
    guard !used.isEmpty else { return 0 }
    return Double(used.filter(\.intent.talking).count) / Double(used.count)
}

/// Where the head looks, on the floor plan.
func lookDirection(_ pose: AvatarPose) -> (x: Float, z: Float) {
    let f = pose.headRotation.rotate(Vec3(0, 0, -1))
    let n = (f.x * f.x + f.z * f.z).squareRoot()
    return n > 0 ? (f.x / n, f.z / n) : (0, -1)
}

func inZone(_ world: WorldDefinition, _ p: Vec3, kind: ZoneKind) -> Bool {
    world.zones.contains { $0.kind == kind && $0.contains(p) }
}

/// Share of `samples` whose look (on the floor plan) is within 60° of the direction to `target`.
func shareLookingAt(_ samples: [Sample], _ target: (x: Float, z: Float)) -> Double {
    guard !samples.isEmpty else { return 0 }
    let hits = samples.filter { s in
        let d = (x: target.x - s.head.x, z: target.z - s.head.z)
        let n = (d.x * d.x + d.z * d.z).squareRoot()
        guard n > 0.5 else { return true }
        let look = lookDirection(s.intent.pose)
        return (look.x * d.x + look.z * d.z) / n > 0.5
    }.count
    return Double(hits) / Double(samples.count)
}
