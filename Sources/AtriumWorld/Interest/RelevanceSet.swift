import AtriumWire

/// The avatars relevant to one recipient, kept across ticks (one per recipient).
///
/// Rules, applied by `update` each tick:
/// - the recipient itself is always relevant;
/// - an avatar within `enterRadius` (3-D distance between heads) becomes relevant, and stays so
///   until it is farther than `enterRadius + leaveMargin` (hysteresis: no flapping at the edge);
/// - visual isolation: both must be outside every visually isolating zone, or inside the same
///   innermost one; otherwise the avatar is not relevant (and leaves at once), whatever the distance;
/// - an always-relevant avatar (see `InterestZoneContext.alwaysRelevant`) is relevant at any
///   distance to every recipient inside its broadcast zone (`broadcast: zone`, still subject to
///   visual isolation) or to everyone (`broadcast: world`, even across visual isolation). When it
///   stops being always relevant, the distance rules take over (with the same hysteresis).
public struct RelevanceSet: Sendable {
    /// Relevant ids, ascending; includes the recipient.
    public private(set) var relevant: [UInt16] = []
    /// Ids that became relevant in the last `update`, ascending.
    public private(set) var entered: [UInt16] = []
    /// Ids that stopped being relevant in the last `update`, ascending.
    public private(set) var left: [UInt16] = []

    // Scratch kept between ticks so an update allocates nothing once warmed up.
    private var keep: [Bool] = []
    private var spare: [UInt16] = []

    public init() {}

    /// Reserves room for `count` relevant avatars.
    public init(reservingCapacity count: Int) {
        relevant.reserveCapacity(count)
        spare.reserveCapacity(count)
        keep.reserveCapacity(count)
    }

    /// True when `id` is relevant (binary search).
    public func contains(_ id: UInt16) -> Bool { Self.index(of: id, in: relevant) != nil }

    /// Recomputes the set for this tick.
    ///
    /// - Parameters:
    ///   - recipient: the recipient this set belongs to, as of this tick.
    ///   - grid: this tick's positions (the same ones `avatars` returns).
    ///   - avatars: this tick's avatar by id, nil for ids no longer in the world.
    ///   - alwaysRelevant: ids of this tick's always-relevant avatars (`InterestAvatarTable.alwaysRelevant`).
    ///   - r: enter radius, metres (normally the world's interest radius).
    ///   - m: leave margin, metres: a relevant avatar leaves only beyond `r + m`.
    /// - Returns: the relevant ids (ascending) and those that entered and left this tick. The arrays
    ///   share storage with the set: let go of them before the next update to avoid copies.
    @discardableResult
    public mutating func update(
        recipient: InterestAvatar, grid: SpatialGrid, avatars: (UInt16) -> InterestAvatar?,
        alwaysRelevant: [UInt16], enterRadius r: Float, leaveMargin m: Float
    ) -> (relevant: [UInt16], entered: [UInt16], left: [UInt16]) {
        let me = recipient.id
        let here = recipient.position
        let context = recipient.zoneContext
        let enter2 = r * r
        let outer = r + Swift.max(m, 0)
        let leave2 = outer * outer

        var old = relevant
        relevant = []
        var keep = self.keep
        self.keep = []
        keep.removeAll(keepingCapacity: true)
        keep.append(contentsOf: repeatElement(false, count: old.count))
        var fresh = entered
        entered = []
        fresh.removeAll(keepingCapacity: true)

        // Marks `id` as relevant this tick.
        func include(_ id: UInt16) {
            if let k = Self.index(of: id, in: old) {
                keep[k] = true
            } else {
                fresh.append(id)
            }
        }

        include(me)
        grid.forEachCandidateWithPosition(near: here, radius: outer) { id, gridPosition in
            if id == me { return }
            let dx = gridPosition.x - here.x
            let dz = gridPosition.z - here.z
            if dx * dx + dz * dz > leave2 { return }
            guard let avatar = avatars(id) else { return }
            let d2 = (avatar.position - here).lengthSquared
            guard d2 <= leave2, avatar.zoneContext.sharesSight(with: context) else { return }
            if d2 <= enter2 {
                include(id)
            } else if let k = Self.index(of: id, in: old) {
                keep[k] = true  // between r and r + m: stays, does not enter
            }
        }
        for id in alwaysRelevant where id != me {
            guard let avatar = avatars(id) else { continue }
            let c = avatar.zoneContext
            guard c.alwaysRelevant else { continue }
            if c.broadcastWorld || (context.isInside(broadcastZoneOf: c) && c.sharesSight(with: context)) {
                include(id)
            }
        }

        // entered = fresh, sorted and without repeats (an id can come from the grid and the list).
        if fresh.count > 1 {
            fresh.sort()
            var w = 1
            for i in 1..<fresh.count where fresh[i] != fresh[w - 1] {
                fresh[w] = fresh[i]
                w += 1
            }
            fresh.removeLast(fresh.count - w)
        }

        // relevant = kept ∪ entered (both ascending), left = the rest of old.
        var next = spare
        spare = []
        next.removeAll(keepingCapacity: true)
        var gone = left
        left = []
        gone.removeAll(keepingCapacity: true)
        var j = 0
        for k in old.indices {
            let id = old[k]
            guard keep[k] else {
                gone.append(id)
                continue
            }
            while j < fresh.count && fresh[j] < id {
                next.append(fresh[j])
                j += 1
            }
            next.append(id)
        }
        while j < fresh.count {
            next.append(fresh[j])
            j += 1
        }

        old.removeAll(keepingCapacity: true)
        spare = old
        relevant = next
        entered = fresh
        left = gone
        self.keep = keep
        return (relevant, entered, left)
    }

    /// Forgets everything (for a recipient that rejoins).
    public mutating func reset() {
        relevant.removeAll(keepingCapacity: true)
        entered.removeAll(keepingCapacity: true)
        left.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    static func index(of id: UInt16, in sorted: [UInt16]) -> Int? {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low &+ high) >> 1
            let v = sorted[mid]
            if v == id { return mid }
            if v < id { low = mid &+ 1 } else { high = mid }
        }
        return nil
    }
}
