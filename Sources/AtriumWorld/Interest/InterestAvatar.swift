import AtriumWire

/// Where an avatar stands as far as interest is concerned, computed once per tick by
/// `InterestContext.zoneContext(position:role:)`. Zones are named by their index in
/// `WorldDefinition.zones` (cheap to compare); `InterestContext.zoneId(_:)` gives the id.
public struct InterestZoneContext: Sendable, Equatable {
    /// Index of the innermost visually isolating zone around the avatar, −1 for none.
    @usableFromInline var visualIndex: Int16
    /// Index of the innermost zone with `broadcast` ≠ `none` around the avatar, −1 for none.
    @usableFromInline var broadcastIndex: Int16
    /// The zone at `broadcastIndex` has `broadcast: world`.
    public var broadcastWorld: Bool
    /// The avatar reaches every recipient its broadcast covers, however far: its role is in its
    /// broadcast zone's `roles_always_relevant`, or it is a broadcast role in a `broadcast: world` zone.
    public var alwaysRelevant: Bool
    /// One bit per `broadcast: zone` zone around the avatar (nested ones too), numbered by
    /// `InterestContext`; lets "is the recipient inside the broadcaster's zone" be one AND.
    @usableFromInline var broadcastMembership: UInt64
    /// The bit of the avatar's own broadcast zone in `broadcastMembership`, 0 when it has none
    /// (then zones are compared by index).
    @usableFromInline var broadcastBit: UInt64
    /// Index of the innermost acoustically isolating zone around the avatar, −1 for none (voice routing).
    @usableFromInline var acousticIndex: Int16

    /// A context for synthetic avatars (tests, tools). Zone indices are into `WorldDefinition.zones`.
    public init(
        visualZone: Int? = nil, broadcastZone: Int? = nil, broadcastWorld: Bool = false, alwaysRelevant: Bool = false,
        acousticZone: Int? = nil
    ) {
        self.acousticIndex = Int16(clamping: acousticZone ?? -1)
        self.visualIndex = Int16(clamping: visualZone ?? -1)
        self.broadcastIndex = Int16(clamping: broadcastZone ?? -1)
        self.broadcastWorld = broadcastWorld
        self.alwaysRelevant = alwaysRelevant
        self.broadcastMembership = 0
        self.broadcastBit = 0
    }

    /// Outside every isolating and broadcast zone.
    public static let open = InterestZoneContext()

    /// Index in `WorldDefinition.zones` of the innermost visually isolating zone, or nil.
    public var visualZone: Int? { visualIndex < 0 ? nil : Int(visualIndex) }
    /// Index in `WorldDefinition.zones` of the innermost acoustically isolating zone, or nil.
    public var acousticZone: Int? { acousticIndex < 0 ? nil : Int(acousticIndex) }
    /// Index in `WorldDefinition.zones` of the innermost zone whose broadcast is not `none`, or nil.
    public var broadcastZone: Int? { broadcastIndex < 0 ? nil : Int(broadcastIndex) }

    /// True when the two sides may see each other: both outside any visually isolating zone, or
    /// both inside the same innermost one.
    @inlinable
    public func sharesSight(with other: InterestZoneContext) -> Bool { visualIndex == other.visualIndex }

    /// True when the two sides may hear each other: both outside any acoustically isolating zone, or
    /// both inside the same innermost one.
    @inlinable
    public func sharesHearing(with other: InterestZoneContext) -> Bool { acousticIndex == other.acousticIndex }

    /// True when a `broadcast: zone` broadcaster with context `broadcaster` reaches an avatar with
    /// this context: this avatar stands inside the broadcaster's broadcast zone.
    @inlinable
    public func isInside(broadcastZoneOf broadcaster: InterestZoneContext) -> Bool {
        if broadcaster.broadcastBit != 0 { return broadcastMembership & broadcaster.broadcastBit != 0 }
        return broadcaster.broadcastIndex >= 0 && broadcastIndex == broadcaster.broadcastIndex
    }
}

/// One avatar as interest management sees it this tick.
public struct InterestAvatar: Sendable, Equatable {
    public var id: UInt16
    /// Head position.
    public var position: Vec3
    /// Unit viewing direction: −z rotated by the head rotation.
    public var forward: Vec3
    public var role: Role
    /// Spoke within the last moment (the server decides how long).
    public var speakingRecently: Bool
    public var zoneContext: InterestZoneContext

    public init(
        id: UInt16, position: Vec3, forward: Vec3, role: Role, speakingRecently: Bool = false,
        zoneContext: InterestZoneContext = .open
    ) {
        self.id = id
        self.position = position
        self.forward = forward
        self.role = role
        self.speakingRecently = speakingRecently
        self.zoneContext = zoneContext
    }

    /// With `forward` taken from the head rotation.
    public init(
        id: UInt16, position: Vec3, rotation: Quat, role: Role, speakingRecently: Bool = false,
        zoneContext: InterestZoneContext = .open
    ) {
        self.init(
            id: id, position: position, forward: Self.forward(from: rotation), role: role,
            speakingRecently: speakingRecently, zoneContext: zoneContext)
    }

    /// −z (the OpenXR forward direction) rotated by `rotation`, normalised; −z for a degenerate rotation.
    public static func forward(from rotation: Quat) -> Vec3 {
        let f = rotation.normalized.rotate(Vec3(0, 0, -1))
        let length = f.length
        guard length > 0, length.isFinite else { return Vec3(0, 0, -1) }
        return f * (1 / length)
    }
}

/// The static part of interest management for one world: which zones isolate sight and which
/// broadcast, prepared once so classifying an avatar each tick costs a few comparisons.
public struct InterestContext: Sendable {
    public let world: WorldDefinition
    /// Roles that count as broadcast roles in a `broadcast: world` zone (see `zoneContext`).
    public let broadcastRoles: [Role]

    /// A zone prepared for containment tests.
    struct Entry: Sendable {
        var index: Int16
        var shape: ZoneShape
        var reach: BroadcastReach
        /// Bit per `Role.rawValue` of `roles_always_relevant`.
        var alwaysRelevantRoles: UInt16
        /// This zone's bit in `broadcastMembership` (only `broadcast: zone` zones, the first 64).
        var bit: UInt64
    }

    /// Visually isolating zones, innermost first.
    let visual: [Entry]
    /// Acoustically isolating zones, innermost first (voice routing).
    let acoustic: [Entry]
    /// Zones with `broadcast` ≠ `none`, innermost first.
    let broadcasting: [Entry]
    let broadcastRoleMask: UInt16

    // A coarse x–z lookup: per cell, the entries whose bounding box overlaps it (innermost first).
    let lookupColumns: Int
    let lookupRows: Int
    let lookupOriginX: Float
    let lookupOriginZ: Float
    let lookupInverseCell: Float
    let visualStart: [Int32]
    let visualItems: [Int16]
    let acousticStart: [Int32]
    let acousticItems: [Int16]
    let broadcastStart: [Int32]
    let broadcastItems: [Int16]

    /// Broadcast roles as docs/WORLDS.md names them: presenter, teacher, village head, moderator.
    public static let defaultBroadcastRoles: [Role] = [.presenter, .teacher, .villageHead, .moderator]

    /// Prepares `world`. `broadcastRoles` are the roles that reach the whole world from a
    /// `broadcast: world` zone (pass `Role.allCases` to make anyone standing there reach it).
    public init(world: WorldDefinition, broadcastRoles: [Role] = InterestContext.defaultBroadcastRoles) {
        self.world = world
        self.broadcastRoles = broadcastRoles
        var mask: UInt16 = 0
        for role in broadcastRoles { mask |= 1 << UInt16(role.rawValue) }
        self.broadcastRoleMask = mask

        // Innermost first: smallest volume first, file order among equal volumes (as WorldDefinition).
        let zones = world.zones
        let order = zones.indices.sorted { a, b in
            let va = zones[a].volume
            let vb = zones[b].volume
            return va != vb ? va < vb : a < b
        }
        var nextBit = 0
        func entry(_ i: Int) -> Entry {
            var roles: UInt16 = 0
            for role in zones[i].rolesAlwaysRelevant { roles |= 1 << UInt16(role.rawValue) }
            var bit: UInt64 = 0
            if zones[i].broadcast == .zone && nextBit < 64 {
                bit = 1 << UInt64(nextBit)
                nextBit += 1
            }
            return Entry(
                index: Int16(clamping: i), shape: zones[i].shape, reach: zones[i].broadcast,
                alwaysRelevantRoles: roles, bit: bit)
        }
        var broadcasting: [Entry] = []
        for i in order where zones[i].broadcast != .none { broadcasting.append(entry(i)) }
        var visual: [Entry] = []
        for i in order where zones[i].isolation.visual { visual.append(entry(i)) }
        self.visual = visual
        self.broadcasting = broadcasting
        var acoustic: [Entry] = []
        for i in order where zones[i].isolation.acoustic {
            // Only containment is asked of these (no broadcast bit).
            acoustic.append(Entry(index: Int16(clamping: i), shape: zones[i].shape, reach: .none, alwaysRelevantRoles: 0, bit: 0))
        }
        self.acoustic = acoustic

        // Lookup grid: up to 32 × 32 cells over the world's x–z extent.
        let b = world.bounds
        let extent = Swift.max(b.max.x - b.min.x, b.max.z - b.min.z, 1e-3)
        let cell = extent / 32
        let columns = Swift.max(1, Swift.min(32, Int(((b.max.x - b.min.x) / cell).rounded(.up))))
        let rows = Swift.max(1, Swift.min(32, Int(((b.max.z - b.min.z) / cell).rounded(.up))))
        self.lookupColumns = columns
        self.lookupRows = rows
        self.lookupOriginX = b.min.x
        self.lookupOriginZ = b.min.z
        self.lookupInverseCell = 1 / cell
        func build(_ entries: [Entry]) -> (start: [Int32], items: [Int16]) {
            var start: [Int32] = [0]
            var items: [Int16] = []
            for r in 0..<rows {
                for c in 0..<columns {
                    // Cells on the edge reach outwards without limit (positions are clamped into them).
                    let x0 = c == 0 ? -Float.infinity : b.min.x + Float(c) * cell
                    let x1 = c == columns - 1 ? Float.infinity : b.min.x + Float(c + 1) * cell
                    let z0 = r == 0 ? -Float.infinity : b.min.z + Float(r) * cell
                    let z1 = r == rows - 1 ? Float.infinity : b.min.z + Float(r + 1) * cell
                    for (k, e) in entries.enumerated() {
                        let box = e.shape.boundingBox
                        if box.min.x <= x1 && box.max.x >= x0 && box.min.z <= z1 && box.max.z >= z0 {
                            items.append(Int16(k))
                        }
                    }
                    start.append(Int32(items.count))
                }
            }
            return (start, items)
        }
        (self.visualStart, self.visualItems) = build(visual)
        (self.acousticStart, self.acousticItems) = build(acoustic)
        (self.broadcastStart, self.broadcastItems) = build(broadcasting)
    }

    @inline(__always)
    func lookupCell(_ p: Vec3) -> Int {
        let c = SpatialGrid.clampedIndex((p.x - lookupOriginX) * lookupInverseCell, lookupColumns)
        let r = SpatialGrid.clampedIndex((p.z - lookupOriginZ) * lookupInverseCell, lookupRows)
        return r * lookupColumns + c
    }

    /// The interest-relevant zones around an avatar of `role` with its head at `position`.
    public func zoneContext(position p: Vec3, role: Role) -> InterestZoneContext {
        var context = InterestZoneContext()
        let cell = lookupCell(p)
        for k in Int(visualStart[cell])..<Int(visualStart[cell + 1]) {
            let e = visual[Int(visualItems[k])]
            if e.shape.contains(p) {
                context.visualIndex = e.index
                break
            }
        }
        for k in Int(acousticStart[cell])..<Int(acousticStart[cell + 1]) {
            let e = acoustic[Int(acousticItems[k])]
            if e.shape.contains(p) {
                context.acousticIndex = e.index
                break
            }
        }
        var found = false
        for k in Int(broadcastStart[cell])..<Int(broadcastStart[cell + 1]) {
            let e = broadcasting[Int(broadcastItems[k])]
            guard e.shape.contains(p) else { continue }
            context.broadcastMembership |= e.bit
            if found { continue }
            found = true
            context.broadcastIndex = e.index
            context.broadcastBit = e.bit
            context.broadcastWorld = e.reach == .world
            let roleBit: UInt16 = 1 << UInt16(role.rawValue)
            context.alwaysRelevant =
                e.alwaysRelevantRoles & roleBit != 0 || (e.reach == .world && broadcastRoleMask & roleBit != 0)
        }
        return context
    }

    /// `zoneContext(position:role:)` with zones named by id.
    public func classify(position: Vec3, role: Role) -> (
        visualZone: String?, broadcastZone: String?, broadcastWorld: Bool, alwaysRelevant: Bool
    ) {
        let c = zoneContext(position: position, role: role)
        return (zoneId(c.visualZone), zoneId(c.broadcastZone), c.broadcastWorld, c.alwaysRelevant)
    }

    /// The id of the zone at `index` in `world.zones`.
    public func zoneId(_ index: Int?) -> String? {
        guard let index, world.zones.indices.contains(index) else { return nil }
        return world.zones[index].id
    }

    /// The index in `world.zones` of the zone with `id`.
    public func zoneIndex(id: String) -> Int? {
        world.zones.firstIndex { $0.id == id }
    }

    /// An `InterestAvatar` with its zone context for this world.
    public func avatar(
        id: UInt16, position: Vec3, rotation: Quat, role: Role, speakingRecently: Bool = false
    ) -> InterestAvatar {
        InterestAvatar(
            id: id, position: position, rotation: rotation, role: role, speakingRecently: speakingRecently,
            zoneContext: zoneContext(position: position, role: role))
    }
}

/// This tick's avatars in a flat table indexed by avatar id, with the ids of the always-relevant
/// ones collected as they are inserted. Fill it once per tick, then hand it to every recipient's
/// `RelevanceSet` and `PriorityScheduler` (or `subscript` as `{ table[$0] }` where a closure is asked).
///
/// One tick of interest work, on the worker thread:
///
///     table.removeAll()
///     for each avatar: table.insert(context.avatar(id:position:rotation:role:speakingRecently:))
///                      grid.update(id:position:)            // grid.remove(id:) when one leaves
///     let table = self.table, grid = self.grid              // locals: passed on by borrowing
///     for each recipient me:
///         let r = relevance[me].update(recipient:grid:table:enterRadius:leaveMargin:)
///         schedulers[me].accumulate(recipient:relevant: r.relevant, table:radius:)
///         for ids in r.relevant with nothing new: schedulers[me].markFresh(id)
///         let pick = schedulers[me].select(candidates:cost:budgetBits:maxAvatars:scratch: &shared)
///
/// (`Tests/AtriumWorldTests/InterestTickHarness.swift` does exactly this.)
///
/// Besides the avatars themselves it keeps what the per-recipient passes read for every pair in
/// small parallel arrays (position, sight, flags), so those loops touch little memory.
public struct InterestAvatarTable: Sendable {
    @usableFromInline var slots: [InterestAvatar] = []
    /// Per slot: bit 0 present, bit 1 speaking recently, bit 2 always relevant.
    @usableFromInline var flags: [UInt8] = []
    /// Per slot: innermost visually isolating zone index, −1 for none.
    var sight: [Int16] = []
    /// Per slot: head position, x y z.
    var xyz: [Float] = []
    /// Ids in the table, in insertion order.
    public private(set) var ids: [UInt16] = []
    /// Ids whose zone context says always relevant, in insertion order.
    public private(set) var alwaysRelevant: [UInt16] = []

    static let presentFlag: UInt8 = 1
    static let speakingFlag: UInt8 = 2
    static let alwaysRelevantFlag: UInt8 = 4

    public init(capacity: Int = 0) {
        if capacity > 0 { grow(to: capacity) }
        ids.reserveCapacity(capacity)
    }

    public var count: Int { ids.count }

    mutating func grow(to n: Int) {
        guard n > slots.count else { return }
        let placeholder = InterestAvatar(id: 0, position: .zero, forward: Vec3(0, 0, -1), role: .visitor)
        let extra = n - slots.count
        slots.append(contentsOf: repeatElement(placeholder, count: extra))
        flags.append(contentsOf: repeatElement(0, count: extra))
        sight.append(contentsOf: repeatElement(-1, count: extra))
        xyz.append(contentsOf: repeatElement(0, count: 3 * extra))
    }

    /// Empties the table, keeping its storage.
    public mutating func removeAll() {
        for id in ids { flags[Int(id)] = 0 }
        ids.removeAll(keepingCapacity: true)
        alwaysRelevant.removeAll(keepingCapacity: true)
    }

    /// Adds `avatar`, replacing an earlier entry with the same id.
    public mutating func insert(_ avatar: InterestAvatar) {
        let slot = Int(avatar.id)
        if slot >= slots.count { grow(to: Swift.max(slot + 1, slots.count * 2)) }
        if flags[slot] & Self.presentFlag != 0 {
            if slots[slot].zoneContext.alwaysRelevant, let k = alwaysRelevant.firstIndex(of: avatar.id) {
                alwaysRelevant.remove(at: k)
            }
        } else {
            ids.append(avatar.id)
        }
        slots[slot] = avatar
        let c = avatar.zoneContext
        flags[slot] = Self.presentFlag | (avatar.speakingRecently ? Self.speakingFlag : 0)
            | (c.alwaysRelevant ? Self.alwaysRelevantFlag : 0)
        sight[slot] = c.visualIndex
        xyz[3 * slot] = avatar.position.x
        xyz[3 * slot + 1] = avatar.position.y
        xyz[3 * slot + 2] = avatar.position.z
        if c.alwaysRelevant { alwaysRelevant.append(avatar.id) }
    }

    @inlinable
    public subscript(id: UInt16) -> InterestAvatar? {
        let slot = Int(id)
        return slot < flags.count && flags[slot] & 1 != 0 ? slots[slot] : nil
    }
}

/// Where the per-recipient passes look avatars up: a closure, or the table directly (inlined).
protocol InterestAvatarLookup {
    func avatar(_ id: UInt16) -> InterestAvatar?
    /// The avatar's innermost visually isolating zone index (−1 for none), nil when absent.
    func visualIndex(of id: UInt16) -> Int16?
    func zoneContext(of id: UInt16) -> InterestZoneContext?
}

struct ClosureAvatarLookup: InterestAvatarLookup {
    let body: (UInt16) -> InterestAvatar?
    @inline(__always) func avatar(_ id: UInt16) -> InterestAvatar? { body(id) }
    @inline(__always) func visualIndex(of id: UInt16) -> Int16? { body(id)?.zoneContext.visualIndex }
    @inline(__always) func zoneContext(of id: UInt16) -> InterestZoneContext? { body(id)?.zoneContext }
}

extension InterestAvatarTable: InterestAvatarLookup {
    @inline(__always) func avatar(_ id: UInt16) -> InterestAvatar? { self[id] }
    @inline(__always) func visualIndex(of id: UInt16) -> Int16? {
        let slot = Int(id)
        return slot < flags.count && flags[slot] & Self.presentFlag != 0 ? sight[slot] : nil
    }
    @inline(__always) func zoneContext(of id: UInt16) -> InterestZoneContext? {
        let slot = Int(id)
        return slot < flags.count && flags[slot] & Self.presentFlag != 0 ? slots[slot].zoneContext : nil
    }
}
