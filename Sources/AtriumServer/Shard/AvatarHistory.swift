import AtriumWire

/// Every avatar's recent states, each named by its *revision*: the sequence of the snapshot tick at which the
/// avatar's state (input sequence and quantized pose, what a snapshot entry carries) became what it is.
///
/// The composer's per-recipient views hold revisions instead of whole states (`RecipientViews`): "unchanged
/// since the recipient's baseline" is then an integer compare, a view costs 8 bytes per avatar, and entry
/// bodies are shared between recipients by (avatar, base revision). A delta is written against the state its
/// base revision names, found here; one that has fallen out of the history is sent in full instead (always
/// allowed), and the recipient's view then holds the current revision as for any other entry.
///
/// Revisions are unique per avatar id for 2^32 ticks (the sequence only grows), so a view that still names a
/// departed avatar's state never matches the state of a later avatar with the same id.
struct AvatarHistory {
    /// One state and its revision; revision 0 names nothing (sequences are never 0).
    struct Stamped {
        var revision: UInt32
        var state: ViewEntry
    }

    /// Ticks of states kept per avatar: 8.5 s at 30 Hz. Recipients acknowledge a few ticks late and the
    /// scheduler defers far avatars by a few ticks more, but in a dense crowd (1,000 avatars within 20 m) a far
    /// one can wait seconds for its turn: there 0.4 % of update bases were over 64 ticks old and a few in a
    /// million over 256 (measured with the Compose benchmark). 17 KB per avatar (68 bytes a state).
    static let defaultCapacity = 256

    /// States per avatar, a power of two.
    let capacity: Int
    private let mask: UInt32
    /// By avatar id: the current revision, 0 = no avatar.
    private(set) var revisions: [UInt32] = []
    /// By avatar id: the current state (what `revisions` names).
    private(set) var current: [ViewEntry?] = []
    /// By avatar id: its row in `states`, −1 = none. Rows are numbered densely over the avatars present (ids can
    /// run high after many joins), and a row holds the avatar's states direct-mapped by revision: revision r in
    /// column r mod capacity until a later state lands there, so every state stays findable for at least
    /// `capacity` ticks. One flat table, so finding a base costs one memory access, not a chain of them.
    private var rows: [Int32] = []
    private var freeRows: [Int32] = []
    private var states: [Stamped] = []

    init(capacity: Int = defaultCapacity) {
        precondition(capacity >= 1 && capacity & (capacity - 1) == 0, "AvatarHistory: capacity must be a power of two")
        self.capacity = capacity
        mask = UInt32(capacity - 1)
    }

    /// Makes room for ids up to `maxId`.
    mutating func reserve(upTo maxId: Int) {
        guard revisions.count <= maxId else { return }
        let n = maxId + 1 - revisions.count
        revisions.append(contentsOf: repeatElement(0, count: n))
        current.append(contentsOf: repeatElement(nil, count: n))
        rows.append(contentsOf: repeatElement(-1, count: n))
    }

    /// Records `state` as its avatar's state in tick `sequence` (≠ 0): a new revision when it differs from the
    /// current one (or the avatar is new). Ids must be reserved.
    mutating func record(_ state: ViewEntry, at sequence: UInt32) {
        let i = Int(state.id)
        if let now = current[i], now == state { return }
        if rows[i] < 0 { rows[i] = newRow(state) }
        states[Int(rows[i]) &* capacity &+ Int(sequence & mask)] = Stamped(revision: sequence, state: state)
        revisions[i] = sequence
        current[i] = state
    }

    /// A row for a new avatar, every column naming nothing (a reused row must not name its last avatar's states).
    private mutating func newRow(_ filler: ViewEntry) -> Int32 {
        let empty = Stamped(revision: 0, state: filler)
        if let row = freeRows.popLast() {
            let first = Int(row) * capacity
            for j in first..<(first + capacity) { states[j] = empty }
            return row
        }
        states.append(contentsOf: repeatElement(empty, count: capacity))
        return Int32(states.count / capacity - 1)
    }

    /// The state of avatar `id` that `revision` names, if still held.
    func state(of id: UInt16, revision: UInt32) -> ViewEntry? {
        let i = Int(id)
        guard i < rows.count, rows[i] >= 0 else { return nil }
        return states.withUnsafeBufferPointer { states in
            let stamped = states.baseAddress! + (Int(rows[i]) &* capacity &+ Int(revision & mask))
            return stamped.pointee.revision == revision ? stamped.pointee.state : nil
        }
    }

    /// The revision stored where avatar `id`'s state of `revision` would be (0 when none): a read that brings
    /// that place into cache ahead of `state(of:revision:)`, which the caller can do for many at once (the
    /// reads overlap) before it needs them.
    func storedRevision(of id: UInt16, at revision: UInt32) -> UInt32 {
        let i = Int(id)
        guard i < rows.count, rows[i] >= 0 else { return 0 }
        return states.withUnsafeBufferPointer { states in
            states[Int(rows[i]) &* capacity &+ Int(revision & mask)].revision
        }
    }

    /// Forgets a departed avatar.
    mutating func remove(_ id: UInt16) {
        let i = Int(id)
        guard i < revisions.count else { return }
        revisions[i] = 0
        current[i] = nil
        if rows[i] >= 0 { freeRows.append(rows[i]) }
        rows[i] = -1
    }
}
