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
}

/// Shares out one recipient's per-tick bit budget among its relevant avatars (one per recipient,
/// kept across ticks).
///
/// Each relevant avatar has an accumulator. `accumulate` adds its priority every tick (closer,
/// in view, speaking, always relevant ⇒ more); `select` sends the highest accumulators that fit the
/// budget and the cap and sets theirs to 0; the others keep growing, so every relevant avatar that
/// keeps changing is sent eventually, far ones less often. The recipient's own avatar comes first.
public struct PriorityScheduler: Sendable {
    public var weights: PriorityWeights

    /// Relevant ids, ascending, with their accumulators and whether they are newly relevant and not
    /// sent yet (those win ties).
    public private(set) var ids: [UInt16] = []
    private var accumulators: [Float] = []
    private var entering: [Bool] = []
    /// The recipient, as of the last `accumulate`.
    public private(set) var recipientId: UInt16?

    // Scratch kept between ticks.
    private var spareIds: [UInt16] = []
    private var spareAccumulators: [Float] = []
    private var spareEntering: [Bool] = []
    private var keys: [UInt64] = []
    private var costs: [Int] = []
    private var slots: [Int32] = []
    private var chosen: [Bool] = []
    private var picked: [UInt16] = []

    public init(weights: PriorityWeights = .standard) {
        self.weights = weights
    }

    /// The priority `avatar` has for `recipient` this tick (`radius`: the interest radius).
    @inlinable
    public static func priority(
        recipient: InterestAvatar, avatar: InterestAvatar, radius: Float, weights w: PriorityWeights = .standard
    ) -> Float {
        let offset = avatar.position - recipient.position
        let distance = offset.length
        let t = radius > 0 ? Swift.max(0, 1 - distance / radius) : 0
        var p = w.base * (1 + w.nearBoost * t * t)
        // Inside the cone: the angle to forward is at most half the opening, i.e.
        // dot(forward, offset) ≥ cos(half) · |offset|. Someone at the same spot counts as in view.
        if Vec3.dot(recipient.forward, offset) >= w.viewConeCosine * distance { p *= w.inView }
        if avatar.speakingRecently { p *= w.speaking }
        if avatar.zoneContext.alwaysRelevant { p *= w.alwaysRelevant }
        return p
    }

    /// The accumulator of `id`, nil when it is not relevant (not given to the last `accumulate`).
    public func accumulator(of id: UInt16) -> Float? {
        RelevanceSet.index(of: id, in: ids).map { accumulators[$0] }
    }

    /// True when `id` became relevant and has not been selected since.
    public func isEntering(_ id: UInt16) -> Bool {
        RelevanceSet.index(of: id, in: ids).map { entering[$0] } ?? false
    }

    /// Adopts this tick's relevant ids (ascending, as `RelevanceSet.relevant`; new ones start at 0
    /// and count as entering, ones no longer listed are forgotten) and adds each one's priority to
    /// its accumulator. The recipient's own avatar needs no accumulator: it always comes first.
    public mutating func accumulate(
        recipient: InterestAvatar, relevant: [UInt16], avatars: (UInt16) -> InterestAvatar?, radius: Float
    ) {
        recipientId = recipient.id
        adopt(relevant)
        let w = weights
        let me = recipient.id
        for i in ids.indices {
            let id = ids[i]
            if id == me { continue }
            guard let avatar = avatars(id) else { continue }
            accumulators[i] += Self.priority(recipient: recipient, avatar: avatar, radius: radius, weights: w)
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
        if let k = RelevanceSet.index(of: id, in: ids) { accumulators[k] = 0 }
    }

    /// Merges `relevant` (ascending) into `ids`, keeping accumulators of ids in both.
    private mutating func adopt(_ relevant: [UInt16]) {
        if relevant == ids { return }
        var newIds = spareIds
        var newAccumulators = spareAccumulators
        var newEntering = spareEntering
        spareIds = []
        spareAccumulators = []
        spareEntering = []
        newIds.removeAll(keepingCapacity: true)
        newAccumulators.removeAll(keepingCapacity: true)
        newEntering.removeAll(keepingCapacity: true)
        var j = 0
        for id in relevant {
            while j < ids.count && ids[j] < id { j += 1 }
            newIds.append(id)
            if j < ids.count && ids[j] == id {
                newAccumulators.append(accumulators[j])
                newEntering.append(entering[j])
            } else {
                newAccumulators.append(0)
                newEntering.append(true)
            }
        }
        swap(&ids, &newIds)
        swap(&accumulators, &newAccumulators)
        swap(&entering, &newEntering)
        spareIds = newIds
        spareAccumulators = newAccumulators
        spareEntering = newEntering
    }

    /// Picks what to send this tick.
    ///
    /// Goes through `candidates` in decreasing accumulator order (the recipient's own avatar first;
    /// on equal accumulators newly relevant ones first, then earlier candidates first), taking each
    /// one whose `cost` fits what is left of `budgetBits` until `maxAvatars` are taken; one that does
    /// not fit is skipped and smaller ones after it are still tried. The total cost never exceeds
    /// `budgetBits`. Selected accumulators go back to 0; the others keep what they have.
    ///
    /// - Parameters:
    ///   - candidates: relevant ids with something to send (each at most once). Ids the scheduler does
    ///     not know count as accumulator 0.
    ///   - cost: bits the id would take in the snapshot (called once per candidate).
    /// - Returns: the selected ids in candidate order, and how many candidates were left for later.
    ///   `selected` shares storage with the scheduler: let go of it before the next `select`.
    public mutating func select(
        candidates: [UInt16], cost: (UInt16) -> Int, budgetBits: Int, maxAvatars: Int
    ) -> (selected: [UInt16], deferred: Int) {
        var out = picked
        picked = []
        out.removeAll(keepingCapacity: true)
        defer { picked = out }
        let n = Swift.min(candidates.count, Self.maxCandidates)
        guard n > 0, maxAvatars > 0, budgetBits >= 0 else { return (out, candidates.count) }

        costs.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        var total = 0
        var cheapest = Int.max
        for k in 0..<n {
            let id = candidates[k]
            // Anything above the budget can never fit; clamping keeps the sum small.
            let c = Swift.min(Swift.max(cost(id), 0), budgetBits == .max ? .max : budgetBits + 1)
            costs.append(c)
            let (sum, overflow) = total.addingReportingOverflow(c)
            total = overflow ? .max : sum
            cheapest = Swift.min(cheapest, c)
            slots.append(Int32(RelevanceSet.index(of: id, in: ids) ?? -1))
        }

        if total <= budgetBits && total < .max && n <= maxAvatars {
            // Everything fits: no ordering needed.
            for k in 0..<n {
                out.append(candidates[k])
                reset(slot: slots[k])
            }
            return (out, candidates.count - n)
        }

        // Keys: accumulator bits (non-negative floats order as integers) | entering | candidate rank.
        keys.removeAll(keepingCapacity: true)
        let me = recipientId
        for k in 0..<n {
            let slot = Int(slots[k])
            var high: UInt64 = 0
            var enter: UInt64 = 0
            if candidates[k] == me {
                high = UInt64(UInt32.max)
            } else if slot >= 0 {
                let a = accumulators[slot]
                high = a > 0 ? UInt64(a.bitPattern) : 0  // NaN and negatives count as 0
                enter = entering[slot] ? 1 : 0
            }
            keys.append(high << 32 | enter << 31 | UInt64(Self.rankMask - UInt32(k)))
        }
        chosen.removeAll(keepingCapacity: true)
        chosen.append(contentsOf: repeatElement(false, count: n))
        var remaining = budgetBits
        var taken = 0
        keys.withUnsafeMutableBufferPointer { heap in
            Self.heapify(heap)
            var size = heap.count
            while size > 0 && taken < maxAvatars && remaining >= cheapest {
                let top = heap[0]
                size -= 1
                heap[0] = heap[size]
                Self.siftDown(heap, 0, size)
                let k = Int(Self.rankMask - UInt32(truncatingIfNeeded: top & UInt64(Self.rankMask)))
                if costs[k] <= remaining {
                    remaining -= costs[k]
                    chosen[k] = true
                    taken += 1
                }
            }
        }
        for k in 0..<n where chosen[k] {
            out.append(candidates[k])
            reset(slot: slots[k])
        }
        return (out, candidates.count - out.count)
    }

    /// The ids chosen by the last `select`, in candidate order.
    public var selected: [UInt16] { picked }

    @inline(__always)
    private mutating func reset(slot: Int32) {
        guard slot >= 0 else { return }
        accumulators[Int(slot)] = 0
        entering[Int(slot)] = false
    }

    /// Candidates beyond this many are deferred (ids are 16-bit, so this is never reached in practice).
    static let maxCandidates = 1 << 17
    static let rankMask: UInt32 = (1 << 17) - 1

    private static func heapify(_ heap: UnsafeMutableBufferPointer<UInt64>) {
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(heap, i, heap.count)
        }
    }

    @inline(__always)
    private static func siftDown(_ heap: UnsafeMutableBufferPointer<UInt64>, _ start: Int, _ size: Int) {
        var i = start
        let value = heap[i]
        while true {
            var child = 2 &* i &+ 1
            if child >= size { break }
            if child &+ 1 < size && heap[child &+ 1] > heap[child] { child &+= 1 }
            if heap[child] <= value { break }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = value
    }
}
