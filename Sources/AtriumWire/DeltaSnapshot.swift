// Delta snapshots (protocol v2, PROTOCOL.md §10.3). Each recipient has a *view*: the avatars it knows and
// their last state. Snapshot k is encoded against the view of an earlier snapshot b that the recipient
// acknowledged (its `baseline`; 0 = the empty view) and turns it into view k:
//
//     view_k = apply(view_b, entries_k)
//
// Entries are sorted by avatar id: update (in view_b: its changes), full (enter or refresh), leave.

/// One avatar as a view holds it.
public struct ViewEntry: Hashable, Sendable {
    /// 1...65535 (0 is never an avatar id).
    public var id: UInt16
    /// The newest POSE inputSequence the server applied for this avatar (0 = none).
    public var lastInputSequence: UInt32
    public var pose: QuantizedPose

    public init(id: UInt16, lastInputSequence: UInt32, pose: QuantizedPose) {
        self.id = id
        self.lastInputSequence = lastInputSequence
        self.pose = pose
    }
}

/// What a recipient knows after a snapshot: every avatar in its set, sorted by id.
public struct SnapshotView: Sendable, Equatable {
    /// The snapshot this is the view after; 0 = the empty view (baseline 0).
    public var sequence: UInt32
    /// Sorted by id ascending, each id once.
    public var avatars: [ViewEntry]

    /// `avatars` must be sorted by id ascending, each id once (precondition).
    public init(sequence: UInt32, avatars: [ViewEntry]) {
        precondition(Self.isSorted(avatars), "SnapshotView: avatars must be sorted by id, each id once")
        self.sequence = sequence
        self.avatars = avatars
    }

    init(sequence: UInt32, sorted avatars: [ViewEntry]) {
        self.sequence = sequence
        self.avatars = avatars
    }

    /// Baseline 0: nobody known.
    public static let empty = SnapshotView(sequence: 0, sorted: [])

    /// The avatar with this id (binary search).
    public subscript(id: UInt16) -> ViewEntry? {
        guard let i = index(of: id) else { return nil }
        return avatars[i]
    }

    func index(of id: UInt16) -> Int? {
        var lo = 0, hi = avatars.count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            let v = avatars[mid].id
            if v == id { return mid }
            if v < id { lo = mid &+ 1 } else { hi = mid }
        }
        return nil
    }

    static func isSorted(_ avatars: [ViewEntry]) -> Bool {
        var previous = -1
        for a in avatars {
            if Int(a.id) <= previous { return false }
            previous = Int(a.id)
        }
        return true
    }
}

/// One entry of a SNAPSHOT.
public enum SnapshotEntry: Hashable, Sendable {
    /// The avatar is in the baseline view; the state is its new absolute state (encoded as changes).
    case update(ViewEntry)
    /// The avatar's whole state: it enters the view, or a refresh.
    case full(ViewEntry)
    /// The avatar leaves the recipient's view (no longer relevant, or gone).
    case leave(UInt16)

    public var id: UInt16 {
        switch self {
        case .update(let e), .full(let e): e.id
        case .leave(let id): id
        }
    }

    /// The state an update or full entry carries; nil for a leave.
    public var state: ViewEntry? {
        switch self {
        case .update(let e), .full(let e): e
        case .leave: nil
        }
    }
}

/// The last `capacity` views, keyed by sequence (slot = sequence mod capacity). Both sides keep one per
/// recipient: the server the views it sent, the client the complete views it received.
public struct SnapshotViewRing: Sendable {
    public let capacity: Int
    private var slots: [SnapshotView?]

    public init(capacity: Int = Int(DeltaSnapshot.maxBaselineAge)) {
        precondition(capacity >= 1, "SnapshotViewRing: capacity must be at least 1")
        self.capacity = capacity
        slots = Array(repeating: nil, count: capacity)
    }

    @inline(__always) private func slot(_ sequence: UInt32) -> Int { Int(sequence % UInt32(capacity)) }

    /// Stores `view` in its slot, replacing an older one. Sequence 0 (the empty view) is never stored;
    /// a view older than the one already in its slot is ignored.
    public mutating func insert(_ view: SnapshotView) {
        guard view.sequence != 0 else { return }
        let i = slot(view.sequence)
        if let held = slots[i], held.sequence != view.sequence, serialDistance(from: view.sequence, to: held.sequence) > 0 {
            return
        }
        slots[i] = view
    }

    /// The view after snapshot `sequence`, if still held. Sequence 0 is always the empty view.
    public func view(_ sequence: UInt32) -> SnapshotView? {
        if sequence == 0 { return .empty }
        guard let v = slots[slot(sequence)], v.sequence == sequence else { return nil }
        return v
    }

    /// The baseline a server encodes snapshot `sequence` against when the recipient's newest acknowledgement
    /// is `acknowledged`: that view if it is still held and 1...maxBaselineAge snapshots old, else the empty
    /// view (baseline 0).
    public func baseline(acknowledged: UInt32, for sequence: UInt32) -> SnapshotView {
        guard acknowledged != 0, DeltaSnapshot.isValidBaseline(acknowledged, for: sequence),
            let v = view(acknowledged)
        else { return .empty }
        return v
    }

    /// Forgets every view.
    public mutating func removeAll() {
        slots = Array(repeating: nil, count: capacity)
    }
}

/// `to − from` in serial-number arithmetic (RFC 1982 style): positive when `to` is newer.
@inline(__always) func serialDistance(from: UInt32, to: UInt32) -> Int32 { Int32(bitPattern: to &- from) }

/// The fixed fields of a SNAPSHOT (the first 21 bytes).
public struct SnapshotHeader: Equatable, Hashable, Sendable {
    /// 1, 2, … (skips 0 when it wraps); all parts of one snapshot share it.
    public var sequence: UInt32
    public var serverTimeMicros: UInt64
    /// The sequence whose view the entries apply to; 0 = the empty view.
    public var baseline: UInt32
    /// 0..<partCount.
    public var partIndex: UInt8
    /// 1...255.
    public var partCount: UInt8
    /// Entries in this part.
    public var entryCount: UInt16

    public init(sequence: UInt32, serverTimeMicros: UInt64, baseline: UInt32, partIndex: UInt8, partCount: UInt8, entryCount: UInt16) {
        self.sequence = sequence
        self.serverTimeMicros = serverTimeMicros
        self.baseline = baseline
        self.partIndex = partIndex
        self.partCount = partCount
        self.entryCount = entryCount
    }
}

/// Encoding and decoding of v2 SNAPSHOT messages.
public enum DeltaSnapshot {
    /// Bits before the first entry: type, sequence, time, baseline, part index/count, entryCount.
    public static let headerBits = 8 + 32 + 64 + 32 + 8 + 8 + 16
    /// A baseline is at most this many snapshots older than the snapshot (and both sides keep this many views).
    public static let maxBaselineAge: UInt32 = 32

    /// Entry kinds (u2).
    enum Kind: UInt64 {
        case update = 0, full = 1, leave = 2
    }

    /// True if `baseline` may be the baseline of snapshot `sequence`: 0, or 1...maxBaselineAge older.
    public static func isValidBaseline(_ baseline: UInt32, for sequence: UInt32) -> Bool {
        if baseline == 0 { return true }
        let age = sequence &- baseline
        return age >= 1 && age <= maxBaselineAge
    }

    /// Size in bits of the idGap of an entry whose id is `gap` above the previous one in its part (the
    /// first entry of a part counts from 0). Precondition: gap ≥ 1.
    public static func gapBits(_ gap: Int) -> Int {
        EliasGamma.bitCount(UInt64(gap))
    }

    // MARK: resolving

    /// An entry as it will be written against a baseline.
    enum Resolved {
        case update(ViewEntry, base: ViewEntry, bits: Int)
        case full(ViewEntry)
        case leave(UInt16)
        /// A leave of an avatar the baseline does not hold: nothing to say.
        case omitted
    }

    /// Decides how an entry is written. An update is written as full when its avatar is not in the
    /// baseline, when its input sequence went back (or jumped ≥ 2^31), or when full is smaller; a leave
    /// of an avatar the baseline does not hold is omitted. Poses are normalised to valid codes first.
    static func resolve(_ entry: SnapshotEntry, baseline: SnapshotView, codec: PoseCodec) -> Resolved {
        switch entry {
        case .leave(let id):
            return baseline[id] == nil ? .omitted : .leave(id)
        case .full(var e):
            e.pose = codec.normalized(e.pose)
            return .full(e)
        case .update(var e):
            e.pose = codec.normalized(e.pose)
            guard let base = baseline[e.id] else { return .full(e) }
            return resolveUpdate(e, base: base, codec: codec)
        }
    }

    /// An update of the normalised state `e` against `base`: written as full when the input sequence went
    /// back (or jumped ≥ 2^31) or when full is smaller.
    static func resolveUpdate(_ e: ViewEntry, base: ViewEntry, codec: PoseCodec) -> Resolved {
        guard canWriteUpdate(e, base: base) else { return .full(e) }
        let updateBits = EliasGamma.bitCount(UInt64(e.lastInputSequence &- base.lastInputSequence) + 1)
            + codec.deltaBits(from: base.pose, to: e.pose)
        return updateFits(updateBits, state: e, codec: codec) ? .update(e, base: base, bits: updateBits) : .full(e)
    }

    /// The two rules for writing an update entry as an update rather than full (PROTOCOL.md §10.3.2): its
    /// input sequence went 0...2^31 − 1 forward from the base's, …
    @inline(__always) static func canWriteUpdate(_ e: ViewEntry, base: ViewEntry) -> Bool {
        e.lastInputSequence &- base.lastInputSequence < 1 << 31
    }

    /// … and its bits after the kind (sequence delta and pose delta) are no more than a full entry's.
    @inline(__always) static func updateFits(_ updateBits: Int, state e: ViewEntry, codec: PoseCodec) -> Bool {
        updateBits <= 32 + codec.fullBits(e.pose)
    }

    /// Kind, sequence delta and pose delta of an update of `e` against `base` (`canWriteUpdate` holds).
    static func writeUpdateBody<S: BitSink>(_ e: ViewEntry, base: ViewEntry, codec: PoseCodec, into w: inout S) {
        w.write(Kind.update.rawValue, bits: 2)
        EliasGamma.write(UInt64(e.lastInputSequence &- base.lastInputSequence) + 1, into: &w)
        codec.writeDelta(from: base.pose, to: e.pose, layout: .v2, into: &w)
    }

    static func writeBody<S: BitSink>(_ r: Resolved, codec: PoseCodec, into w: inout S) {
        switch r {
        case .update(let e, let base, _):
            writeUpdateBody(e, base: base, codec: codec, into: &w)
        case .full(let e):
            w.write(Kind.full.rawValue, bits: 2)
            w.write(UInt64(e.lastInputSequence), bits: 32)
            codec.writeFull(e.pose, into: &w)
        case .leave:
            w.write(Kind.leave.rawValue, bits: 2)
        case .omitted:
            break
        }
    }

    static func bodyBits(_ r: Resolved, codec: PoseCodec) -> Int {
        switch r {
        case .update(_, _, let bits): 2 + bits
        case .full(let e): 2 + 32 + codec.fullBits(e.pose)
        case .leave: 2
        case .omitted: 0
        }
    }

    /// Exact size in bits of one entry's body (everything after its idGap) against `baseline`, as
    /// `encode` writes it (an update may be written as full, see `encode`). 0 for a leave of an avatar the
    /// baseline does not hold: `encode` omits it, idGap included.
    public static func entryBits(_ entry: SnapshotEntry, baseline: SnapshotView, codec: PoseCodec) -> Int {
        bodyBits(resolve(entry, baseline: baseline, codec: codec), codec: codec)
    }

    // MARK: encoding

    /// Encodes one part: header + entries. Returns the bytes and the resulting view
    /// (`apply(baseline, entries)` with the new sequence, as the recipient will rebuild it).
    ///
    /// `entries` must be sorted by id ascending, each id once, ids ≥ 1, at most 65535 (preconditions;
    /// so are `sequence` ≠ 0, `baseline` valid for `sequence` (`isValidBaseline`), partIndex < partCount).
    /// How entries are written: an `.update` whose avatar is not in `baseline`, whose input sequence is
    /// not 0...2^31 − 1 ahead of the baseline's, or that would be larger than a full entry is written as
    /// `.full`; a `.leave` of an avatar not in `baseline` is left out. Codes beyond their fields (positions
    /// above E, wider codes) are clamped or cut as the encoder writes them, and the view holds what was
    /// written.
    public static func encode(
        sequence: UInt32, serverTimeMicros: UInt64, baseline: SnapshotView, entries: [SnapshotEntry], codec: PoseCodec,
        partIndex: UInt8 = 0, partCount: UInt8 = 1
    ) -> (bytes: [UInt8], view: SnapshotView) {
        let resolved = resolveAll(entries, baseline: baseline, codec: codec)
        let bytes = encodePart(
            sequence: sequence, serverTimeMicros: serverTimeMicros, baseline: baseline, resolved: resolved[...], codec: codec,
            partIndex: partIndex, partCount: partCount)
        return (bytes, SnapshotView(sequence: sequence, sorted: merge(baseline.avatars, resolved.lazy.map(\.resolved.asEntry))))
    }

    static func resolveAll(_ entries: [SnapshotEntry], baseline: SnapshotView, codec: PoseCodec) -> [(id: UInt16, resolved: Resolved)] {
        var previous = 0
        var out: [(id: UInt16, resolved: Resolved)] = []
        out.reserveCapacity(entries.count)
        for entry in entries {
            let id = Int(entry.id)
            precondition(id > previous, "DeltaSnapshot.encode: entries must be sorted by id ascending, each id once, ids ≥ 1")
            previous = id
            let r = resolve(entry, baseline: baseline, codec: codec)
            if case .omitted = r { continue }
            out.append((entry.id, r))
        }
        return out
    }

    static func encodePart(
        sequence: UInt32, serverTimeMicros: UInt64, baseline: SnapshotView, resolved: ArraySlice<(id: UInt16, resolved: Resolved)>,
        codec: PoseCodec, partIndex: UInt8, partCount: UInt8
    ) -> [UInt8] {
        precondition(sequence != 0, "DeltaSnapshot.encode: sequence 0 is the empty view")
        precondition(isValidBaseline(baseline.sequence, for: sequence), "DeltaSnapshot.encode: baseline too old or not older")
        precondition(partCount >= 1 && partIndex < partCount, "DeltaSnapshot.encode: partIndex must be < partCount")
        precondition(resolved.count <= Int(UInt16.max), "DeltaSnapshot.encode: at most 65535 entries per part")
        var w = BitWriter(capacity: headerBits / 8 + resolved.count * 16 + 8)
        writeHeader(
            sequence: sequence, serverTimeMicros: serverTimeMicros, baseline: baseline.sequence, partIndex: partIndex,
            partCount: partCount, entryCount: resolved.count, into: &w)
        var previous: UInt16 = 0
        for (id, r) in resolved {
            writeGap(id, after: previous, into: &w)
            previous = id
            writeBody(r, codec: codec, into: &w)
        }
        return w.finish()
    }

    /// The `headerBits` before the first entry, the message type included.
    static func writeHeader<S: BitSink>(
        sequence: UInt32, serverTimeMicros: UInt64, baseline: UInt32, partIndex: UInt8, partCount: UInt8, entryCount: Int,
        into w: inout S
    ) {
        w.write(UInt64(MessageType.snapshot.rawValue), bits: 8)
        w.write(UInt64(sequence), bits: 32)
        w.write(serverTimeMicros, bits: 64)
        w.write(UInt64(baseline), bits: 32)
        w.write(UInt64(partIndex), bits: 8)
        w.write(UInt64(partCount), bits: 8)
        w.write(UInt64(entryCount), bits: 16)
    }

    /// Writes the idGap of an entry for `id` after one for `previous` (0 for the first of a part).
    @inline(__always) static func writeGap<S: BitSink>(_ id: UInt16, after previous: UInt16, into w: inout S) {
        EliasGamma.write(UInt64(id &- previous), into: &w)
    }

    // MARK: applying

    /// `baseline` with the entries applied: update and full entries set an avatar's state, leave removes it,
    /// avatars not mentioned keep their state. `entries` must be sorted by id ascending, each id once
    /// (precondition).
    public static func apply(_ entries: [SnapshotEntry], to baseline: SnapshotView, sequence: UInt32) -> SnapshotView {
        var previous = -1
        for e in entries {
            precondition(Int(e.id) > previous, "DeltaSnapshot.apply: entries must be sorted by id, each id once")
            previous = Int(e.id)
        }
        return SnapshotView(sequence: sequence, sorted: merge(baseline.avatars, entries))
    }

    /// Merges sorted `entries` into sorted `avatars`.
    static func merge(_ avatars: [ViewEntry], _ entries: some Sequence<SnapshotEntry>) -> [ViewEntry] {
        var out: [ViewEntry] = []
        out.reserveCapacity(avatars.count + entries.underestimatedCount)
        var i = 0
        for entry in entries {
            let id = entry.id
            while i < avatars.count && avatars[i].id < id {
                out.append(avatars[i])
                i += 1
            }
            if i < avatars.count && avatars[i].id == id { i += 1 }
            if let state = entry.state { out.append(state) }
        }
        while i < avatars.count {
            out.append(avatars[i])
            i += 1
        }
        return out
    }

    // MARK: decoding

    /// Reads and checks the header of a SNAPSHOT: type 0x83, sequence ≠ 0, a baseline valid for the sequence
    /// (`isValidBaseline`), partCount ≥ 1, partIndex < partCount. The entries are not looked at.
    public static func decodeHeader(_ bytes: [UInt8]) throws(WireError) -> SnapshotHeader {
        var r = BitReader(bytes)
        let t = try r.readU8()
        guard t == MessageType.snapshot.rawValue else { throw .unknownMessageType(t) }
        return try readHeader(from: &r)
    }

    /// The header after the type byte.
    static func readHeader(from r: inout BitReader) throws(WireError) -> SnapshotHeader {
        let sequence = try r.readU32()
        guard sequence != 0 else { throw .invalidField(field: "sequence", value: 0) }
        let time = try r.readU64()
        let baseline = try r.readU32()
        guard isValidBaseline(baseline, for: sequence) else { throw .invalidField(field: "baseline", value: UInt64(baseline)) }
        let partIndex = try r.readU8()
        let partCount = try r.readU8()
        guard partCount >= 1 else { throw .invalidField(field: "partCount", value: 0) }
        guard partIndex < partCount else { throw .invalidField(field: "partIndex", value: UInt64(partIndex)) }
        let count = try r.readU16()
        return SnapshotHeader(
            sequence: sequence, serverTimeMicros: time, baseline: baseline, partIndex: partIndex, partCount: partCount,
            entryCount: count)
    }

    /// Decodes a whole SNAPSHOT part against `baseline`, which must be the view named by the header
    /// (`baselineMismatch` otherwise; look it up with `decodeHeader` first). Update entries come back
    /// resolved to absolute states.
    ///
    /// Errors, in stream order: the header rules of `decodeHeader`; `truncated`; an idGap or sequence delta
    /// Elias-gamma code of 32 or more leading zeros (`invalidField("idGap" / "seqDelta")`); an id above
    /// 65535 (`invalidField("id")`); kind 3 (`invalidField("entryKind")`); an update or leave of an avatar
    /// not in the baseline (`invalidField("update.id" / "leave.id")`); a sequence delta ≥ 2^31
    /// (`invalidField("seqDelta")`); a position code outside 0...E or a delta leaving a code's range
    /// (`invalidField`); whole bytes after the last entry (`trailingBytes`).
    public static func decode(
        _ bytes: [UInt8], baseline: SnapshotView, codec: PoseCodec
    ) throws(WireError) -> (header: SnapshotHeader, entries: [SnapshotEntry]) {
        var r = BitReader(bytes)
        let t = try r.readU8()
        guard t == MessageType.snapshot.rawValue else { throw .unknownMessageType(t) }
        let header = try readHeader(from: &r)
        guard header.baseline == baseline.sequence else {
            throw .baselineMismatch(expected: header.baseline, given: baseline.sequence)
        }
        let entries = try readEntries(count: Int(header.entryCount), baseline: baseline, codec: codec, from: &r)
        try r.finish()
        return (header, entries)
    }

    static func readEntries(
        count: Int, baseline: SnapshotView, codec: PoseCodec, from r: inout BitReader
    ) throws(WireError) -> [SnapshotEntry] {
        var entries: [SnapshotEntry] = []
        // The smallest entry (a leave with idGap 1) is 3 bits: never reserve more than the bits could hold.
        entries.reserveCapacity(Swift.min(count, r.bitsRemaining / 3))
        var previous: UInt64 = 0
        for _ in 0..<count {
            let gap = try EliasGamma.read(from: &r, field: "idGap")
            let id64 = previous + gap
            guard id64 <= UInt64(UInt16.max) else { throw .invalidField(field: "id", value: id64) }
            previous = id64
            let id = UInt16(id64)
            switch try r.read(bits: 2) {
            case Kind.update.rawValue:
                guard let base = baseline[id] else { throw .invalidField(field: "update.id", value: id64) }
                let n = try EliasGamma.read(from: &r, field: "seqDelta")
                guard n <= 1 << 31 else { throw .invalidField(field: "seqDelta", value: n - 1) }
                let pose = try codec.readDelta(from: &r, base: base.pose)
                entries.append(.update(ViewEntry(id: id, lastInputSequence: base.lastInputSequence &+ UInt32(n - 1), pose: pose)))
            case Kind.full.rawValue:
                let input = try r.readU32()
                entries.append(.full(ViewEntry(id: id, lastInputSequence: input, pose: try codec.readFull(from: &r))))
            case Kind.leave.rawValue:
                guard baseline[id] != nil else { throw .invalidField(field: "leave.id", value: id64) }
                entries.append(.leave(id))
            default:
                throw .invalidField(field: "entryKind", value: 3)
            }
        }
        return entries
    }
}

extension DeltaSnapshot.Resolved {
    var asEntry: SnapshotEntry {
        switch self {
        case .update(let e, _, _): .update(e)
        case .full(let e): .full(e)
        case .leave(let id): .leave(id)
        case .omitted: preconditionFailure("omitted entries are filtered out")
        }
    }
}

extension PoseCodec {
    /// `q` with every code inside its field: head position codes clamped to E, rotation indices and codes
    /// and hand offsets cut to their widths. Valid poses are unchanged.
    func normalized(_ q: QuantizedPose) -> QuantizedPose {
        var p = q
        p.x = Swift.min(p.x, positions.maxValue.x)
        p.y = Swift.min(p.y, positions.maxValue.y)
        p.z = Swift.min(p.z, positions.maxValue.z)
        p.head = Self.normalized(p.head, bits: Self.headRotationBits)
        if let hand = p.left { p.left = Self.normalized(hand) }
        if let hand = p.right { p.right = Self.normalized(hand) }
        return p
    }

    private static func normalized(_ r: QuantizedRotation, bits: Int) -> QuantizedRotation {
        let mask = UInt16((1 << bits) - 1)
        return QuantizedRotation(index: r.index & 3, a: r.a & mask, b: r.b & mask, c: r.c & mask)
    }

    private static func normalized(_ h: QuantizedHand) -> QuantizedHand {
        let mask = UInt16((1 << handOffsetBits) - 1)
        return QuantizedHand(x: h.x & mask, y: h.y & mask, z: h.z & mask, rotation: normalized(h.rotation, bits: handRotationBits))
    }
}
