#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import AtriumWire

/// How much one avatar matters to one recipient per tick.
public struct PriorityWeights: Sendable, Equatable {
    /// Priority of a far, unseen, silent, ordinary avatar.
    public var base: Float
    /// Nearness boost: the distance factor is `1 + nearBoost · (1 − d/r)²` with d clamped to 0…r,
    /// so from `1 + nearBoost` (touching) down to 1 (at r and beyond).
    public var nearBoost: Float
    /// Full opening angle of the view cone around the recipient's forward direction, degrees (0…360).
    public var viewConeDegrees: Float {
        didSet { viewConeCosine = Self.cosineOfHalf(viewConeDegrees) }
    }
    /// cos(viewConeDegrees / 2): an avatar is in view when the cosine of its angle from forward is at least this.
    public private(set) var viewConeCosine: Float
    /// Factor for an avatar inside the view cone.
    public var inView: Float
    /// Factor for an avatar that spoke recently.
    public var speaking: Float
    /// Factor for an always-relevant avatar (presenter on stage, teacher, village head broadcasting).
    public var alwaysRelevant: Float

    public init(
        base: Float = 1, nearBoost: Float = 3, viewConeDegrees: Float = 120, inView: Float = 2, speaking: Float = 2,
        alwaysRelevant: Float = 3
    ) {
        self.base = base
        self.nearBoost = nearBoost
        self.viewConeDegrees = viewConeDegrees
        self.viewConeCosine = Self.cosineOfHalf(viewConeDegrees)
        self.inView = inView
        self.speaking = speaking
        self.alwaysRelevant = alwaysRelevant
    }

    public static let standard = PriorityWeights()

    static func cosineOfHalf(_ degrees: Float) -> Float {
        cosf(Swift.min(Swift.max(degrees, 0), 360) * (Float.pi / 360))
    }

    /// The highest priority an avatar other than the recipient can have.
    public var maximumPriority: Float {
        base * (1 + Swift.max(nearBoost, 0)) * Swift.max(inView, 1) * Swift.max(speaking, 1) * Swift.max(alwaysRelevant, 1)
    }

    /// The lowest priority an avatar can have.
    public var minimumPriority: Float {
        base * Swift.min(1, 1 + nearBoost) * Swift.min(inView, 1) * Swift.min(speaking, 1) * Swift.min(alwaysRelevant, 1)
    }

    /// The send threshold (`PriorityScheduler.sendThreshold`) that gives these weights their rate tiers.
    ///
    /// A sent avatar's accumulator restarts at 0, so an avatar of priority p reaches T again after
    /// ⌈T/p⌉ ticks: full rate needs p ≥ T. The full-rate tier must take in
    ///   - an always-relevant avatar even when far, behind and silent: base · alwaysRelevant = 3, and
    ///   - an avatar in view at half the interest radius (10 m in the expo hall, r = 20 m):
    ///     base · (1 + nearBoost · 0.5²) · inView = 1.75 · 2 = 3.5,
    /// so T = the smaller one = 3 (standard weights). What that gives (t = 1 − d/r):
    ///   - every tick (30 Hz), p ≥ 3: in view or speaking within 0.59 r (2 · (1 + 3t²) ≥ 3 ⇔ t² ≥ 1/6:
    ///     11.8 m in the expo hall), anyone within 0.18 r (1 + 3t² ≥ 3: 3.7 m), always relevant;
    ///   - every 2nd tick (15 Hz), 1.5 ≤ p < 3: in view or speaking but farther (p ≥ 2), behind and silent
    ///     between 0.18 r and 0.59 r (at 10 m: 1.75);
    ///   - every 3rd tick (10 Hz), 1 ≤ p < 1.5: behind and silent beyond 0.59 r — the far crowd.
    /// The far crowd gets a third, not a quarter: with these weights the silent always-relevant avatar
    /// far behind has exactly 3 × the far crowd's priority, so every 4th tick for the crowd (T = 4) would
    /// put it at every 2nd.
    public var defaultSendThreshold: Float {
        base * Swift.min(Swift.max(alwaysRelevant, 1), Swift.max(inView, 1) * (1 + Swift.max(nearBoost, 0) * 0.25))
    }
}

/// Working memory for `PriorityScheduler.select`, reusable across schedulers and ticks.
public struct SelectionScratch: Sendable {
    var words: [UInt64] = []
    public init() {}
}

/// Shares out one recipient's per-tick bit budget among its relevant avatars (one per recipient,
/// kept across ticks).
///
/// Each relevant avatar has an accumulator. `accumulate` adds its priority every tick (closer,
/// in view, speaking, always relevant ⇒ more); `select` sends the highest accumulators that fit the
/// budget and the cap and sets theirs to 0; the others keep growing, so every relevant avatar that
/// keeps changing is sent eventually, far ones less often. The recipient's own avatar comes first.
///
/// Rate tiers: with a `sendThreshold` T > 0 a candidate is eligible only once its accumulator has
/// reached T (or it is entering, or it is the recipient's own avatar), so even with room to spare an
/// avatar of priority p goes out every ⌈T/p⌉ ticks: near and in view every tick, the far crowd every
/// few. The budget and the cap then choose among the eligible ones as before.
///
/// Runs for every recipient every tick, so the inner loops work on buffers kept between ticks
/// (nothing is allocated once they have grown) through unsafe pointers.
public struct PriorityScheduler: Sendable {
    public var weights: PriorityWeights
    /// Accumulator a changed avatar needs before it may be sent; 0: every candidate is eligible every tick.
    /// (`PriorityWeights.defaultSendThreshold` gives the rate tiers the server uses.)
    public var sendThreshold: Float

    struct Entry: Sendable {
        var accumulator: Float
        /// Newly relevant and not sent since: wins ties.
        var entering: Bool
    }

    /// Relevant ids, ascending (as given to the last `accumulate`).
    public private(set) var ids: [UInt16] = []
    /// Parallel to `ids`.
    private var entries: [Entry] = []
    /// The recipient, as of the last `accumulate`.
    public private(set) var recipientId: UInt16?

    // Kept between ticks.
    private var spareIds: [UInt16] = []
    private var spareEntries: [Entry] = []
    private var picked: [UInt16] = []
    private var ownScratch = SelectionScratch()

    public init(weights: PriorityWeights = .standard, sendThreshold: Float = 0) {
        self.weights = weights
        self.sendThreshold = sendThreshold
    }

    /// The priority `avatar` has for `recipient` this tick (`radius`: the interest radius).
    @inlinable
    public static func priority(
        recipient: InterestAvatar, avatar: InterestAvatar, radius: Float, weights w: PriorityWeights = .standard
    ) -> Float {
        // Written out component by component: this runs for every relevant pair every tick.
        let dx = avatar.position.x - recipient.position.x
        let dy = avatar.position.y - recipient.position.y
        let dz = avatar.position.z - recipient.position.z
        let distance = (dx * dx + dy * dy + dz * dz).squareRoot()
        let t = radius > 0 ? Swift.max(0, 1 - distance / radius) : 0
        var p = w.base * (1 + w.nearBoost * t * t)
        // Inside the cone: the angle to forward is at most half the opening, i.e.
        // dot(forward, offset) ≥ cos(half) · |offset|. Someone at the same spot counts as in view.
        // (Selects rather than branches: these flip unpredictably from one avatar to the next.)
        let f = recipient.forward
        p *= f.x * dx + f.y * dy + f.z * dz >= w.viewConeCosine * distance ? w.inView : 1
        p *= avatar.speakingRecently ? w.speaking : 1
        p *= avatar.zoneContext.alwaysRelevant ? w.alwaysRelevant : 1
        return p
    }

    /// The accumulator of `id`, nil when it is not relevant (not given to the last `accumulate`).
    public func accumulator(of id: UInt16) -> Float? {
        RelevanceSet.index(of: id, in: ids).map { entries[$0].accumulator }
    }

    /// True when `id` became relevant and has not been selected since.
    public func isEntering(_ id: UInt16) -> Bool {
        RelevanceSet.index(of: id, in: ids).map { entries[$0].entering } ?? false
    }

    /// Adopts this tick's relevant ids (ascending, as `RelevanceSet.relevant`; new ones start at 0
    /// and count as entering, ones no longer listed are forgotten) and adds each one's priority to
    /// its accumulator. The recipient's own avatar needs no accumulator: it always comes first.
    public mutating func accumulate(
        recipient: InterestAvatar, relevant: [UInt16], avatars: (UInt16) -> InterestAvatar?, radius: Float
    ) {
        withoutActuallyEscaping(avatars) { avatars in
            accumulate(recipient: recipient, relevant: relevant, lookup: ClosureAvatarLookup(body: avatars), radius: radius)
        }
    }

    /// `accumulate` with this tick's avatars from `table` (faster: reads the table's compact
    /// per-slot arrays, no closure call per avatar). Same result.
    public mutating func accumulate(
        recipient: InterestAvatar, relevant: [UInt16], table: InterestAvatarTable, radius: Float
    ) {
        recipientId = recipient.id
        adopt(relevant)
        let w = weights
        let me = recipient.id
        let hx = recipient.position.x
        let hy = recipient.position.y
        let hz = recipient.position.z
        let fx = recipient.forward.x
        let fy = recipient.forward.y
        let fz = recipient.forward.z
        let base = w.base
        let near = w.nearBoost
        let cone = w.viewConeCosine
        let inView = w.inView
        let speaking = w.speaking
        let broadcast = w.alwaysRelevant
        let slotCount = table.flags.count
        ids.withUnsafeBufferPointer { ids in
            entries.withUnsafeMutableBufferPointer { entries in
                table.flags.withUnsafeBufferPointer { flags in
                    table.xyz.withUnsafeBufferPointer { xyz in
                        for i in 0..<ids.count {
                            let slot = Int(ids[i])
                            guard slot < slotCount, ids[i] != me else { continue }
                            let f = flags[slot]
                            guard f & InterestAvatarTable.presentFlag != 0 else { continue }
                            // The same arithmetic as `priority(recipient:avatar:radius:weights:)`.
                            let dx = xyz[3 * slot] - hx
                            let dy = xyz[3 * slot + 1] - hy
                            let dz = xyz[3 * slot + 2] - hz
                            let distance = (dx * dx + dy * dy + dz * dz).squareRoot()
                            let t = radius > 0 ? Swift.max(0, 1 - distance / radius) : 0
                            var p = base * (1 + near * t * t)
                            p *= fx * dx + fy * dy + fz * dz >= cone * distance ? inView : 1
                            p *= f & InterestAvatarTable.speakingFlag != 0 ? speaking : 1
                            p *= f & InterestAvatarTable.alwaysRelevantFlag != 0 ? broadcast : 1
                            entries[i].accumulator += p
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    mutating func accumulate<Lookup: InterestAvatarLookup>(
        recipient: InterestAvatar, relevant: [UInt16], lookup avatars: Lookup, radius: Float
    ) {
        recipientId = recipient.id
        adopt(relevant)
        let w = weights
        let me = recipient.id
        ids.withUnsafeBufferPointer { ids in
            entries.withUnsafeMutableBufferPointer { entries in
                for i in 0..<ids.count {
                    let id = ids[i]
                    if id == me { continue }
                    guard let avatar = avatars.avatar(id) else { continue }
                    entries[i].accumulator += Self.priority(recipient: recipient, avatar: avatar, radius: radius, weights: w)
                }
            }
        }
    }

    /// `accumulate` with the ids of `relevance`.
    public mutating func accumulate(
        recipient: InterestAvatar, relevance: RelevanceSet, avatars: (UInt16) -> InterestAvatar?, radius: Float
    ) {
        accumulate(recipient: recipient, relevant: relevance.relevant, avatars: avatars, radius: radius)
    }

    /// Sets `id`'s accumulator to 0: the caller has nothing new to send about it (so leaving it out of
    /// `select` does not let its accumulator grow without bound).
    public mutating func markFresh(_ id: UInt16) {
        if let k = RelevanceSet.index(of: id, in: ids) { entries[k].accumulator = 0 }
    }

    /// Merges `relevant` (ascending) into `ids`, keeping the entries of ids in both.
    private mutating func adopt(_ relevant: [UInt16]) {
        if Self.same(relevant, ids) { return }
        var newIds = spareIds
        var newEntries = spareEntries
        spareIds = []
        spareEntries = []
        newIds.interestResize(to: relevant.count, fill: 0)
        newEntries.interestResize(to: relevant.count, fill: Entry(accumulator: 0, entering: true))
        relevant.withUnsafeBufferPointer { relevant in
            ids.withUnsafeBufferPointer { ids in
                entries.withUnsafeBufferPointer { entries in
                    newIds.withUnsafeMutableBufferPointer { newIds in
                        newEntries.withUnsafeMutableBufferPointer { newEntries in
                            var j = 0
                            for k in 0..<relevant.count {
                                let id = relevant[k]
                                while j < ids.count && ids[j] < id { j += 1 }
                                newIds[k] = id
                                newEntries[k] = j < ids.count && ids[j] == id
                                    ? entries[j] : Entry(accumulator: 0, entering: true)
                            }
                        }
                    }
                }
            }
        }
        swap(&ids, &newIds)
        swap(&entries, &newEntries)
        spareIds = newIds
        spareEntries = newEntries
    }

    /// `a == b`, as one memory compare (most ticks a recipient's relevant set is the one it had).
    @inline(__always)
    static func same(_ a: [UInt16], _ b: [UInt16]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
    }

    /// Picks what to send this tick.
    ///
    /// First the send threshold: a candidate is eligible when its accumulator has reached
    /// `sendThreshold`, when it is entering, when it is the recipient's own avatar, or when the
    /// scheduler does not know it (it keeps no rate for it); the others wait (`deferredByRate`).
    /// Then goes through the eligible ones in decreasing accumulator order (the recipient's own avatar
    /// first; on equal accumulators newly relevant ones first, then earlier candidates first), taking
    /// each one whose `cost` fits what is left of `budgetBits` until `maxAvatars` are taken; one that
    /// does not fit is skipped and smaller ones after it are still tried. The total cost never exceeds
    /// `budgetBits`. Selected accumulators go back to 0; the others keep what they have.
    ///
    /// - Parameters:
    ///   - candidates: relevant ids with something to send (each at most once; ascending is fastest).
    ///     Ids the scheduler does not know count as accumulator 0.
    ///   - cost: bits the id would take in the snapshot (called once per eligible candidate).
    /// - Returns: the selected ids in candidate order; how many eligible candidates the budget or the
    ///   cap left for later (`deferred`); how many were not yet due under the send threshold
    ///   (`deferredByRate`). `selected` shares storage with the scheduler: let go of it before the next
    ///   `select`.
    public mutating func select(
        candidates: [UInt16], cost: (UInt16) -> Int, budgetBits: Int, maxAvatars: Int
    ) -> (selected: [UInt16], deferred: Int, deferredByRate: Int) {
        var scratch = ownScratch
        ownScratch = SelectionScratch()
        defer { ownScratch = scratch }
        return select(
            candidates: candidates, cost: cost, budgetBits: budgetBits, maxAvatars: maxAvatars, scratch: &scratch)
    }

    /// As `select(candidates:cost:budgetBits:maxAvatars:)`, with working memory from `scratch`.
    /// One scratch can serve every recipient of a tick in turn, which keeps it hot in cache (the
    /// other form uses memory of its own per scheduler). Same result either way.
    public mutating func select(
        candidates: [UInt16], cost: (UInt16) -> Int, budgetBits: Int, maxAvatars: Int,
        scratch: inout SelectionScratch
    ) -> (selected: [UInt16], deferred: Int, deferredByRate: Int) {
        withoutActuallyEscaping(cost) { cost in
            select(
                candidates: candidates, costs: ClosureCosts(body: cost), budgetBits: budgetBits, maxAvatars: maxAvatars,
                scratch: &scratch)
        }
    }

    /// As `select(candidates:cost:budgetBits:maxAvatars:scratch:)` with the costs given in a list parallel to
    /// `candidates` (`costs[k]` bits for `candidates[k]`) instead of asked of a closure: the selection reads
    /// them in its loop, with no call per candidate. Same result.
    public mutating func select(
        candidates: [UInt16], costs: [Int32], budgetBits: Int, maxAvatars: Int, scratch: inout SelectionScratch
    ) -> (selected: [UInt16], deferred: Int, deferredByRate: Int) {
        precondition(costs.count >= candidates.count, "PriorityScheduler.select: a cost per candidate")
        return costs.withUnsafeBufferPointer { costs in
            select(
                candidates: candidates, costs: ListedCosts(costs: costs), budgetBits: budgetBits,
                maxAvatars: maxAvatars, scratch: &scratch)
        }
    }

    @inline(__always)
    private mutating func select<Costs: CandidateCosts>(
        candidates: [UInt16], costs cost: Costs, budgetBits: Int, maxAvatars: Int, scratch: inout SelectionScratch
    ) -> (selected: [UInt16], deferred: Int, deferredByRate: Int) {
        var out = picked
        picked = []
        let n = Swift.min(candidates.count, Self.maxCandidates)
        guard n > 0 else {
            out.removeAll(keepingCapacity: true)
            picked = out
            return (out, candidates.count, 0)
        }
        out.interestResize(to: n, fill: 0)
        let need = Self.scratchWords(n)
        if scratch.words.count < need { scratch.words.interestResize(to: Swift.max(need, 2 * scratch.words.count), fill: 0) }
        let me = recipientId.map(Int.init) ?? -1
        let threshold = sendThreshold
        let (count, waiting) = scratch.words.withUnsafeMutableBufferPointer { scratch in
            entries.withUnsafeMutableBufferPointer { entries in
                ids.withUnsafeBufferPointer { known in
                    candidates.withUnsafeBufferPointer { candidates in
                        out.withUnsafeMutableBufferPointer { out in
                            Self.pick(
                                candidates: candidates, n: n, known: known, entries: entries, scratch: scratch,
                                out: out, me: me, threshold: threshold, cost: cost, budget: budgetBits,
                                cap: maxAvatars)
                        }
                    }
                }
            }
        }
        out.removeLast(n - count)
        picked = out
        return (out, candidates.count - count - waiting, waiting)
    }

    /// The ids chosen by the last `select`, in candidate order.
    public var selected: [UInt16] { picked }

    /// Candidates beyond this many are deferred (ids are 16-bit, so this is never reached in practice).
    static let maxCandidates = 1 << 17
    static let rankMask: UInt64 = (1 << 17) - 1
    static let bucketCount = 64

    static func scratchWords(_ n: Int) -> Int { 7 * n + 3 * (bucketCount + 1) }

    /// The selection proper; writes the chosen ids to `out` in candidate order and returns how many,
    /// and how many candidates were not yet due under `threshold`.
    ///
    /// The eligible candidates are gathered first (in candidate order; `cost` is asked only of them).
    /// Greedy in key order without sorting everything: they go into buckets by accumulator
    /// (monotone), and the buckets are walked from the top. A bucket that fits whole (budget and cap)
    /// is taken without ordering it, as the greedy pass would take all of it; only a bucket where the
    /// budget or the cap runs out is sorted by its exact keys.
    private static func pick<Costs: CandidateCosts>(
        candidates: UnsafeBufferPointer<UInt16>, n: Int, known: UnsafeBufferPointer<UInt16>,
        entries: UnsafeMutableBufferPointer<Entry>, scratch: UnsafeMutableBufferPointer<UInt64>,
        out: UnsafeMutableBufferPointer<UInt16>, me: Int, threshold: Float, cost: Costs, budget: Int,
        cap: Int
    ) -> (count: Int, waiting: Int) {
        let buckets = bucketCount
        let keys = scratch.baseAddress!
        let costs = keys + n  // clamped to 0 … budget + 1
        let slots = keys + 2 * n  // index into `known`, or UInt64.max
        let order = keys + 3 * n
        let chosen = keys + 4 * n
        let bucketOf = keys + 5 * n
        let eligible = keys + 6 * n  // candidate ids, in candidate order
        let bucketStart = keys + 7 * n
        let cursor = bucketStart + (buckets + 1)
        let bucketCost = cursor + (buckets + 1)

        // One pass: eligibility, costs, slots (a merge walk while the candidates ascend), keys, total;
        // index m counts the eligible ones.
        // Keys: accumulator bits (non-negative floats order as integers) | entering | rank.
        var total = 0
        var cheapest = Int.max
        var own = -1
        var j = 0
        var previous = -1
        var lowAcc = UInt64.max
        var highAcc: UInt64 = 0
        var m = 0
        let ceiling = budget == .max ? Int.max : budget + 1
        let gated = threshold > 0
        let nothingFits = cap <= 0 || budget < 0  // only the eligible are counted
        for k in 0..<n {
            let id = candidates[k]
            if Int(id) <= previous { j = lowerBound(id, in: known) }
            previous = Int(id)
            while j < known.count && known[j] < id { j += 1 }
            var high: UInt64 = 0
            var enter: UInt64 = 0
            let slot: UInt64
            if j < known.count && known[j] == id {
                let entry = entries[j]
                // Not yet due: keeps accumulating. (`!(a < T)`: a NaN accumulator is never held back.)
                if gated && !entry.entering && Int(id) != me && entry.accumulator < threshold { continue }
                slot = UInt64(j)
                high = entry.accumulator > 0 ? UInt64(entry.accumulator.bitPattern) : 0  // NaN, negative: 0
                enter = entry.entering ? 1 : 0
            } else {
                slot = .max
            }
            if nothingFits {
                m += 1
                continue
            }
            let c = Swift.min(Swift.max(cost.cost(k, id), 0), ceiling)
            costs[m] = UInt64(c)
            let (sum, overflow) = total.addingReportingOverflow(c)
            total = overflow ? .max : sum
            cheapest = Swift.min(cheapest, c)
            slots[m] = slot
            eligible[m] = UInt64(id)
            keys[m] = high << 32 | enter << 31 | (rankMask - UInt64(m))
            if Int(id) == me {
                own = m
            } else {
                lowAcc = Swift.min(lowAcc, high)
                highAcc = Swift.max(highAcc, high)
            }
            m += 1
        }
        let waiting = n - m
        guard m > 0, !nothingFits else { return (0, waiting) }

        if total <= budget && total < .max && m <= cap {
            // Everything fits: no ordering needed.
            for k in 0..<m {
                out[k] = UInt16(truncatingIfNeeded: eligible[k])
                reset(slots[k], entries)
            }
            return (m, waiting)
        }

        var remaining = budget
        var taken = 0
        // The recipient's own avatar first.
        var ownTaken = false
        if own >= 0 && Int(costs[own]) <= remaining {
            ownTaken = true
            remaining -= Int(costs[own])
            taken = 1
        }

        // Bucket of a key: its accumulator bits scaled onto 0 … buckets − 1 (monotone).
        let scale = highAcc > lowAcc ? Double(buckets - 1) / Double(highAcc - lowAcc) : 0
        for b in 0...buckets { bucketStart[b] = 0 }
        for b in 0..<buckets { bucketCost[b] = 0 }
        for k in 0..<m where k != own {
            let b = Swift.min(Int(Double((keys[k] >> 32) &- lowAcc) * scale), buckets - 1)
            bucketOf[k] = UInt64(b)
            bucketStart[b + 1] &+= 1
            let (sum, overflow) = bucketCost[b].addingReportingOverflow(costs[k])
            bucketCost[b] = overflow ? .max : sum  // .max: never taken whole
        }
        for b in 0..<buckets { bucketStart[b + 1] &+= bucketStart[b] }
        for b in 0...buckets { cursor[b] = bucketStart[b] }
        for k in 0..<m where k != own {
            let b = Int(bucketOf[k])
            order[Int(cursor[b])] = UInt64(k)
            cursor[b] &+= 1
        }
        for k in 0..<m { chosen[k] = 0 }
        if ownTaken { chosen[own] = 1 }

        var b = buckets - 1
        while b >= 0 && taken < cap && remaining >= cheapest {
            let start = Int(bucketStart[b])
            let end = Int(bucketStart[b + 1])
            if start < end {
                let whole = bucketCost[b]
                if whole < UInt64(Int.max) && Int(whole) <= remaining && taken + (end - start) <= cap {
                    for i in start..<end { chosen[Int(order[i])] = 1 }
                    remaining -= Int(whole)
                    taken += end - start
                } else {
                    sortDescending(order + start, end - start, keys)
                    for i in start..<end {
                        let k = Int(order[i])
                        let c = Int(costs[k])
                        if c <= remaining {
                            chosen[k] = 1
                            remaining -= c
                            taken += 1
                            if taken == cap { break }
                        }
                    }
                }
            }
            b -= 1
        }
        var count = 0
        for k in 0..<m where chosen[k] != 0 {
            out[count] = UInt16(truncatingIfNeeded: eligible[k])
            count += 1
            reset(slots[k], entries)
        }
        return (count, waiting)
    }

    @inline(__always)
    private static func reset(_ slot: UInt64, _ entries: UnsafeMutableBufferPointer<Entry>) {
        guard slot != .max else { return }
        entries[Int(slot)] = Entry(accumulator: 0, entering: false)
    }

    /// Sorts `count` candidate indices at `order` by their keys, highest first.
    private static func sortDescending(_ order: UnsafeMutablePointer<UInt64>, _ count: Int, _ keys: UnsafeMutablePointer<UInt64>) {
        if count <= 32 {
            var i = 1
            while i < count {
                let item = order[i]
                let key = keys[Int(item)]
                var h = i
                while h > 0 && keys[Int(order[h - 1])] < key {
                    order[h] = order[h - 1]
                    h -= 1
                }
                order[h] = item
                i += 1
            }
        } else {
            var buffer = UnsafeMutableBufferPointer(start: order, count: count)
            buffer.sort { keys[Int($0)] > keys[Int($1)] }
        }
    }

    @inline(__always)
    static func lowerBound(_ id: UInt16, in sorted: UnsafeBufferPointer<UInt16>) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low &+ high) >> 1
            if sorted[mid] < id { low = mid &+ 1 } else { high = mid }
        }
        return low
    }
}

/// Where `select` gets a candidate's cost: a closure asked by id, or a list read by position (no call).
protocol CandidateCosts {
    /// Bits of `candidates[k]`, which is `id`.
    func cost(_ k: Int, _ id: UInt16) -> Int
}

struct ClosureCosts: CandidateCosts {
    let body: (UInt16) -> Int
    @inline(__always) func cost(_ k: Int, _ id: UInt16) -> Int { body(id) }
}

struct ListedCosts: CandidateCosts {
    let costs: UnsafeBufferPointer<Int32>
    @inline(__always) func cost(_ k: Int, _ id: UInt16) -> Int { Int(costs[k]) }
}

extension Array {
    /// Makes the array `n` long, dropping from the end or appending `fill`; keeps the storage.
    @inline(__always)
    mutating func interestResize(to n: Int, fill: Element) {
        if count > n {
            removeLast(count - n)
        } else if count < n {
            append(contentsOf: repeatElement(fill, count: n - count))
        }
    }
}
