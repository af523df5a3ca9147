import AtriumWire

/// How far and how fast an avatar may move between two pose inputs.
public struct MovementLimits: Sendable, Equatable {
    /// Fastest believable head movement, metres per second.
    public var maxSpeed: Float
    /// Farthest a hand may be from the head, metres.
    public var maxReach: Float
    /// A single step longer than this (metres) is never allowed, however much time has passed.
    public var teleportDistance: Float

    public init(maxSpeed: Float = 10, maxReach: Float = 1.0, teleportDistance: Float = 5) {
        self.maxSpeed = maxSpeed
        self.maxReach = maxReach
        self.teleportDistance = teleportDistance
    }
}

/// Why a move was refused while the previous position is kept.
public enum MovementViolation: Equatable, Sendable {
    /// Faster than `maxSpeed` over the elapsed time (plus slack).
    case tooFast
    /// Farther than `teleportDistance` in one step.
    case teleport
}

public enum MovementCheck: Equatable, Sendable {
    case accepted
    /// A coordinate is NaN or infinite.
    case rejectedNonFinite
    /// The proposed position lies outside the world bounds.
    case rejectedOutOfBounds
    /// Too fast or a teleport: keep the previous position and tell the client so.
    case rubberBand(reason: MovementViolation)
}

/// Judges head positions proposed by clients. Pure: time comes in as parameters.
public struct MovementValidator: Sendable, Equatable {
    public var bounds: WorldBounds
    public var limits: MovementLimits

    /// The shortest elapsed time a step is judged over (one tick at 120 Hz), so two inputs that
    /// arrive close together (or out of order) are not mistaken for very fast movement.
    public static let minimumElapsedSeconds: Double = 1.0 / 120
    /// Distance always allowed on top of `maxSpeed × elapsed`, for tracking jitter.
    public static let slackMetres: Float = 0.05

    public init(bounds: WorldBounds, limits: MovementLimits = MovementLimits()) {
        self.bounds = bounds
        self.limits = limits
    }

    /// Checks moving from `previous` (accepted at `previousTimeMicros`) to `proposed` at `timeMicros`.
    /// With no previous position (first pose after joining) only finiteness and bounds are checked.
    /// Times are the server's receive times in microseconds; a time earlier than the previous one
    /// is treated as no time having passed.
    public func check(previous: Vec3?, previousTimeMicros: UInt64, proposed: Vec3, timeMicros: UInt64)
        -> MovementCheck
    {
        guard proposed.isFinite else { return .rejectedNonFinite }
        guard inBounds(proposed) else { return .rejectedOutOfBounds }
        guard let previous, previous.isFinite else { return .accepted }

        let distance = Vec3.distance(previous, proposed)
        if distance > limits.teleportDistance { return .rubberBand(reason: .teleport) }

        let elapsedMicros = timeMicros >= previousTimeMicros ? timeMicros - previousTimeMicros : 0
        let elapsed = max(Double(elapsedMicros) / 1_000_000, Self.minimumElapsedSeconds)
        let allowed = Double(limits.maxSpeed) * elapsed + Double(Self.slackMetres)
        if Double(distance) > allowed { return .rubberBand(reason: .tooFast) }
        return .accepted
    }

    /// True when both points are finite and the hand is no farther than `maxReach` from the head.
    public func handWithinReach(head: Vec3, hand: Vec3) -> Bool {
        guard head.isFinite, hand.isFinite else { return false }
        return Vec3.distance(head, hand) <= limits.maxReach
    }

    /// Inclusive on every face (written out so it does not depend on `WorldBounds.contains`' edges).
    private func inBounds(_ p: Vec3) -> Bool {
        p.x >= bounds.min.x && p.x <= bounds.max.x && p.y >= bounds.min.y && p.y <= bounds.max.y
            && p.z >= bounds.min.z && p.z <= bounds.max.z
    }
}
