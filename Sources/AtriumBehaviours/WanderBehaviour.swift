import AtriumWire

#if canImport(Glibc)
import Glibc
#endif

/// A visitor who strolls between random points, pauses to look around, and moves head and hands the way a
/// person in a headset does: head bob while walking, yaw following the walk with glances aside, hands
/// swinging opposite the stride. Pure: time in, pose out.
public struct WanderBehaviour: Sendable {
    let bounds: WorldBounds
    var random: SeededRandom
    var position: Vec3
    var heading: Float
    var target: Vec3
    var pauseUntil: Double = 0
    var lastTime: Double?
    var glancePhase: Float
    let walkSpeed: Float
    let eyeHeight: Float

    /// Keeps bots a little inside the bounds so rounding never puts a head on a wall.
    static let margin: Float = 1.0

    public init(bounds: WorldBounds, start: Vec3, seed: UInt64) {
        self.bounds = bounds
        random = SeededRandom(seed: seed)
        eyeHeight = random.uniform(1.5...1.8)
        position = Vec3(start.x, bounds.min.y + eyeHeight, start.z)
        heading = random.uniform(0...(2 * .pi))
        walkSpeed = random.uniform(0.9...1.4)
        glancePhase = random.uniform(0...(2 * .pi))
        target = position
        target = pickTarget()
    }

    /// Walk targets: within 25 m of the current position, inside the bounds.
    mutating func pickTarget() -> Vec3 {
        let reach: Float = 25
        let lo = bounds.min
        let hi = bounds.max
        let m = Self.margin
        let x = min(max(position.x + random.uniform(-reach...reach), lo.x + m), hi.x - m)
        let z = min(max(position.z + random.uniform(-reach...reach), lo.z + m), hi.z - m)
        return Vec3(x, position.y, z)
    }

    /// Adopts the server's position (the spawn point, or a rubber-band correction).
    public mutating func resync(to head: Vec3) {
        position = Vec3(head.x, head.y, head.z)
        target = pickTarget()
    }

    /// The pose at `seconds` since the run started.
    public mutating func pose(at seconds: Double) -> AvatarPose {
        let dt = Float(min(0.25, max(0, seconds - (lastTime ?? seconds))))
        lastTime = seconds
        var walking = false
        if seconds >= pauseUntil {
            let toTarget = Vec3(target.x - position.x, 0, target.z - position.z)
            let distance = toTarget.length
            if distance < 0.3 {
                // Arrived: look around for a while, then pick somewhere new.
                pauseUntil = seconds + Double(random.uniform(1...6))
                target = pickTarget()
            } else {
                walking = true
                let step = min(distance, walkSpeed * dt)
                position = position + toTarget * (step / distance)
                let desired = atan2f(-toTarget.x, -toTarget.z)
                var turn = desired - heading
                while turn > .pi { turn -= 2 * .pi }
                while turn < -.pi { turn += 2 * .pi }
                heading += max(-2 * dt, min(2 * dt, turn))
            }
        }
        let t = Float(seconds)
        let stride = walking ? sinf(t * 2 * .pi * 0.9) : 0
        let bob: Float = walking ? 0.02 * abs(stride) : 0.005 * sinf(t * 1.3)
        let glance = 0.35 * sinf(t * 0.4 + glancePhase) + (walking ? 0 : 0.5 * sinf(t * 0.23 + glancePhase))
        let pitch = 0.1 * sinf(t * 0.31 + glancePhase)
        let headRotation = Quat.yaw(heading + glance) * Quat(axis: Vec3(1, 0, 0), angle: pitch)
        let head = bounds.clamp(Vec3(position.x, position.y + bob, position.z))

        // Hands hang at the sides (relative to the body's heading, not the glance) and swing with the stride.
        let body = Quat.yaw(heading)
        func hand(side: Float) -> HandPose {
            let swing = 0.18 * stride * side
            let local = Vec3(0.22 * side, -0.55 + 0.03 * abs(swing), -0.1 + swing)
            return HandPose(
                position: head + body.rotate(local),
                rotation: body * Quat(axis: Vec3(1, 0, 0), angle: -0.3 + swing))
        }
        return AvatarPose(
            headPosition: head, headRotation: headRotation, leftHand: hand(side: -1), rightHand: hand(side: 1))
    }
}
