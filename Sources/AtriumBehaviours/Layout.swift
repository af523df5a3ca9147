import AtriumWire
import AtriumWorld

/// What a bot needs to know about the world's extent.
struct WorldLayout: Sendable {
    let bounds: WorldBounds
    /// Floor height (absolute y): the lowest spawn point, or the bottom of the bounds.
    let floor: Float
    /// Where heads may go: the bounds less 0.5 m from every wall (an axis narrower than 1 m: its middle).
    let safe: Rect
    /// Highest eye height above the floor the room allows.
    let headroom: Float
    /// Where people come in: the mean of the spawn points (the centre of the bounds if there are none).
    let arrival: P2

    /// Distance kept from walls when choosing where to go.
    static let wallMargin: Float = 0.5

    init(_ world: WorldDefinition) {
        bounds = world.bounds
        let lowestSpawn = world.spawnPoints.map(\.position.y).min() ?? world.bounds.min.y
        floor = clamp(lowestSpawn, world.bounds.min.y, world.bounds.max.y)
        let whole = Rect(world.bounds)
        safe = whole.inset(Self.wallMargin)
        headroom = max(0.2, world.bounds.max.y - floor - 0.3)
        if world.spawnPoints.isEmpty {
            arrival = whole.center
        } else {
            let n = Float(world.spawnPoints.count)
            let sx = world.spawnPoints.reduce(Float(0)) { $0 + $1.position.x }
            let sz = world.spawnPoints.reduce(Float(0)) { $0 + $1.position.z }
            arrival = P2(sx / n, sz / n)
        }
    }

    /// `r` trimmed to the safe area; a rectangle wholly outside becomes the nearest safe point.
    func safe(_ r: Rect) -> Rect {
        if let inside = r.intersection(safe) { return inside }
        let p = safe.clamp(r.center)
        return Rect(minX: p.x, maxX: p.x, minZ: p.z, maxZ: p.z)
    }
}

/// A place people face: a platform someone speaks from (stage, podium, teacher's area) and the audience in front
/// of it. Derived from zones; see `Venue.around` and `Venue.forSeating`.
struct Venue: Sendable {
    /// Where speakers stand.
    let platform: Rect
    /// Where the audience sits or stands.
    let audience: Rect
    /// Direction from the audience towards the platform.
    let facing: Side
    /// The spot a single speaker stands on, and what the audience looks at.
    let speakerSpot: P2
    /// Lateral range (across `facing`) speakers may pace in.
    let lane: ClosedRange<Float>
    /// The coordinate along `facing` of the line speakers pace on.
    let speakerLine: Float

    var audienceCenter: P2 { audience.center }

    // Coordinates relative to `facing`: `along` grows towards the platform, `across` is the other axis.
    var forward: P2 { facing.unit }
    var sideways: P2 { P2(abs(forward.z), abs(forward.x)) }
    func along(_ p: P2) -> Float { p.x * forward.x + p.z * forward.z }
    func across(_ p: P2) -> Float { p.x * sideways.x + p.z * sideways.z }
    func point(along a: Float, across c: Float) -> P2 {
        P2(forward.x * a + sideways.x * c, forward.z * a + sideways.z * c)
    }
    func alongRange(_ r: Rect) -> (lo: Float, hi: Float) {
        let a = along(P2(r.minX, r.minZ))
        let b = along(P2(r.maxX, r.maxZ))
        return (min(a, b), max(a, b))
    }
    func acrossRange(_ r: Rect) -> (lo: Float, hi: Float) {
        let a = across(P2(r.minX, r.minZ))
        let b = across(P2(r.maxX, r.maxZ))
        return (min(a, b), max(a, b))
    }

    init(platform: Rect, audience: Rect, facing: Side) {
        self.platform = platform
        self.audience = audience
        self.facing = facing
        let f = facing.unit
        let s = P2(abs(f.z), abs(f.x))
        func along(_ p: P2) -> Float { p.x * f.x + p.z * f.z }
        func across(_ p: P2) -> Float { p.x * s.x + p.z * s.z }
        let pa = (along(P2(platform.minX, platform.minZ)), along(P2(platform.maxX, platform.maxZ)))
        let near = min(pa.0, pa.1)
        let far = max(pa.0, pa.1)
        // A few metres onto the platform from its audience edge, or its middle if it is shallow.
        speakerLine = near + min(3, (far - near) / 2)
        let pc = (across(P2(platform.minX, platform.minZ)), across(P2(platform.maxX, platform.maxZ)))
        let ac = (across(P2(audience.minX, audience.minZ)), across(P2(audience.maxX, audience.maxZ)))
        var lo = max(min(pc.0, pc.1), min(ac.0, ac.1))
        var hi = min(max(pc.0, pc.1), max(ac.0, ac.1))
        if lo > hi {  // platform beside the audience rather than in front of it
            lo = min(pc.0, pc.1)
            hi = max(pc.0, pc.1)
        }
        let mid = (lo + hi) / 2
        lo = min(lo + 1, mid)
        hi = max(hi - 1, mid)
        lane = lo...hi
        speakerSpot = P2(f.x * speakerLine + s.x * mid, f.z * speakerLine + s.z * mid)
    }

    // MARK: Building from zones

    /// The venue of a stage, podium or teacher zone: its audience is the seating (or hall) zone nested in it, and
    /// the platform is the widest part of the zone left in front of that audience. Without a nested audience the
    /// quarter of the zone farthest from where people arrive is the platform and the rest the audience.
    static func around(_ front: Zone, in world: WorldDefinition, layout: WorldLayout) -> Venue {
        let frontRect = Footprint(front).bounds
        let nested = world.zones.filter {
            $0.id != front.id && ($0.kind == .seating || $0.kind == .hall) && front.shape.encloses($0.shape)
        }
        let seating =
            nested.filter { $0.kind == .seating }.max { $0.volume < $1.volume }
            ?? nested.max { $0.volume < $1.volume }
        if let seating {
            let seats = Footprint(seating).bounds
            let gaps: [(Side, Float)] = [
                (.north, seats.minZ - frontRect.minZ), (.south, frontRect.maxZ - seats.maxZ),
                (.west, seats.minX - frontRect.minX), (.east, frontRect.maxX - seats.maxX),
            ]
            let widest = gaps.max { $0.1 < $1.1 }!
            if widest.1 >= 1.5 {
                return Venue(
                    platform: layout.safe(frontRect.strip(widest.0, thickness: widest.1)),
                    audience: layout.safe(seats), facing: widest.0)
            }
            let facing = Side.dominant(frontRect.center - layout.arrival)
            let depth = clamp(frontRect.extent(along: facing) / 4, 2, frontRect.extent(along: facing) / 2)
            return Venue(
                platform: layout.safe(frontRect.strip(facing, thickness: depth)), audience: layout.safe(seats),
                facing: facing)
        }
        return split(frontRect, layout: layout)
    }

    /// A zone with no separate audience: the quarter farthest from the arrival is the platform.
    static func split(_ rect: Rect, layout: WorldLayout) -> Venue {
        let away = rect.center - layout.arrival
        let facing = away.length < 0.01 ? Side.north : Side.dominant(away)
        let extent = rect.extent(along: facing)
        let depth = clamp(extent / 4, min(2, extent / 2), extent / 2)
        return Venue(
            platform: layout.safe(rect.strip(facing, thickness: depth)),
            audience: layout.safe(rect.strip(facing.opposite, thickness: extent - depth)), facing: facing)
    }

    /// The venue a seating zone belongs to: the innermost stage, podium or teacher zone enclosing it, or, when
    /// there is none, the seating itself facing away from where people arrive, with the platform just beyond it.
    static func forSeating(_ seating: Zone, in world: WorldDefinition, layout: WorldLayout) -> Venue {
        let fronts = world.zones.filter {
            ($0.kind == .podium || $0.kind == .teacher || $0.kind == .stage) && $0.shape.encloses(seating.shape)
        }
        if let front = fronts.min(by: { $0.volume < $1.volume }) {
            return around(front, in: world, layout: layout)
        }
        let seats = Footprint(seating).bounds
        let away = seats.center - layout.arrival
        let facing = away.length < 0.01 ? Side.north : Side.dominant(away)
        let beyond: Rect
        switch facing {
        case .north: beyond = Rect(minX: seats.minX, maxX: seats.maxX, minZ: seats.minZ - 3, maxZ: seats.minZ)
        case .south: beyond = Rect(minX: seats.minX, maxX: seats.maxX, minZ: seats.maxZ, maxZ: seats.maxZ + 3)
        case .west: beyond = Rect(minX: seats.minX - 3, maxX: seats.minX, minZ: seats.minZ, maxZ: seats.maxZ)
        case .east: beyond = Rect(minX: seats.maxX, maxX: seats.maxX + 3, minZ: seats.minZ, maxZ: seats.maxZ)
        }
        return Venue(platform: layout.safe(beyond), audience: layout.safe(seats), facing: facing)
    }

    // MARK: Places in the audience

    /// Spots in the audience on a square grid `spacing` apart, `margin` in from the edges: row 0 is nearest the
    /// platform; within a row, spots are numbered from the middle outwards.
    struct Grid: Sendable {
        let venue: Venue
        let spacing: Float
        let rows: Int
        let perRow: Int
        let front: Float
        let lo: Float
        let hi: Float

        init(_ venue: Venue, spacing: Float, margin: Float) {
            self.venue = venue
            self.spacing = spacing
            let a = venue.alongRange(venue.audience)
            let c = venue.acrossRange(venue.audience)
            front = a.hi - margin
            let back = min(a.lo + margin, front)
            rows = max(1, Int(((front - back) / spacing).rounded(.down)) + 1)
            lo = min(c.lo + margin, (c.lo + c.hi) / 2)
            hi = max(c.hi - margin, (c.lo + c.hi) / 2)
            perRow = max(1, Int(((hi - lo) / spacing).rounded(.down)) + 1)
        }

        var count: Int { rows * perRow }

        /// Spot `k` (wraps around when past the last).
        func spot(_ k: Int) -> P2 {
            let k = ((k % count) + count) % count
            let row = k / perRow
            let column = Grid.centreOut(k % perRow, perRow)
            let used = Float(perRow - 1) * spacing
            let start = (lo + hi) / 2 - used / 2
            return venue.point(along: front - Float(row) * spacing, across: start + Float(column) * spacing)
        }

        /// The `k`-th column counting from the middle outwards (middle, right, left, right, …).
        static func centreOut(_ k: Int, _ n: Int) -> Int {
            let mid = (n - 1) / 2
            var order = 0
            var offset = 0
            while true {
                for candidate in offset == 0 ? [mid] : [mid + offset, mid - offset]
                where candidate >= 0 && candidate < n {
                    if order == k { return candidate }
                    order += 1
                }
                offset += 1
                if offset > n { return mid }
            }
        }
    }

    /// Standing places behind the audience, `spacing` apart from the middle outwards, further rows behind.
    func standingBehind(_ k: Int, spacing: Float = 0.8) -> P2 {
        let a = alongRange(audience)
        let c = acrossRange(audience)
        let perRow = max(1, Int(((c.hi - c.lo - 1) / spacing).rounded(.down)) + 1)
        let row = k / perRow
        let column = Grid.centreOut(k % perRow, perRow)
        let start = (c.lo + c.hi) / 2 - Float(perRow - 1) * spacing / 2
        return point(along: a.lo - 0.6 - Float(row) * spacing, across: start + Float(column) * spacing)
    }
}

/// Spreads `index` over 0..<`slots` so that distinct indices (mod `slots`) get distinct slots: an affine
/// permutation whose multiplier is coprime to `slots` and near the golden section of it (neighbouring indices
/// land far apart), offset by `salt`.
func scatter(_ index: Int, slots: Int, salt: UInt64) -> Int {
    guard slots > 1 else { return 0 }
    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
    var multiplier = max(1, Int((Double(slots) * 0.618_034).rounded()))
    while gcd(multiplier, slots) != 1 { multiplier += 1 }
    let offset = Int(salt % UInt64(slots))
    let i = ((index % slots) + slots) % slots
    return (i * multiplier % slots + offset) % slots
}
