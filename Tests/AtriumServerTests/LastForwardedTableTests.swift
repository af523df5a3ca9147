import Testing

@testable import AtriumServer

/// The relay's (speaker, listener) → last forwarded index table against a dictionary doing the same.
@Suite struct LastForwardedTableTests {
    /// SplitMix64, so a failure replays.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func agreesWithADictionaryThroughGrowthAndRemovals() {
        var rng = Generator(state: 0x1A57)
        var table = LastForwardedTable(capacity: 16)
        var model: [UInt32: UInt32] = [:]
        // Ids from a small range (many overwrites) and from all of 1…65535 (the hash's whole key space).
        for round in 0..<40 {
            let wide = round % 2 == 1
            for _ in 0..<300 {
                let speaker = UInt16.random(in: 1...(wide ? .max : 60), using: &rng)
                let listener = UInt16.random(in: 1...(wide ? .max : 60), using: &rng)
                let value = UInt32.random(in: 0...UInt32.max, using: &rng)
                table.setLast(value, speaker: speaker, listener: listener)
                model[UInt32(speaker) << 16 | UInt32(listener)] = value
            }
            // Drop everything of one id, either side, as a leaving avatar does; or a share of the values.
            let gone = UInt16.random(in: 1...60, using: &rng)
            let odd = round % 3 == 0
            let drop = { (s: UInt16, l: UInt16, v: UInt32) in s == gone || l == gone || (odd && v & 7 == 0) }
            table.removeAll(where: drop)
            model = model.filter { !drop(UInt16($0.key >> 16), UInt16(truncatingIfNeeded: $0.key), $0.value) }

            #expect(table.count == model.count)
            #expect(table.capacity >= 2 * table.count, "at most half full")
            for (key, value) in model {
                #expect(table.last(speaker: UInt16(key >> 16), listener: UInt16(truncatingIfNeeded: key)) == value)
            }
            for _ in 0..<200 {
                let speaker = UInt16.random(in: 1...UInt16.max, using: &rng)
                let listener = UInt16.random(in: 1...UInt16.max, using: &rng)
                #expect(table.last(speaker: speaker, listener: listener) == model[UInt32(speaker) << 16 | UInt32(listener)])
            }
        }
    }

    @Test func emptyAndOneEntry() {
        var table = LastForwardedTable()
        #expect(table.last(speaker: 1, listener: 2) == nil && table.count == 0)
        table.setLast(7, speaker: 1, listener: 2)
        table.setLast(9, speaker: 1, listener: 2)
        #expect(table.last(speaker: 1, listener: 2) == 9 && table.last(speaker: 2, listener: 1) == nil && table.count == 1)
        table.removeAll { _, _, _ in true }
        #expect(table.count == 0 && table.last(speaker: 1, listener: 2) == nil)
    }
}
