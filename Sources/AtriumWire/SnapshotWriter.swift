/// Writes one-part SNAPSHOTs entry by entry, the entry bodies shared between recipients through an
/// `EntryBodyCache` (which holds this tick's avatar states): the server's per-recipient encoder. Given the same entries against the same baseline it
/// writes the bytes `DeltaSnapshot.encode` writes (the tests check it); the caller decides each entry's kind as
/// `encode` would resolve it: an update only for an avatar the baseline holds (with the key of the state it
/// holds), a leave only for one it holds.
///
/// The writer keeps its buffers from one snapshot to the next, so once they have grown a tick of snapshots
/// allocates nothing (as long as nobody keeps the returned bytes past the next `begin`).
public struct SnapshotWriter: Sendable {
    private var bits = BitWords()
    private var output: [UInt8] = []
    /// The last id written (idGaps count from it), and the entries announced but not written yet.
    private var previous: UInt16 = 0
    private var remaining = 0

    public init() {}

    /// Starts a snapshot of exactly `entryCount` entries against the view of `baseline` (0 = the empty view).
    /// Preconditions: `sequence` ≠ 0, `baseline` valid for it (`DeltaSnapshot.isValidBaseline`), at most 65535
    /// entries.
    public mutating func begin(sequence: UInt32, serverTimeMicros: UInt64, baseline: UInt32, entryCount: Int) {
        precondition(sequence != 0, "SnapshotWriter: sequence 0 is the empty view")
        precondition(DeltaSnapshot.isValidBaseline(baseline, for: sequence), "SnapshotWriter: baseline too old or not older")
        precondition(entryCount >= 0 && entryCount <= Int(UInt16.max), "SnapshotWriter: at most 65535 entries")
        bits.removeAll()
        DeltaSnapshot.writeHeader(
            sequence: sequence, serverTimeMicros: serverTimeMicros, baseline: baseline, partIndex: 0, partCount: 1,
            entryCount: entryCount, into: &bits)
        previous = 0
        remaining = entryCount
    }

    /// The idGap of the next entry; entries come in ascending id order, ids ≥ 1 (preconditions).
    @inline(__always) private mutating func gap(_ id: UInt16) {
        precondition(id > previous, "SnapshotWriter: entries must be sorted by id ascending, each id once, ids ≥ 1")
        precondition(remaining > 0, "SnapshotWriter: more entries than announced")
        DeltaSnapshot.writeGap(id, after: previous, into: &bits)
        previous = id
        remaining &-= 1
    }

    /// A leave of an avatar the baseline holds.
    public mutating func leave(_ id: UInt16) {
        gap(id)
        bits.write(DeltaSnapshot.Kind.leave.rawValue, bits: 2)
    }

    /// A full entry of avatar `id`, with its state of this tick (`EntryBodyCache.setState`).
    public mutating func full(_ id: UInt16, codec: PoseCodec, bodies: inout EntryBodyCache) {
        gap(id)
        bodies.writeFull(id, codec: codec, into: &bits)
    }

    /// An update of avatar `id` (its state of this tick, `EntryBodyCache.setState`) against the state the
    /// baseline holds for it, named `baseKey` (see `EntryBodyCache`); `base` gives that state when the body is
    /// not cached yet (nil: no longer known, the entry is written full, which is always allowed).
    public mutating func update(
        _ id: UInt16, baseKey: UInt32, codec: PoseCodec, bodies: inout EntryBodyCache, base: () -> ViewEntry?
    ) {
        gap(id)
        bodies.writeUpdate(id, baseKey: baseKey, codec: codec, into: &bits, base: base)
    }

    /// The finished datagram. It shares the writer's buffer: let go of it before the next `begin`, or that
    /// `begin` has to allocate a new one.
    public mutating func finish() -> [UInt8] {
        precondition(remaining == 0, "SnapshotWriter: fewer entries than announced")
        bits.bytes(into: &output)
        return output
    }
}
