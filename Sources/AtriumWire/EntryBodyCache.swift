// Snapshot entry bodies shared between recipients (PROTOCOL.md §10.3.2: an entry is idGap + kind + body).
//
// Within one tick an avatar's new state is the same for every recipient, and so is a full entry's body;
// an update's body depends only on the base state the recipient's baseline view holds, and recipients
// acknowledge at much the same pace, so a handful of distinct bases per avatar cover hundreds of
// recipients. The cache encodes each (avatar, base) body once per tick and later writes copy its bits;
// only the idGap (which depends on the recipient's previous entry) is written per recipient. The bytes
// are identical to `DeltaSnapshot.encode` without a cache (the tests check it).
//
// Bases are named by a key the caller gives (the server: the revision of the avatar's state that the base
// is), so finding a body is an integer compare, not a comparison of whole states; and each avatar's state is
// given once per tick (`setState`), so a write that finds its body names only the avatar.

/// This tick's avatar states and the entry bodies encoded from them, for `SnapshotWriter`.
///
/// Contract: each tick, `beginTick()`, then `setState` for every avatar that gets entries, before its first
/// entry; a given (avatar id, base key) names the same base state all tick. Not thread-safe: one per encoding
/// thread.
public struct EntryBodyCache: Sendable {
    /// A body in `words`: `bits` bits from word `offset`; `bits` < 0 = none.
    struct Body: Sendable {
        var offset: Int32
        var bits: Int32
        static let none = Body(offset: 0, bits: -1)
    }

    /// An update body and the base key and tick it is for. A body of up to `inlineWords` words (most update
    /// bodies: ~120 bits with realistic motion) is kept in the way itself, so a recipient's write that finds it
    /// reads one place in memory instead of the way and then the body in `words` (the table is too large to stay
    /// in cache between two recipients that share a body, so each place read is a likely cache miss); a longer
    /// one is in `words` at `offset`.
    struct Way: Sendable {
        var key: UInt32 = 0
        var tick: UInt32 = 0
        /// Body bits, ≥ 0 for a way in use.
        var bits: Int32 = -1
        /// Where a body longer than `inlineWords` words starts in `words`.
        var offset: Int32 = 0
        var word0: UInt64 = 0
        var word1: UInt64 = 0
        var word2: UInt64 = 0
    }

    /// Words of a body kept in its `Way`.
    static let inlineWords = 3

    /// Update bodies remembered per avatar and tick, direct-mapped by base key (key mod `ways`): with the
    /// server's keys (revisions, i.e. ticks) two bases share a way only when they are 32 ticks apart, and then
    /// the newer replaces the older.
    static let ways = 32

    private var words = BitWords()
    /// By avatar id: the tick its state was set for, the state (normalised) and its full body, if encoded.
    private var tickOf: [UInt32] = []
    private var states: [ViewEntry?] = []
    private var full: [Body] = []
    /// By avatar id × `ways`.
    private var updates: [Way] = []
    private var tick: UInt32 = 1

    /// Bodies written and bodies encoded since the cache was made (the rest were copies).
    public private(set) var lookups = 0
    public private(set) var encodedBodies = 0
    public var reusedBodies: Int { lookups - encodedBodies }

    public init() {}

    /// Forgets every state and body: call once per tick, before the first `setState`.
    public mutating func beginTick() {
        tick &+= 1
        if tick == 0 {
            // After 2^32 ticks: make sure nothing looks current.
            for i in tickOf.indices { tickOf[i] = 0 }
            for i in updates.indices { updates[i].tick = 0 }
            tick = 1
        }
        words.removeAll()
    }

    /// Sets this tick's state of avatar `state.id` (≥ 1): every entry of it this tick is written from it, as
    /// `DeltaSnapshot` writes it (codes normalised to their fields).
    public mutating func setState(_ state: ViewEntry, codec: PoseCodec) {
        let i = Int(state.id)
        if tickOf.count <= i {
            let n = Swift.max(i + 1, 2 * tickOf.count)
            tickOf.append(contentsOf: repeatElement(0, count: n - tickOf.count))
            states.append(contentsOf: repeatElement(nil, count: n - states.count))
            full.append(contentsOf: repeatElement(.none, count: n - full.count))
            updates.append(contentsOf: repeatElement(Way(), count: n * Self.ways - updates.count))
        }
        tickOf[i] = tick
        states[i] = Self.normalized(state, codec)
        full[i] = .none
    }

    /// The slot of avatar `id`, whose state must have been set this tick (precondition).
    @inline(__always) private func slot(_ id: UInt16) -> Int {
        let i = Int(id)
        precondition(i < tickOf.count && tickOf[i] == tick, "EntryBodyCache: no state set for this avatar this tick")
        return i
    }

    /// Writes the body of a full entry of avatar `id`.
    mutating func writeFull(_ id: UInt16, codec: PoseCodec, into w: inout BitWords) {
        let i = slot(id)
        lookups &+= 1
        let body = fullBody(i, codec)
        w.copy(Int(body.bits), from: words, offset: Int(body.offset))
    }

    /// True when this tick's update body of avatar `id` against the base named `baseKey` is encoded already (so
    /// `writeUpdate` will copy it without asking for the base). Asking this for a recipient's entries before
    /// writing them brings their places in the table into cache together, the reads overlapping, instead of one
    /// at a time between the writes (in a 1,000-avatar tick most are cache misses). Changes nothing.
    public func holdsUpdate(_ id: UInt16, baseKey: UInt32) -> Bool {
        let i = Int(id)
        guard i < tickOf.count else { return false }
        let way = i &* Self.ways &+ Int(baseKey % UInt32(Self.ways))
        return updates.withUnsafeBufferPointer { updates in
            let cached = updates.baseAddress! + way
            return cached.pointee.tick == tick && cached.pointee.key == baseKey && tickOf[i] == tick
        }
    }

    /// Writes the body of an update of avatar `id` against the base state named `baseKey`. `base` is asked for
    /// the base state only when this tick has not written that body yet; nil means the base is not known any
    /// more, and the entry is written full. As `DeltaSnapshot` resolves an update, it is also written full when
    /// its sequence went back or full is smaller.
    mutating func writeUpdate(
        _ id: UInt16, baseKey: UInt32, codec: PoseCodec, into w: inout BitWords, base: () -> ViewEntry?
    ) {
        let i = slot(id)
        lookups &+= 1
        let way = i &* Self.ways &+ Int(baseKey % UInt32(Self.ways))
        let found = updates.withUnsafeBufferPointer { updates in
            // One read of the way (tick, key, body): no copy of the whole way on a miss.
            let cached = updates.baseAddress! + way
            guard cached.pointee.tick == tick && cached.pointee.key == baseKey else { return false }
            Self.emit(cached, from: words, into: &w)
            return true
        }
        if found { return }
        var body = Body.none
        var fresh = false
        if let base = base() {
            (body, fresh) = updateBody(i, base: Self.normalized(base, codec), codec)
        } else {
            body = fullBody(i, codec)
        }
        var made = Way(key: baseKey, tick: tick, bits: body.bits, offset: body.offset)
        let n = (Int(body.bits) &+ 63) >> 6
        if fresh && n <= Self.inlineWords {
            // An update body just encoded at the end of `words` (and named nowhere else): moved into the way, and
            // `words` gives its room back.
            let o = Int(body.offset)
            words.storage.withUnsafeBufferPointer { s in
                if n > 0 { made.word0 = s[o] }
                if n > 1 { made.word1 = s[o &+ 1] }
                if n > 2 { made.word2 = s[o &+ 2] }
            }
            words.truncate(toWords: o)
            made.offset = -1
        }
        updates[way] = made
        withUnsafePointer(to: made) { Self.emit($0, from: words, into: &w) }
    }

    /// Appends the body of `way`, kept in it or in `source`.
    @inline(__always)
    private static func emit(_ way: UnsafePointer<Way>, from source: BitWords, into w: inout BitWords) {
        let bits = Int(way.pointee.bits)
        guard way.pointee.offset < 0 else {
            w.copy(bits, from: source, offset: Int(way.pointee.offset))
            return
        }
        // Kept in the way: whole words, then the rest (a body is never empty: it has its kind bits).
        if bits > 128 {
            w.write(way.pointee.word0, bits: 64)
            w.write(way.pointee.word1, bits: 64)
            w.write(way.pointee.word2, bits: bits &- 128)
        } else if bits > 64 {
            w.write(way.pointee.word0, bits: 64)
            w.write(way.pointee.word1, bits: bits &- 64)
        } else {
            w.write(way.pointee.word0, bits: bits)
        }
    }

    /// The full body of the avatar in slot `i`, encoded on first use.
    private mutating func fullBody(_ i: Int, _ codec: PoseCodec) -> Body {
        if full[i].bits >= 0 { return full[i] }
        words.alignToWord()
        let offset = words.count
        DeltaSnapshot.writeBody(.full(states[i]!), codec: codec, into: &words)
        encodedBodies &+= 1
        let made = Body(offset: Int32(offset), bits: Int32(words.bitCount &- offset &* 64))
        words.alignToWord()  // the last partial word into storage, where `copy` reads it
        full[i] = made
        return made
    }

    /// An update body against `base` (normalised), or the full body where `DeltaSnapshot` would write full.
    /// One pass: the update is written, then dropped again if full turns out smaller. `fresh`: an update body,
    /// just written at the end of `words`.
    private mutating func updateBody(_ i: Int, base: ViewEntry, _ codec: PoseCodec) -> (body: Body, fresh: Bool) {
        let e = states[i]!
        guard DeltaSnapshot.canWriteUpdate(e, base: base) else { return (fullBody(i, codec), false) }
        words.alignToWord()
        let offset = words.count
        DeltaSnapshot.writeUpdateBody(e, base: base, codec: codec, into: &words)
        let bits = words.bitCount &- offset &* 64
        guard DeltaSnapshot.updateFits(bits &- 2, state: e, codec: codec) else {
            words.truncate(toWords: offset)
            return (fullBody(i, codec), false)
        }
        words.alignToWord()
        encodedBodies &+= 1
        return (Body(offset: Int32(offset), bits: Int32(bits)), true)
    }

    @inline(__always) private static func normalized(_ state: ViewEntry, _ codec: PoseCodec) -> ViewEntry {
        ViewEntry(id: state.id, lastInputSequence: state.lastInputSequence, pose: codec.normalized(state.pose))
    }
}
