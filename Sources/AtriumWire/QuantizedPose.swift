// Quantized poses: the integers PoseBits carry (PROTOCOL.md §8). Snapshot views hold these, so that server
// and client compare and delta-encode exact integers, never floats.

/// A smallest-three rotation as written: the index of the dropped (largest) component and the three other
/// components' codes, in index order (PROTOCOL.md §8.3). Codes are 10 bits for the head, 9 for hands.
public struct QuantizedRotation: Hashable, Sendable {
    /// 0...3.
    public var index: UInt8
    public var a: UInt16
    public var b: UInt16
    public var c: UInt16

    public init(index: UInt8, a: UInt16, b: UInt16, c: UInt16) {
        self.index = index
        self.a = a
        self.b = b
        self.c = c
    }

    /// The identity rotation (index 3, every other component 0 = code H).
    public static func identity(bits: Int) -> QuantizedRotation {
        let h = UInt16((1 << (bits - 1)) - 1)
        return QuantizedRotation(index: 3, a: h, b: h, c: h)
    }

    init(_ p: SmallestThree.Packed) {
        self.init(index: UInt8(p.index), a: UInt16(truncatingIfNeeded: p.a), b: UInt16(truncatingIfNeeded: p.b),
                  c: UInt16(truncatingIfNeeded: p.c))
    }

    var packed: SmallestThree.Packed {
        SmallestThree.Packed(index: Int(index & 3), a: UInt32(a), b: UInt32(b), c: UInt32(c))
    }

    @inline(__always) subscript(component i: Int) -> UInt16 {
        get { i == 0 ? a : i == 1 ? b : c }
        set {
            switch i {
            case 0: a = newValue
            case 1: b = newValue
            default: c = newValue
            }
        }
    }
}

/// A hand as written: its position offset from the decoded head in millimetres + 1024 (11-bit codes per
/// axis) and its rotation relative to the decoded head rotation (9-bit smallest-three).
public struct QuantizedHand: Hashable, Sendable {
    /// 0...2047 each; 1024 = the head's position on that axis.
    public var x: UInt16
    public var y: UInt16
    public var z: UInt16
    public var rotation: QuantizedRotation

    public init(x: UInt16, y: UInt16, z: UInt16, rotation: QuantizedRotation) {
        self.x = x
        self.y = y
        self.z = z
        self.rotation = rotation
    }

    /// (x, y, z) as a tuple.
    public var offset: (x: UInt16, y: UInt16, z: UInt16) { (x, y, z) }

    @inline(__always) subscript(axis i: Int) -> UInt16 {
        get { i == 0 ? x : i == 1 ? y : z }
        set {
            switch i {
            case 0: x = newValue
            case 1: y = newValue
            default: z = newValue
            }
        }
    }
}

/// Everything PoseBits carry, as integers. Two equal `QuantizedPose`s encode to the same bits and decode
/// to the same `AvatarPose`.
///
/// `flags` is always canonical: bit 0 is `left != nil`, bit 1 is `right != nil`, bits 2–3 are hand raised and
/// speaking, bits 4–7 are 0. Setting `flags`, `left` or `right` keeps it so (setting `flags` cannot add or
/// remove a hand).
public struct QuantizedPose: Hashable, Sendable {
    public var flags: UInt8 {
        didSet { flags = Self.canonical(flags, left: left, right: right) }
    }
    /// Head position codes per axis, 0...E (PROTOCOL.md §8.1).
    public var x: UInt32
    public var y: UInt32
    public var z: UInt32
    /// 10-bit smallest-three.
    public var head: QuantizedRotation
    public var left: QuantizedHand? {
        didSet { flags = Self.canonical(flags, left: left, right: right) }
    }
    public var right: QuantizedHand? {
        didSet { flags = Self.canonical(flags, left: left, right: right) }
    }

    /// `flags` bits 0 and 1 are taken from `left` and `right`; bits 4–7 are cleared.
    public init(flags: UInt8, x: UInt32, y: UInt32, z: UInt32, head: QuantizedRotation, left: QuantizedHand? = nil,
                right: QuantizedHand? = nil) {
        self.flags = Self.canonical(flags, left: left, right: right)
        self.x = x
        self.y = y
        self.z = z
        self.head = head
        self.left = left
        self.right = right
    }

    /// Bits 0–3 of the flags byte that v2 defines; bits 4–7 are reserved.
    static let knownFlags: UInt8 = 0x0F

    @inline(__always) static func canonical(_ flags: UInt8, left: QuantizedHand?, right: QuantizedHand?) -> UInt8 {
        (flags & 0x0C) | (left == nil ? 0 : 1) | (right == nil ? 0 : 2)
    }

    public var handRaised: Bool { flags & PoseFlags.handRaised.rawValue != 0 }
    public var speaking: Bool { flags & PoseFlags.speaking.rawValue != 0 }

    @inline(__always) subscript(axis i: Int) -> UInt32 {
        get { i == 0 ? x : i == 1 ? y : z }
        set {
            switch i {
            case 0: x = newValue
            case 1: y = newValue
            default: z = newValue
            }
        }
    }
}

extension PoseCodec {
    /// The integers PoseBits carry for `pose`: exactly what `encode` writes.
    public func quantize(_ pose: AvatarPose) -> QuantizedPose {
        let q = positions.quantize(pose.headPosition)
        let head = SmallestThree.pack(DQuat(pose.headRotation), bits: Self.headRotationBits)
        var result = QuantizedPose(
            flags: pose.flags.rawValue, x: q.x, y: q.y, z: q.z, head: QuantizedRotation(head))
        guard pose.leftHand != nil || pose.rightHand != nil else { return result }
        // Hands are relative to what the receiver will decode for the head (§8.2), so head quantization
        // error does not add to the hands' error.
        let decodedHead = positions.dequantize(q)
        let decodedRotation = DQuat(SmallestThree.unpack(head, bits: Self.headRotationBits).float)
        if let hand = pose.leftHand { result.left = quantizeHand(hand, head: decodedHead, headRotation: decodedRotation) }
        if let hand = pose.rightHand { result.right = quantizeHand(hand, head: decodedHead, headRotation: decodedRotation) }
        return result
    }

    private func quantizeHand(_ hand: HandPose, head: Vec3, headRotation: DQuat) -> QuantizedHand {
        let bias = Int64(Self.handOffsetBias)
        let top = Int64((1 << Self.handOffsetBits) - 1)
        @inline(__always) func offset(_ v: Float, _ base: Float) -> UInt16 {
            // round, then add the bias, then clamp (§8.2); a NaN offset counts as 0 (code 1024). Clamping
            // before converting keeps huge or infinite offsets from trapping.
            let scaled = (Double(v) - Double(base)) * 1000
            let r = scaled.isNaN ? 0 : scaled.rounded(.toNearestOrAwayFromZero)
            return UInt16(quantizeClamped(r + Double(bias), 0, top))
        }
        let relative = headRotation.conjugate * DQuat(hand.rotation)
        return QuantizedHand(
            x: offset(hand.position.x, head.x), y: offset(hand.position.y, head.y), z: offset(hand.position.z, head.z),
            rotation: QuantizedRotation(SmallestThree.pack(relative, bits: Self.handRotationBits)))
    }

    /// The pose a receiver sees for these integers: exactly what `decode` returns for their bits. Position
    /// codes above E are clamped to E (decoders never produce them).
    public func dequantize(_ q: QuantizedPose) -> AvatarPose {
        let head = positions.dequantize((q.x, q.y, q.z))
        let headRotation = SmallestThree.unpack(q.head.packed, bits: Self.headRotationBits).float
        var pose = AvatarPose(headPosition: head, headRotation: headRotation, handRaised: q.handRaised, speaking: q.speaking)
        if let hand = q.left { pose.leftHand = dequantizeHand(hand, head: head, headRotation: headRotation) }
        if let hand = q.right { pose.rightHand = dequantizeHand(hand, head: head, headRotation: headRotation) }
        return pose
    }

    private func dequantizeHand(_ hand: QuantizedHand, head: Vec3, headRotation: Quat) -> HandPose {
        @inline(__always) func position(_ q: UInt16, _ base: Float) -> Float {
            Float(Double(base) + Double(Int64(q & 0x7FF) - Int64(Self.handOffsetBias)) / 1000)
        }
        let relative = SmallestThree.unpack(hand.rotation.packed, bits: Self.handRotationBits)
        let rotation = (DQuat(headRotation) * relative).normalized.float
        return HandPose(position: Vec3(position(hand.x, head.x), position(hand.y, head.y), position(hand.z, head.z)), rotation: rotation)
    }

    // MARK: PoseBits

    /// Size of the PoseBits of `q` (PROTOCOL.md §8): 8 + position + 32 + 62 per hand.
    public func fullBits(_ q: QuantizedPose) -> Int {
        baseBitCount + (q.left == nil ? 0 : Self.handBits) + (q.right == nil ? 0 : Self.handBits)
    }

    /// Writes PoseBits. Codes are written as they are (the caller's codes above E or above the field width
    /// are cut to the field width; `quantize` and the decoders never produce them).
    func writeFull<S: BitSink>(_ q: QuantizedPose, into w: inout S) {
        w.write(UInt64(q.flags), bits: 8)
        w.write(UInt64(q.x), bits: positions.bitsPerAxis.x)
        w.write(UInt64(q.y), bits: positions.bitsPerAxis.y)
        w.write(UInt64(q.z), bits: positions.bitsPerAxis.z)
        Self.writeRotation(q.head, bits: Self.headRotationBits, into: &w)
        if let hand = q.left { Self.writeFullHand(hand, into: &w) }
        if let hand = q.right { Self.writeFullHand(hand, into: &w) }
    }

    static func writeRotation<S: BitSink>(_ r: QuantizedRotation, bits: Int, into w: inout S) {
        w.write(UInt64(r.index), bits: 2)
        w.write(UInt64(r.a), bits: bits)
        w.write(UInt64(r.b), bits: bits)
        w.write(UInt64(r.c), bits: bits)
    }

    static func writeFullHand<S: BitSink>(_ hand: QuantizedHand, into w: inout S) {
        w.write(UInt64(hand.x), bits: handOffsetBits)
        w.write(UInt64(hand.y), bits: handOffsetBits)
        w.write(UInt64(hand.z), bits: handOffsetBits)
        writeRotation(hand.rotation, bits: handRotationBits, into: &w)
    }

    /// Reads PoseBits. A head position code above E is `invalidField("headPosition.x|y|z")`.
    func readFull(from r: inout BitReader) throws(WireError) -> QuantizedPose {
        let flags = UInt8(truncatingIfNeeded: try r.read(bits: 8))
        let x = try readPositionCode(axis: 0, from: &r)
        let y = try readPositionCode(axis: 1, from: &r)
        let z = try readPositionCode(axis: 2, from: &r)
        let head = try Self.readRotation(bits: Self.headRotationBits, from: &r)
        let left = flags & 1 != 0 ? try Self.readFullHand(from: &r) : nil
        let right = flags & 2 != 0 ? try Self.readFullHand(from: &r) : nil
        return QuantizedPose(flags: flags, x: x, y: y, z: z, head: head, left: left, right: right)
    }

    func readPositionCode(axis: Int, from r: inout BitReader) throws(WireError) -> UInt32 {
        let v = try r.read(bits: positionBits(axis: axis))
        guard v <= UInt64(positionMax(axis: axis)) else {
            throw .invalidField(field: "headPosition." + ["x", "y", "z"][axis], value: v)
        }
        return UInt32(v)
    }

    @inline(__always) func positionBits(axis: Int) -> Int {
        axis == 0 ? positions.bitsPerAxis.x : axis == 1 ? positions.bitsPerAxis.y : positions.bitsPerAxis.z
    }

    @inline(__always) func positionMax(axis: Int) -> UInt32 {
        axis == 0 ? positions.maxValue.x : axis == 1 ? positions.maxValue.y : positions.maxValue.z
    }

    static func readRotation(bits: Int, from r: inout BitReader) throws(WireError) -> QuantizedRotation {
        let i = try r.read(bits: 2)
        let a = try r.read(bits: bits)
        let b = try r.read(bits: bits)
        let c = try r.read(bits: bits)
        return QuantizedRotation(index: UInt8(i), a: UInt16(a), b: UInt16(b), c: UInt16(c))
    }

    static func readFullHand(from r: inout BitReader) throws(WireError) -> QuantizedHand {
        let x = try r.read(bits: handOffsetBits)
        let y = try r.read(bits: handOffsetBits)
        let z = try r.read(bits: handOffsetBits)
        let rotation = try readRotation(bits: handRotationBits, from: &r)
        return QuantizedHand(x: UInt16(x), y: UInt16(y), z: UInt16(z), rotation: rotation)
    }
}
