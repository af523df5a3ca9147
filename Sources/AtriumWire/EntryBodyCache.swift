// Snapshot entry bodies shared between recipients (PROTOCOL.md §10.3.2: an entry is idGap + kind + body).
//
// Within one tick an avatar's new state is the same for every recipient, and so is a full entry's body;
// an update's body depends only on the base state the recipient's baseline view holds, and recipients
// acknowledge at much the same pace, so a handful of distinct bases per avatar cover hundreds of
// recipients. The cache encodes each (avatar, base) body once per tick and later encodes copy its bits;
// only the idGap (which depends on the recipient's previous entry) is written per recipient. The bytes
// are identical to `DeltaSnapshot.encode` without a cache (the tests check it).

/// Entry bodies encoded during one tick, for `DeltaSnapshot.encode(…, bodies:)`.
///
/// Contract: between two `beginTick()` calls every entry of a given avatar id carries the same state
/// (the avatar's state this tick); the bases may differ. Not thread-safe: one per encoding thread.
public struct EntryBodyCache: Sendable {
    /// A body stored in `words`: `bits` bits from word `offset`, written least-significant bit first.
    struct Body: Sendable {
        var offset: Int32
        var bits: Int32
        /// Resolved to full (an update written as full, or a full entry).
        var isFull: Bool
    }

    struct Slot: Sendable {
        var tick: UInt32 = 0
        /// The state as written (normalised), for the recipient's new view.
        var written: ViewEntry?
        var full: Body?
        /// Update bodies by base state; a few ways, newest last.
        var bases: [ViewEntry] = []
        var updates: [Body] = []
    }

    /// Distinct bases remembered per avatar and tick; further ones are encoded without caching.
    static let ways = 6

    private var words: [UInt64] = []
    private var slots: [Slot] = []
    private var tick: UInt32 = 1
    public private(set) var encodedBodies = 0

    public init() {}

    /// Forgets every body: call once per tick, before the first encode.
    public mutating func beginTick() {
        tick &+= 1
        if tick == 0 {
            // After 2^32 ticks: make sure no slot looks current.
            for i in slots.indices { slots[i].tick = 0 }
            tick = 1
        }
        words.removeAll(keepingCapacity: true)
    }

    /// Writes the body of `entry` against `baseline` to `w` (as `DeltaSnapshot.writeBody` would after
    /// `resolve`) and returns the state the recipient's view holds afterwards (nil for a leave). The caller
    /// omits a leave of an avatar the baseline does not hold.
    mutating func write(
        _ entry: SnapshotEntry, baseline: SnapshotView, codec: PoseCodec, into w: inout BitWriter
    ) -> ViewEntry? {
        let state: ViewEntry
        switch entry {
        case .leave:
            w.write(DeltaSnapshot.Kind.leave.rawValue, bits: 2)
            return nil
        case .full(let e), .update(let e):
            state = e
        }
        let i = Int(state.id)
        if slots.count <= i { slots.append(contentsOf: repeatElement(Slot(), count: i + 1 - slots.count)) }
        if slots[i].tick != tick {
            slots[i].tick = tick
            slots[i].written = ViewEntry(
                id: state.id, lastInputSequence: state.lastInputSequence, pose: codec.normalized(state.pose))
            slots[i].full = nil
            slots[i].bases.removeAll(keepingCapacity: true)
            slots[i].updates.removeAll(keepingCapacity: true)
        }
        let written = slots[i].written!
        assert(written.lastInputSequence == state.lastInputSequence, "EntryBodyCache: one state per avatar per tick")
        lookups &+= 1

        let body: Body
        if case .update = entry, let base = baseline[state.id] {
            if let k = slots[i].bases.lastIndex(of: base) {
                body = slots[i].updates[k]
            } else {
                let resolved = DeltaSnapshot.resolveUpdate(written, base: base, codec: codec)
                if case .full = resolved {
                    body = fullBody(i, written, codec)
                } else {
                    body = record(resolved, codec: codec, isFull: false)
                }
                if slots[i].bases.count < Self.ways {
                    slots[i].bases.append(base)
                    slots[i].updates.append(body)
                }
            }
        } else {
            body = fullBody(i, written, codec)
        }
        copy(body, into: &w)
        return written
    }

    /// Bodies looked up and bodies encoded since the cache was made (the rest were copies).
    public private(set) var lookups = 0
    public var reusedBodies: Int { lookups - encodedBodies }

    /// The full body of this tick's state of the avatar in slot `i`, encoded on first use.
    private mutating func fullBody(_ i: Int, _ written: ViewEntry, _ codec: PoseCodec) -> Body {
        if let full = slots[i].full { return full }
        let made = record(.full(written), codec: codec, isFull: true)
        slots[i].full = made
        return made
    }

    private mutating func record(_ resolved: DeltaSnapshot.Resolved, codec: PoseCodec, isFull: Bool) -> Body {
        var recorder = WordRecorder(words: words)
        words = []
        let offset = recorder.words.count
        DeltaSnapshot.writeBody(resolved, codec: codec, into: &recorder)
        let bits = recorder.finish()
        words = recorder.words
        encodedBodies &+= 1
        return Body(offset: Int32(offset), bits: Int32(bits), isFull: isFull)
    }

    private func copy(_ body: Body, into w: inout BitWriter) {
        var remaining = Int(body.bits)
        var i = Int(body.offset)
        while remaining >= 64 {
            w.write(words[i], bits: 64)
            i &+= 1
            remaining &-= 64
        }
        if remaining > 0 { w.write(words[i], bits: remaining) }
    }
}

/// Appends bits to whole 64-bit words (the cache's storage); `finish` flushes the last partial word and
/// returns the bits written since this recorder was made.
struct WordRecorder: BitSink {
    var words: [UInt64]
    private var pending: UInt64 = 0
    private var pendingBits = 0
    private var total = 0

    init(words: [UInt64]) { self.words = words }

    @inline(__always) mutating func write(_ value: UInt64, bits: Int) {
        if bits == 0 { return }
        let v = bits == 64 ? value : value & ((1 &<< UInt64(bits)) &- 1)
        pending |= v &<< UInt64(pendingBits)
        let sum = pendingBits &+ bits
        total &+= bits
        if sum >= 64 {
            words.append(pending)
            let consumed = 64 &- pendingBits
            pending = consumed == 64 ? 0 : v &>> UInt64(consumed)
            pendingBits = sum &- 64
        } else {
            pendingBits = sum
        }
    }

    mutating func finish() -> Int {
        if pendingBits > 0 { words.append(pending) }
        pending = 0
        pendingBits = 0
        return total
    }
}
