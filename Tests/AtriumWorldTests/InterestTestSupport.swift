#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AtriumWire
import AtriumWorld

// Shared by the Interest* tests. Deliberately free of `Testing` so the measurement harness can be
// compiled into a throwaway release executable too.

/// SplitMix64: small, fast, deterministic.
struct InterestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float(_ range: ClosedRange<Float>) -> Float { Float.random(in: range, using: &self) }
}

/// A crowd walking around the expo hall at walking speed: some wander the whole floor, some stay
/// around a booth, some in the stage audience. Deterministic for a seed.
struct WalkingCrowd {
    struct Walker {
        var position: Vec3
        var heading: Float  // radians, 0 = north (−z), positive towards west (as Quat.yaw)
        var home: Vec3
        var roam: Float  // how far from home the walker strays, metres
    }

    static let walkingSpeed: Float = 1.4  // m/s

    var walkers: [Walker] = []
    var rng: InterestRNG
    let lo: Vec3
    let hi: Vec3

    init(count: Int, world: WorldDefinition, seed: UInt64 = 1) {
        rng = InterestRNG(seed: seed)
        // Stay a little inside the bounds.
        lo = world.bounds.min + Vec3(2, 0, 2)
        hi = world.bounds.max - Vec3(2, 0, 2)
        let booths = world.zones.filter { $0.kind == .booth }.map { zone -> Vec3 in
            let b = zone.shape.boundingBox
            return Vec3((b.min.x + b.max.x) / 2, 1.6, (b.min.z + b.max.z) / 2)
        }
        let audience = world.zone(id: "stage-audience")?.shape.boundingBox
        for i in 0..<count {
            let kind = i % 20  // 12/20 roam the floor, 5/20 around booths, 3/20 in the audience
            var home: Vec3
            var roam: Float
            if kind < 12 || booths.isEmpty {
                home = Vec3(rng.float(lo.x...hi.x), 1.6, rng.float(lo.z...hi.z))
                roam = 1000
            } else if kind < 17 || audience == nil {
                home = booths[Int(rng.next() % UInt64(booths.count))]
                roam = 10
            } else {
                let a = audience!
                home = Vec3(rng.float(a.min.x...a.max.x), 1.2, rng.float(a.min.z...a.max.z))
                roam = 2
            }
            let start = Vec3(
                clamp(home.x + rng.float(-roam...roam).clamped(-10, 10), lo.x, hi.x), home.y,
                clamp(home.z + rng.float(-roam...roam).clamped(-10, 10), lo.z, hi.z))
            walkers.append(Walker(position: start, heading: rng.float(-Float.pi...Float.pi), home: home, roam: roam))
        }
    }

    /// Advances everyone by `dt` seconds.
    mutating func step(dt: Float) {
        let stride = Self.walkingSpeed * dt
        for i in walkers.indices {
            var w = walkers[i]
            if rng.next() % 64 == 0 { w.heading += rng.float(-1...1) }
            var next = w.position + Self.direction(w.heading) * stride
            let away = next - w.home
            if next.x < lo.x || next.x > hi.x || next.z < lo.z || next.z > hi.z
                || away.x * away.x + away.z * away.z > w.roam * w.roam
            {
                // Turn back towards home.
                w.heading = Self.heading(towards: w.home - w.position) + rng.float(-0.5...0.5)
                next = w.position + Self.direction(w.heading) * stride
                next.x = clamp(next.x, lo.x, hi.x)
                next.z = clamp(next.z, lo.z, hi.z)
            }
            w.position = next
            walkers[i] = w
        }
    }

    static func direction(_ heading: Float) -> Vec3 {
        Quat.yaw(heading).rotate(Vec3(0, 0, -1))
    }

    static func heading(towards v: Vec3) -> Float {
        // Inverse of `direction`: direction(h) = (−sin h, 0, −cos h).
        atan2f(-v.x, -v.z)
    }
}

func clamp(_ v: Float, _ lo: Float, _ hi: Float) -> Float { Swift.min(Swift.max(v, lo), hi) }

extension Float {
    func clamped(_ lo: Float, _ hi: Float) -> Float { clamp(self, lo, hi) }
}
