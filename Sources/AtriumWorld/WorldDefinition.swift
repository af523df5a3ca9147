import AtriumWire

/// Where a newly joined avatar may appear.
public struct SpawnPoint: Sendable, Equatable {
    public var position: Vec3
    /// Facing about the vertical axis in radians, as `Quat.yaw` takes it: 0 faces north (−z, the
    /// OpenXR forward direction), positive turns counter-clockwise seen from above (towards west).
    public var yaw: Float
    /// The zone this spawn point belongs to, if any.
    public var zoneId: String?

    public init(position: Vec3, yaw: Float = 0, zoneId: String? = nil) {
        self.position = position
        self.yaw = yaw
        self.zoneId = zoneId
    }
}

/// A validated world: its extent, simulation settings, roles, spawn points and zones.
/// Build one with `WorldLoader`, which checks every rule documented in docs/WORLDS.md;
/// the memberwise initialiser here does not validate.
public struct WorldDefinition: Sendable, Equatable {
    public let id: String
    public let name: String
    public let description: String?
    public let bounds: WorldBounds
    /// Simulation and snapshot rate in Hz.
    public let tickRate: Int
    /// Distance in metres within which avatars are relevant to each other.
    public let interestRadius: Float
    /// Most avatars in one instance of this world.
    public let capacity: Int
    public let allowedRoles: [Role]
    public let defaultRole: Role
    public let spawnPoints: [SpawnPoint]
    /// Zones in file order.
    public let zones: [Zone]

    /// Indices into `zones`, smallest volume first (file order among equal volumes).
    private let innermostFirst: [Int]

    public init(
        id: String, name: String, description: String? = nil, bounds: WorldBounds, tickRate: Int = 30,
        interestRadius: Float, capacity: Int, allowedRoles: [Role], defaultRole: Role,
        spawnPoints: [SpawnPoint], zones: [Zone]
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.bounds = bounds
        self.tickRate = tickRate
        self.interestRadius = interestRadius
        self.capacity = capacity
        self.allowedRoles = allowedRoles
        self.defaultRole = defaultRole
        self.spawnPoints = spawnPoints
        self.zones = zones
        self.innermostFirst = zones.indices.sorted { a, b in
            let va = zones[a].volume
            let vb = zones[b].volume
            return va != vb ? va < vb : a < b
        }
    }

    public func zone(id: String) -> Zone? {
        zones.first { $0.id == id }
    }

    /// Every zone containing `p`, innermost (smallest volume) first.
    public func zones(containing p: Vec3) -> [Zone] {
        innermostFirst.compactMap { zones[$0].contains(p) ? zones[$0] : nil }
    }

    /// The innermost zone containing `p` that isolates sight (`visual` true) or sound (`visual` false),
    /// or nil when `p` is not inside any such zone.
    public func isolatingZone(containing p: Vec3, visual: Bool) -> Zone? {
        for index in innermostFirst where zones[index].isolates(visual: visual) && zones[index].contains(p) {
            return zones[index]
        }
        return nil
    }

    /// The innermost zone containing `p` whose `broadcast` is not `none`.
    public func broadcastZone(containing p: Vec3) -> Zone? {
        for index in innermostFirst where zones[index].broadcast != .none && zones[index].contains(p) {
            return zones[index]
        }
        return nil
    }

    /// True when `role` may be taken in this world.
    public func allows(_ role: Role) -> Bool { allowedRoles.contains(role) }
}
