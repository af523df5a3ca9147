/// The flags byte that starts every PoseBits. Bits 4–7 are reserved: written as 0, ignored when read.
public struct PoseFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let leftHandPresent = PoseFlags(rawValue: 1)
    public static let rightHandPresent = PoseFlags(rawValue: 2)
    public static let handRaised = PoseFlags(rawValue: 4)
    public static let speaking = PoseFlags(rawValue: 8)

    /// The bits v2 defines.
    public static let known: PoseFlags = [.leftHandPresent, .rightHandPresent, .handRaised, .speaking]
}

/// A tracked hand, in world space.
public struct HandPose: Equatable, Sendable {
    public var position: Vec3
    public var rotation: Quat

    public init(position: Vec3, rotation: Quat) {
        self.position = position
        self.rotation = rotation
    }
}

/// An avatar's head and hands, in world space.
public struct AvatarPose: Equatable, Sendable {
    public var headPosition: Vec3
    public var headRotation: Quat
    /// nil = not tracked.
    public var leftHand: HandPose?
    /// nil = not tracked.
    public var rightHand: HandPose?
    public var handRaised: Bool
    public var speaking: Bool

    public init(
        headPosition: Vec3, headRotation: Quat, leftHand: HandPose? = nil, rightHand: HandPose? = nil,
        handRaised: Bool = false, speaking: Bool = false
    ) {
        self.headPosition = headPosition
        self.headRotation = headRotation
        self.leftHand = leftHand
        self.rightHand = rightHand
        self.handRaised = handRaised
        self.speaking = speaking
    }

    public var flags: PoseFlags {
        var f: PoseFlags = []
        if leftHand != nil { f.insert(.leftHandPresent) }
        if rightHand != nil { f.insert(.rightHandPresent) }
        if handRaised { f.insert(.handRaised) }
        if speaking { f.insert(.speaking) }
        return f
    }
}

/// Encodes and decodes PoseBits for one world. Built from the WELCOME bounds; sender and receiver must
/// use the same bounds.
///
/// Layout: u8 flags; head position (PositionQuantizer); head rotation (smallest-three, 10 bits);
/// then per present hand (left, then right): 3 × 11-bit offset from the decoded head position in mm
/// (+1024 bias) and the rotation relative to the decoded head rotation (smallest-three, 9 bits).
public struct PoseCodec: Sendable {
    public static let headRotationBits = 10
    public static let handRotationBits = 9
    public static let handOffsetBits = 11
    /// Offsets are stored as mm + 1024: −1.024 m ... +1.023 m.
    public static let handOffsetBias = 1024
    /// Bits of one hand: 3 × 11 + (2 + 3 × 9) = 62.
    public static let handBits = 3 * handOffsetBits + 2 + 3 * handRotationBits

    public let bounds: WorldBounds
    public let positions: PositionQuantizer

    public init(bounds: WorldBounds) {
        self.bounds = bounds
        self.positions = PositionQuantizer(bounds: bounds)
    }

    /// Bits of a pose without hands.
    public var baseBitCount: Int { 8 + positions.totalBits + 2 + 3 * Self.headRotationBits }
    /// Bits of a pose with both hands (the largest).
    public var maxBitCount: Int { baseBitCount + 2 * Self.handBits }

    public func bitCount(of pose: AvatarPose) -> Int {
        baseBitCount + (pose.leftHand == nil ? 0 : Self.handBits) + (pose.rightHand == nil ? 0 : Self.handBits)
    }

    /// Writes the PoseBits of `pose`: `quantize`, then the integers (one path for every pose written).
    public func encode(_ pose: AvatarPose, into w: inout BitWriter) {
        writeFull(quantize(pose), into: &w)
    }

    /// Reads PoseBits: the integers, then `dequantize`.
    public func decode(from r: inout BitReader) throws(WireError) -> AvatarPose {
        dequantize(try readFull(from: &r))
    }

    /// The pose a receiver will decode from this pose's bits. Servers store this, so that what they reason
    /// about is what clients see.
    ///
    /// Positions and flags are idempotent: `roundTrip(roundTrip(p))` has the same positions as `roundTrip(p)`.
    /// Rotations almost always are; when the two largest quaternion components of a decoded rotation are
    /// within one quantization step of each other (≈ 0.2 % of random rotations, ≈ 0.5 % of poses with both
    /// hands) re-encoding drops the other component and the result moves by less than the quantization
    /// error (≤ 0.55°). A server that decodes a POSE already holds `roundTrip(clientPose)`; it need not
    /// round-trip it again.
    public func roundTrip(_ pose: AvatarPose) -> AvatarPose {
        dequantize(quantize(pose))
    }
}
