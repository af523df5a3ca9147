/// Splits one snapshot's entries into SNAPSHOT parts that each fit one datagram. All parts share the
/// sequence, server time and baseline; each is decoded against that same baseline view, and together they
/// turn it into the view of the sequence.
public enum SnapshotPacker {
    /// Splits `entries` (sorted by id ascending, each id once, ids ≥ 1), in order, over as few consecutive
    /// parts as fit `maxBytes` each. Always returns at least one part (possibly with no entries). Entries
    /// are written as `DeltaSnapshot.encode` writes them (an update may become full, a leave of an avatar
    /// not in `baseline` is left out).
    ///
    /// There are at most 255 parts; entries beyond what 255 parts can hold are left out, and `view` (the view
    /// the recipient will have after all parts) does not contain them: left-out updates keep their
    /// baseline state, left-out leaves stay, left-out enters do not enter.
    /// Precondition: `maxBytes` fits the header plus the largest possible entry of this codec.
    public static func pack(
        sequence: UInt32, serverTimeMicros: UInt64, baseline: SnapshotView, entries: [SnapshotEntry], codec: PoseCodec,
        maxBytes: Int = WireLimits.snapshotDatagramBytes
    ) -> (parts: [[UInt8]], view: SnapshotView) {
        let budget = Swift.min(maxBytes, 1 << 40) * 8
        precondition(
            budget >= DeltaSnapshot.headerBits + maxEntryBits(codec: codec),
            "SnapshotPacker.pack: maxBytes \(maxBytes) cannot hold one entry")
        let resolved = DeltaSnapshot.resolveAll(entries, baseline: baseline, codec: codec)
        // Greedy in order: optimal for consecutive parts (an entry's size only grows when it starts a part).
        var ranges: [Range<Int>] = []
        var start = 0
        var used = DeltaSnapshot.headerBits
        var previous: UInt16 = 0
        for (i, (id, r)) in resolved.enumerated() {
            let body = DeltaSnapshot.bodyBits(r, codec: codec)
            if used + DeltaSnapshot.gapBits(Int(id - previous)) + body > budget || i - start == Int(UInt16.max) {
                ranges.append(start..<i)
                if ranges.count == WireLimits.maxSnapshotParts { break }
                start = i
                used = DeltaSnapshot.headerBits
                previous = 0
            }
            used += DeltaSnapshot.gapBits(Int(id - previous)) + body
            previous = id
        }
        if ranges.count < WireLimits.maxSnapshotParts {
            ranges.append(start..<resolved.count)
        }
        let count = UInt8(ranges.count)
        var parts: [[UInt8]] = []
        parts.reserveCapacity(ranges.count)
        for (index, range) in ranges.enumerated() {
            parts.append(DeltaSnapshot.encodePart(
                sequence: sequence, serverTimeMicros: serverTimeMicros, baseline: baseline, resolved: resolved[range],
                codec: codec, partIndex: UInt8(index), partCount: count))
        }
        let sent = resolved[..<(ranges.last?.upperBound ?? 0)]
        return (parts, SnapshotView(sequence: sequence, sorted: DeltaSnapshot.merge(baseline.avatars, sent.lazy.map(\.resolved.asEntry))))
    }

    /// The largest entry of this codec, idGap included: a full entry with both hands and id 65535 first in
    /// its part (updates larger than their full entry are written full).
    public static func maxEntryBits(codec: PoseCodec) -> Int {
        DeltaSnapshot.gapBits(Int(UInt16.max)) + 2 + 32 + codec.maxBitCount
    }

    /// Entries that `pack` is guaranteed to fit, whatever they are.
    public static func capacity(codec: PoseCodec, maxBytes: Int = WireLimits.snapshotDatagramBytes) -> Int {
        let perPart = Swift.max(0, (Swift.min(maxBytes, 1 << 40) * 8 - DeltaSnapshot.headerBits) / maxEntryBits(codec: codec))
        return Swift.min(perPart, Int(UInt16.max)) * WireLimits.maxSnapshotParts
    }
}
