#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point or offset in metres. World axes: x east, y up, z south (right-handed, y-up).
public struct Vec3: Hashable, Sendable, CustomStringConvertible {
    public var x: Float
    public var y: Float
    public var z: Float

    public init(_ x: Float, _ y: Float, _ z: Float) {
        self.x = x
        self.y = y
        self.z = z
    }

    public static let zero = Vec3(0, 0, 0)

    public var isFinite: Bool { x.isFinite && y.isFinite && z.isFinite }
    public var lengthSquared: Float { x * x + y * y + z * z }
    public var length: Float { lengthSquared.squareRoot() }

    public static func + (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x + b.x, a.y + b.y, a.z + b.z) }
    public static func - (a: Vec3, b: Vec3) -> Vec3 { Vec3(a.x - b.x, a.y - b.y, a.z - b.z) }
    public static func * (a: Vec3, s: Float) -> Vec3 { Vec3(a.x * s, a.y * s, a.z * s) }
    public static func dot(_ a: Vec3, _ b: Vec3) -> Float { a.x * b.x + a.y * b.y + a.z * b.z }
    public static func cross(_ a: Vec3, _ b: Vec3) -> Vec3 {
        Vec3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
    }
    public static func distance(_ a: Vec3, _ b: Vec3) -> Float { (a - b).length }
    public static func lerp(_ a: Vec3, _ b: Vec3, _ t: Float) -> Vec3 { a + (b - a) * t }

    public var description: String { "(\(x), \(y), \(z))" }
}

/// A unit quaternion (x, y, z, w) describing an orientation.
public struct Quat: Hashable, Sendable, CustomStringConvertible {
    public var x: Float
    public var y: Float
    public var z: Float
    public var w: Float

    public init(x: Float, y: Float, z: Float, w: Float) {
        self.x = x
        self.y = y
        self.z = z
        self.w = w
    }

    public static let identity = Quat(x: 0, y: 0, z: 0, w: 1)

    /// Rotation of `radians` about the (unit) `axis`.
    public init(axis: Vec3, angle radians: Float) {
        let half = radians / 2
        let s = sinf(half)
        self.init(x: axis.x * s, y: axis.y * s, z: axis.z * s, w: cosf(half))
    }

    /// Rotation about the vertical axis (turning the head left/right).
    public static func yaw(_ radians: Float) -> Quat { Quat(axis: Vec3(0, 1, 0), angle: radians) }

    public var isFinite: Bool { x.isFinite && y.isFinite && z.isFinite && w.isFinite }
    public var lengthSquared: Float { x * x + y * y + z * z + w * w }

    public var normalized: Quat {
        let n = lengthSquared.squareRoot()
        guard n > 0, n.isFinite else { return .identity }
        return Quat(x: x / n, y: y / n, z: z / n, w: w / n)
    }

    public var conjugate: Quat { Quat(x: -x, y: -y, z: -z, w: w) }

    public static func * (a: Quat, b: Quat) -> Quat {
        Quat(
            x: a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
            y: a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
            z: a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
            w: a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z
        )
    }

    /// Rotates `v` by this quaternion.
    public func rotate(_ v: Vec3) -> Vec3 {
        let u = Vec3(x, y, z)
        let t = Vec3.cross(u, v) * 2
        return v + t * w + Vec3.cross(u, t)
    }

    /// The angle in radians between two orientations (0...π).
    public static func angle(_ a: Quat, _ b: Quat) -> Float {
        let d = abs(a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w)
        return 2 * acosf(min(1, d))
    }

    /// Normalised linear interpolation along the shorter arc; good enough between snapshots.
    public static func nlerp(_ a: Quat, _ b: Quat, _ t: Float) -> Quat {
        let d = a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w
        let s: Float = d < 0 ? -1 : 1
        return Quat(
            x: a.x + (b.x * s - a.x) * t,
            y: a.y + (b.y * s - a.y) * t,
            z: a.z + (b.z * s - a.z) * t,
            w: a.w + (b.w * s - a.w) * t
        ).normalized
    }

    public var description: String { "(\(x), \(y), \(z), \(w))" }
}
