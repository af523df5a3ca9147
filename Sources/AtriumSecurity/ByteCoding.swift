/// Little-endian byte writer for the token body and envelope header.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func raw(_ value: some Sequence<UInt8>) { bytes.append(contentsOf: value) }

    /// A length byte then the bytes. - Precondition: at most 255 bytes (callers validate lengths first).
    mutating func shortString(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= 255)
        u8(UInt8(utf8.count))
        raw(utf8)
    }
}

/// Bounds-checked little-endian reader: every read returns nil instead of running past the end.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() -> UInt32? {
        guard let raw = take(4) else { return nil }
        return raw.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() -> UInt64? {
        guard let raw = take(8) else { return nil }
        return raw.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// A length byte then that many bytes of valid UTF-8.
    mutating func shortString() -> String? {
        guard let count = u8(), let raw = take(Int(count)) else { return nil }
        // String(decoding:) repairs invalid UTF-8 with U+FFFD, so a changed round trip means it was invalid.
        let text = String(decoding: raw, as: UTF8.self)
        return text.utf8.elementsEqual(raw) ? text : nil
    }
}

extension UInt64 {
    /// Reads 8 little-endian bytes at `offset` of `buffer` (caller checked the bounds).
    @inline(__always)
    static func loadLE(_ buffer: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
