import AtriumWire
import AtriumWorld
import Testing

@Suite struct MovementTests {
    let validator = MovementValidator(
        bounds: WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 12, 100)), limits: MovementLimits())
    let start = Vec3(0, 1.6, 0)
    let t0: UInt64 = 5_000_000
    /// One input interval at 30 Hz, in microseconds.
    let frame: UInt64 = 33_333

    @Test func defaults() {
        let limits = MovementLimits()
        #expect(limits.maxSpeed == 10 && limits.maxReach == 1.0 && limits.teleportDistance == 5)
    }

    @Test func firstPoseNeedsOnlyToBeFiniteAndInBounds() {
        #expect(validator.check(previous: nil, previousTimeMicros: 0, proposed: start, timeMicros: t0) == .accepted)
        #expect(validator.check(previous: nil, previousTimeMicros: 0, proposed: Vec3(0, 1.6, 150), timeMicros: t0)
            == .rejectedOutOfBounds)
    }

    @Test func walkingIsAccepted() {
        // 1.4 m/s for three seconds at 30 Hz, each step judged against the one before.
        var position = start
        var time = t0
        for _ in 0..<90 {
            let next = position + Vec3(1.4, 0, 0) * (Float(frame) / 1_000_000)
            #expect(validator.check(previous: position, previousTimeMicros: time, proposed: next,
                                    timeMicros: time + frame) == .accepted)
            position = next
            time += frame
        }
    }

    @Test func sprintingAtTheLimitIsAccepted() {
        let next = start + Vec3(0, 0, -10 * 0.1)  // 10 m/s over 100 ms
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: next, timeMicros: t0 + 100_000)
            == .accepted)
    }

    @Test func jitteryTimingIsTolerated() {
        // Two inputs stamped in the same microsecond, 10 cm apart: judged over one 120 Hz tick plus slack.
        let next = start + Vec3(0.1, 0, 0)
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: next, timeMicros: t0) == .accepted)
        // An input that arrives "before" the previous one is treated as no time passed, not as a huge gap.
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: next, timeMicros: t0 - 1_000_000)
            == .accepted)
        // Head bob of 4 cm within 2 ms.
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: start + Vec3(0, 0.04, 0),
                                timeMicros: t0 + 2_000) == .accepted)
    }

    @Test func runningAtTenTimesTheSpeedRubberBands() {
        // 100 m/s: 3.3 m in one 30 Hz frame, under the teleport distance but far too fast.
        let next = start + Vec3(100, 0, 0) * (Float(frame) / 1_000_000)
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: next, timeMicros: t0 + frame)
            == .rubberBand(reason: .tooFast))
        // Just over the allowance (speed × elapsed + 5 cm).
        let barelyOver = start + Vec3(10 * 0.1 + 0.06, 0, 0)
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: barelyOver,
                                timeMicros: t0 + 100_000) == .rubberBand(reason: .tooFast))
    }

    @Test func teleportIsNeverAllowed() {
        // Six metres after ten quiet seconds would be slow enough, but is one step.
        let far = start + Vec3(6, 0, 0)
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: far, timeMicros: t0 + 10_000_000)
            == .rubberBand(reason: .teleport))
        let within = start + Vec3(4.9, 0, 0)
        #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: within,
                                timeMicros: t0 + 10_000_000) == .accepted)
    }

    @Test func nonFiniteIsRejected() {
        for bad in [Vec3(.nan, 1.6, 0), Vec3(0, .infinity, 0), Vec3(0, 1.6, -.infinity), Vec3(.signalingNaN, 0, 0)] {
            #expect(validator.check(previous: start, previousTimeMicros: t0, proposed: bad, timeMicros: t0 + frame)
                == .rejectedNonFinite)
            #expect(validator.check(previous: nil, previousTimeMicros: 0, proposed: bad, timeMicros: t0)
                == .rejectedNonFinite)
        }
    }

    @Test func outOfBoundsIsRejected() {
        let edge = Vec3(100, 1.6, 0)
        #expect(validator.check(previous: Vec3(99.9, 1.6, 0), previousTimeMicros: t0, proposed: edge,
                                timeMicros: t0 + frame) == .accepted)
        for outside in [Vec3(100.05, 1.6, 0), Vec3(0, -0.1, 0), Vec3(0, 12.1, 0), Vec3(0, 1.6, -100.01)] {
            let from = Vec3(min(max(outside.x, -99.99), 99.99), 1.6, min(max(outside.z, -99.99), 99.99))
            #expect(validator.check(previous: from, previousTimeMicros: t0, proposed: outside, timeMicros: t0 + frame)
                == .rejectedOutOfBounds)
        }
    }

    @Test func handReach() {
        let head = Vec3(0, 1.6, 0)
        #expect(validator.handWithinReach(head: head, hand: Vec3(0.3, 1.2, -0.5)))
        #expect(validator.handWithinReach(head: head, hand: Vec3(0, 0.6, 0)))  // exactly 1 m
        #expect(!validator.handWithinReach(head: head, hand: Vec3(0, 1.6, -1.2)))
        #expect(!validator.handWithinReach(head: head, hand: Vec3(.nan, 1.6, 0)))
        #expect(!validator.handWithinReach(head: Vec3(0, .infinity, 0), hand: head))
        let longArms = MovementValidator(bounds: validator.bounds, limits: MovementLimits(maxReach: 1.5))
        #expect(longArms.handWithinReach(head: head, hand: Vec3(0, 1.6, -1.2)))
    }
}
