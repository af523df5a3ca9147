/// The client side of delta snapshots (PROTOCOL.md §10.3.1): decodes each SNAPSHOT part against the
/// baseline view it names, assembles the parts of a sequence into that sequence's view, keeps the last 32
/// complete views and says what to acknowledge.
///
/// Pure bookkeeping: no I/O, no clock. Feed it every SNAPSHOT; render the explicit entries it returns at
/// the part's server time; send `acknowledgement` in every POSE.
public struct SnapshotReceiver: Sendable {
    /// Complete views, by sequence.
    public private(set) var views: SnapshotViewRing
    /// The newest complete sequence (POSE `ackSnapshot`); 0 = none yet.
    public private(set) var acknowledgement: UInt32 = 0
    private var pending: [Assembly] = []

    /// Sequences being assembled at once (older ones are dropped first).
    public static let maxPendingSequences = 8

    /// One decoded part.
    public struct Part: Equatable, Sendable {
        public var header: SnapshotHeader
        /// Resolved to absolute states: feed the update and full entries to the interpolation buffers at
        /// `header.serverTimeMicros`.
        public var entries: [SnapshotEntry]
        /// The view of `header.sequence` if this part completed it (it is then stored and acknowledged).
        public var completed: SnapshotView?
    }

    public enum Outcome: Equatable, Sendable {
        /// Decoded and applied.
        case applied(Part)
        /// The baseline view is not (or no longer) held: the part is dropped; keep acknowledging
        /// `acknowledgement` and the server will fall back to an older baseline or to 0.
        case baselineUnavailable(SnapshotHeader)
        /// This part (or its whole sequence) was already received: ignored.
        case duplicate(SnapshotHeader)
    }

    private struct Assembly: Sendable {
        var header: SnapshotHeader
        var baseline: SnapshotView
        var received: [Bool]
        var remaining: Int
        /// All entries received so far, sorted by id.
        var entries: [SnapshotEntry]
    }

    public init(capacity: Int = Int(DeltaSnapshot.maxBaselineAge)) {
        views = SnapshotViewRing(capacity: capacity)
    }

    /// The view of a complete sequence, if still held.
    public func view(_ sequence: UInt32) -> SnapshotView? { views.view(sequence) }

    /// Handles one SNAPSHOT part (from `ServerMessage.decode`).
    public mutating func receive(_ snapshot: Snapshot, codec: PoseCodec) throws(WireError) -> Outcome {
        try receive(snapshot.bytes, header: snapshot.header, codec: codec)
    }

    /// Handles one SNAPSHOT message. Throws for a malformed message, and for parts of one sequence that
    /// disagree (server time, baseline, part count) or mention the same avatar twice (`invalidField`).
    public mutating func receive(_ bytes: [UInt8], codec: PoseCodec) throws(WireError) -> Outcome {
        try receive(bytes, header: DeltaSnapshot.decodeHeader(bytes), codec: codec)
    }

    private mutating func receive(_ bytes: [UInt8], header: SnapshotHeader, codec: PoseCodec) throws(WireError) -> Outcome {
        if views.view(header.sequence) != nil { return .duplicate(header) }
        let slot = pending.firstIndex { $0.header.sequence == header.sequence }
        if let slot {
            let a = pending[slot]
            guard header.serverTimeMicros == a.header.serverTimeMicros else {
                throw .invalidField(field: "serverTimeMicros", value: header.serverTimeMicros)
            }
            guard header.baseline == a.header.baseline else { throw .invalidField(field: "baseline", value: UInt64(header.baseline)) }
            guard header.partCount == a.header.partCount else { throw .invalidField(field: "partCount", value: UInt64(header.partCount)) }
            if a.received[Int(header.partIndex)] { return .duplicate(header) }
        }
        guard let baseline = slot.map({ pending[$0].baseline }) ?? views.view(header.baseline) else {
            return .baselineUnavailable(header)
        }
        let entries = try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec).entries
        // A snapshot in one part (the usual case) is complete as it is: no assembly to build.
        if header.partCount == 1 {
            return .applied(Part(header: header, entries: entries, completed: complete(header, baseline, entries)))
        }

        var assembly = slot.map { pending[$0] }
            ?? Assembly(header: header, baseline: baseline, received: Array(repeating: false, count: Int(header.partCount)),
                        remaining: Int(header.partCount), entries: [])
        assembly.entries = try Self.mergeParts(assembly.entries, entries)
        assembly.received[Int(header.partIndex)] = true
        assembly.remaining -= 1

        guard assembly.remaining == 0 else {
            if let slot {
                pending[slot] = assembly
            } else {
                if pending.count >= Self.maxPendingSequences {
                    // Drop the oldest sequence being assembled.
                    let oldest = pending.indices.min { serialDistance(from: pending[$0].header.sequence, to: pending[$1].header.sequence) > 0 }!
                    pending.remove(at: oldest)
                }
                pending.append(assembly)
            }
            return .applied(Part(header: header, entries: entries, completed: nil))
        }
        if let slot { pending.remove(at: slot) }
        return .applied(Part(header: header, entries: entries, completed: complete(header, baseline, assembly.entries)))
    }

    /// Stores the view of a sequence whose parts have all arrived (`entries`: all of them, sorted by id) and
    /// acknowledges it when it is the newest.
    private mutating func complete(_ header: SnapshotHeader, _ baseline: SnapshotView, _ entries: [SnapshotEntry]) -> SnapshotView {
        let view = SnapshotView(sequence: header.sequence, sorted: DeltaSnapshot.merge(baseline.avatars, entries))
        views.insert(view)
        if acknowledgement == 0 || serialDistance(from: acknowledgement, to: header.sequence) > 0 {
            acknowledgement = header.sequence
            // Sequences older than the acknowledged one are of no further use as baselines.
            pending.removeAll { serialDistance(from: $0.header.sequence, to: header.sequence) > 0 }
        }
        return view
    }

    /// Merges two id-sorted entry lists; an id in both is an error (parts of one snapshot are disjoint).
    private static func mergeParts(_ a: [SnapshotEntry], _ b: [SnapshotEntry]) throws(WireError) -> [SnapshotEntry] {
        if a.isEmpty { return b }
        var out: [SnapshotEntry] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].id < b[j].id) {
                out.append(a[i]); i += 1
            } else if i == a.count || b[j].id < a[i].id {
                out.append(b[j]); j += 1
            } else {
                throw .invalidField(field: "id", value: UInt64(a[i].id))
            }
        }
        return out
    }

    /// Forgets every view and partial snapshot (acknowledgement back to 0).
    public mutating func reset() {
        views.removeAll()
        pending.removeAll()
        acknowledgement = 0
    }
}
