import AtriumWire

/// What one recipient has been sent: for each of its last 32 snapshots, the avatars its view holds after it,
/// sorted by id. The client keeps the same views with whole states (`SnapshotViewRing`); here each state is
/// named by its revision in `AvatarHistory`, which makes a view 8 bytes per avatar instead of 64 and
/// "unchanged" an integer compare.
struct RecipientViews {
    /// One avatar in a view: its id and the revision of the state the recipient holds for it.
    struct Entry: Equatable {
        var id: UInt16
        var revision: UInt32
    }

    /// As many as a baseline may be old, like the client's ring.
    static let capacity = Int(DeltaSnapshot.maxBaselineAge)

    /// By slot (sequence mod capacity): the sequence held there (0 = none) and its view. Empty until the first
    /// `store`, so a recipient that never got a snapshot costs nothing.
    private var sequences: [UInt32] = []
    private var views: [[Entry]] = []

    /// The view snapshot `sequence` is encoded against when the recipient's newest acknowledgement is
    /// `acknowledged`: that view if it is still held and 1...maxBaselineAge snapshots old, else the empty view
    /// (sequence 0) — the rule of `SnapshotViewRing.baseline`.
    func baseline(acknowledged: UInt32, for sequence: UInt32) -> (sequence: UInt32, avatars: [Entry]) {
        guard acknowledged != 0, DeltaSnapshot.isValidBaseline(acknowledged, for: sequence), !sequences.isEmpty else {
            return (0, [])
        }
        let slot = Int(acknowledged % UInt32(Self.capacity))
        guard sequences[slot] == acknowledged else { return (0, []) }
        return (acknowledged, views[slot])
    }

    /// Stores `avatars` (sorted by id) as the view after `sequence` (≠ 0, newer than every view held), in place
    /// of the one 32 snapshots older. `avatars` gets that view's storage back, emptied, to build the next view
    /// in: the ring allocates nothing once every slot has grown.
    mutating func store(_ avatars: inout [Entry], sequence: UInt32) {
        if sequences.isEmpty {
            sequences = Array(repeating: 0, count: Self.capacity)
            views = Array(repeating: [], count: Self.capacity)
        }
        let slot = Int(sequence % UInt32(Self.capacity))
        sequences[slot] = sequence
        swap(&views[slot], &avatars)
        avatars.removeAll(keepingCapacity: true)
    }
}
