// Pose deltas (PROTOCOL.md §10.3.4): a pose written against a baseline pose, over the quantized integers.
//
//   u1 changed                 0: the pose equals the baseline pose; nothing follows
//   u1 special                 1: flags or a rotation's largest-component index changed
//   [special] u4 flags, then one u1 "index changed" per rotation present in both poses (head, left, right)
//   head position              3 codes (x, y, z)
//   head rotation              index changed: full smallest-three (u2 + 3 × u10); else 3 codes
//   per hand in the new pose   in the baseline too: 3 offset codes, then its rotation as the head's (9-bit)
//   (left, then right)         new: the full hand (3 × u11 + u2 + 3 × u9)
//
// A code carries d = new − old of one integer as zigzag z = 2d (d ≥ 0) or −2d − 1 (d < 0), in one of four
// classes with a unary class prefix (stream order):
//   0      small    z in [0, 2^s)                        payload z            in s bits
//   1 0    medium   z in [2^s, 2^s + 2^m)                payload z − 2^s      in m bits
//   1 1 0  large    z in [2^s + 2^m, 2^s + 2^m + 2^l)    payload z − 2^s − 2^m in l bits
//   1 1 1  raw      anything                              the new value itself in the field's width
// The encoder uses the first class that holds z.

/// Payload widths of the three delta classes of one group of codes.
struct DeltaClassWidths: Hashable, Sendable, CustomStringConvertible {
    var small: Int
    var medium: Int
    var large: Int

    init(_ small: Int, _ medium: Int, _ large: Int) {
        self.small = small
        self.medium = medium
        self.large = large
    }

    var description: String { "\(small)/\(medium)/\(large)" }
}

/// The class widths of a pose delta. The protocol fixes one layout (`v2`); the others exist for measuring.
struct PoseDeltaLayout: Hashable, Sendable, CustomStringConvertible {
    /// Head position, x and z.
    var positionHorizontal: DeltaClassWidths
    /// Head position, y.
    var positionVertical: DeltaClassWidths
    /// Head rotation components (10-bit codes).
    var headRotation: DeltaClassWidths
    /// Hand offset axes (11-bit codes).
    var handOffset: DeltaClassWidths
    /// Hand rotation components (9-bit codes).
    var handRotation: DeltaClassWidths

    /// Protocol v2 (PROTOCOL.md §10.3.4), chosen by `DeltaSizeTests.classWidthsMinimiseMeanBits`.
    static let v2 = PoseDeltaLayout(
        positionHorizontal: DeltaClassWidths(4, 7, 8), positionVertical: DeltaClassWidths(2, 5, 5),
        headRotation: DeltaClassWidths(3, 3, 5), handOffset: DeltaClassWidths(4, 5, 7), handRotation: DeltaClassWidths(4, 4, 5))

    var description: String {
        "position x/z \(positionHorizontal), y \(positionVertical), head rotation \(headRotation), "
            + "hand offset \(handOffset), hand rotation \(handRotation)"
    }
}

@inline(__always) func zigzag(_ d: Int64) -> UInt64 { UInt64(bitPattern: (d &<< 1) ^ (d >> 63)) }
@inline(__always) func unzigzag(_ z: UInt64) -> Int64 { Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1) }

extension PoseCodec {
    /// Size in bits of `to` written as a delta against `from` (the pose delta of an update entry, without
    /// its idGap, kind and sequence delta). 1 when the poses are equal.
    public func deltaBits(from base: QuantizedPose, to pose: QuantizedPose) -> Int {
        deltaBits(from: base, to: pose, layout: .v2)
    }

    func deltaBits(from base: QuantizedPose, to pose: QuantizedPose, layout: PoseDeltaLayout) -> Int {
        var counter = BitCounter()
        writeDelta(from: base, to: pose, layout: layout, into: &counter)
        return counter.bitCount
    }

    func writeDelta<S: BitSink>(from base: QuantizedPose, to pose: QuantizedPose, layout: PoseDeltaLayout, into w: inout S) {
        if pose == base {
            w.write(0, bits: 1)
            return
        }
        w.write(1, bits: 1)
        let headIndexChanged = pose.head.index != base.head.index
        let leftIndexChanged = Self.indexChanged(pose.left, base.left)
        let rightIndexChanged = Self.indexChanged(pose.right, base.right)
        if pose.flags == base.flags && !headIndexChanged && !leftIndexChanged && !rightIndexChanged {
            w.write(0, bits: 1)
        } else {
            w.write(1, bits: 1)
            w.write(UInt64(pose.flags & QuantizedPose.knownFlags), bits: 4)
            w.write(headIndexChanged ? 1 : 0, bits: 1)
            if pose.left != nil && base.left != nil { w.write(leftIndexChanged ? 1 : 0, bits: 1) }
            if pose.right != nil && base.right != nil { w.write(rightIndexChanged ? 1 : 0, bits: 1) }
        }
        for axis in 0..<3 {
            Self.writeCode(
                Int64(pose[axis: axis]), base: Int64(base[axis: axis]), rawBits: positionBits(axis: axis),
                widths: axis == 1 ? layout.positionVertical : layout.positionHorizontal, into: &w)
        }
        Self.writeRotationDelta(pose.head, base: base.head, bits: Self.headRotationBits, widths: layout.headRotation, into: &w)
        if let hand = pose.left { Self.writeHandDelta(hand, base: base.left, layout: layout, into: &w) }
        if let hand = pose.right { Self.writeHandDelta(hand, base: base.right, layout: layout, into: &w) }
    }

    @inline(__always) private static func indexChanged(_ a: QuantizedHand?, _ b: QuantizedHand?) -> Bool {
        guard let a, let b else { return false }
        return a.rotation.index != b.rotation.index
    }

    private static func writeHandDelta<S: BitSink>(_ hand: QuantizedHand, base: QuantizedHand?, layout: PoseDeltaLayout, into w: inout S) {
        guard let base else {
            writeFullHand(hand, into: &w)  // appeared
            return
        }
        for axis in 0..<3 {
            writeCode(Int64(hand[axis: axis]), base: Int64(base[axis: axis]), rawBits: handOffsetBits, widths: layout.handOffset, into: &w)
        }
        writeRotationDelta(hand.rotation, base: base.rotation, bits: handRotationBits, widths: layout.handRotation, into: &w)
    }

    /// Same index: three codes; another index: the full rotation (the special flags said which).
    private static func writeRotationDelta<S: BitSink>(
        _ r: QuantizedRotation, base: QuantizedRotation, bits: Int, widths: DeltaClassWidths, into w: inout S
    ) {
        guard r.index == base.index else {
            writeRotation(r, bits: bits, into: &w)
            return
        }
        writeCode(Int64(r.a), base: Int64(base.a), rawBits: bits, widths: widths, into: &w)
        writeCode(Int64(r.b), base: Int64(base.b), rawBits: bits, widths: widths, into: &w)
        writeCode(Int64(r.c), base: Int64(base.c), rawBits: bits, widths: widths, into: &w)
    }

    /// One code: unary class prefix, then the payload, in one write (prefix in the low bits: the stream takes
    /// a value's low bits first, so this is the two writes' bits; at most 3 + 32 bits).
    @inline(__always)
    static func writeCode<S: BitSink>(_ value: Int64, base: Int64, rawBits: Int, widths: DeltaClassWidths, into w: inout S) {
        var z = zigzag(value &- base)
        let small = UInt64(1) &<< UInt64(widths.small)
        if z < small {
            w.write(z &<< 1, bits: 1 &+ widths.small)  // prefix 0
            return
        }
        z &-= small
        let medium = UInt64(1) &<< UInt64(widths.medium)
        if z < medium {
            w.write(0b01 | z &<< 2, bits: 2 &+ widths.medium)
            return
        }
        z &-= medium
        let large = UInt64(1) &<< UInt64(widths.large)
        if z < large {
            w.write(0b011 | z &<< 3, bits: 3 &+ widths.large)
            return
        }
        let raw = UInt64(bitPattern: value) & ((UInt64(1) &<< UInt64(rawBits)) &- 1)
        w.write(0b111 | raw &<< 3, bits: 3 &+ rawBits)
    }

    // MARK: reading

    /// Reads a pose delta against `base` (a valid pose of this codec). Errors: `truncated`; a head position
    /// code outside 0...E or a hand offset / rotation code outside its field (`invalidField`).
    func readDelta(from r: inout BitReader, base: QuantizedPose, layout: PoseDeltaLayout = .v2) throws(WireError) -> QuantizedPose {
        guard try r.read(bits: 1) == 1 else { return base }
        var flags = base.flags
        var headIndexChanged = false, leftIndexChanged = false, rightIndexChanged = false
        if try r.read(bits: 1) == 1 {
            flags = UInt8(try r.read(bits: 4))
            headIndexChanged = try r.read(bits: 1) == 1
            if flags & 1 != 0 && base.left != nil { leftIndexChanged = try r.read(bits: 1) == 1 }
            if flags & 2 != 0 && base.right != nil { rightIndexChanged = try r.read(bits: 1) == 1 }
        }
        let x = UInt32(try Self.readCode(
            base: Int64(base.x), rawBits: positions.bitsPerAxis.x, max: Int64(positions.maxValue.x),
            widths: layout.positionHorizontal, field: "headPosition.x", from: &r))
        let y = UInt32(try Self.readCode(
            base: Int64(base.y), rawBits: positions.bitsPerAxis.y, max: Int64(positions.maxValue.y),
            widths: layout.positionVertical, field: "headPosition.y", from: &r))
        let z = UInt32(try Self.readCode(
            base: Int64(base.z), rawBits: positions.bitsPerAxis.z, max: Int64(positions.maxValue.z),
            widths: layout.positionHorizontal, field: "headPosition.z", from: &r))
        let head = try Self.readRotationDelta(
            base: base.head, indexChanged: headIndexChanged, bits: Self.headRotationBits, widths: layout.headRotation,
            field: "headRotation", from: &r)
        let left = flags & 1 == 0 ? nil
            : try Self.readHandDelta(
                base: base.left, indexChanged: leftIndexChanged, layout: layout, offsetField: "leftHand.offset",
                rotationField: "leftHand.rotation", from: &r)
        let right = flags & 2 == 0 ? nil
            : try Self.readHandDelta(
                base: base.right, indexChanged: rightIndexChanged, layout: layout, offsetField: "rightHand.offset",
                rotationField: "rightHand.rotation", from: &r)
        return QuantizedPose(flags: flags, x: x, y: y, z: z, head: head, left: left, right: right)
    }

    /// The field names come whole (literals): joining them here would allocate a string per hand read, for an
    /// error that almost never happens.
    private static func readHandDelta(
        base: QuantizedHand?, indexChanged: Bool, layout: PoseDeltaLayout, offsetField: String, rotationField: String,
        from r: inout BitReader
    ) throws(WireError) -> QuantizedHand {
        guard let base else { return try readFullHand(from: &r) }
        var hand = base
        let max = Int64((1 << handOffsetBits) - 1)
        for axis in 0..<3 {
            hand[axis: axis] = UInt16(try readCode(
                base: Int64(base[axis: axis]), rawBits: handOffsetBits, max: max, widths: layout.handOffset,
                field: offsetField, from: &r))
        }
        hand.rotation = try readRotationDelta(
            base: base.rotation, indexChanged: indexChanged, bits: handRotationBits, widths: layout.handRotation,
            field: rotationField, from: &r)
        return hand
    }

    private static func readRotationDelta(
        base: QuantizedRotation, indexChanged: Bool, bits: Int, widths: DeltaClassWidths, field: String, from r: inout BitReader
    ) throws(WireError) -> QuantizedRotation {
        if indexChanged { return try readRotation(bits: bits, from: &r) }
        let max = Int64((1 << bits) - 1)
        var result = base
        result.a = UInt16(try readCode(base: Int64(base.a), rawBits: bits, max: max, widths: widths, field: field, from: &r))
        result.b = UInt16(try readCode(base: Int64(base.b), rawBits: bits, max: max, widths: widths, field: field, from: &r))
        result.c = UInt16(try readCode(base: Int64(base.c), rawBits: bits, max: max, widths: widths, field: field, from: &r))
        return result
    }

    /// One code: its class, then the payload. The result is within 0...max (`invalidField(field)` otherwise).
    @inline(__always)
    static func readCode(
        base: Int64, rawBits: Int, max: Int64, widths: DeltaClassWidths, field: String, from r: inout BitReader
    ) throws(WireError) -> Int64 {
        let z: UInt64
        if try r.read(bits: 1) == 0 {
            z = try r.read(bits: widths.small)
        } else if try r.read(bits: 1) == 0 {
            z = (1 << UInt64(widths.small)) + (try r.read(bits: widths.medium))
        } else if try r.read(bits: 1) == 0 {
            z = (1 << UInt64(widths.small)) + (1 << UInt64(widths.medium)) + (try r.read(bits: widths.large))
        } else {
            let raw = try r.read(bits: rawBits)
            guard raw <= UInt64(max) else { throw .invalidField(field: field, value: raw) }
            return Int64(raw)
        }
        let value = base &+ unzigzag(z)
        guard value >= 0 && value <= max else { throw .invalidField(field: field, value: UInt64(bitPattern: value)) }
        return value
    }
}
