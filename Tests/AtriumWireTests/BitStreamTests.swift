import Testing
@testable import AtriumWire

@Suite struct BitStreamTests {
    @Test func leastSignificantBitFirst() {
        var w = BitWriter()
        w.write(1, bits: 1)        // bit 0
        w.write(0b101, bits: 3)    // bits 1..3
        w.write(0xABCD, bits: 16)  // bits 4..19
        #expect(w.bitCount == 20)
        // byte0 = 1 | 101<<1 | D<<4 = 0xDB; byte1 = 0xBC; byte2 = 0x0A (padded)
        #expect(w.bytes == [0xDB, 0xBC, 0x0A])
    }

    @Test func alignedFieldsAreLittleEndian() {
        var w = BitWriter()
        w.writeU8(0x01)
        w.writeU16(0x0201)
        w.writeU32(0x0605_0403)
        w.writeU64(0x0E0D_0C0B_0A09_0807)
        w.writeF32(1.0)
        #expect(w.bytes == [0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
                            0x00, 0x00, 0x80, 0x3F])
    }

    @Test func highBitsOfValueAreIgnored() {
        var w = BitWriter()
        w.write(0xFF, bits: 4)
        w.write(0, bits: 4)
        #expect(w.bytes == [0x0F])
    }

    @Test func randomWidthsRoundTrip() throws {
        var rng = SeededRNG(seed: 1)
        for _ in 0..<2000 {
            var fields: [(UInt64, Int)] = []
            var w = BitWriter(capacity: 4)
            for _ in 0..<rng.int(0...40) {
                let bits = rng.int(0...64)
                let v = bits == 64 ? rng.next() : rng.next() & ((1 << UInt64(bits)) - 1)
                fields.append((v, bits))
                w.write(v, bits: bits)
            }
            let total = fields.reduce(0) { $0 + $1.1 }
            #expect(w.bitCount == total)
            let bytes = w.bytes
            #expect(bytes.count == (total + 7) / 8)
            var r = BitReader(bytes)
            for (v, bits) in fields {
                #expect(try r.read(bits: bits) == v)
            }
            #expect(r.bitsRemaining == bytes.count * 8 - total)
            try r.finish()
        }
    }

    @Test func bytesAtOddOffsets() throws {
        var w = BitWriter()
        w.write(1, bits: 3)
        w.writeBytes([0xDE, 0xAD, 0xBE, 0xEF])
        w.writeBytes([UInt8]())
        var r = BitReader(w.bytes)
        #expect(try r.read(bits: 3) == 1)
        #expect(try r.readBytes(count: 4) == [0xDE, 0xAD, 0xBE, 0xEF])
    }

    @Test func bytesPropertyDoesNotDisturbWriting() {
        var w = BitWriter()
        w.write(0b11, bits: 2)
        _ = w.bytes
        w.write(0b1, bits: 1)
        #expect(w.bytes == [0b111])
    }

    @Test func readerErrors() throws {
        var r = BitReader([0xFF])
        #expect(throws: WireError.truncated) { try r.read(bits: 9) }
        #expect(try r.read(bits: 3) == 7)
        try r.finish()  // 5 padding bits are fine
        #expect(throws: WireError.truncated) { try r.readU8() }
        #expect(throws: WireError.truncated) { try r.readBytes(count: 1) }
        #expect(throws: WireError.truncated) { try r.readBytes(count: -1) }
        #expect(throws: WireError.truncated) { try r.readBytes(count: Int.max) }

        var r2 = BitReader([1, 2, 3])
        _ = try r2.readU8()
        #expect(throws: WireError.trailingBytes(2)) { try r2.finish() }

        var r3 = BitReader([])
        #expect(throws: WireError.truncated) { try r3.readU8() }
        #expect(try r3.read(bits: 0) == 0)
        try r3.finish()
    }

    @Test func strings() throws {
        var w = BitWriter()
        w.writeString8("héllo")
        w.writeString16("日本")
        var r = BitReader(w.bytes)
        #expect(try r.readString8(field: "a", limit: 10) == "héllo")
        #expect(try r.readString16(field: "b", limit: 10) == "日本")

        var r2 = BitReader(w.bytes)
        #expect(throws: WireError.stringTooLong(field: "a", length: 6, limit: 5)) { try r2.readString8(field: "a", limit: 5) }

        var r3 = BitReader([2, 0xC3, 0x28])
        #expect(throws: WireError.invalidString(field: "x")) { try r3.readString8(field: "x", limit: 10) }
    }

    @Test func writersCutLongStringsAtScalarBoundaries() throws {
        var w = BitWriter()
        w.writeString8(String(repeating: "é", count: 3), limit: 5)  // 6 bytes → 4 bytes, not 5
        w.writeString8(String(repeating: "a", count: 300))           // → 255
        var r = BitReader(w.bytes)
        #expect(try r.readString8(field: "a", limit: 255) == "éé")
        #expect(try r.readString8(field: "b", limit: 255) == String(repeating: "a", count: 255))
    }
}
