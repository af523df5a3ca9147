// Headset motion for benchmarks that need realistic movement between ticks (delta sizes and how often an
// avatar's state changes depend on it): the Wire suite's delta benchmark and the Compose suite.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumWire

/// Headset motion at 30 Hz, after the motion model of Tests/AtriumWireTests (MotionModel.swift), cut down: a head
/// and two tracked controllers of someone
///
/// - walking: 0.9–1.4 m/s with a step-synchronous head bob and sway, a heading that drifts and is steered back
///   towards the group's centre, glances to the side (20–75° in 0.2–0.5 s, held, then back), hands swinging
///   with the stride;
/// - dwelling: standing, swaying a centimetre or two, looking around (fixations with micro-motion and quick head
///   turns), resting hands with now and then a talking gesture;
///
/// both with tracking jitter (head 0.2 mm / 0.02°, hands 0.6 mm / 0.1°) and the voice going on and off.
public struct HeadsetMotion {
    public enum Kind: Sendable { case walking, dwelling }

    /// An Ornstein–Uhlenbeck value: standard deviation `sigma`, correlation time `tau` seconds.
    struct Drift {
        var value: Double
        let sigma: Double, tau: Double
        init(sigma: Double, tau: Double, rng: inout SplitMix64) {
            self.sigma = sigma
            self.tau = tau
            value = rng.gaussian() * sigma
        }
        mutating func step(_ dt: Double, _ rng: inout SplitMix64) -> Double {
            value += -value * dt / tau + sigma * (2 * dt / tau).squareRoot() * rng.gaussian()
            return value
        }
    }

    /// From one angle to another over a duration, then held.
    struct Turn {
        var from = 0.0, to = 0.0, start = 0.0, duration = 1.0
        func value(at t: Double) -> Double { from + (to - from) * smoothstep((t - start) / duration) }
    }

    static let degree = Double.pi / 180

    public let kind: Kind
    var rng: SplitMix64
    let centre: (x: Double, z: Double), spread: Double
    var time = 0.0
    var x: Double, z: Double, heading: Double
    let height: Double, speed: Double, stepRate: Double, bob: Double, swing: Double
    var stepPhase = 0.0
    var turnRate: Drift, swayX: Drift, swayZ: Drift, swayY: Drift
    var lookYaw = Turn(), lookPitch = Turn()
    var nextLook: Double, glancing = false
    var microYaw: Drift, microPitch: Drift, roll: Drift
    var hand: [Drift]  // x y z for left, then right
    var twist: [Drift]  // yaw pitch roll for left, then right
    var gesture = Turn(), gestureEnd = -1.0, nextGesture: Double
    var speaking = false, nextVoice: Double

    public init(kind: Kind, seed: UInt64, centre: (x: Double, z: Double), spread: Double) {
        var rng = SplitMix64(seed: seed)
        self.kind = kind
        self.centre = centre
        self.spread = spread
        x = centre.x + rng.double(-spread...spread) * 0.7
        z = centre.z + rng.double(-spread...spread) * 0.7
        heading = rng.double(-.pi ... .pi)
        height = rng.double(1.5...1.8)
        speed = rng.double(0.9...1.4)
        stepRate = 1.65 + (speed - 0.9) * 0.6
        bob = rng.double(0.015...0.03)
        swing = rng.double(0.08...0.25)
        turnRate = Drift(sigma: 12 * Self.degree, tau: 2, rng: &rng)
        swayX = Drift(sigma: 0.015, tau: 2.5, rng: &rng)
        swayZ = Drift(sigma: 0.015, tau: 2.5, rng: &rng)
        swayY = Drift(sigma: 0.004, tau: 3, rng: &rng)
        nextLook = rng.double(0.5...3)
        microYaw = Drift(sigma: 0.8 * Self.degree, tau: 0.6, rng: &rng)
        microPitch = Drift(sigma: 0.6 * Self.degree, tau: 0.6, rng: &rng)
        roll = Drift(sigma: 2 * Self.degree, tau: 3, rng: &rng)
        let handSigma = kind == .walking ? 0.03 : 0.02
        hand = (0..<6).map { _ in Drift(sigma: handSigma, tau: 2.5, rng: &rng) }
        twist = (0..<6).map { _ in Drift(sigma: 12 * Self.degree, tau: 2, rng: &rng) }
        nextGesture = rng.double(2...10)
        nextVoice = rng.double(1...6)
        self.rng = rng
    }

    /// Advances by `dt` seconds; the pose then.
    public mutating func step(_ dt: Double) -> AvatarPose {
        time += dt
        let t = time
        var bodyX = x, bodyZ = z
        var bodyY = height + swayY.step(dt, &rng)
        var bobPitch = 0.0
        switch kind {
        case .walking:
            var turn = turnRate.step(dt, &rng)
            // Beyond the group's area, steer back towards its centre.
            let dx = centre.x - x, dz = centre.z - z
            if dx * dx + dz * dz > spread * spread {
                turn += max(-0.8, min(0.8, remainder(atan2(-dx, -dz) - heading, 2 * .pi)))
            }
            heading += turn * dt
            x += -sin(heading) * speed * dt
            z += -cos(heading) * speed * dt
            stepPhase += 2 * .pi * stepRate * dt
            bodyY += bob * cos(stepPhase)
            let lateral = 0.015 * sin(stepPhase / 2)
            bodyX = x + cos(heading) * lateral
            bodyZ = z - sin(heading) * lateral
            bobPitch = 0.6 * Self.degree * sin(stepPhase)
        case .dwelling:
            bodyX = x + swayX.step(dt, &rng)
            bodyZ = z + swayZ.step(dt, &rng)
        }

        // Where the head looks, relative to the body.
        if t >= nextLook {
            let yaw0 = lookYaw.value(at: t), pitch0 = lookPitch.value(at: t)
            let yaw: Double, pitch: Double, duration: Double
            switch kind {
            case .walking:
                glancing.toggle()
                yaw = glancing ? rng.double(20...75) * Self.degree * (rng.next() & 1 == 0 ? 1 : -1) : 0
                pitch = glancing ? rng.double(-12...8) * Self.degree : 0
                duration = rng.double(0.2...0.5)
                nextLook = t + duration + (glancing ? rng.double(0.4...2) : rng.double(1.5...5))
            case .dwelling:
                yaw = rng.double(-70...70) * Self.degree
                pitch = rng.double(-25...15) * Self.degree
                duration = 0.15 + max(abs(yaw - yaw0), abs(pitch - pitch0)) / Self.degree / 180
                nextLook = t + duration + rng.double(0.8...4)
            }
            lookYaw = Turn(from: yaw0, to: yaw, start: t, duration: duration)
            lookPitch = Turn(from: pitch0, to: pitch, start: t, duration: duration)
        }
        let jitter = 0.0002, jitterAngle = 0.02 * Self.degree
        let head = Vec3(
            Float(bodyX + rng.gaussian() * jitter), Float(bodyY + rng.gaussian() * jitter),
            Float(bodyZ + rng.gaussian() * jitter))
        let headRotation = Self.euler(
            yaw: heading + lookYaw.value(at: t) + microYaw.step(dt, &rng) + rng.gaussian() * jitterAngle,
            pitch: -5 * Self.degree + lookPitch.value(at: t) + microPitch.step(dt, &rng) + bobPitch + rng.gaussian() * jitterAngle,
            roll: roll.step(dt, &rng) + rng.gaussian() * jitterAngle)

        // Hands in the body frame (x right, y up, z forward), then turned by the heading.
        if kind == .dwelling && t >= nextGesture {
            gesture = Turn(from: 0, to: 1, start: t, duration: rng.double(0.4...0.7))
            gestureEnd = t + gesture.duration + rng.double(1...3)
            nextGesture = t + rng.double(3...12)
        }
        let up = t < gestureEnd ? gesture.value(at: t) : 1 - smoothstep((t - gestureEnd) / 0.5)
        var hands: [HandPose] = []
        for side in 0..<2 {
            let s = side == 0 ? -1.0 : 1.0
            var bx: Double, by: Double, bz: Double, pitch: Double
            switch kind {
            case .walking:
                let phase = stepPhase / 2 + (side == 0 ? .pi : 0)
                bx = 0.2 * s
                by = -0.55 + 0.02 * cos(stepPhase)
                bz = 0.12 + swing * sin(phase)
                pitch = -30 * Self.degree + 25 * Self.degree * sin(phase) * swing / 0.25
            case .dwelling:
                bx = s * (0.22 + 0.04 * up)
                by = -0.6 + 0.35 * up + 0.04 * up * sin(2 * .pi * 1.5 * t + Double(side))
                bz = 0.1 + 0.25 * up
                pitch = -20 * Self.degree + 40 * Self.degree * up
            }
            bx += hand[3 * side].step(dt, &rng)
            by += hand[3 * side + 1].step(dt, &rng)
            bz += hand[3 * side + 2].step(dt, &rng)
            let wx = cos(heading) * bx - sin(heading) * bz
            let wz = -sin(heading) * bx - cos(heading) * bz
            let jitter = 0.0006, jitterAngle = 0.1 * Self.degree
            let position = Vec3(
                Float(bodyX + wx + rng.gaussian() * jitter), Float(bodyY + by + rng.gaussian() * jitter),
                Float(bodyZ + wz + rng.gaussian() * jitter))
            let rotation = Self.euler(
                yaw: heading + twist[3 * side].step(dt, &rng) + rng.gaussian() * jitterAngle,
                pitch: pitch + twist[3 * side + 1].step(dt, &rng) + rng.gaussian() * jitterAngle,
                roll: s * 10 * Self.degree + twist[3 * side + 2].step(dt, &rng) + rng.gaussian() * jitterAngle)
            hands.append(HandPose(position: position, rotation: rotation))
        }

        if t >= nextVoice {
            speaking.toggle()
            nextVoice = t + (speaking ? rng.double(1...5) : rng.double(1...8)) * (kind == .walking ? 2 : 1)
        }
        return AvatarPose(
            headPosition: head, headRotation: headRotation, leftHand: hands[0], rightHand: hands[1],
            handRaised: false, speaking: speaking)
    }

    /// yaw (about y) · pitch (about x) · roll (about z), radians.
    static func euler(yaw: Double, pitch: Double, roll: Double) -> Quat {
        (Quat(axis: Vec3(0, 1, 0), angle: Float(yaw)) * Quat(axis: Vec3(1, 0, 0), angle: Float(pitch))
            * Quat(axis: Vec3(0, 0, 1), angle: Float(roll))).normalized
    }
}

/// Smooth 0 → 1.
func smoothstep(_ x: Double) -> Double {
    let t = min(1, max(0, x))
    return t * t * (3 - 2 * t)
}

extension SplitMix64 {
    public mutating func double(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    /// Standard normal (Box–Muller).
    public mutating func gaussian() -> Double {
        let u = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &self)
        let v = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
