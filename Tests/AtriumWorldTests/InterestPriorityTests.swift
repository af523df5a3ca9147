import AtriumWire
import Foundation
import AtriumWorld
import Testing

@Suite struct InterestPriorityTests {
    let north = Vec3(0, 0, -1)

    func avatar(_ id: UInt16, _ x: Float, _ z: Float, speaking: Bool = false, alwaysRelevant: Bool = false)
        -> InterestAvatar
    {
        InterestAvatar(
            id: id, position: Vec3(x, 1.6, z), forward: north, role: .visitor, speakingRecently: speaking,
            zoneContext: InterestZoneContext(broadcastZone: alwaysRelevant ? 0 : nil, alwaysRelevant: alwaysRelevant))
    }

    @Test func priorityFactors() {
        let me = avatar(0, 0, 0)
        func p(_ a: InterestAvatar) -> Float { PriorityScheduler.priority(recipient: me, avatar: a, radius: 20) }
        // Distance: 1 + 3·(1 − d/r)², from 4 (touching) to 1 (at r and beyond); behind, so no view bonus.
        #expect(abs(p(avatar(1, 0, 0.0001)) - 4) < 1e-3)
        #expect(abs(p(avatar(1, 0, 10)) - 1.75) < 1e-5)
        #expect(p(avatar(1, 0, 20)) == 1)
        #expect(p(avatar(1, 0, 500)) == 1)
        // In the 120° cone (60° either side of north): ×2. At 59° in, at 61° out.
        func at(_ degrees: Float) -> InterestAvatar {
            let a = degrees * .pi / 180
            return avatar(1, 10 * sinf(a), -10 * cosf(a))
        }
        #expect(abs(p(at(0)) - 3.5) < 1e-5)
        #expect(abs(p(at(59)) - 3.5) < 1e-5)
        #expect(abs(p(at(61)) - 1.75) < 1e-5)
        #expect(abs(p(at(-59)) - 3.5) < 1e-5)
        // Speaking ×2, always relevant ×3.
        #expect(abs(p(avatar(1, 0, 10, speaking: true)) - 3.5) < 1e-5)
        #expect(abs(p(avatar(1, 0, 10, alwaysRelevant: true)) - 5.25) < 1e-5)
        #expect(abs(p(avatar(1, 0, -10, speaking: true, alwaysRelevant: true)) - 21) < 1e-4)
        let w = PriorityWeights.standard
        #expect(w.maximumPriority == 48 && w.minimumPriority == 1)
    }

    @Test func ownAvatarComesFirst() {
        var scheduler = PriorityScheduler()
        let me = avatar(9, 0, 0)
        let others = [avatar(1, 0, -1, speaking: true), avatar(2, 1, -1)]
        let all = Dictionary(uniqueKeysWithValues: (others + [me]).map { ($0.id, $0) })
        for _ in 0..<5 {
            scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: 20)
        }
        // Room for one only: the recipient's own avatar, with no accumulator to speak of.
        let pick = scheduler.select(candidates: [1, 2, 9], cost: { _ in 100 }, budgetBits: 150, maxAvatars: 10)
        #expect(pick.selected == [9] && pick.deferred == 2)
        // And with a cap of one.
        let capped = scheduler.select(candidates: [1, 9, 2], cost: { _ in 1 }, budgetBits: 10_000, maxAvatars: 1)
        #expect(capped.selected == [9] && capped.deferred == 2)
    }

    @Test func enteringAvatarsWinTies() {
        var scheduler = PriorityScheduler()
        let me = avatar(9, 0, 0)
        // Mirror images: exactly the same priority.
        let all: [UInt16: InterestAvatar] = [9: me, 1: avatar(1, 5, -5), 2: avatar(2, -5, -5)]
        scheduler.accumulate(recipient: me, relevant: [1, 9], avatars: { all[$0] }, radius: 20)
        #expect(scheduler.isEntering(1))
        #expect(scheduler.select(candidates: [1], cost: { _ in 100 }, budgetBits: 150, maxAvatars: 10).selected == [1])
        #expect(!scheduler.isEntering(1))
        scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: 20)
        #expect(scheduler.accumulator(of: 1) == scheduler.accumulator(of: 2))
        // Candidate order would favour 1; entering favours 2.
        #expect(scheduler.select(candidates: [1, 2], cost: { _ in 100 }, budgetBits: 150, maxAvatars: 10).selected == [2])
        scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: 20)
        #expect(scheduler.select(candidates: [1, 2], cost: { _ in 100 }, budgetBits: 150, maxAvatars: 10).selected == [1])
    }

    @Test func unchangedAvatarsDoNotPileUp() {
        var scheduler = PriorityScheduler()
        let me = avatar(9, 0, 0)
        let all: [UInt16: InterestAvatar] = [9: me, 1: avatar(1, 0, -2, speaking: true), 2: avatar(2, 0, 5)]
        let one = PriorityScheduler.priority(recipient: me, avatar: all[1]!, radius: 20)
        for _ in 0..<1000 {
            scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: 20)
            // Avatar 1 stands still: nothing to send, the caller says so.
            scheduler.markFresh(1)
            _ = scheduler.select(candidates: [2], cost: { _ in 100 }, budgetBits: 1000, maxAvatars: 10)
        }
        #expect(scheduler.accumulator(of: 1) == 0)
        scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: 20)
        #expect(scheduler.accumulator(of: 1)! <= one)
        // Leaving the relevant set forgets the accumulator; coming back starts afresh, as entering.
        scheduler.accumulate(recipient: me, relevant: [2, 9], avatars: { all[$0] }, radius: 20)
        #expect(scheduler.accumulator(of: 1) == nil)
        scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: 20)
        #expect(scheduler.accumulator(of: 1)! <= one && scheduler.isEntering(1))
    }

    /// 100 relevant avatars that all change every tick, a budget for 10 of them per tick.
    ///
    /// Bound: let ρ = highest / lowest priority (here (1 + 3) · 2 · 2 = 16: near, in view, speaking).
    /// If avatar i goes unselected for T ticks, its accumulator after τ of them is ≥ τ·p_min, and each
    /// avatar j picked over it at tick τ had ≥ that much, so j had gone ≥ τ/ρ ticks since its own last
    /// pick. In the second half of the window (τ > T/2) every j is therefore picked at most 1 + ρ times,
    /// while 10 are picked every tick: 10 · T/2 ≤ 99 · (1 + ρ), so T ≤ 2 · 99 · (1 + ρ) / 10 = 336.6.
    /// Every avatar is selected at least once in every 337 consecutive ticks.
    @Test func everyRelevantAvatarIsSentWithinTheBound() {
        let n = 100
        let perTick = 10
        let me = avatar(1000, 0, 0)
        var rng = InterestRNG(seed: 42)
        var all: [UInt16: InterestAvatar] = [1000: me]
        for i in 0..<n {
            let angle = rng.float(-Float.pi...Float.pi)
            let distance = rng.float(0.5...19.5)
            all[UInt16(i)] = avatar(UInt16(i), distance * sinf(angle), -distance * cosf(angle), speaking: i % 7 == 0)
        }
        let w = PriorityWeights.standard
        let rho = (1 + w.nearBoost) * w.inView * w.speaking
        let bound = Int((2 * Float(n - 1) * (1 + rho) / Float(perTick)).rounded(.down)) + 1
        #expect(bound == 337)

        var scheduler = PriorityScheduler()
        let relevant = (0..<UInt16(n)).map { $0 } + [1000]
        let candidates = Array(0..<UInt16(n))
        var lastPick = Array(repeating: 0, count: n)  // tick 0 = the start
        var longestGap = Array(repeating: 0, count: n)
        var picks = Array(repeating: 0, count: n)
        let ticks = 3000
        for tick in 1...ticks {
            scheduler.accumulate(recipient: me, relevant: relevant, avatars: { all[$0] }, radius: 20)
            let pick = scheduler.select(candidates: candidates, cost: { _ in 100 }, budgetBits: perTick * 100, maxAvatars: 64)
            #expect(pick.selected.count == perTick && pick.deferred == n - perTick)
            for id in pick.selected {
                let i = Int(id)
                longestGap[i] = max(longestGap[i], tick - lastPick[i])
                lastPick[i] = tick
                picks[i] += 1
            }
        }
        for i in 0..<n { longestGap[i] = max(longestGap[i], ticks + 1 - lastPick[i]) }
        #expect(longestGap.max()! <= bound, "longest wait \(longestGap.max()!) ticks, bound \(bound)")

        // Near and in view (or speaking) is sent more often than far, behind and silent.
        func priority(_ i: Int) -> Float { PriorityScheduler.priority(recipient: me, avatar: all[UInt16(i)]!, radius: 20) }
        let high = (0..<n).filter { priority($0) >= 4 }
        let low = (0..<n).filter { priority($0) < 1.5 }
        #expect(!high.isEmpty && !low.isEmpty)
        let highRate = Float(high.map { picks[$0] }.reduce(0, +)) / Float(high.count)
        let lowRate = Float(low.map { picks[$0] }.reduce(0, +)) / Float(low.count)
        #expect(highRate > 2 * lowRate, "high \(highRate), low \(lowRate)")
        // Picks follow priority: the order of rates matches the order of priorities (allowing slack).
        for i in 0..<n {
            for j in 0..<n where priority(i) > 1.5 * priority(j) {
                #expect(picks[i] > picks[j], "\(i) (p \(priority(i))) picked \(picks[i]), \(j) (p \(priority(j))) \(picks[j])")
            }
        }
        print("Fairness: 100 relevant, 10 per tick, longest wait \(longestGap.max()!) ticks (bound \(bound)); "
            + "picks per 3000 ticks: high-priority avg \(highRate), low-priority avg \(lowRate)")
    }

    /// Random costs, budgets, caps and accumulators: never over budget or cap, and exactly the greedy
    /// pick the documentation describes.
    @Test func budgetAndCapAreNeverExceeded() {
        var rng = InterestRNG(seed: 2024)
        for round in 0..<300 {
            var scheduler = PriorityScheduler()
            let me = avatar(500, 0, 0)
            var all: [UInt16: InterestAvatar] = [500: me]
            let count = Int(rng.next() % 120)
            var ids = Set<UInt16>()
            while ids.count < count { ids.insert(UInt16(rng.next() % 1000)) }
            for id in ids {
                all[id] = avatar(id, rng.float(-25...25), rng.float(-25...25), speaking: rng.next() % 5 == 0)
            }
            let relevant = (ids.union([500])).sorted()
            var costs: [UInt16: Int] = [:]
            for id in relevant { costs[id] = Int(rng.next() % 700) - (rng.next() % 20 == 0 ? 50 : 0) }
            for tick in 0..<8 {
                scheduler.accumulate(recipient: me, relevant: relevant, avatars: { all[$0] }, radius: 20)
                // Some have nothing to send; some ids are unknown to the scheduler.
                var candidates = relevant.filter { _ in rng.next() % 4 != 0 }.shuffled(using: &rng)
                if rng.next() % 3 == 0 { candidates.append(UInt16(1000 + rng.next() % 100)) }
                for id in candidates where costs[id] == nil { costs[id] = Int(rng.next() % 300) }
                let budget = Int(rng.next() % 6000) - 10
                let cap = Int(rng.next() % 40)

                // The documented order: own avatar, accumulator, entering, candidate order.
                func key(_ k: Int) -> (Int, Float, Int, Int) {
                    let id = candidates[k]
                    return (id == 500 ? 1 : 0, scheduler.accumulator(of: id) ?? 0, scheduler.isEntering(id) ? 1 : 0, -k)
                }
                let order = candidates.indices.sorted { key($0) > key($1) }
                var expected = Set<Int>()
                var left = budget
                for k in order where expected.count < cap {
                    let c = max(costs[candidates[k]]!, 0)
                    if c <= left {
                        expected.insert(k)
                        left -= c
                    }
                }
                let before = Dictionary(uniqueKeysWithValues: relevant.map { ($0, scheduler.accumulator(of: $0)!) })

                let pick = scheduler.select(
                    candidates: candidates, cost: { costs[$0]! }, budgetBits: budget, maxAvatars: cap)
                let used = pick.selected.map { max(costs[$0]!, 0) }.reduce(0, +)
                #expect(used <= max(budget, 0), "round \(round) tick \(tick)")
                #expect(pick.selected.count <= cap)
                #expect(pick.deferred == candidates.count - pick.selected.count)
                #expect(pick.selected == expected.sorted().map { candidates[$0] }, "round \(round) tick \(tick)")
                if pick.selected.count < cap {
                    // Whatever was left out did not fit in what remained.
                    let chosen = Set(pick.selected)
                    for id in candidates where !chosen.contains(id) { #expect(max(costs[id]!, 0) > budget - used) }
                }
                for id in relevant {
                    let after = scheduler.accumulator(of: id)!
                    #expect(pick.selected.contains(id) ? after == 0 : after == before[id]!)
                }
            }
        }
    }

    @Test func emptyAndDegenerateSelections() {
        var scheduler = PriorityScheduler()
        #expect(scheduler.select(candidates: [], cost: { _ in 1 }, budgetBits: 100, maxAvatars: 10) == ([], 0, 0))
        #expect(scheduler.select(candidates: [1, 2], cost: { _ in 1 }, budgetBits: 100, maxAvatars: 0) == ([], 2, 0))
        #expect(scheduler.select(candidates: [1, 2], cost: { _ in 1 }, budgetBits: -1, maxAvatars: 5) == ([], 2, 0))
        #expect(scheduler.select(candidates: [1, 2], cost: { _ in 0 }, budgetBits: 0, maxAvatars: 5) == ([1, 2], 0, 0))
        #expect(scheduler.select(candidates: [1, 2], cost: { _ in .max }, budgetBits: .max, maxAvatars: 5).deferred == 1)
        #expect(scheduler.selected.count == 1)
    }

    /// The whole per-tick pipeline gives the same result twice, and whichever grid strategy is used.
    @Test func deterministic() throws {
        let world = try loadShipped("expo-hall.yaml")
        var runs: [(UInt64, Int)] = []
        for strategy in SpatialGrid.Strategy.allCases + [.incremental] {
            var harness = InterestTickHarness(world: world, count: 400, seed: 8, strategy: strategy, maxAvatars: 20)
            for _ in 0..<15 { harness.tick() }
            runs.append((harness.digest, harness.selectedPairs))
        }
        #expect(runs.allSatisfy { $0 == runs[0] })
    }

    /// Costs given as a list parallel to the candidates select exactly what the same costs asked of a closure
    /// select, tick after tick (so the accumulators stay equal too): rate gating, budget and cap binding or not,
    /// candidates a subset of the relevant ids, some unknown to the scheduler.
    @Test func listedCostsMatchTheCostClosure() {
        var rng = InterestRNG(seed: 4242)
        let recipient = InterestAvatar(id: 5, position: Vec3(0, 1.6, 0), forward: Vec3(0, 0, -1), role: .visitor)
        var byClosure = PriorityScheduler(sendThreshold: 3)
        var byList = PriorityScheduler(sendThreshold: 3)
        var scratch = SelectionScratch()
        var table = InterestAvatarTable()
        for id in 1...200 {
            table.insert(InterestAvatar(
                id: UInt16(id), position: Vec3(rng.float(-20...20), 1.6, rng.float(-20...20)), forward: Vec3(0, 0, -1),
                role: .visitor, speakingRecently: id % 9 == 0))
        }
        var selections = 0
        for tick in 0..<300 {
            let relevant = (1...200).filter { _ in rng.next() % 4 != 0 }.map(UInt16.init)
            byClosure.accumulate(recipient: recipient, relevant: relevant, table: table, radius: 20)
            byList.accumulate(recipient: recipient, relevant: relevant, table: table, radius: 20)
            // Candidates: most of the relevant ids plus a few the scheduler does not know (ascending).
            var candidates = relevant.filter { _ in rng.next() % 3 != 0 }
            candidates.append(contentsOf: [UInt16(201 + tick % 5), 250])
            let costs = candidates.map { _ in Int32(60 + Int(rng.next() % 200)) }
            let budget = tick % 7 == 0 ? 1_000_000 : Int(rng.next() % 6_000)
            let cap = tick % 5 == 0 ? 1_000 : 1 + Int(rng.next() % 40)
            let a = byClosure.select(
                candidates: candidates, cost: { id in Int(costs[candidates.firstIndex(of: id)!]) }, budgetBits: budget,
                maxAvatars: cap, scratch: &scratch)
            let b = byList.select(candidates: candidates, costs: costs, budgetBits: budget, maxAvatars: cap, scratch: &scratch)
            #expect(a.selected == b.selected && a.deferred == b.deferred && a.deferredByRate == b.deferredByRate)
            selections += a.selected.count
            for id in relevant {
                #expect(byClosure.accumulator(of: id) == byList.accumulator(of: id))
                #expect(byClosure.isEntering(id) == byList.isEntering(id))
            }
        }
        #expect(selections > 1_000)
    }

    /// The table-based fast paths give exactly what the closure-based ones give.
    @Test(arguments: ["classroom.yaml", "expo-hall.yaml", "village-assembly.yaml"])
    func tablePathsMatchClosurePaths(file: String) throws {
        let world = try loadShipped(file)
        let context = InterestContext(world: world)
        var rng = InterestRNG(seed: 77)
        let count = 150
        var grid = SpatialGrid(world: world)
        var viaClosure = Array(repeating: RelevanceSet(), count: count)
        var viaTable = Array(repeating: RelevanceSet(), count: count)
        var schedulersA = Array(repeating: PriorityScheduler(), count: count)
        var schedulersB = Array(repeating: PriorityScheduler(), count: count)
        var schedulersC = Array(repeating: PriorityScheduler(), count: count)
        var scratch = SelectionScratch()
        let b = world.bounds
        var positions = (0..<count).map { _ in Vec3(rng.float(b.min.x...b.max.x), 1.6, rng.float(b.min.z...b.max.z)) }
        for tick in 0..<25 {
            var table = InterestAvatarTable()
            for i in 0..<count {
                positions[i] = positions[i] + Vec3(rng.float(-2...2), 0, rng.float(-2...2))
                let role = world.allowedRoles[(i + tick) % world.allowedRoles.count]
                table.insert(context.avatar(
                    id: UInt16(i), position: positions[i], rotation: .yaw(rng.float(-3...3)), role: role,
                    speakingRecently: rng.next() % 3 == 0))
                grid.update(id: UInt16(i), position: positions[i])
            }
            for i in 0..<count {
                let me = table[UInt16(i)]!
                let a = viaClosure[i].update(
                    recipient: me, grid: grid, avatars: { table[$0] }, alwaysRelevant: table.alwaysRelevant,
                    enterRadius: world.interestRadius, leaveMargin: 2)
                let t = viaTable[i].update(
                    recipient: me, grid: grid, table: table, enterRadius: world.interestRadius, leaveMargin: 2)
                #expect(a.relevant == t.relevant && a.entered == t.entered && a.left == t.left)
                schedulersA[i].accumulate(recipient: me, relevant: a.relevant, avatars: { table[$0] }, radius: world.interestRadius)
                schedulersB[i].accumulate(recipient: me, relevant: t.relevant, table: table, radius: world.interestRadius)
                for id in a.relevant {
                    #expect(schedulersA[i].accumulator(of: id) == schedulersB[i].accumulator(of: id))
                }
                let pa = schedulersA[i].select(candidates: a.relevant, cost: { 100 + Int($0 % 7) * 30 }, budgetBits: 1500, maxAvatars: 12)
                let pb = schedulersB[i].select(candidates: t.relevant, cost: { 100 + Int($0 % 7) * 30 }, budgetBits: 1500, maxAvatars: 12)
                #expect(pa == pb)
                schedulersC[i].accumulate(recipient: me, relevant: t.relevant, table: table, radius: world.interestRadius)
                let pc = schedulersC[i].select(
                    candidates: t.relevant, cost: { 100 + Int($0 % 7) * 30 }, budgetBits: 1500, maxAvatars: 12,
                    scratch: &scratch)
                #expect(pa == pc)
            }
        }
    }
}
