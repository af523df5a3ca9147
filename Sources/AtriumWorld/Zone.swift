import AtriumWire

/// What a zone is for. The raw value is the spelling used in world files.
public enum ZoneKind: String, CaseIterable, Sendable {
    case entrance
    case hall
    case booth
    case stage
    case podium
    case seating
    case broadcastRoom = "broadcast_room"
    case exhibition
    case teacher
    case seat
    case breakout
    case lobby
    case corridor
}

/// Who hears and sees a broadcast role (presenter, teacher, village head, …) standing in a zone.
public enum BroadcastReach: String, CaseIterable, Sendable {
    /// No broadcast: the normal interest radius applies.
    case none
    /// Every avatar inside the same zone.
    case zone
    /// Every avatar in the world instance.
    case world
}

/// Whether a zone hides what happens inside it from avatars outside (and the other way round).
public struct ZoneIsolation: Sendable, Equatable {
    /// Avatars outside do not see avatars inside, and vice versa.
    public var visual: Bool
    /// Avatars outside do not hear avatars inside, and vice versa.
    public var acoustic: Bool

    public init(visual: Bool = false, acoustic: Bool = false) {
        self.visual = visual
        self.acoustic = acoustic
    }

    public static let open = ZoneIsolation()
}

/// The volume a zone occupies. Containment is inclusive of the surface.
public enum ZoneShape: Sendable, Equatable {
    /// An axis-aligned box.
    case box(min: Vec3, max: Vec3)
    /// An upright cylinder; `center` is the centre of its base, it extends `height` upwards.
    case cylinder(center: Vec3, radius: Float, height: Float)

    public func contains(_ p: Vec3) -> Bool {
        switch self {
        case .box(let lo, let hi):
            return p.x >= lo.x && p.x <= hi.x && p.y >= lo.y && p.y <= hi.y && p.z >= lo.z && p.z <= hi.z
        case .cylinder(let c, let r, let h):
            guard p.y >= c.y && p.y <= c.y + h else { return false }
            let dx = p.x - c.x
            let dz = p.z - c.z
            return dx * dx + dz * dz <= r * r
        }
    }

    /// The smallest axis-aligned box around the shape.
    public var boundingBox: WorldBounds {
        switch self {
        case .box(let lo, let hi):
            return WorldBounds(min: lo, max: hi)
        case .cylinder(let c, let r, let h):
            return WorldBounds(min: Vec3(c.x - r, c.y, c.z - r), max: Vec3(c.x + r, c.y + h, c.z + r))
        }
    }

    public var volume: Float {
        switch self {
        case .box(let lo, let hi):
            return (hi.x - lo.x) * (hi.y - lo.y) * (hi.z - lo.z)
        case .cylinder(_, let r, let h):
            return Float.pi * r * r * h
        }
    }

    /// True when `other` lies entirely inside this shape (touching the surface counts as inside).
    public func encloses(_ other: ZoneShape) -> Bool {
        switch (self, other) {
        case (.box, _):
            // A box holds a convex shape exactly when it holds the shape's bounding box.
            let b = other.boundingBox
            return contains(b.min) && contains(b.max)
        case (.cylinder(let c, _, let h), .box(let lo, let hi)):
            // A cylinder holds a box when it holds the box's four vertical edges.
            guard lo.y >= c.y && hi.y <= c.y + h else { return false }
            return [Vec3(lo.x, c.y, lo.z), Vec3(lo.x, c.y, hi.z), Vec3(hi.x, c.y, lo.z), Vec3(hi.x, c.y, hi.z)]
                .allSatisfy(contains)
        case (.cylinder(let c, let r, let h), .cylinder(let c2, let r2, let h2)):
            guard c2.y >= c.y && c2.y + h2 <= c.y + h else { return false }
            let dx = c2.x - c.x
            let dz = c2.z - c.z
            return (dx * dx + dz * dz).squareRoot() + r2 <= r
        }
    }
}

/// A named region of a world with its own rules for visibility, hearing and capacity.
public struct Zone: Sendable, Equatable {
    public var id: String
    public var name: String
    public var kind: ZoneKind
    public var shape: ZoneShape
    public var isolation: ZoneIsolation
    /// Most avatars allowed inside at once; `nil` means only the world's capacity applies.
    public var capacity: Int?
    public var broadcast: BroadcastReach
    /// Avatars inside this zone always receive avatars of these roles, whatever the distance.
    public var rolesAlwaysRelevant: [Role]

    public init(
        id: String, name: String, kind: ZoneKind, shape: ZoneShape, isolation: ZoneIsolation = .open,
        capacity: Int? = nil, broadcast: BroadcastReach = .none, rolesAlwaysRelevant: [Role] = []
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.shape = shape
        self.isolation = isolation
        self.capacity = capacity
        self.broadcast = broadcast
        self.rolesAlwaysRelevant = rolesAlwaysRelevant
    }

    public func contains(_ p: Vec3) -> Bool { shape.contains(p) }

    public var volume: Float { shape.volume }

    /// True when the zone isolates in the asked sense (`visual` true: sight, false: sound).
    public func isolates(visual: Bool) -> Bool { visual ? isolation.visual : isolation.acoustic }
}
