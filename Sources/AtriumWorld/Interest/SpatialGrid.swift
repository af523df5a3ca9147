import AtriumWire

/// A uniform 2-D grid over the world's x–z extent holding avatar ids (`UInt16`) with their head
/// positions, for finding the avatars near a point without looking at all of them.
///
/// Cells are square, `cellSize` metres (normally the world's interest radius, so a query of that
/// radius touches at most 3 × 3 cells). Positions outside the world bounds are kept in the nearest
/// edge cell, and queries take that into account, so nothing is ever lost.
///
/// Two ways to keep it current, with the same queries:
/// - **incremental**: `update(id:position:)` as positions change (an id moves between cells only
///   when it crosses a cell boundary) and `remove(id:)` when an avatar leaves;
/// - **rebuild per tick**: `rebuild(from:)` with every avatar's position, once per tick.
///
/// `sync(_:)` does one tick's worth of either, as `strategy` says. Measured (see the final report of
/// the `interest` branch and `InterestGridTests`): incremental is the cheaper one for walking crowds,
/// so it is the default.
///
/// Pure value type: no locks, no clock. Storage is flat arrays indexed by avatar id, so ids are best
/// kept small (slots), as the server's avatar ids are.
public struct SpatialGrid: Sendable {
    public enum Strategy: Sendable, Equatable, CaseIterable {
        /// `sync` calls `update(id:position:)` for every avatar and `remove(id:)` for those gone.
        case incremental
        /// `sync` calls `rebuild(from:)`.
        case rebuildPerTick
    }

    /// What `sync(_:)` does.
    public var strategy: Strategy
    /// Side of a cell in metres (at least the requested size; larger only for very large worlds,
    /// so the grid never holds more than about a million cells).
    public let cellSize: Float
    /// Cells along x and along z.
    public let columns: Int
    public let rows: Int

    @usableFromInline let originX: Float
    @usableFromInline let originZ: Float
    @usableFromInline let inverseCellSize: Float

    // Per id (index = id).
    /// Cell of each id, −1 when the id is not in the grid.
    @usableFromInline var cellOf: [Int32] = []
    @usableFromInline var positions: [Vec3] = []
    /// Incremental storage: index of the id inside its bucket.
    @usableFromInline var indexInBucket: [Int32] = []
    /// `sync` bookkeeping: the tick an id was last seen in.
    var seenStamp: [UInt32] = []
    var stamp: UInt32 = 0

    /// Incremental storage: one array of ids per cell (valid when `usesBuckets`).
    @usableFromInline var buckets: [[UInt16]]
    /// Rebuild storage: ids sorted by cell; cell `c` holds `items[cellStart[c] ..< cellStart[c + 1]]`
    /// (valid when `!usesBuckets`).
    @usableFromInline var cellStart: [Int32]
    @usableFromInline var items: [UInt16] = []
    /// Scratch for `rebuild` (kept so a tick allocates nothing).
    var cursorBuffer: [Int32] = []
    /// Which storage is current: buckets after `update`/`remove`, the sorted items after `rebuild`.
    @usableFromInline var usesBuckets = true

    /// Number of ids in the grid.
    public private(set) var count = 0

    /// A grid over `bounds` (x–z) with cells of `cellSize` metres. `capacity` reserves room for ids
    /// `0 ..< capacity`; larger ids grow the storage when they first appear.
    public init(bounds: WorldBounds, cellSize: Float, capacity: Int = 0, strategy: Strategy = .incremental) {
        let width = Swift.max(bounds.max.x - bounds.min.x, 0)
        let depth = Swift.max(bounds.max.z - bounds.min.z, 0)
        var size = cellSize.isFinite && cellSize > 0 ? cellSize : Swift.max(width, depth, 1)
        // Keep the cell count bounded (about 1024 × 1024 at most).
        size = Swift.max(size, Swift.max(width, depth) / 1024)
        if !(size > 0) || !size.isFinite { size = 1 }
        self.cellSize = size
        self.columns = Swift.max(1, Int((width / size).rounded(.up)))
        self.rows = Swift.max(1, Int((depth / size).rounded(.up)))
        self.originX = bounds.min.x.isFinite ? bounds.min.x : 0
        self.originZ = bounds.min.z.isFinite ? bounds.min.z : 0
        self.inverseCellSize = 1 / size
        self.strategy = strategy
        let cells = columns * rows
        self.buckets = Array(repeating: [], count: cells)
        self.cellStart = Array(repeating: 0, count: cells + 1)
        if capacity > 0 { grow(to: capacity) }
    }

    /// A grid over `world`'s bounds with cells as large as its interest radius.
    public init(world: WorldDefinition, capacity: Int? = nil, strategy: Strategy = .incremental) {
        self.init(
            bounds: world.bounds, cellSize: world.interestRadius, capacity: capacity ?? world.capacity,
            strategy: strategy)
    }

    // MARK: - Cells

    @inlinable @inline(__always)
    static func clampedIndex(_ f: Float, _ n: Int) -> Int {
        // NaN fails the first comparison and lands in cell 0; +∞ in the last cell.
        f >= 0 ? (f < Float(n) ? Int(f) : n - 1) : 0
    }

    @inlinable @inline(__always)
    func column(_ x: Float) -> Int { Self.clampedIndex((x - originX) * inverseCellSize, columns) }

    @inlinable @inline(__always)
    func row(_ z: Float) -> Int { Self.clampedIndex((z - originZ) * inverseCellSize, rows) }

    /// The cell holding `p` (row-major: `row * columns + column`).
    @inlinable
    public func cell(of p: Vec3) -> Int { row(p.z) * columns + column(p.x) }

    /// True when `id` is in the grid.
    public func contains(_ id: UInt16) -> Bool {
        Int(id) < cellOf.count && cellOf[Int(id)] >= 0
    }

    /// The position last given for `id`, or nil when it is not in the grid.
    public func position(of id: UInt16) -> Vec3? {
        contains(id) ? positions[Int(id)] : nil
    }

    mutating func grow(to n: Int) {
        guard n > cellOf.count else { return }
        let extra = n - cellOf.count
        cellOf.append(contentsOf: repeatElement(-1, count: extra))
        positions.append(contentsOf: repeatElement(.zero, count: extra))
        indexInBucket.append(contentsOf: repeatElement(-1, count: extra))
        seenStamp.append(contentsOf: repeatElement(0, count: extra))
    }

    // MARK: - Incremental

    /// Puts `id` at `position`, moving it to another cell only when it crossed a cell boundary.
    public mutating func update(id: UInt16, position: Vec3) {
        if !usesBuckets { convertToBuckets() }
        let slot = Int(id)
        if slot >= cellOf.count { grow(to: Swift.max(slot + 1, cellOf.count * 2)) }
        let newCell = Int32(cell(of: position))
        positions[slot] = position
        let oldCell = cellOf[slot]
        if oldCell == newCell { return }
        if oldCell >= 0 {
            detach(slot: slot, from: Int(oldCell))
        } else {
            count += 1
        }
        indexInBucket[slot] = Int32(buckets[Int(newCell)].count)
        buckets[Int(newCell)].append(id)
        cellOf[slot] = newCell
    }

    /// Takes `id` out of the grid (nothing happens when it is not there).
    public mutating func remove(id: UInt16) {
        let slot = Int(id)
        guard slot < cellOf.count, cellOf[slot] >= 0 else { return }
        if !usesBuckets { convertToBuckets() }
        detach(slot: slot, from: Int(cellOf[slot]))
        cellOf[slot] = -1
        count -= 1
    }

    /// Removes every id (keeps the storage for reuse).
    public mutating func removeAll() {
        for c in buckets.indices where !buckets[c].isEmpty { buckets[c].removeAll(keepingCapacity: true) }
        for i in cellOf.indices { cellOf[i] = -1 }
        items.removeAll(keepingCapacity: true)
        for i in cellStart.indices { cellStart[i] = 0 }
        usesBuckets = true
        count = 0
    }

    /// Swap-removes the id at `slot` from bucket `cell`.
    private mutating func detach(slot: Int, from cell: Int) {
        let index = Int(indexInBucket[slot])
        let lastIndex = buckets[cell].count - 1
        if index != lastIndex {
            let moved = buckets[cell][lastIndex]
            buckets[cell][index] = moved
            indexInBucket[Int(moved)] = Int32(index)
        }
        buckets[cell].removeLast()
        indexInBucket[slot] = -1
    }

    /// Refills the buckets from the per-id cells after a rebuild.
    private mutating func convertToBuckets() {
        for c in buckets.indices where !buckets[c].isEmpty { buckets[c].removeAll(keepingCapacity: true) }
        for c in 0..<(columns * rows) {
            for i in Int(cellStart[c])..<Int(cellStart[c + 1]) {
                let id = items[i]
                indexInBucket[Int(id)] = Int32(buckets[c].count)
                buckets[c].append(id)
            }
        }
        usesBuckets = true
    }

    // MARK: - Rebuild

    /// Replaces the grid's contents with `avatars` (a later entry for the same id wins).
    /// A counting sort by cell: two passes over the avatars, one over the cells.
    public mutating func rebuild(from avatars: [(UInt16, Vec3)]) {
        var maxSlot = -1
        for (id, _) in avatars where Int(id) > maxSlot { maxSlot = Int(id) }
        if maxSlot >= cellOf.count { grow(to: maxSlot + 1) }
        if usesBuckets {
            // Forget the incremental storage: ids not in `avatars` leave.
            for c in buckets.indices where !buckets[c].isEmpty { buckets[c].removeAll(keepingCapacity: true) }
        }
        for i in items.indices { cellOf[Int(items[i])] = -1 }
        if usesBuckets {
            for i in cellOf.indices { cellOf[i] = -1 }
        }
        usesBuckets = false
        let cells = columns * rows
        cellStart.withUnsafeMutableBufferPointer { start in
            for c in 0...cells { start[c] = 0 }
        }
        // Pass 1: cell of every id (a repeated id is counted once, at its last position).
        var unique = 0
        for (id, position) in avatars {
            let slot = Int(id)
            let c = Int32(cell(of: position))
            if cellOf[slot] >= 0 {
                cellStart[Int(cellOf[slot]) + 1] -= 1
            } else {
                unique += 1
            }
            cellOf[slot] = c
            positions[slot] = position
            cellStart[Int(c) + 1] += 1
        }
        for c in 0..<cells { cellStart[c + 1] += cellStart[c] }
        // Pass 2: place each id once (`indexInBucket` doubles as the placed marker).
        if items.count != unique {
            items.removeAll(keepingCapacity: true)
            items.append(contentsOf: repeatElement(0, count: unique))
        }
        var cursor = cursorBuffer
        cursorBuffer = []
        cursor.removeAll(keepingCapacity: true)
        cursor.append(contentsOf: cellStart)
        defer { cursorBuffer = cursor }
        for (id, _) in avatars {
            let slot = Int(id)
            let c = Int(cellOf[slot])
            if indexInBucket[slot] == -2 { continue }
            indexInBucket[slot] = -2
            items[Int(cursor[c])] = id
            cursor[c] += 1
        }
        for i in items.indices { indexInBucket[Int(items[i])] = -1 }
        count = unique
    }

    // MARK: - One tick

    /// Brings the grid up to date with this tick's avatars, by `strategy`: incremental updates (and
    /// removal of ids not listed), or a rebuild.
    public mutating func sync(_ avatars: [(UInt16, Vec3)]) {
        switch strategy {
        case .rebuildPerTick:
            rebuild(from: avatars)
        case .incremental:
            stamp &+= 1
            if stamp == 0 {
                for i in seenStamp.indices { seenStamp[i] = 0 }
                stamp = 1
            }
            var seen = 0
            for (id, position) in avatars {
                update(id: id, position: position)
                if seenStamp[Int(id)] != stamp {
                    seenStamp[Int(id)] = stamp
                    seen += 1
                }
            }
            if count != seen {
                for slot in cellOf.indices where cellOf[slot] >= 0 && seenStamp[slot] != stamp {
                    remove(id: UInt16(slot))
                }
            }
        }
    }

    // MARK: - Queries

    /// Calls `body` with every id in the cells that overlap the circle of `radius` around `point`
    /// (x–z). A superset of the ids within `radius`: the caller checks distances. Each id once,
    /// in no particular order (but the same order for the same grid contents).
    @inlinable
    public func forEachCandidate(near point: Vec3, radius: Float, _ body: (UInt16) -> Void) {
        forEachCandidateWithPosition(near: point, radius: radius) { id, _ in body(id) }
    }

    /// As `forEachCandidate(near:radius:_:)`, also passing the position the grid holds for the id,
    /// so far candidates can be rejected without looking anything else up.
    @inlinable
    public func forEachCandidateWithPosition(near point: Vec3, radius: Float, _ body: (UInt16, Vec3) -> Void) {
        guard radius >= 0, count > 0 else { return }
        let x0 = column(point.x - radius)
        let x1 = column(point.x + radius)
        let z0 = row(point.z - radius)
        let z1 = row(point.z + radius)
        let r2 = radius * radius
        positions.withUnsafeBufferPointer { pos in
            for rz in z0...z1 {
                // Distance along z from the point to this row of cells (edge rows reach to infinity).
                let lowZ = rz == 0 ? -Float.infinity : originZ + Float(rz) * cellSize
                let highZ = rz == rows - 1 ? Float.infinity : originZ + Float(rz + 1) * cellSize
                let dz = point.z < lowZ ? lowZ - point.z : (point.z > highZ ? point.z - highZ : 0)
                for cx in x0...x1 {
                    let lowX = cx == 0 ? -Float.infinity : originX + Float(cx) * cellSize
                    let highX = cx == columns - 1 ? Float.infinity : originX + Float(cx + 1) * cellSize
                    let dx = point.x < lowX ? lowX - point.x : (point.x > highX ? point.x - highX : 0)
                    if dx * dx + dz * dz > r2 { continue }
                    let c = rz * columns + cx
                    if usesBuckets {
                        buckets[c].withUnsafeBufferPointer { ids in
                            for id in ids { body(id, pos[Int(id)]) }
                        }
                    } else {
                        items.withUnsafeBufferPointer { ids in
                            for i in Int(cellStart[c])..<Int(cellStart[c + 1]) {
                                let id = ids[i]
                                body(id, pos[Int(id)])
                            }
                        }
                    }
                }
            }
        }
    }

    /// Every id in the grid (for tests and diagnostics), ascending.
    public var allIds: [UInt16] {
        cellOf.indices.filter { cellOf[$0] >= 0 }.map { UInt16($0) }
    }
}
