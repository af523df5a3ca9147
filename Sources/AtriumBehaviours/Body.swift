import AtriumWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum Posture: Sendable, Equatable {
    case standing
    case seated
}

/// What the plan asks of the body for one step.
struct Intent {
    /// Where to be (floor position).
    var anchor: P2
    /// Walking speed on the way there, m/s.
    var speed: Float
    /// Posture once there.
    var posture: Posture
    /// What to look at once there; nil: look around.
    var focus: Vec3?
    /// Keep looking at `focus` on the way too (a presenter pacing in front of the audience).
    var watchWhileWalking: Bool
    /// A quick look at something else (overrides `focus` while set).
    var glancePoint: Vec3?
    /// Head turn away from where the body looks (radians, glances) and head pitch for nods.
    var glanceYaw: Float
    var nod: Float
    /// 0…1: how much the hands gesture.
    var gesture: Float
    /// Right hand up.
    var raiseHand: Bool
}

/// The moving person: where the feet are, how high the eyes, where the body and the head face, and what the
/// hands do. Everything that shows in a pose changes continuously and at a limited rate, so consecutive poses
/// never jump, whatever the step rate.
struct Body: Sendable {
    // Traits.
    let floor: Float
    let standHeight: Float
    let seatHeight: Float
    let bounds: WorldBounds
    let safe: Rect
    let phase: (Float, Float, Float, Float, Float, Float, Float, Float)

    // State.
    var position: P2
    /// Eye height above the floor, without bob and sway.
    var height: Float
    /// Where the body (torso, feet) faces.
    var heading: Float
    var speed: Float = 0
    /// Metres walked: the phase of the stride.
    var stride: Float = 0
    /// 0 standing still … 1 walking; smoothed.
    var walkBlend: Float = 0
    var headYaw: Float
    var headPitch: Float = 0
    var gesture: Float = 0
    var raise: Float = 0
    /// At the anchor of the current activity.
    var settled = false
    /// Bob and sway in the last pose, so a resync can carry on from exactly the corrected head.
    var lastOffset = Vec3.zero
    var lastHead: Vec3?

    // Tunables.
    static let stepLength: Float = 0.7
    static let acceleration: Float = 1.2
    static let deceleration: Float = 0.8
    static let sitRate: Float = 0.5
    static let arriveDistance: Float = 0.05
    /// A settled body further than this from its anchor (after a resync) walks back.
    static let unsettleDistance: Float = 0.35
    static let maxReach: Float = 0.88
    /// Largest head movement between two poses, whatever the gap.
    static let maxJump: Float = 0.95
    /// Hands tilt slightly outwards.
    static let rollLeft = Quat(axis: Vec3(0, 0, 1), angle: -0.15)
    static let rollRight = Quat(axis: Vec3(0, 0, 1), angle: 0.15)

    init(
        floor: Float, standHeight: Float, seatHeight: Float, bounds: WorldBounds, safe: Rect, start: Vec3,
        heading: Float, random: inout SeededRandom
    ) {
        self.floor = floor
        self.standHeight = standHeight
        self.seatHeight = seatHeight
        self.bounds = bounds
        self.safe = safe
        var p: [Float] = []
        for _ in 0..<8 { p.append(random.uniform(0...(2 * Float.pi))) }
        phase = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
        position = P2(start)
        let startHeight = start.y.isFinite ? start.y - floor : standHeight
        height = clamp(startHeight, min(seatHeight, standHeight) - 0.1, standHeight + 0.3)
        self.heading = heading
        headYaw = heading
    }

    /// 0 standing … 1 seated.
    var seatedness: Float {
        clamp((standHeight - height) / max(0.01, standHeight - seatHeight), 0, 1)
    }

    /// Takes the server's head position as ours.
    mutating func resync(to head: Vec3) {
        guard head.isFinite else { return }
        position = P2(head.x - lastOffset.x, head.z - lastOffset.z)
        height = clamp(head.y - floor - lastOffset.y, 0.3, standHeight + 0.3)
        lastHead = head
    }

    /// Advances by `dt` seconds (already capped) at run time `t` and returns the pose.
    mutating func step(dt: Float, t: Double, intent: Intent) -> (pose: AvatarPose, justArrived: Bool) {
        @inline(__always) func wave(_ frequency: Double, _ offset: Float) -> Float {
            Float(sin(frequency * t + Double(offset)))
        }
        let toAnchor = intent.anchor - position
        var distance = toAnchor.length
        if settled && distance > Self.unsettleDistance { settled = false }
        var moved: Float = 0
        var justArrived = false

        if !settled {
            if height < standHeight - 0.03 {
                // Stand up before walking.
                height = approach(height, standHeight, Self.sitRate * dt)
                speed = 0
            } else {
                let desired = yawFacing(toAnchor.x, toAnchor.z)
                heading = turn(heading, towards: desired, gain: 4, maxRate: 2.2, dt: dt)
                let alignment = clamp((cosf(wrapAngle(desired - heading)) - 0.2) / 0.8, 0, 1)
                let stopping = (2 * Self.deceleration * distance).squareRoot() + 0.1
                let target = min(intent.speed * alignment, stopping)
                speed = approach(speed, target, Self.acceleration * dt)
                moved = min(distance, speed * dt)
                if distance > 0 { position = position + toAnchor * (moved / distance) }
                distance -= moved
                // The stride's waves repeat every two steps.
                stride = (stride + moved).truncatingRemainder(dividingBy: 2 * Self.stepLength)
                // Small differences (a tall bot spawned at 1.6 m) even out while walking.
                height = approach(height, standHeight, 0.2 * dt)
                if distance <= Self.arriveDistance {
                    settled = true
                    justArrived = true
                }
            }
        } else {
            speed = 0
        }
        if settled {
            let target = intent.posture == .seated ? seatHeight : standHeight
            if moved == 0 { height = approach(height, target, Self.sitRate * dt) }
            if let focus = intent.focus {
                let d = P2(focus) - position
                if d.length > 0.3 {
                    heading = turn(heading, towards: yawFacing(d.x, d.z), gain: 3, maxRate: 1.5, dt: dt)
                }
            }
            // Back off a wall we were put too close to.
            let inside = safe.clamp(position)
            position = P2(approach(position.x, inside.x, 0.5 * dt), approach(position.z, inside.z, 0.5 * dt))
        }
        walkBlend = approach(walkBlend, clamp(speed / 0.6, 0, 1), 3 * dt)
        gesture = approach(gesture, intent.gesture, 1.5 * dt)
        raise = approach(raise, intent.raiseHand ? 1 : 0, 2.5 * dt)
        let seated = seatedness

        // Head position: bob and side-to-side sway while walking, a slow idle sway when not.
        let stepPhase = stride / Self.stepLength * .pi
        let bob = walkBlend * 0.02 * (0.5 - 0.5 * cosf(2 * stepPhase))
        let sideSway = walkBlend * 0.012 * sinf(stepPhase)
        let idle = (1 - walkBlend) * lerp(1, 0.5, seated)
        let right = P2(cosf(heading), -sinf(heading))
        var offset = Vec3(right.x * sideSway, bob, right.z * sideSway)
        if idle > 0 {
            offset =
                offset
                + Vec3(0.012 * wave(0.37, phase.0), 0.004 * wave(0.83, phase.1), 0.012 * wave(0.29, phase.2)) * idle
        }
        var head = Vec3(position.x + offset.x, floor + height + offset.y, position.z + offset.z)
        if let last = lastHead {
            let jump = head - last
            let length = jump.length
            if length > Self.maxJump { head = last + jump * (Self.maxJump / length) }
        }
        head = bounds.clamp(head)
        lastOffset = offset
        lastHead = head

        // Head rotation.
        let noise = 0.07 * wave(0.21, phase.3) + 0.04 * wave(0.53, phase.4)
        var desiredYaw: Float
        var desiredPitch: Float
        let lookAt = settled ? (intent.glancePoint ?? intent.focus) : (intent.watchWhileWalking ? intent.focus : nil)
        if let p = lookAt {
            let d = P2(p) - P2(head)
            desiredYaw = d.length > 0.3 ? yawFacing(d.x, d.z) : heading
            if intent.glancePoint == nil { desiredYaw += 0.5 * noise + intent.glanceYaw }
            desiredPitch = clamp(atan2f(p.y - head.y, max(0.5, d.length)), -0.6, 0.5) + intent.nod
        } else if settled {
            desiredYaw = heading + 0.5 * wave(0.23, phase.5) + noise + intent.glanceYaw
            desiredPitch = 0.1 * wave(0.31, phase.6) + intent.nod
        } else {
            desiredYaw = heading + noise + 0.6 * intent.glanceYaw
            desiredPitch = -0.1 + 0.03 * wave(0.7, phase.6)
        }
        desiredYaw = heading + clamp(wrapAngle(desiredYaw - heading), -1.3, 1.3)
        headYaw = turn(headYaw, towards: desiredYaw, gain: 6, maxRate: 3.5, dt: dt)
        headPitch = approach(headPitch, headPitch + (desiredPitch - headPitch) * min(1, 8 * dt), 2.5 * dt)
        let headRotation = yawPitch(headYaw, headPitch)

        // Hands, in the body's frame (x right, y up, −z forward), relative to the head.
        // Turning a body-frame offset by the heading: x' = x cos h + z sin h, z' = −x sin h + z cos h.
        let cosHeading = right.x
        let sinHeading = -right.z
        let swing = walkBlend * 0.16 * sinf(stepPhase)
        func hand(_ side: Float, _ p0: Float, _ p1: Float) -> HandPose {
            let relaxed = Vec3(0.21 * side, -0.62, -0.06 + swing * side)
            let lap = Vec3(0.13 * side, -0.52, -0.30)
            let base = Vec3.lerp(relaxed, lap, seated)
            var local = base
            if gesture > 0 {
                let standingGesture = Vec3(
                    (0.26 + 0.06 * wave(1.7, p0)) * side, -0.30 + 0.08 * wave(2.3, p1),
                    -0.34 + 0.07 * wave(1.3, p0 + p1))
                let seatedGesture = Vec3(
                    (0.18 + 0.04 * wave(1.5, p0)) * side, -0.40 + 0.05 * wave(2.1, p1), -0.34)
                local = Vec3.lerp(base, Vec3.lerp(standingGesture, seatedGesture, seated), gesture)
            }
            var pitch = lerp(lerp(-0.2 + swing * side * 2, -0.9, seated), -0.6, gesture)
            if side > 0 && raise > 0 {
                local = Vec3.lerp(local, Vec3(0.16, 0.30, -0.08), raise)
                pitch = lerp(pitch, 1.4, raise)
            }
            let length = local.length
            if length > Self.maxReach { local = local * (Self.maxReach / length) }
            let rotation = multiply(yawPitch(heading, pitch), side > 0 ? Self.rollRight : Self.rollLeft)
            let world = Vec3(
                local.x * cosHeading + local.z * sinHeading, local.y, -local.x * sinHeading + local.z * cosHeading)
            return HandPose(position: bounds.clamp(head + world), rotation: rotation)
        }
        let pose = AvatarPose(
            headPosition: head, headRotation: headRotation, leftHand: hand(-1, phase.7, phase.0),
            rightHand: hand(1, phase.1, phase.2), handRaised: raise >= 0.95)
        return (pose, justArrived)
    }
}
