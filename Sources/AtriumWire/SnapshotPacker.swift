/// Splits a tick's avatars into SNAPSHOT parts that each fit one datagram. Every part is a complete SNAPSHOT
/// (decodable alone); all parts of a tick share `sequence` and `serverTimeMicros`.
public enum SnapshotPacker {
    /// Splits `avatars`, in order, over as few consecutive parts as fit `maxBytes` each (every part ≤ maxBytes).
    /// Always returns at least one part (possibly with 0 avatars).
    ///
    /// A part holds at most 65535 avatars and there are at most 255 parts; avatars beyond what 255 parts
    /// can hold are left out (with 1200-byte parts that is more than 8000 avatars — see `capacity`).
    /// Precondition: `maxBytes` fits the header plus the largest possible avatar of this codec.
    public static func pack(
        sequence: UInt32, serverTimeMicros: UInt64, avatars: [AvatarState], codec: PoseCodec,
        maxBytes: Int = WireLimits.snapshotDatagramBytes
    ) -> [[UInt8]] {
        let budget = Swift.min(maxBytes, 1 << 40) * 8
        precondition(
            budget >= Snapshot.headerBits + Snapshot.avatarHeaderBits + codec.maxBitCount,
            "SnapshotPacker.pack: maxBytes \(maxBytes) cannot hold one avatar")
        // Greedy in order: optimal for consecutive parts.
        var ranges: [Range<Int>] = []
        var start = 0
        var used = Snapshot.headerBits
        for (i, avatar) in avatars.enumerated() {
            let bits = Snapshot.avatarHeaderBits + codec.bitCount(of: avatar.pose)
            if used + bits > budget || i - start == Int(UInt16.max) {
                ranges.append(start..<i)
                if ranges.count == WireLimits.maxSnapshotParts { break }
                start = i
                used = Snapshot.headerBits
            }
            used += bits
        }
        if ranges.count < WireLimits.maxSnapshotParts {
            ranges.append(start..<avatars.count)
        }
        let count = UInt8(ranges.count)
        var parts: [[UInt8]] = []
        parts.reserveCapacity(ranges.count)
        for (index, range) in ranges.enumerated() {
            parts.append(encodePart(
                sequence: sequence, serverTimeMicros: serverTimeMicros, baseline: 0,
                partIndex: UInt8(index), partCount: count, avatars: avatars[range], codec: codec))
        }
        return parts
    }

    /// Avatars that `pack` is guaranteed to fit, whatever their poses (every avatar with both hands).
    public static func capacity(codec: PoseCodec, maxBytes: Int = WireLimits.snapshotDatagramBytes) -> Int {
        let perAvatar = Snapshot.avatarHeaderBits + codec.maxBitCount
        let perPart = Swift.max(0, (Swift.min(maxBytes, 1 << 40) * 8 - Snapshot.headerBits) / perAvatar)
        return Swift.min(perPart, Int(UInt16.max)) * WireLimits.maxSnapshotParts
    }

    /// Encodes one SNAPSHOT message.
    static func encodePart(
        sequence: UInt32, serverTimeMicros: UInt64, baseline: UInt32, partIndex: UInt8, partCount: UInt8,
        avatars: ArraySlice<AvatarState>, codec: PoseCodec
    ) -> [UInt8] {
        precondition(avatars.count <= Int(UInt16.max), "a SNAPSHOT holds at most 65535 avatars")
        let maxBits = Snapshot.headerBits + avatars.count * (Snapshot.avatarHeaderBits + codec.maxBitCount)
        var w = BitWriter(capacity: maxBits / 8 + 8)
        w.writeU8(MessageType.snapshot.rawValue)
        w.writeU32(sequence)
        w.writeU64(serverTimeMicros)
        w.writeU32(baseline)
        w.writeU8(partIndex)
        w.writeU8(partCount)
        w.writeU16(UInt16(avatars.count))
        for a in avatars {
            w.writeU16(a.id)
            w.writeU32(a.lastInputSequence)
            codec.encode(a.pose, into: &w)
        }
        return w.finish()
    }

    /// Decodes a SNAPSHOT after its type byte.
    static func decodeBody(from r: inout BitReader, codec: PoseCodec) throws(WireError) -> Snapshot {
        let sequence = try r.readU32()
        let time = try r.readU64()
        let baseline = try r.readU32()
        guard baseline == 0 else { throw .invalidField(field: "baseline", value: UInt64(baseline)) }
        let partIndex = try r.readU8()
        let partCount = try r.readU8()
        guard partCount >= 1 else { throw .invalidField(field: "partCount", value: 0) }
        guard partIndex < partCount else { throw .invalidField(field: "partIndex", value: UInt64(partIndex)) }
        let count = Int(try r.readU16())
        // Never reserve more than the remaining bits could hold.
        let minBits = Snapshot.avatarHeaderBits + codec.baseBitCount
        var avatars: [AvatarState] = []
        avatars.reserveCapacity(Swift.min(count, r.bitsRemaining / minBits))
        for _ in 0..<count {
            let id = try r.readU16()
            let input = try r.readU32()
            let pose = try codec.decode(from: &r)
            avatars.append(AvatarState(id: id, lastInputSequence: input, pose: pose))
        }
        return Snapshot(
            sequence: sequence, serverTimeMicros: time, baseline: baseline, partIndex: partIndex, partCount: partCount,
            avatars: avatars)
    }
}
