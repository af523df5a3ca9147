/// For each (speaker, listener) pair, the index of the last of the speaker's frames forwarded to that listener
/// (VoiceRelay's resumes mark, PROTOCOL.md §17.3).
///
/// The relay reads and writes one entry per frame copy it sends, so this is a flat open-addressing table keyed
/// by `speaker << 16 | listener` (ids are never 0, so key 0 marks a free slot) with a multiplicative hash and
/// linear probing: no per-speaker dictionaries, no SipHash, no allocation once it has grown. Entries go only in
/// bulk (`removeAll(where:)`, a rebuild), which is what leaving avatars and pruning need.
struct LastForwardedTable {
    private var keys: [UInt32]
    private var values: [UInt32]
    /// log2 of the capacity.
    private var bits: Int
    private(set) var count = 0
    /// Scratch for rebuilds, kept.
    private var survivors: [(key: UInt32, value: UInt32)] = []

    init(capacity: Int = 1024) {
        var bits = 4
        while 1 << bits < capacity { bits += 1 }
        self.bits = bits
        keys = Array(repeating: 0, count: 1 << bits)
        values = Array(repeating: 0, count: 1 << bits)
    }

    var capacity: Int { keys.count }

    @inline(__always)
    private static func key(_ speaker: UInt16, _ listener: UInt16) -> UInt32 {
        UInt32(speaker) << 16 | UInt32(listener)
    }

    @inline(__always)
    private func home(_ key: UInt32) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B1) >> UInt32(32 - bits))
    }

    /// The slot holding `key`, or the free slot where it would go.
    @inline(__always)
    private func find(_ key: UInt32) -> Int {
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key || k == 0 { return i }
            i = (i + 1) & mask
        }
    }

    func last(speaker: UInt16, listener: UInt16) -> UInt32? {
        let key = Self.key(speaker, listener)
        let i = find(key)
        return keys[i] == key ? values[i] : nil
    }

    mutating func setLast(_ index: UInt32, speaker: UInt16, listener: UInt16) {
        let key = Self.key(speaker, listener)
        var i = find(key)
        if keys[i] == key {
            values[i] = index
            return
        }
        // At most half full, so probes stay short.
        if (count + 1) * 2 > keys.count {
            rebuild(bits: bits + 1) { _, _, _ in false }
            i = find(key)
        }
        keys[i] = key
        values[i] = index
        count += 1
    }

    /// Drops every entry `drop` returns true for (speaker, listener, last index).
    mutating func removeAll(where drop: (UInt16, UInt16, UInt32) -> Bool) {
        rebuild(bits: bits, drop)
    }

    private mutating func rebuild(bits newBits: Int, _ drop: (UInt16, UInt16, UInt32) -> Bool) {
        survivors.removeAll(keepingCapacity: true)
        for i in keys.indices where keys[i] != 0 {
            let key = keys[i]
            if !drop(UInt16(truncatingIfNeeded: key >> 16), UInt16(truncatingIfNeeded: key), values[i]) {
                survivors.append((key, values[i]))
            }
        }
        if newBits != bits {
            bits = newBits
            keys = Array(repeating: 0, count: 1 << newBits)
            values = Array(repeating: 0, count: 1 << newBits)
        } else if survivors.count == count {
            return
        } else {
            for i in keys.indices { keys[i] = 0 }
        }
        for entry in survivors {
            let i = find(entry.key)
            keys[i] = entry.key
            values[i] = entry.value
        }
        count = survivors.count
    }
}
