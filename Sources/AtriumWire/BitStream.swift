// The one bit-stream rule of the protocol (docs/PROTOCOL.md, "Bit stream"):
// a value of width n is written least-significant bit first; stream bit k lives in byte k/8 at bit k%8
// (bit 0 = least significant bit of the byte). A uN field that starts on a byte boundary is therefore
// plain little-endian. The last byte is padded with zero bits.

/// Everything a decoder can report. Decoders never trap; every read is bounds-checked.
public enum WireError: Error, Equatable, Sendable {
    /// Read past the end of the message.
    case truncated
    /// The first byte is not a message type of this direction.
    case unknownMessageType(UInt8)
    /// Whole bytes left over after the message (padding bits in the last byte are fine).
    case trailingBytes(Int)
    /// Bad UTF-8, control characters, bad charset or an empty string where one is required.
    case invalidString(field: String)
    /// A string's byte length is over the field's limit.
    case stringTooLong(field: String, length: Int, limit: Int)
    /// A value outside its field's domain: unknown role/reason code, part index >= count, a baseline too
    /// old for the snapshot, a quantized position beyond the bounds, invalid world bounds, a reserved entry
    /// kind, an Elias-gamma code over 32 bits, an update or leave of an avatar not in the baseline, ...
    case invalidField(field: String, value: UInt64)
    /// A POSE or SNAPSHOT was decoded without a `PoseCodec` (the WELCOME bounds are needed).
    case missingWorldContext
    /// `DeltaSnapshot.decode` was given a baseline view other than the one the SNAPSHOT names (a caller
    /// error, not a malformed message).
    case baselineMismatch(expected: UInt32, given: UInt32)
}

/// Writes values into a bit stream, least-significant bit first.
///
/// Whole 64-bit words are accumulated in a register and flushed eight bytes at a time, so writing a
/// field costs a few shifts regardless of its width.
public struct BitWriter: Sendable {
    @usableFromInline var storage: [UInt8]
    /// Pending bits not yet in `storage`; bits at or above `pendingBits` are always zero.
    @usableFromInline var pending: UInt64 = 0
    /// 0..<64.
    @usableFromInline var pendingBits: Int = 0

    public init(capacity: Int = 64) {
        storage = []
        storage.reserveCapacity(Swift.max(8, capacity))
    }

    /// Number of bits written so far.
    @inlinable public var bitCount: Int { storage.count &* 8 &+ pendingBits }

    /// The bytes written so far; the last byte is padded with zero bits.
    public var bytes: [UInt8] {
        if pendingBits == 0 { return storage }
        var out = storage
        out.reserveCapacity(storage.count + 8)
        Self.appendLow(bytes: (pendingBits + 7) >> 3, of: pending, to: &out)
        return out
    }

    /// Pads the stream with zero bits up to the next byte boundary.
    public mutating func alignToByte() {
        guard pendingBits > 0 else { return }
        Self.appendLow(bytes: (pendingBits + 7) >> 3, of: pending, to: &storage)
        pending = 0
        pendingBits = 0
    }

    /// Pads to a byte boundary and hands over the buffer without copying it.
    public mutating func finish() -> [UInt8] {
        alignToByte()
        let out = storage
        storage = []
        return out
    }

    @usableFromInline static func appendLow(bytes n: Int, of word: UInt64, to out: inout [UInt8]) {
        var w = word
        for _ in 0..<n {
            out.append(UInt8(truncatingIfNeeded: w))
            w &>>= 8
        }
    }

    /// Writes the low `bits` bits of `value` (0...64 bits; higher bits of `value` are ignored).
    @inlinable public mutating func write(_ value: UInt64, bits: Int) {
        precondition(bits >= 0 && bits <= 64, "BitWriter.write: width must be 0...64")
        if bits == 0 { return }
        let v = bits == 64 ? value : value & ((1 &<< UInt64(bits)) &- 1)
        pending |= v &<< UInt64(pendingBits)
        let total = pendingBits &+ bits
        if total >= 64 {
            withUnsafeBytes(of: pending.littleEndian) { storage.append(contentsOf: $0) }
            let consumed = 64 &- pendingBits  // 1...64 bits of v went into the flushed word
            pending = consumed == 64 ? 0 : v &>> UInt64(consumed)
            pendingBits = total &- 64
        } else {
            pendingBits = total
        }
    }

    @inlinable public mutating func writeBool(_ value: Bool) { write(value ? 1 : 0, bits: 1) }
    @inlinable public mutating func writeU8(_ value: UInt8) { write(UInt64(value), bits: 8) }
    @inlinable public mutating func writeU16(_ value: UInt16) { write(UInt64(value), bits: 16) }
    @inlinable public mutating func writeU32(_ value: UInt32) { write(UInt64(value), bits: 32) }
    @inlinable public mutating func writeU64(_ value: UInt64) { write(value, bits: 64) }
    /// IEEE-754 binary32 bits written as a u32.
    @inlinable public mutating func writeF32(_ value: Float) { write(UInt64(value.bitPattern), bits: 32) }

    /// Writes raw bytes (8 bits each).
    public mutating func writeBytes(_ data: some Collection<UInt8>) {
        if pendingBits & 7 == 0 {
            // Byte aligned: move the pending whole bytes out, then append directly.
            Self.appendLow(bytes: pendingBits >> 3, of: pending, to: &storage)
            pending = 0
            pendingBits = 0
            storage.append(contentsOf: data)
        } else {
            for b in data { write(UInt64(b), bits: 8) }
        }
    }

    /// string8: u8 byte length, then the UTF-8 bytes. Strings longer than `limit` bytes (at most 255) are
    /// cut at the last whole Unicode scalar that fits.
    public mutating func writeString8(_ s: String, limit: Int = 255) {
        let utf8 = Self.utf8Prefix(s, maxBytes: Swift.min(Swift.max(limit, 0), 255))
        writeU8(UInt8(utf8.count))
        writeBytes(utf8)
    }

    /// string16: u16 byte length, then the UTF-8 bytes. Strings longer than `limit` bytes (at most
    /// 65535) are cut at the last whole Unicode scalar that fits.
    public mutating func writeString16(_ s: String, limit: Int = 65535) {
        let utf8 = Self.utf8Prefix(s, maxBytes: Swift.min(Swift.max(limit, 0), 65535))
        writeU16(UInt16(utf8.count))
        writeBytes(utf8)
    }

    /// The UTF-8 bytes of `s`, cut at a scalar boundary so that at most `maxBytes` remain.
    static func utf8Prefix(_ s: String, maxBytes: Int) -> ArraySlice<UInt8> {
        let all = Array(s.utf8)
        if all.count <= maxBytes { return all[...] }
        var cut = maxBytes
        // Step back over continuation bytes (10xxxxxx) so we cut before a scalar's lead byte.
        while cut > 0 && all[cut] & 0xC0 == 0x80 { cut -= 1 }
        return all[..<cut]
    }
}

/// Reads values from a bit stream written by `BitWriter`. Every read is bounds-checked.
public struct BitReader: Sendable {
    @usableFromInline let storage: [UInt8]
    /// Bit position of the next read.
    public private(set) var bitPosition: Int = 0

    public init(_ bytes: [UInt8]) {
        storage = bytes
    }

    public var bitsRemaining: Int { storage.count &* 8 &- bitPosition }

    /// Reads `bits` bits (0...64) as an unsigned value.
    public mutating func read(bits: Int) throws(WireError) -> UInt64 {
        precondition(bits >= 0 && bits <= 64, "BitReader.read: width must be 0...64")
        if bits == 0 { return 0 }
        guard bits <= bitsRemaining else { throw .truncated }
        let byteIndex = bitPosition >> 3
        let shift = bitPosition & 7
        var result: UInt64
        if byteIndex &+ 8 <= storage.count {
            // Fast path: one unaligned little-endian word, plus one more byte if the field spills over.
            let word = storage.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: byteIndex, as: UInt64.self)) }
            result = word &>> UInt64(shift)
            if shift &+ bits > 64 {
                result |= UInt64(storage[byteIndex &+ 8]) &<< UInt64(64 &- shift)
            }
        } else {
            // Near the end: gather byte by byte (at most 8 bytes remain).
            result = 0
            var i = byteIndex
            var got = -shift
            while got < bits && i < storage.count {
                let b = UInt64(storage[i])
                result |= got >= 0 ? b &<< UInt64(got) : b &>> UInt64(-got)
                got &+= 8
                i &+= 1
            }
        }
        if bits < 64 { result &= (1 &<< UInt64(bits)) &- 1 }
        bitPosition &+= bits
        return result
    }

    public mutating func readBool() throws(WireError) -> Bool { try read(bits: 1) != 0 }
    public mutating func readU8() throws(WireError) -> UInt8 { UInt8(truncatingIfNeeded: try read(bits: 8)) }
    public mutating func readU16() throws(WireError) -> UInt16 { UInt16(truncatingIfNeeded: try read(bits: 16)) }
    public mutating func readU32() throws(WireError) -> UInt32 { UInt32(truncatingIfNeeded: try read(bits: 32)) }
    public mutating func readU64() throws(WireError) -> UInt64 { try read(bits: 64) }
    public mutating func readF32() throws(WireError) -> Float {
        Float(bitPattern: UInt32(truncatingIfNeeded: try read(bits: 32)))
    }

    /// Reads `count` raw bytes; `.truncated` if fewer remain (nothing is allocated in that case).
    public mutating func readBytes(count: Int) throws(WireError) -> [UInt8] {
        guard count >= 0, count <= bitsRemaining >> 3 else { throw .truncated }
        if bitPosition & 7 == 0 {
            let start = bitPosition >> 3
            bitPosition &+= count &* 8
            return Array(storage[start..<(start + count)])
        }
        var out = [UInt8]()
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try readU8()) }
        return out
    }

    /// string8 (u8 length + UTF-8). `stringTooLong` if the length is over `limit`, `invalidString` for bad UTF-8.
    public mutating func readString8(field: String, limit: Int) throws(WireError) -> String {
        let length = Int(try readU8())
        return try readUTF8(length: length, field: field, limit: limit)
    }

    /// string16 (u16 length + UTF-8). `stringTooLong` if the length is over `limit`, `invalidString` for bad UTF-8.
    public mutating func readString16(field: String, limit: Int) throws(WireError) -> String {
        let length = Int(try readU16())
        return try readUTF8(length: length, field: field, limit: limit)
    }

    /// The raw bytes of a string8 after its length was checked against `limit` (no UTF-8 check).
    mutating func readString8Bytes(field: String, limit: Int) throws(WireError) -> [UInt8] {
        let length = Int(try readU8())
        guard length <= limit else { throw .stringTooLong(field: field, length: length, limit: limit) }
        return try readBytes(count: length)
    }

    private mutating func readUTF8(length: Int, field: String, limit: Int) throws(WireError) -> String {
        guard length <= limit else { throw .stringTooLong(field: field, length: length, limit: limit) }
        let raw = try readBytes(count: length)
        guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidString(field: field) }
        return s
    }

    /// Checks that the message is fully consumed: `trailingBytes(n)` if n ≥ 1 whole bytes remain.
    /// Padding bits (< 8) in the last byte are ignored.
    public func finish() throws(WireError) {
        let extra = bitsRemaining >> 3
        if extra > 0 { throw .trailingBytes(extra) }
    }
}

// MARK: - Counting and Elias-gamma

/// Where bit-level encoders write: a `BitWriter`, or a `BitCounter` that only counts. Encoders that are
/// generic over it give exact sizes without a second, hand-maintained size formula.
protocol BitSink {
    mutating func write(_ value: UInt64, bits: Int)
}

extension BitWriter: BitSink {}

/// Counts the bits an encoder would write.
struct BitCounter: BitSink {
    var bitCount = 0
    @inline(__always) mutating func write(_ value: UInt64, bits: Int) { bitCount &+= bits }
}

/// Elias-gamma codes for 1 ≤ n < 2^32 (PROTOCOL.md §10.3.3): with k = bitLength(n) − 1, k zero bits, a one
/// bit, then the low k bits of n, least-significant bit first. 2k + 1 bits: n = 1 is the single bit `1`.
enum EliasGamma {
    /// Largest value the protocol allows (k ≤ 31).
    static let maxValue = UInt64(UInt32.max)

    /// 2 × (bitLength(n) − 1) + 1. Precondition: 1 ≤ n ≤ 2^32 − 1.
    @inline(__always) static func bitCount(_ n: UInt64) -> Int {
        precondition(n >= 1 && n <= maxValue, "Elias-gamma: n must be 1...2^32-1")
        return 2 &* (63 &- n.leadingZeroBitCount) &+ 1
    }

    static func write<S: BitSink>(_ n: UInt64, into w: inout S) {
        precondition(n >= 1 && n <= maxValue, "Elias-gamma: n must be 1...2^32-1")
        let k = 63 &- n.leadingZeroBitCount
        // k zeros, then the one bit (the value 1 << k in k + 1 bits, LSB first), then the low k bits of n (the
        // leading one is implied): one write of 2k + 1 ≤ 63 bits.
        let low = n & ((1 &<< UInt64(k)) &- 1)
        w.write(1 &<< UInt64(k) | low &<< UInt64(k &+ 1), bits: 2 &* k &+ 1)
    }

    /// Reads a code; `invalidField(field, 32)` if 32 zero bits come first (n ≥ 2^32), `truncated` if the
    /// stream ends inside the code.
    static func read(from r: inout BitReader, field: String) throws(WireError) -> UInt64 {
        var k = 0
        while try r.read(bits: 1) == 0 {
            k &+= 1
            if k > 31 { throw .invalidField(field: field, value: UInt64(k)) }
        }
        return (1 &<< UInt64(k)) | (try r.read(bits: k))
    }
}
