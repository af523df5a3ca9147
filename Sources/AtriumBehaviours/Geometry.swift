import AtriumWire
import AtriumWorld

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point on the floor plan (x east, z south), metres.
struct P2: Equatable, Sendable {
    var x: Float
    var z: Float

    init(_ x: Float, _ z: Float) {
        self.x = x
        self.z = z
    }

    init(_ v: Vec3) { self.init(v.x, v.z) }

    static func + (a: P2, b: P2) -> P2 { P2(a.x + b.x, a.z + b.z) }
    static func - (a: P2, b: P2) -> P2 { P2(a.x - b.x, a.z - b.z) }
    static func * (a: P2, s: Float) -> P2 { P2(a.x * s, a.z * s) }
    var length: Float { (x * x + z * z).squareRoot() }
    static func distance(_ a: P2, _ b: P2) -> Float { (a - b).length }
    func at(y: Float) -> Vec3 { Vec3(x, y, z) }
}

/// The yaw (as `Quat.yaw` takes it) that faces along (dx, dz): 0 faces −z, positive turns towards −x.
@inline(__always)
func yawFacing(_ dx: Float, _ dz: Float) -> Float { atan2f(-dx, -dz) }

/// The same angle in −π…π.
@inline(__always)
func wrapAngle(_ a: Float) -> Float {
    var r = a
    if r > .pi || r < -.pi {
        if abs(r) > 3 * .pi { r = r.truncatingRemainder(dividingBy: 2 * .pi) }
        if r > .pi { r -= 2 * .pi }
        if r < -.pi { r += 2 * .pi }
    }
    return r
}

/// `Quat.yaw(yaw) * Quat(axis: (1, 0, 0), angle: pitch)`, written out (unit by construction).
@inline(__always)
func yawPitch(_ yaw: Float, _ pitch: Float) -> Quat {
    let cy = cosf(yaw / 2)
    let sy = sinf(yaw / 2)
    let cp = cosf(pitch / 2)
    let sp = sinf(pitch / 2)
    return Quat(x: cy * sp, y: sy * cp, z: -sy * sp, w: cy * cp)
}

/// Hamilton product, inlined here (the hot path should not call across modules for it).
@inline(__always)
func multiply(_ a: Quat, _ b: Quat) -> Quat {
    Quat(
        x: a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
        y: a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
        z: a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
        w: a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z)
}

@inline(__always)
func clamp(_ v: Float, _ lo: Float, _ hi: Float) -> Float { v < lo ? lo : (v > hi ? hi : v) }

@inline(__always)
func lerp(_ a: Float, _ b: Float, _ t: Float) -> Float { a + (b - a) * t }

/// Moves `value` towards `target` by at most `maxStep`.
@inline(__always)
func approach(_ value: Float, _ target: Float, _ maxStep: Float) -> Float {
    value < target ? min(target, value + maxStep) : max(target, value - maxStep)
}

/// Turns `angle` towards `target` along the shorter way: proportionally (`gain` per second), at most
/// `maxRate` radians per second, so turns start briskly and settle without overshoot.
@inline(__always)
func turn(_ angle: Float, towards target: Float, gain: Float, maxRate: Float, dt: Float) -> Float {
    let error = wrapAngle(target - angle)
    let step = clamp(error * min(1, gain * dt), -maxRate * dt, maxRate * dt)
    return wrapAngle(angle + step)
}

/// One of the four horizontal directions; used for which side of a zone faces which.
enum Side: Sendable, CaseIterable {
    case north, south, west, east

    /// Unit vector pointing to this side.
    var unit: P2 {
        switch self {
        case .north: P2(0, -1)
        case .south: P2(0, 1)
        case .west: P2(-1, 0)
        case .east: P2(1, 0)
        }
    }

    var opposite: Side {
        switch self {
        case .north: .south
        case .south: .north
        case .west: .east
        case .east: .west
        }
    }

    /// The side a direction mostly points to.
    static func dominant(_ d: P2) -> Side {
        abs(d.z) >= abs(d.x) ? (d.z <= 0 ? .north : .south) : (d.x < 0 ? .west : .east)
    }
}

/// An axis-aligned rectangle of floor.
struct Rect: Equatable, Sendable {
    var minX: Float
    var maxX: Float
    var minZ: Float
    var maxZ: Float

    init(minX: Float, maxX: Float, minZ: Float, maxZ: Float) {
        self.minX = minX
        self.maxX = maxX
        self.minZ = minZ
        self.maxZ = maxZ
    }

    init(_ b: WorldBounds) { self.init(minX: b.min.x, maxX: b.max.x, minZ: b.min.z, maxZ: b.max.z) }

    var center: P2 { P2((minX + maxX) / 2, (minZ + maxZ) / 2) }
    var width: Float { maxX - minX }
    var depth: Float { maxZ - minZ }

    /// Shrunk by `m` on every side; an axis narrower than 2m collapses to its centre line.
    func inset(_ m: Float) -> Rect {
        let cx = (minX + maxX) / 2
        let cz = (minZ + maxZ) / 2
        return Rect(
            minX: min(minX + m, cx), maxX: max(maxX - m, cx), minZ: min(minZ + m, cz), maxZ: max(maxZ - m, cz))
    }

    func clamp(_ p: P2) -> P2 {
        P2(AtriumBehaviours.clamp(p.x, minX, maxX), AtriumBehaviours.clamp(p.z, minZ, maxZ))
    }

    /// The overlap, or nil when the two do not overlap.
    func intersection(_ o: Rect) -> Rect? {
        let r = Rect(minX: max(minX, o.minX), maxX: min(maxX, o.maxX), minZ: max(minZ, o.minZ), maxZ: min(maxZ, o.maxZ))
        return r.minX <= r.maxX && r.minZ <= r.maxZ ? r : nil
    }

    func randomPoint(_ random: inout SeededRandom) -> P2 {
        P2(random.uniform(minX...maxX), random.uniform(minZ...maxZ))
    }

    /// Extent along the axis of `side` (depth for north/south, width for west/east).
    func extent(along side: Side) -> Float {
        switch side {
        case .north, .south: depth
        case .west, .east: width
        }
    }

    /// The strip of this rectangle `thickness` deep along its `side` edge.
    func strip(_ side: Side, thickness: Float) -> Rect {
        let t = min(thickness, extent(along: side))
        switch side {
        case .north: return Rect(minX: minX, maxX: maxX, minZ: minZ, maxZ: minZ + t)
        case .south: return Rect(minX: minX, maxX: maxX, minZ: maxZ - t, maxZ: maxZ)
        case .west: return Rect(minX: minX, maxX: minX + t, minZ: minZ, maxZ: maxZ)
        case .east: return Rect(minX: maxX - t, maxX: maxX, minZ: minZ, maxZ: maxZ)
        }
    }
}

/// The floor a zone covers: a rectangle or a disc.
struct Footprint: Equatable, Sendable {
    enum Shape: Equatable, Sendable {
        case rect(Rect)
        case disc(center: P2, radius: Float)
    }

    var shape: Shape

    init(_ zone: Zone) {
        switch zone.shape {
        case .box(let lo, let hi):
            shape = .rect(Rect(minX: lo.x, maxX: hi.x, minZ: lo.z, maxZ: hi.z))
        case .cylinder(let c, let r, _):
            shape = .disc(center: P2(c), radius: r)
        }
    }

    var bounds: Rect {
        switch shape {
        case .rect(let r): r
        case .disc(let c, let r): Rect(minX: c.x - r, maxX: c.x + r, minZ: c.z - r, maxZ: c.z + r)
        }
    }

    var center: P2 { bounds.center }

    /// A random point at least `inset` metres inside the footprint (or its centre when it is too small), kept
    /// inside `safe`.
    func randomPoint(inset: Float, safe: Rect, _ random: inout SeededRandom) -> P2 {
        switch shape {
        case .rect(let r):
            return safe.clamp(r.inset(inset).randomPoint(&random))
        case .disc(let c, let radius):
            let reach = max(0, radius - inset)
            let angle = random.uniform(0...(2 * Float.pi))
            let distance = reach * random.unit().squareRoot()
            return safe.clamp(P2(c.x + distance * cosf(angle), c.z + distance * sinf(angle)))
        }
    }
}
