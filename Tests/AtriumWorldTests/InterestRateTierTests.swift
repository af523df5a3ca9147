import AtriumWire
import Foundation
import AtriumWorld
import Testing

/// The send threshold (rate tiers) of `PriorityScheduler`.
@Suite struct InterestRateTierTests {
    let north = Vec3(0, 0, -1)
    let radius: Float = 20

    func avatar(_ id: UInt16, _ x: Float, _ z: Float, speaking: Bool = false, alwaysRelevant: Bool = false)
        -> InterestAvatar
    {
        InterestAvatar(
            id: id, position: Vec3(x, 1.6, z), forward: north, role: .visitor, speakingRecently: speaking,
            zoneContext: InterestZoneContext(broadcastZone: alwaysRelevant ? 0 : nil, alwaysRelevant: alwaysRelevant))
    }

    @Test func defaultThresholdFromTheWeights() {
        let w = PriorityWeights.standard
        #expect(w.defaultSendThreshold == 3)
        let me = avatar(0, 0, 0)
        func p(_ a: InterestAvatar) -> Float { PriorityScheduler.priority(recipient: me, avatar: a, radius: radius) }
        let t = w.defaultSendThreshold
        // Full rate: in view at half the radius, always relevant far behind, speaking behind at half the radius.
        #expect(p(avatar(1, 0, -10)) >= t)
        #expect(p(avatar(1, 0, 30, alwaysRelevant: true)) >= t)
        #expect(p(avatar(1, 0, 10, speaking: true)) >= t)
        // Half rate: in view at the edge, behind at half the radius. A third: far behind.
        #expect((t / p(avatar(1, 0, -19.9))).rounded(.up) == 2)
        #expect((t / p(avatar(1, 0, 10))).rounded(.up) == 2)
        #expect((t / p(avatar(1, 0, 15))).rounded(.up) == 3)
        // The threshold follows the weights: the smaller of "always relevant" and "in view at r/2".
        #expect(PriorityWeights(alwaysRelevant: 5).defaultSendThreshold == 3.5)
        #expect(PriorityWeights(base: 2).defaultSendThreshold == 6)
    }

    /// Everyone changes every tick, the budget is generous: each avatar goes out every ⌈T/p⌉ ticks,
    /// entering ones and the recipient's own at once.
    @Test func tiers() {
        let me = avatar(9, 0, 0)
        var all: [UInt16: InterestAvatar] = [
            9: me,
            1: avatar(1, 2, -5),  // near, in view: p 5.0 → every tick
            2: avatar(2, 0, 15),  // far, behind: p 1.1875 → every 3rd
            3: avatar(3, 0, 30, alwaysRelevant: true),  // beyond the radius, behind, silent: p 3 → every tick
            4: avatar(4, 1, 8, speaking: true),  // speaking behind: → every tick
            5: avatar(5, 0, -18),  // in view, far: p 2.06 → every 2nd
            6: avatar(6, 0, 10),  // behind, half the radius: p 1.75 → every 2nd
        ]
        let expected: [UInt16: Int] = [9: 1, 1: 1, 2: 3, 3: 1, 4: 1, 5: 2, 6: 2, 7: 3]
        let threshold = PriorityWeights.standard.defaultSendThreshold
        for (id, period) in expected where id != 9 && id != 7 {
            let p = PriorityScheduler.priority(recipient: me, avatar: all[id]!, radius: radius)
            #expect(Int((threshold / p).rounded(.up)) == period, "avatar \(id), priority \(p)")
        }
        var scheduler = PriorityScheduler(sendThreshold: threshold)
        var sent: [UInt16: [Int]] = [:]
        for tick in 1...60 {
            // Avatar 7 (far, behind) becomes relevant at tick 20.
            if tick == 20 { all[7] = avatar(7, -3, 16) }
            let relevant = all.keys.sorted()
            scheduler.accumulate(recipient: me, relevant: relevant, avatars: { all[$0] }, radius: radius)
            let pick = scheduler.select(candidates: relevant, cost: { _ in 100 }, budgetBits: 100_000, maxAvatars: 64)
            #expect(pick.deferred == 0)
            #expect(pick.deferredByRate == relevant.count - pick.selected.count)
            for id in pick.selected { sent[id, default: []].append(tick) }
        }
        // Everyone goes out on the first tick (entering), then at its own rate.
        for (id, period) in expected {
            let ticks = sent[id] ?? []
            let first = id == 7 ? 20 : 1
            #expect(ticks.first == first, "avatar \(id)")
            #expect(ticks == Array(stride(from: first, through: 60, by: period)), "avatar \(id): \(ticks)")
        }
    }

    /// A threshold no priority reaches in one tick still lets the recipient's own avatar and entering
    /// ones out at once; an entering one the budget leaves out stays entering (and eligible).
    @Test func ownAndEnteringAvatarsAreNeverHeldBack() {
        let me = avatar(9, 0, 0)
        let all: [UInt16: InterestAvatar] = [9: me, 1: avatar(1, 0, -1), 2: avatar(2, 1, -1)]
        var scheduler = PriorityScheduler(sendThreshold: 100)
        scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: radius)
        // Room for the own avatar and one more.
        var pick = scheduler.select(candidates: [1, 2, 9], cost: { _ in 100 }, budgetBits: 200, maxAvatars: 10)
        #expect(pick.selected == [1, 9] && pick.deferred == 1 && pick.deferredByRate == 0)
        #expect(scheduler.isEntering(2) && !scheduler.isEntering(1))
        scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: radius)
        pick = scheduler.select(candidates: [1, 2, 9], cost: { _ in 100 }, budgetBits: 10_000, maxAvatars: 10)
        #expect(pick.selected == [2, 9] && pick.deferred == 0 && pick.deferredByRate == 1)
        // From now on only the own avatar, until the others' accumulators reach 100.
        for _ in 0..<5 {
            scheduler.accumulate(recipient: me, relevant: [1, 2, 9], avatars: { all[$0] }, radius: radius)
            pick = scheduler.select(candidates: [1, 2, 9], cost: { _ in 100 }, budgetBits: 10_000, maxAvatars: 10)
            #expect(pick.selected == [9] && pick.deferredByRate == 2)
        }
        // Unchanged avatars (not candidates) cost nothing and restart from 0 (markFresh).
        scheduler.markFresh(1)
        #expect(scheduler.accumulator(of: 1) == 0 && scheduler.accumulator(of: 2)! > 0)
    }

    /// A walking crowd, everyone changing every tick, a generous budget: every relevant avatar is
    /// refreshed within ⌈T/p_min⌉ ticks (p_min = base: the accumulator gains at least that every tick).
    @Test func everyoneIsRefreshedWithinTheRateBound() throws {
        let world = try loadShipped("expo-hall.yaml")
        let threshold = PriorityWeights.standard.defaultSendThreshold
        let bound = Int((threshold / PriorityWeights.standard.minimumPriority).rounded(.up))
        #expect(bound == 3)
        var harness = InterestTickHarness(
            world: world, count: 300, seed: 5, rateBitsPerSecond: 100_000_000, maxAvatars: 4096,
            sendThreshold: threshold)
        var lastSent: [Int: [UInt16: Int]] = [:]
        var longest = 0
        var relevantPairs = 0
        var selectedPairs = 0
        var byRate = 0
        for tick in 1...90 {
            harness.moveCrowd()
            harness.prepare()
            harness.recipients()
            #expect(harness.deferredPairs == 0)
            relevantPairs += harness.relevantPairs
            selectedPairs += harness.selectedPairs
            byRate += harness.deferredByRatePairs
            for i in harness.schedulers.indices {
                let scheduler = harness.schedulers[i]
                for id in scheduler.selected { lastSent[i, default: [:]][id] = tick }
                // Every id relevant now has been sent within the bound (or entered less than that ago and
                // went out then).
                for id in scheduler.ids {
                    let last = try #require(lastSent[i]?[id], "recipient \(i), avatar \(id) never sent")
                    longest = max(longest, tick - last)
                }
            }
        }
        #expect(longest < bound, "longest wait \(longest) ticks")
        #expect(selectedPairs + byRate == relevantPairs)
        // The far crowd is most of a hall: far fewer sends than relevant pairs.
        #expect(Double(selectedPairs) < 0.7 * Double(relevantPairs))
        print("Rate tiers: 300 walkers, T = \(threshold): \(selectedPairs) of \(relevantPairs) relevant pairs sent "
            + "(\(String(format: "%.2f", Double(selectedPairs) / Double(relevantPairs)))), longest wait \(longest + 1) ticks")
    }

    /// The budget-bound fairness test of InterestPriorityTests with the threshold on: the same bound holds
    /// (while an avatar is not yet due, at most ⌈T/p_min⌉ − 1 ticks, it cannot be passed over by the budget).
    @Test func theBudgetBoundStillHoldsWithTheThreshold() {
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
        var scheduler = PriorityScheduler(sendThreshold: w.defaultSendThreshold)
        let relevant = (0..<UInt16(n)).map { $0 } + [1000]
        let candidates = Array(0..<UInt16(n))
        var lastPick = Array(repeating: 0, count: n)
        var longestGap = Array(repeating: 0, count: n)
        for tick in 1...3000 {
            scheduler.accumulate(recipient: me, relevant: relevant, avatars: { all[$0] }, radius: radius)
            let pick = scheduler.select(candidates: candidates, cost: { _ in 100 }, budgetBits: perTick * 100, maxAvatars: 64)
            #expect(pick.selected.count <= perTick)
            #expect(pick.selected.count + pick.deferred + pick.deferredByRate == n)
            for id in pick.selected {
                longestGap[Int(id)] = max(longestGap[Int(id)], tick - lastPick[Int(id)])
                lastPick[Int(id)] = tick
            }
        }
        for i in 0..<n { longestGap[i] = max(longestGap[i], 3001 - lastPick[i]) }
        #expect(longestGap.max()! <= bound, "longest wait \(longestGap.max()!) ticks, bound \(bound)")
    }

    /// Random costs, budgets, caps, thresholds and accumulators: exactly the documented greedy pick among
    /// the eligible candidates; never over budget or cap; the counts add up; held-back accumulators keep
    /// growing.
    @Test func selectionAmongTheEligible() {
        var rng = InterestRNG(seed: 7070)
        var heldBack = 0
        for round in 0..<300 {
            let threshold: Float = [0, 0.5, 2, 3, 4.5, 12][Int(rng.next() % 6)]
            var scheduler = PriorityScheduler(sendThreshold: threshold)
            let me = avatar(500, 0, 0)
            var all: [UInt16: InterestAvatar] = [500: me]
            var ids = Set<UInt16>()
            let count = Int(rng.next() % 120)
            while ids.count < count { ids.insert(UInt16(rng.next() % 1000)) }
            for id in ids {
                all[id] = avatar(id, rng.float(-25...25), rng.float(-25...25), speaking: rng.next() % 5 == 0)
            }
            var relevant = ids.union([500]).sorted()
            var costs: [UInt16: Int] = [:]
            for id in relevant { costs[id] = Int(rng.next() % 700) - (rng.next() % 20 == 0 ? 50 : 0) }
            for tick in 0..<10 {
                // Now and then someone new becomes relevant (entering).
                if rng.next() % 3 == 0 {
                    let id = UInt16(1000 + rng.next() % 50)
                    if all[id] == nil {
                        all[id] = avatar(id, rng.float(-25...25), rng.float(-25...25))
                        costs[id] = Int(rng.next() % 700)
                        relevant = (Set(relevant).union([id])).sorted()
                    }
                }
                scheduler.accumulate(recipient: me, relevant: relevant, avatars: { all[$0] }, radius: radius)
                var candidates = relevant.filter { _ in rng.next() % 4 != 0 }.shuffled(using: &rng)
                if rng.next() % 3 == 0 { candidates.append(UInt16(2000 + rng.next() % 100)) }  // unknown ids
                for id in candidates where costs[id] == nil { costs[id] = Int(rng.next() % 300) }
                let budget = Int(rng.next() % 6000) - 10
                let cap = Int(rng.next() % 40)

                func isEligible(_ id: UInt16) -> Bool {
                    guard let acc = scheduler.accumulator(of: id) else { return true }
                    return threshold == 0 || id == 500 || scheduler.isEntering(id) || acc >= threshold
                }
                func key(_ k: Int) -> (Int, Float, Int, Int) {
                    let id = candidates[k]
                    return (id == 500 ? 1 : 0, scheduler.accumulator(of: id) ?? 0, scheduler.isEntering(id) ? 1 : 0, -k)
                }
                let eligible = candidates.indices.filter { isEligible(candidates[$0]) }
                var expected = Set<Int>()
                var left = budget
                for k in eligible.sorted(by: { key($0) > key($1) }) where expected.count < cap {
                    let c = max(costs[candidates[k]]!, 0)
                    if c <= left {
                        expected.insert(k)
                        left -= c
                    }
                }
                let before = Dictionary(uniqueKeysWithValues: relevant.map { ($0, scheduler.accumulator(of: $0)!) })

                let pick = scheduler.select(candidates: candidates, cost: { costs[$0]! }, budgetBits: budget, maxAvatars: cap)
                let used = pick.selected.map { max(costs[$0]!, 0) }.reduce(0, +)
                #expect(used <= max(budget, 0), "round \(round) tick \(tick)")
                #expect(pick.selected.count <= cap)
                #expect(pick.selected == expected.sorted().map { candidates[$0] }, "round \(round) tick \(tick) T \(threshold)")
                #expect(pick.deferredByRate == candidates.count - eligible.count)
                #expect(pick.deferred == eligible.count - pick.selected.count)
                if threshold == 0 { #expect(pick.deferredByRate == 0) }
                heldBack += pick.deferredByRate
                for id in relevant {
                    let after = scheduler.accumulator(of: id)!
                    #expect(pick.selected.contains(id) ? after == 0 : after == before[id]!)
                }
            }
        }
        #expect(heldBack > 0)
    }

    /// Threshold 0 is the selection from before rate tiers, exactly: the digests of everything selected
    /// were recorded with the scheduler as it was before the threshold existed (commit 8ecb90c).
    @Test(arguments: [
        ("expo-hall.yaml", 400, 20, UInt64(257_404_558_935_742_174), 176_671),
        ("classroom.yaml", 150, 64, UInt64(7_579_977_707_576_436_670), 144_512),
        ("village-assembly.yaml", 300, 128, UInt64(18_304_065_889_880_828_775), 255_197),
    ])
    func thresholdZeroIsTheOldSelection(file: String, count: Int, maxAvatars: Int, digest: UInt64, pairs: Int) throws {
        let world = try loadShipped(file)
        var harness = InterestTickHarness(world: world, count: count, seed: 8, maxAvatars: maxAvatars, sendThreshold: 0)
        var selected = 0
        for _ in 0..<30 {
            harness.tick()
            selected += harness.selectedPairs
            #expect(harness.deferredByRatePairs == 0)
        }
        #expect(harness.digest == digest && selected == pairs)
    }
}
