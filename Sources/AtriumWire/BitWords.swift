/// A bit stream kept in 64-bit words: bit k of the stream is bit k % 64 of word k / 64 (the protocol's order, so
/// the words laid out little-endian are the bytes a `BitWriter` writes). What the server's per-recipient snapshot
/// writer and its entry body cache write into: a word is stored whole, never byte by byte, and a run of bits
/// recorded from a word boundary is copied into another stream a word at a time. The storage is kept by
/// `removeAll`, so a writer reused tick after tick stops allocating once it has grown.
struct BitWords: BitSink {
    /// `storage[0..<count]` are whole words; the rest is spare room.
    private(set) var storage: [UInt64] = []
    private(set) var count = 0
    /// Bits not yet in `storage`; bits at or above `pendingBits` are always zero.
    private var pending: UInt64 = 0
    /// 0..<64.
    private var pendingBits = 0

    var bitCount: Int { count &* 64 &+ pendingBits }

    /// Empties the stream, keeping the storage.
    mutating func removeAll() {
        count = 0
        pending = 0
        pendingBits = 0
    }

    /// Writes the low `bits` bits of `value` (0...64; higher bits are ignored).
    @inline(__always) mutating func write(_ value: UInt64, bits: Int) {
        if bits == 0 { return }
        let v = bits == 64 ? value : value & ((1 &<< UInt64(bits)) &- 1)
        pending |= v &<< UInt64(pendingBits)
        let total = pendingBits &+ bits
        if total >= 64 {
            store(pending)
            let consumed = 64 &- pendingBits  // 1...64 bits of v went into the stored word
            pending = consumed == 64 ? 0 : v &>> UInt64(consumed)
            pendingBits = total &- 64
        } else {
            pendingBits = total
        }
    }

    @inline(__always) private mutating func store(_ word: UInt64) {
        if count == storage.count { storage.append(contentsOf: repeatElement(0, count: Swift.max(16, storage.count))) }
        storage[count] = word
        count &+= 1
    }

    /// Pads with zero bits to the next word boundary (where `copy` expects a run to start).
    mutating func alignToWord() {
        guard pendingBits > 0 else { return }
        store(pending)
        pending = 0
        pendingBits = 0
    }

    /// Drops everything after the first `words` whole words (a run recorded from a word boundary that is not
    /// wanted after all).
    mutating func truncate(toWords words: Int) {
        precondition(words <= count, "BitWords.truncate: beyond the end")
        count = words
        pending = 0
        pendingBits = 0
    }

    /// Appends `bits` bits of `source`, a run that starts at word `offset` (a word boundary). Once per entry
    /// per recipient, so the words move through pointers after one capacity check.
    mutating func copy(_ bits: Int, from source: BitWords, offset: Int) {
        guard bits > 0 else { return }
        let n = (bits &+ 63) >> 6
        precondition(offset >= 0 && offset &+ n <= source.count, "BitWords.copy: run outside the source")
        if storage.count < count &+ n { storage.append(contentsOf: repeatElement(0, count: Swift.max(n, storage.count))) }
        var pending = self.pending
        var pendingBits = self.pendingBits
        var count = self.count
        source.storage.withUnsafeBufferPointer { words in
            storage.withUnsafeMutableBufferPointer { out in
                for i in 0..<n {
                    // As `write`: every word whole but the last, which holds the rest.
                    let width = i &+ 1 == n ? bits &- (n &- 1) &* 64 : 64
                    let v = width == 64 ? words[offset &+ i] : words[offset &+ i] & ((1 &<< UInt64(width)) &- 1)
                    pending |= v &<< UInt64(pendingBits)
                    let total = pendingBits &+ width
                    if total >= 64 {
                        out[count] = pending
                        count &+= 1
                        let consumed = 64 &- pendingBits
                        pending = consumed == 64 ? 0 : v &>> UInt64(consumed)
                        pendingBits = total &- 64
                    } else {
                        pendingBits = total
                    }
                }
            }
        }
        self.pending = pending
        self.pendingBits = pendingBits
        self.count = count
    }

    /// Replaces the contents of `bytes` with the stream as bytes, the last one padded with zero bits (what
    /// `BitWriter.finish` returns for the same writes). Keeps the array's storage when it is not shared.
    func bytes(into bytes: inout [UInt8]) {
        let whole = count &* 8
        let total = (bitCount &+ 7) >> 3
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: repeatElement(0, count: total))
        bytes.withUnsafeMutableBytes { out in
            storage.withUnsafeBufferPointer { words in
                // Whole words as little-endian bytes, then the pending bits' bytes.
                for i in 0..<count { out.storeBytes(of: words[i].littleEndian, toByteOffset: i &* 8, as: UInt64.self) }
            }
            var last = pending
            for i in whole..<total {
                out[i] = UInt8(truncatingIfNeeded: last)
                last &>>= 8
            }
        }
    }
}
