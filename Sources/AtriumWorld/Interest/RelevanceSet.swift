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

    /// Bit per id: relevant after the last update.
    private var members: [UInt64] = []

    /// At most this many avatars are relevant by distance (always-relevant broadcasters and the recipient
    /// itself come on top): in a crowd denser than this, the nearest ones. Avatars already relevant count as
    /// 20 % nearer than they are, so the set does not flap at the boundary. Bounds the per-recipient work
    /// (priorities, deltas) in a crowd; `.max` = no limit.
    public var limit: Int = .max

    public init() {}

    /// Reserves room for ids `0 ..< idCapacity` (ids above it grow the storage when first seen).
    public init(idCapacity: Int) {
        let words = (Swift.max(idCapacity, 1) + 63) >> 6
        members = Array(repeating: 0, count: words)
    }

    /// True when `id` is relevant.
    public func contains(_ id: UInt16) -> Bool {
        let w = Int(id) >> 6
        return w < members.count && members[w] & (1 << UInt64(id & 63)) != 0
    }

    /// Recomputes the set for this tick.
    ///
    /// - Parameters:
    ///   - recipient: the recipient this set belongs to, as of this tick.
    ///   - grid: this tick's positions; distances are measured between the positions it holds.
    ///   - avatars: this tick's avatar by id (zone context), nil for ids no longer in the world.
    ///   - alwaysRelevant: ids of this tick's always-relevant avatars (`InterestAvatarTable.alwaysRelevant`).
    ///   - r: enter radius, metres (normally the world's interest radius).
    ///   - m: leave margin, metres: a relevant avatar leaves only beyond `r + m`.
    /// - Returns: the relevant ids (ascending) and those that entered and left this tick. The arrays
    ///   share storage with the set: let go of them before the next update to avoid copies.
    ///
    /// Storage is a bit per avatar id, so ids are best kept small (the server's slot numbers).
    @discardableResult
    public mutating func update(
        recipient: InterestAvatar, grid: SpatialGrid, avatars: (UInt16) -> InterestAvatar?,
        alwaysRelevant: [UInt16], enterRadius r: Float, leaveMargin m: Float
    ) -> (relevant: [UInt16], entered: [UInt16], left: [UInt16]) {
        withoutActuallyEscaping(avatars) { avatars in
            update(
                recipient: recipient, grid: grid, lookup: ClosureAvatarLookup(body: avatars),
                alwaysRelevant: alwaysRelevant, enterRadius: r, leaveMargin: m)
        }
    }

    /// As `update(recipient:grid:avatars:alwaysRelevant:enterRadius:leaveMargin:)` with this tick's
    /// avatars and always-relevant ids from `table` (faster: no closure call per candidate).
    @discardableResult
    public mutating func update(
        recipient: InterestAvatar, grid: SpatialGrid, table: InterestAvatarTable, enterRadius r: Float,
        leaveMargin m: Float
    ) -> (relevant: [UInt16], entered: [UInt16], left: [UInt16]) {
        update(
            recipient: recipient, grid: grid, lookup: table, alwaysRelevant: table.alwaysRelevant, enterRadius: r,
            leaveMargin: m)
    }

    @inline(__always)
    mutating func update<Lookup: InterestAvatarLookup>(
        recipient: InterestAvatar, grid: SpatialGrid, lookup avatars: Lookup, alwaysRelevant: [UInt16],
        enterRadius r: Float, leaveMargin m: Float
    ) -> (relevant: [UInt16], entered: [UInt16], left: [UInt16]) {
        let me = recipient.id
        let hx = recipient.position.x
        let hy = recipient.position.y
        let hz = recipient.position.z
        let sight = recipient.zoneContext.visualIndex
        let context = recipient.zoneContext
        let enter2 = r * r
        let outer = r + Swift.max(m, 0)
        let leave2 = outer * outer

        // Size the bit set for every id that can turn up (ids the grid can hold, the listed ones).
        var maxId = Swift.max(grid.idCapacity - 1, Int(me))
        for id in alwaysRelevant where Int(id) > maxId { maxId = Int(id) }
        let words = (maxId >> 6) + 1
        if members.count < words { members.interestResize(to: words, fill: 0) }

        let capped = limit < Int.max
        var old = members
        var now = relevant
        var arrived = entered
        var gone = left
        members = []
        relevant = []
        entered = []
        left = []
        // The words that can differ: those touched now and those of last tick's ids.
        var low = Int(me) >> 6
        var high = low
        if let first = now.first, let last = now.last {
            low = Swift.min(low, Int(first) >> 6)
            high = Swift.max(high, Int(last) >> 6)
        }

        // This tick's bits are built in a stack buffer (hot for every recipient), then diffed against
        // last tick's and copied over them. With a limit, the candidates within reach are collected first in
        // two more (at most every avatar in the grid).
        let reach = capped ? grid.count : 0
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: reach) { cappedIds in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: reach) { cappedKeys in
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: words) { buffer in
                    var cappedCount = 0
                    let next = buffer.baseAddress!
                    next.initialize(repeating: 0, count: words)
                    next[Int(me) >> 6] |= 1 << UInt64(me & 63)
                    var counts = (0, 0, 0)
                    old.withUnsafeBufferPointer { old in
                        // Per cell: first keep the candidates within r + m (branch-free, into a small stack
                        // buffer), then decide on those.
                        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: Self.chunk) { keptIds in
                            withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.chunk) { keptD2 in
                                grid.forEachCell(near: recipient.position, radius: outer) { ids, positions in
                                    if capped {
                                        // One pass per cell: every candidate is written, and the count moves on only
                                        // past those that qualify (within r, or within r + m and relevant already;
                                        // not the recipient; same sight), so the loop has no unpredictable branch.
                                        // The order collected in does not matter: `keepNearest` orders by (key, id).
                                        var n = cappedCount
                                        for i in 0..<ids.count {
                                            let p = positions[i]
                                            let dx = p.x - hx
                                            let dy = p.y - hy
                                            let dz = p.z - hz
                                            let d2 = dx * dx + dy * dy + dz * dz
                                            let id = ids[i]
                                            let was = old[Int(id) >> 6] & (1 << UInt64(id & 63)) != 0
                                            let near = d2 <= enter2
                                            let inReach = d2 <= leave2
                                            let sees = avatars.visualIndex(of: id) == sight
                                            let keep = (inReach ? 1 : 0) & (near || was ? 1 : 0) & (id != me ? 1 : 0)
                                                & (sees ? 1 : 0)
                                            cappedIds[n] = id
                                            cappedKeys[n] = was ? d2 * 0.64 : d2
                                            n &+= keep
                                        }
                                        cappedCount = n
                                        return
                                    }
                                    var from = 0
                                    while from < ids.count {
                                        let to = Swift.min(from + Self.chunk, ids.count)
                                        var kept = 0
                                        for i in from..<to {
                                            let p = positions[i]
                                            let dx = p.x - hx
                                            let dy = p.y - hy
                                            let dz = p.z - hz
                                            let d2 = dx * dx + dy * dy + dz * dz
                                            keptIds[kept] = ids[i]
                                            keptD2[kept] = d2
                                            kept &+= d2 <= leave2 ? 1 : 0
                                        }
                                        for k in 0..<kept {
                                            let id = keptIds[k]
                                            let w = Int(id) >> 6
                                            let bit: UInt64 = 1 << UInt64(id & 63)
                                            // Between r and r + m only an avatar already relevant stays.
                                            if keptD2[k] > enter2 && old[w] & bit == 0 { continue }
                                            guard id != me, avatars.visualIndex(of: id) == sight else { continue }
                                            next[w] |= bit
                                            low = Swift.min(low, w)
                                            high = Swift.max(high, w)
                                        }
                                        from = to
                                    }
                                }
                            }
                        }
                        if capped {
                            Self.keepNearest(
                                limit, ids: UnsafeBufferPointer(rebasing: cappedIds[..<cappedCount]),
                                keys: UnsafeBufferPointer(rebasing: cappedKeys[..<cappedCount])
                            ) { id in
                                let w = Int(id) >> 6
                                next[w] |= 1 << UInt64(id & 63)
                                if w < low { low = w }
                                if w > high { high = w }
                            }
                        }
                        for id in alwaysRelevant where id != me {
                            guard let c = avatars.zoneContext(of: id) else { continue }
                            guard c.alwaysRelevant,
                                c.broadcastWorld || (context.isInside(broadcastZoneOf: c) && c.visualIndex == sight)
                            else { continue }
                            let w = Int(id) >> 6
                            next[w] |= 1 << UInt64(id & 63)
                            if w < low { low = w }
                            if w > high { high = w }
                        }
                        for w in low...high {
                            counts.0 &+= next[w].nonzeroBitCount
                            counts.1 &+= (next[w] & ~old[w]).nonzeroBitCount
                            counts.2 &+= (old[w] & ~next[w]).nonzeroBitCount
                        }
                    }
                    if counts.1 == 0 && counts.2 == 0 {
                        // Nothing entered or left (the common case): the list stands as it is.
                        arrived.removeAll(keepingCapacity: true)
                        gone.removeAll(keepingCapacity: true)
                        return
                    }
                    now.interestResize(to: counts.0, fill: 0)
                    arrived.interestResize(to: counts.1, fill: 0)
                    gone.interestResize(to: counts.2, fill: 0)
                    old.withUnsafeMutableBufferPointer { old in
                        now.withUnsafeMutableBufferPointer { now in
                            arrived.withUnsafeMutableBufferPointer { arrived in
                                gone.withUnsafeMutableBufferPointer { gone in
                                    var a = 0
                                    var b = 0
                                    var c = 0
                                    for w in low...high {
                                        let n = next[w]
                                        let o = old[w]
                                        let base = UInt16(truncatingIfNeeded: w << 6)
                                        Self.writeBits(n, base, to: now, at: &a)
                                        Self.writeBits(n & ~o, base, to: arrived, at: &b)
                                        Self.writeBits(o & ~n, base, to: gone, at: &c)
                                        old[w] = n
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        members = old
        relevant = now
        entered = arrived
        left = gone
        return (relevant, entered, left)
    }

    @inline(__always)
    private static func writeBits(_ word: UInt64, _ base: UInt16, to out: UnsafeMutableBufferPointer<UInt16>, at i: inout Int) {
        var bits = word
        while bits != 0 {
            out[i] = base | UInt16(truncatingIfNeeded: bits.trailingZeroBitCount)
            i += 1
            bits &= bits &- 1
        }
    }

    /// Calls `keep` for the `limit` entries with the smallest keys, ties by smaller id (all of them when there
    /// are no more). O(n): a 64-bucket histogram of the keys finds the bucket where the count crosses the limit;
    /// the buckets below it are kept whole, that one in key order up to the limit. Any monotone bucketing gives
    /// the same set. Keys are ≥ 0, so their bit patterns order as they do and (key, id) orders as the integer
    /// `key bits << 16 | id`: buckets are ranges of bit patterns between the smallest and largest key (finer
    /// near, coarser far; no float conversion), and the edge bucket sorts plain integers.
    static func keepNearest(
        _ limit: Int, ids: UnsafeBufferPointer<UInt16>, keys: UnsafeBufferPointer<Float>, keep: (UInt16) -> Void
    ) {
        if ids.count <= limit {
            for id in ids { keep(id) }
            return
        }
        let buckets = 64
        var low = UInt32.max
        var high: UInt32 = 0
        for key in keys {
            low = Swift.min(low, key.bitPattern)
            high = Swift.max(high, key.bitPattern)
        }
        // The span of bit patterns shifted down to 6 bits: bucket numbers 0 … 63.
        let shift = UInt32(Swift.max(0, UInt32.bitWidth - (high &- low).leadingZeroBitCount - 6))
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: ids.count) { bucketOf in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: buckets) { counts in
                counts.initialize(repeating: 0)
                for i in 0..<ids.count {
                    let b = UInt8(truncatingIfNeeded: (keys[i].bitPattern &- low) &>> shift)
                    bucketOf[i] = b
                    counts[Int(b)] &+= 1
                }
                var below = 0
                var cut = 0
                while cut < buckets && below + counts[cut] <= limit {
                    below += counts[cut]
                    cut += 1
                }
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: counts[cut]) { edge in
                    var n = 0
                    for i in 0..<ids.count {
                        let b = Int(bucketOf[i])
                        if b < cut {
                            keep(ids[i])
                        } else if b == cut {
                            edge[n] = UInt64(keys[i].bitPattern) << 16 | UInt64(ids[i])
                            n += 1
                        }
                    }
                    var sorted = UnsafeMutableBufferPointer(rebasing: edge[..<n])
                    sorted.sort()
                    for e in sorted.prefix(limit - below) { keep(UInt16(truncatingIfNeeded: e)) }
                }
            }
        }
    }

    /// `keepNearest` for tests.
    public static func keepNearestForTesting(_ limit: Int, ids: [UInt16], keys: [Float], keep: (UInt16) -> Void) {
        ids.withUnsafeBufferPointer { ids in
            keys.withUnsafeBufferPointer { keys in
                keepNearest(limit, ids: ids, keys: keys, keep: keep)
            }
        }
    }

    /// Forgets everything (for a recipient that rejoins).
    public mutating func reset() {
        for i in members.indices { members[i] = 0 }
        relevant.removeAll(keepingCapacity: true)
        entered.removeAll(keepingCapacity: true)
        left.removeAll(keepingCapacity: true)
    }

    /// Candidates filtered at a time (stack buffers of this many ids and distances).
    static let chunk = 128

    /// Index of `id` in the ascending `sorted`, by binary search.
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
