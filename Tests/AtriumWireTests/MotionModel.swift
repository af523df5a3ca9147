@testable import AtriumWire
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Realistic headset motion for size measurements and the snapshot simulation: a head and two tracked
/// controllers at 30 Hz, with the habits of people in an XR venue.
///
/// - walking: 0.9–1.4 m/s with a step-synchronous head bob (1.5–3 cm) and sway, heading that drifts and
///   sometimes turns, glances to the side (20–75° in 0.2–0.5 s, held, then back), hands swinging with
///   the stride;
/// - dwelling: standing, swaying a centimetre or two, now and then a step to reposition, looking around
///   (fixations with micro-motion, quick head turns), idle hands with talking gestures, voice on and off;
/// - seated: like dwelling with smaller, slower motion and hands mostly resting.
///
/// Every kind has tracking jitter (head 0.2 mm / 0.02°, hands 0.6 mm / 0.1°) and rare hand-tracking loss.
enum MotionKind: String, CaseIterable, Sendable {
    case walking, dwelling, seated
}

/// A time-correlated random value: Ornstein–Uhlenbeck with standard deviation `sigma` and correlation time `tau`.
struct Drift {
    var value = 0.0
    let sigma: Double
    let tau: Double

    init(sigma: Double, tau: Double, rng: inout SeededRNG) {
        self.sigma = sigma
        self.tau = tau
        value = rng.gaussian() * sigma
    }

    mutating func step(_ dt: Double, rng: inout SeededRNG) -> Double {
        value += -value * dt / tau + sigma * (2 * dt / tau).squareRoot() * rng.gaussian()
        return value
    }
}

extension SeededRNG {
    mutating func double(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &self)
        let v = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}

private let degree = Double.pi / 180

/// Smooth 0 → 1.
private func smoothstep(_ x: Double) -> Double {
    let t = min(1, max(0, x))
    return t * t * (3 - 2 * t)
}

/// yaw (about y) · pitch (about x) · roll (about z), radians.
func eulerQuat(yaw: Double, pitch: Double, roll: Double) -> Quat {
    let y = DQuat(x: 0, y: sin(yaw / 2), z: 0, w: cos(yaw / 2))
    let p = DQuat(x: sin(pitch / 2), y: 0, z: 0, w: cos(pitch / 2))
    let r = DQuat(x: 0, y: 0, z: sin(roll / 2), w: cos(roll / 2))
    return (y * p * r).float
}

/// A head turn that moves from one offset to another over a duration, then holds.
private struct Transition {
    var from = 0.0, to = 0.0, start = 0.0, duration = 1.0
    func value(at t: Double) -> Double { from + (to - from) * smoothstep((t - start) / duration) }
}

/// One simulated avatar.
struct AvatarMotion {
    let kind: MotionKind
    var rng: SeededRNG
    let area: (min: Vec3, max: Vec3)
    private(set) var time = 0.0

    // Body.
    private var x: Double, z: Double
    private var heading: Double
    private let height: Double
    private var speed: Double
    private let targetSpeed: Double
    private var stepPhase = 0.0
    private let stepRate: Double
    private let bob: Double, sway: Double
    private var turnRate: Drift
    private var sharpTurn = Transition()
    private var nextSharpTurn: Double
    private var swayX: Drift, swayZ: Drift, swayY: Drift
    private var reposition = (from: (0.0, 0.0), to: (0.0, 0.0), start: -10.0, duration: 1.0)
    private var nextReposition: Double

    // Head, relative to the body.
    private var lookYaw = Transition(), lookPitch = Transition()
    private var nextLook: Double
    private var lookPhase = 0  // walking: 0 idle, 1 glancing/holding
    private var microYaw: Drift, microPitch: Drift, roll: Drift, basePitch: Drift

    // Hands.
    private let swing: Double
    private var handDrift: [Drift]
    private var handTwist: [Drift]
    private var gesture = [Transition(), Transition()]
    private var nextGesture: Double
    private var lostUntil = [-1.0, -1.0]

    // Flags.
    private var speaking = false
    private var nextVoiceToggle: Double
    private var handRaisedUntil = -1.0

    init(kind: MotionKind, seed: UInt64, area: (min: Vec3, max: Vec3)) {
        var rng = SeededRNG(seed: seed)
        self.kind = kind
        self.area = area
        x = rng.double(Double(area.min.x) + 5...Double(area.max.x) - 5)
        z = rng.double(Double(area.min.z) + 5...Double(area.max.z) - 5)
        heading = rng.double(-.pi ... .pi)
        height = kind == .seated ? rng.double(1.1...1.3) : rng.double(1.5...1.8)
        targetSpeed = rng.double(0.9...1.4)
        speed = targetSpeed
        stepRate = 1.65 + (targetSpeed - 0.9) * 0.6 + rng.double(-0.1...0.1)  // steps per second
        bob = rng.double(0.015...0.03)
        sway = rng.double(0.01...0.02)
        turnRate = Drift(sigma: 12 * degree, tau: 2, rng: &rng)
        nextSharpTurn = rng.double(4...15)
        let swaySigma = kind == .seated ? 0.006 : 0.015
        swayX = Drift(sigma: swaySigma, tau: 2.5, rng: &rng)
        swayZ = Drift(sigma: swaySigma, tau: 2.5, rng: &rng)
        swayY = Drift(sigma: kind == .seated ? 0.002 : 0.004, tau: 3, rng: &rng)
        nextReposition = rng.double(4...15)
        nextLook = rng.double(0.5...3)
        microYaw = Drift(sigma: 0.8 * degree, tau: 0.6, rng: &rng)
        microPitch = Drift(sigma: 0.6 * degree, tau: 0.6, rng: &rng)
        roll = Drift(sigma: 2 * degree, tau: 3, rng: &rng)
        basePitch = Drift(sigma: 5 * degree, tau: 4, rng: &rng)
        swing = rng.double(0.08...0.25)
        let handSigma = kind == .seated ? 0.01 : kind == .walking ? 0.03 : 0.02
        handDrift = (0..<6).map { _ in Drift(sigma: handSigma, tau: 2.5, rng: &rng) }
        handTwist = (0..<6).map { _ in Drift(sigma: 12 * degree, tau: 2, rng: &rng) }
        nextGesture = rng.double(2...10)
        nextVoiceToggle = rng.double(1...6)
        self.rng = rng
    }

    /// Advances by `dt` seconds and returns the pose then.
    mutating func step(_ dt: Double) -> AvatarPose {
        time += dt
        let t = time
        var bodyY = height + swayY.step(dt, rng: &rng)
        var bodyX = x, bodyZ = z
        var bobPitch = 0.0, bobRoll = 0.0

        switch kind {
        case .walking:
            // Heading: drifting turn rate, sometimes a sharp turn, and walls steer back to the middle.
            var turn = turnRate.step(dt, rng: &rng)
            let cx = Double(area.min.x + area.max.x) / 2, cz = Double(area.min.z + area.max.z) / 2
            let halfX = Double(area.max.x - area.min.x) / 2, halfZ = Double(area.max.z - area.min.z) / 2
            if abs(x - cx) > halfX - 8 || abs(z - cz) > halfZ - 8 {
                let toCentre = atan2(-(cx - x), -(cz - z))
                let error = remainder(toCentre - heading, 2 * .pi)
                turn += max(-0.8, min(0.8, error))
            }
            if t >= nextSharpTurn {
                let angle = rng.double(45...120) * degree * (rng.bool() ? 1 : -1)
                sharpTurn = Transition(from: 0, to: angle, start: t, duration: rng.double(1...2))
                nextSharpTurn = t + rng.double(8...20)
            }
            let sharpBefore = sharpTurn.value(at: t - dt)
            heading += turn * dt + (sharpTurn.value(at: t) - sharpBefore)
            speed += (targetSpeed - speed) * dt + rng.gaussian() * 0.02 * dt.squareRoot()
            x += -sin(heading) * speed * dt
            z += -cos(heading) * speed * dt
            stepPhase += 2 * .pi * stepRate * dt
            bodyY += bob * cos(stepPhase)
            let lateral = sway * sin(stepPhase / 2)
            bodyX = x + cos(heading) * lateral
            bodyZ = z - sin(heading) * lateral
            bobPitch = 0.6 * degree * sin(stepPhase)
            bobRoll = 1.2 * degree * sin(stepPhase / 2)
        case .dwelling, .seated:
            if kind == .dwelling && t >= nextReposition {
                let distance = rng.double(0.2...0.8), direction = rng.double(-.pi ... .pi)
                reposition = ((x, z), (x - sin(direction) * distance, z - cos(direction) * distance), t, rng.double(1...2))
                heading += rng.double(-60...60) * degree
                nextReposition = t + rng.double(6...20)
            }
            let k = smoothstep((t - reposition.start) / reposition.duration)
            if t - reposition.start <= reposition.duration + dt {
                x = reposition.from.0 + (reposition.to.0 - reposition.from.0) * k
                z = reposition.from.1 + (reposition.to.1 - reposition.from.1) * k
            }
            bodyX = x + swayX.step(dt, rng: &rng)
            bodyZ = z + swayZ.step(dt, rng: &rng)
        }

        // Where the head looks, relative to the body.
        if t >= nextLook {
            let yaw0 = lookYaw.value(at: t), pitch0 = lookPitch.value(at: t)
            switch kind {
            case .walking:
                if lookPhase == 0 {
                    let target = rng.double(20...75) * degree * (rng.bool() ? 1 : -1)
                    let duration = rng.double(0.2...0.5)
                    lookYaw = Transition(from: yaw0, to: target, start: t, duration: duration)
                    lookPitch = Transition(from: pitch0, to: rng.double(-12...8) * degree, start: t, duration: duration)
                    nextLook = t + duration + rng.double(0.4...2)
                    lookPhase = 1
                } else {
                    let duration = rng.double(0.25...0.6)
                    lookYaw = Transition(from: yaw0, to: 0, start: t, duration: duration)
                    lookPitch = Transition(from: pitch0, to: 0, start: t, duration: duration)
                    nextLook = t + duration + rng.double(1.5...5)
                    lookPhase = 0
                }
            case .dwelling, .seated:
                let range = kind == .seated ? 45.0 : 70.0
                let target = rng.double(-range...range) * degree
                let pitchTarget = rng.double(-25...15) * degree
                let amplitude = max(abs(target - yaw0), abs(pitchTarget - pitch0)) / degree
                let duration = 0.15 + amplitude / (kind == .seated ? 120 : 180)
                lookYaw = Transition(from: yaw0, to: target, start: t, duration: duration)
                lookPitch = Transition(from: pitch0, to: pitchTarget, start: t, duration: duration)
                nextLook = t + duration + (kind == .seated ? rng.double(1.5...6) : rng.double(0.8...4))
            }
        }
        let headYaw = heading + lookYaw.value(at: t) + microYaw.step(dt, rng: &rng)
        let headPitch = basePitch.step(dt, rng: &rng) - 5 * degree + lookPitch.value(at: t) + microPitch.step(dt, rng: &rng) + bobPitch
        let headRoll = roll.step(dt, rng: &rng) + bobRoll
        let jitterHead = 0.0002, jitterHeadAngle = 0.02 * degree
        let head = Vec3(
            Float(bodyX + rng.gaussian() * jitterHead), Float(bodyY + rng.gaussian() * jitterHead),
            Float(bodyZ + rng.gaussian() * jitterHead))
        let headRotation = eulerQuat(
            yaw: headYaw + rng.gaussian() * jitterHeadAngle, pitch: headPitch + rng.gaussian() * jitterHeadAngle,
            roll: headRoll + rng.gaussian() * jitterHeadAngle)

        // Hands, in the body frame (x right, y up, z forward), then rotated by the body heading.
        if kind != .walking && t >= nextGesture {
            let which = rng.int(0...2)  // left, right, both
            let hold = rng.double(1...3)
            for side in 0..<2 where which == 2 || which == side {
                gesture[side] = Transition(from: 0, to: 1, start: t, duration: rng.double(0.4...0.7))
                gestureHold[side] = t + gesture[side].duration + hold
            }
            if rng.chance(0.05) { handRaisedUntil = t + rng.double(2...6) }
            nextGesture = t + (kind == .seated ? rng.double(8...25) : rng.double(3...12))
        }
        var hands: [HandPose?] = [nil, nil]
        for side in 0..<2 {
            if t < lostUntil[side] { continue }
            if rng.chance(0.004 * dt) { lostUntil[side] = t + rng.double(0.3...3) }
            let s = side == 0 ? -1.0 : 1.0
            var bx: Double, by: Double, bz: Double
            var handPitch: Double
            switch kind {
            case .walking:
                let phase = stepPhase / 2 + (side == 0 ? .pi : 0)
                bx = 0.2 * s
                by = -0.55 + 0.02 * cos(stepPhase)
                bz = 0.12 + swing * sin(phase)
                handPitch = -30 * degree + 25 * degree * sin(phase) * swing / 0.25
            case .dwelling, .seated:
                let rest = kind == .seated ? (0.18, -0.5, 0.25) : (0.22, -0.6, 0.1)
                let up = gestureLevel(side, at: t)
                bx = s * (rest.0 + (0.3 - rest.0) * up * 0.5)
                by = rest.1 + (-0.25 - rest.1) * up
                bz = rest.2 + (0.35 - rest.2) * up
                // Talking hands: a 1.5 Hz wave while the gesture is up.
                by += 0.04 * up * sin(2 * .pi * 1.5 * t + Double(side))
                bx += 0.03 * up * sin(2 * .pi * 1.1 * t + 2 * Double(side))
                handPitch = -20 * degree + 40 * degree * up
            }
            if side == 1 && t < handRaisedUntil {
                bx = 0.15; by = 0.25; bz = 0.1; handPitch = 80 * degree
            }
            bx += handDrift[3 * side].step(dt, rng: &rng)
            by += handDrift[3 * side + 1].step(dt, rng: &rng)
            bz += handDrift[3 * side + 2].step(dt, rng: &rng)
            // Body frame → world: forward is (−sin h, 0, −cos h), right is (cos h, 0, −sin h).
            let wx = cos(heading) * bx - sin(heading) * bz
            let wz = -sin(heading) * bx - cos(heading) * bz
            let jitterHand = 0.0006, jitterHandAngle = 0.1 * degree
            let position = Vec3(
                Float(bodyX + wx + rng.gaussian() * jitterHand), Float(bodyY + by + rng.gaussian() * jitterHand),
                Float(bodyZ + wz + rng.gaussian() * jitterHand))
            let rotation = eulerQuat(
                yaw: heading + handTwist[3 * side].step(dt, rng: &rng) + rng.gaussian() * jitterHandAngle,
                pitch: handPitch + handTwist[3 * side + 1].step(dt, rng: &rng) + rng.gaussian() * jitterHandAngle,
                roll: s * 10 * degree + handTwist[3 * side + 2].step(dt, rng: &rng) + rng.gaussian() * jitterHandAngle)
            hands[side] = HandPose(position: position, rotation: rotation)
        }

        if t >= nextVoiceToggle {
            speaking.toggle()
            nextVoiceToggle = t + (speaking ? rng.double(1...5) : rng.double(1...8)) * (kind == .walking ? 2 : 1)
        }
        return AvatarPose(
            headPosition: head, headRotation: headRotation, leftHand: hands[0], rightHand: hands[1],
            handRaised: t < handRaisedUntil, speaking: speaking)
    }

    private var gestureHold = [-1.0, -1.0]

    /// 0 (resting) … 1 (gesture up): rises, holds, falls back.
    private func gestureLevel(_ side: Int, at t: Double) -> Double {
        let g = gesture[side]
        if t < gestureHold[side] { return g.value(at: t) }
        return 1 - smoothstep((t - gestureHold[side]) / 0.5)
    }
}

/// Quantized poses of `count` avatars of one kind over `ticks` ticks at 30 Hz (after a 2 s warm-up).
func simulatedPoses(kind: MotionKind, count: Int, ticks: Int, seed: UInt64, codec: PoseCodec) -> [[QuantizedPose]] {
    let b = codec.bounds
    let area = (min: b.min + Vec3(1, 0, 1), max: b.max - Vec3(1, 0, 1))
    return (0..<count).map { i in
        var motion = AvatarMotion(kind: kind, seed: seed &+ UInt64(i) &* 7919, area: area)
        for _ in 0..<60 { _ = motion.step(1.0 / 30) }
        return (0..<ticks).map { _ in codec.quantize(motion.step(1.0 / 30)) }
    }
}
