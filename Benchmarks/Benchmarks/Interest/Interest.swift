// Interest suite: the server's interest work for one whole tick, for every recipient (the target:
// interest + priority selection ≤ 1 ms per tick at 1,000 avatars; 4,000 reported too).
//
//   Interest tick 1000 avatars, Interest tick 4000 avatars
//
// One operation is one tick as the server's spatial mode does it (Sources/AtriumServer/Shard/SnapshotComposer):
// every avatar classified into an InterestAvatarTable (InterestContext.avatar, zones of the world) and moved in
// the SpatialGrid, then per recipient RelevanceSet.update (a third of the recipients each tick, as the server's
// relevanceIntervalTicks = 3), PriorityScheduler.accumulate and select under an
// 8,000-bit budget, at most 64 avatars. Each recipient keeps its RelevanceSet and PriorityScheduler from tick to
// tick, as on the server. Between ticks (not measured) everyone walks on by one tick's worth (1/30 s).
//
// Not included: building the entries and encoding the snapshots (see the Wire suite's "SNAPSHOT delta encode per
// recipient"); the cost of a candidate is a table lookup here, where the server sizes its delta entry
// (DeltaSnapshot.entryBits).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumWire
import AtriumWorld
import Benchmark
import BenchmarkSupport

let benchmarks: @Sendable () -> Void = {
    let world = BenchmarkWorlds.load("expo-hall")
    let threadCPU = BenchmarkMetric.threadCPU
    // What the tick found, averaged over recipients (the same in every percentile, near enough).
    let relevant = BenchmarkMetric.custom("relevant avatars per recipient", polarity: .prefersSmaller, useScalingFactor: false)
    let selected = BenchmarkMetric.custom("avatars selected per recipient", polarity: .prefersLarger, useScalingFactor: false)

    // One tick per iteration: milliseconds, so no inner loop is needed to drown the framework's own work. The
    // walk between ticks is left out of the measurement (startMeasurement / stopMeasurement).
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, threadCPU, relevant, selected],
        units: [threadCPU: .count, relevant: .count, selected: .count],
        warmupIterations: 10, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 5_000)

    for count in [1_000, 4_000] {
        let box = InterestTickBox(InterestTick(world: world, avatars: count, seed: 0x1D7E_2E57 &+ UInt64(count)))
        Benchmark("Interest tick \(count) avatars", configuration: configuration) { benchmark in
            box.tick.walk()
            benchmark.startMeasurement()
            let cpu = ThreadCPUClock()
            box.tick.run()
            let cpuTime = cpu.elapsed()
            benchmark.stopMeasurement()
            benchmark.measurement(threadCPU, cpuTime)
            benchmark.measurement(relevant, (box.tick.relevantPairs + count / 2) / count)
            benchmark.measurement(selected, (box.tick.selectedPairs + count / 2) / count)
        } setup: {
            // Two seconds of ticks first, so every recipient's sets and accumulators are in their steady state.
            box.tick.settle(ticks: 60)
        }
    }
}

/// Shares one tick's state between the benchmark closure and its setup.
final class InterestTickBox {
    var tick: InterestTick
    init(_ tick: InterestTick) { self.tick = tick }
}

/// A crowd walking over the expo hall and the server's per-tick interest state for every one of them.
struct InterestTick {
    struct Walker {
        var position: Vec3
        var heading: Float  // radians; 0 = towards −z, as Quat.yaw
        var rotation: Quat
        let speed: Float
        let role: Role
        let speaking: Bool
    }

    /// The server's default per-recipient budget at 256 kbit/s and 30 Hz, rounded down; at most this many avatars.
    static let budgetBits = 8_000
    static let maxAvatars = 64
    /// The server's default leave margin.
    static let leaveMargin: Float = 2

    let context: InterestContext
    let radius: Float
    let dt: Float
    let lo: Vec3, hi: Vec3
    var rng: SplitMix64
    var walkers: [Walker]
    /// Bits each avatar's entry would take, by id, as the server's cost closure says (entry bits + 9 for the id
    /// gap): 99…169, about the 16 bytes an entry takes in the Wire suite's delta benchmark.
    let costs: [Int]

    var table: InterestAvatarTable
    var grid: SpatialGrid
    var relevance: [RelevanceSet]
    var schedulers: [PriorityScheduler]

    /// The server's default relevance interval (ticks).
    static let relevanceInterval = 3
    var tickCount = 0

    /// Totals of the last tick.
    var relevantPairs = 0
    var selectedPairs = 0

    init(world: WorldDefinition, avatars count: Int, seed: UInt64) {
        context = InterestContext(world: world)
        radius = world.interestRadius
        dt = 1 / Float(world.tickRate)
        lo = world.bounds.min + Vec3(2, 0, 2)
        hi = world.bounds.max - Vec3(2, 0, 2)
        var rng = SplitMix64(seed: seed)
        var walkers: [Walker] = []
        for i in 0..<count {
            let heading = Float.random(in: -Float.pi...Float.pi, using: &rng)
            walkers.append(
                Walker(
                    position: Vec3(Float.random(in: lo.x...hi.x, using: &rng), 1.6, Float.random(in: lo.z...hi.z, using: &rng)),
                    heading: heading, rotation: Quat.yaw(heading), speed: Float.random(in: 0.9...1.4, using: &rng),
                    // A presenter now and then (always relevant on the main stage), one in ten speaking.
                    role: i % 250 == 7 ? .presenter : .visitor, speaking: i % 10 == 3))
        }
        costs = (0...count).map { _ in 9 + Int.random(in: 90...160, using: &rng) }
        self.walkers = walkers
        self.rng = rng
        table = InterestAvatarTable(capacity: count + 1)
        grid = SpatialGrid(world: world, capacity: count + 1)
        relevance = Array(repeating: RelevanceSet(), count: count)
        schedulers = Array(repeating: PriorityScheduler(), count: count)
    }

    /// Everyone walks on for one tick: now and then a new heading, turned back at the walls.
    mutating func walk() {
        for i in walkers.indices {
            var w = walkers[i]
            if rng.next() % 64 == 0 { w.heading += Float.random(in: -1...1, using: &rng) }
            var next = w.position + Vec3(-sinf(w.heading), 0, -cosf(w.heading)) * (w.speed * dt)
            if next.x < lo.x || next.x > hi.x || next.z < lo.z || next.z > hi.z {
                w.heading += Float.pi + Float.random(in: -0.5...0.5, using: &rng)
                next = Vec3(min(max(next.x, lo.x), hi.x), next.y, min(max(next.z, lo.z), hi.z))
            }
            w.position = next
            w.rotation = Quat.yaw(w.heading)
            walkers[i] = w
        }
    }

    /// One tick of interest work (measured).
    mutating func run() {
        table.removeAll()
        for i in walkers.indices {
            let w = walkers[i]
            let id = UInt16(i + 1)
            table.insert(
                context.avatar(id: id, position: w.position, rotation: w.rotation, role: w.role, speakingRecently: w.speaking))
            grid.update(id: id, position: w.position)
        }
        let table = self.table
        let costs = self.costs
        var relevantPairs = 0
        var selectedPairs = 0
        for i in relevance.indices {
            guard let me = table[UInt16(i + 1)] else { continue }
            // The table forms, as the server's SnapshotComposer calls them; each recipient's relevant set is
            // recomputed every third tick, recipients spread over the ticks (InterestSettings.relevanceIntervalTicks).
            if (tickCount + i) % Self.relevanceInterval == 0 || relevance[i].relevant.isEmpty {
                relevance[i].update(recipient: me, grid: grid, table: table, enterRadius: radius, leaveMargin: Self.leaveMargin)
            }
            let relevant = relevance[i].relevant
            schedulers[i].accumulate(recipient: me, relevant: relevant, table: table, radius: radius)
            // A walking crowd: everyone relevant has moved, so everyone is a candidate.
            let pick = schedulers[i].select(
                candidates: relevant, cost: { costs[Int($0)] }, budgetBits: Self.budgetBits, maxAvatars: Self.maxAvatars)
            relevantPairs += relevant.count
            selectedPairs += pick.selected.count
        }
        self.relevantPairs = relevantPairs
        self.selectedPairs = selectedPairs
        tickCount += 1
    }

    mutating func settle(ticks: Int) {
        for _ in 0..<ticks {
            walk()
            run()
        }
    }
}
