import Testing
@testable import AtriumWire

@Suite struct SnapshotPackerTests {
    let codec = Fixtures.hallCodec

    @Test func emptySnapshotIsOnePart() throws {
        let (parts, view) = SnapshotPacker.pack(sequence: 9, serverTimeMicros: 10, baseline: .empty, entries: [], codec: codec)
        #expect(parts.count == 1 && parts[0].count == 21 && view == SnapshotView(sequence: 9, avatars: []))
        #expect(try DeltaSnapshot.decode(parts[0], baseline: .empty, codec: codec).entries.isEmpty)
    }

    @Test func partsFitAndTogetherGiveTheView() throws {
        var rng = SeededRNG(seed: 64)
        for trial in 0..<200 {
            let maxBytes = [1200, 1200, 600, 300, 100, 60][trial % 6]
            let baseline = rng.chance(0.3) ? SnapshotView.empty : rng.view(sequence: 100, count: rng.int(0...300), maxId: 2000, codec: codec)
            let entries = rng.entries(against: baseline, maxId: 2000, codec: codec)
            let (parts, view) = SnapshotPacker.pack(
                sequence: 101, serverTimeMicros: 77, baseline: baseline, entries: entries, codec: codec, maxBytes: maxBytes)
            #expect(!parts.isEmpty && parts.count <= 255)
            var all: [SnapshotEntry] = []
            var sizes: [Int] = []
            for (index, bytes) in parts.enumerated() {
                #expect(bytes.count <= maxBytes)
                let (header, decoded) = try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec)
                #expect(Int(header.partIndex) == index && Int(header.partCount) == parts.count && header.baseline == baseline.sequence)
                all += decoded
                sizes.append(decoded.count)
            }
            #expect(DeltaSnapshot.apply(all, to: baseline, sequence: 101) == view)
            // The same as one big part, when nothing was left out.
            let single = DeltaSnapshot.encode(sequence: 101, serverTimeMicros: 77, baseline: baseline, entries: entries, codec: codec)
            if parts.count < 255 { #expect(view == single.view) }
            // As few parts as fit: no part could have taken the first entry of the next one.
            var start = 0
            for (p, bytes) in parts.enumerated().dropLast() {
                let next = all[start + sizes[p]]
                let used = try entryExtent(bytes, baseline: baseline, codec: codec).end
                let prev = sizes[p] == 0 ? 0 : Int(all[start + sizes[p] - 1].id)
                #expect(used + DeltaSnapshot.gapBits(Int(next.id) - prev) + DeltaSnapshot.entryBits(next, baseline: baseline, codec: codec) > maxBytes * 8)
                start += sizes[p]
            }
        }
    }

    @Test func moreThan255PartsLeaveTheRestOut() throws {
        var rng = SeededRNG(seed: 65)
        let hand = QuantizedHand(x: 1024, y: 1024, z: 1024, rotation: .identity(bits: 9))
        let entries = (1...300).map { id -> SnapshotEntry in
            var pose = rng.quantizedPose(codec: codec)
            pose.left = hand
            pose.right = hand
            return .full(ViewEntry(id: UInt16(id), lastInputSequence: 1, pose: pose))
        }
        // 60 bytes (480 bits) hold exactly one full entry with both hands (168 + 1…17 + 248 bits).
        let (parts, view) = SnapshotPacker.pack(sequence: 1, serverTimeMicros: 0, baseline: .empty, entries: entries, codec: codec, maxBytes: 60)
        #expect(parts.count == 255)
        #expect(view.avatars.map(\.id) == (1...255).map { UInt16($0) })
        #expect(SnapshotPacker.capacity(codec: codec, maxBytes: 60) == 255)
        // (1200 × 8 − 168) / (31 + 2 + 32 + 214) = 33 entries per part, whatever they are.
        #expect(SnapshotPacker.capacity(codec: codec) == 33 * 255)
    }

    /// Full state as a recipient with nothing acknowledged gets it: every avatar a full entry against baseline 0.
    /// Each part decodes alone, from its header (`ServerMessage.decode`) and the empty view.
    @Test func fullStateAgainstBaselineZero() throws {
        var rng = SeededRNG(seed: 66)
        let entries = (1...200).map { SnapshotEntry.full(ViewEntry(id: UInt16($0), lastInputSequence: 1, pose: rng.quantizedPose(codec: codec))) }
        let (parts, view) = SnapshotPacker.pack(sequence: 1, serverTimeMicros: 0, baseline: .empty, entries: entries, codec: codec)
        #expect(parts.count > 1 && view.avatars.count == 200)
        var decoded: [SnapshotEntry] = []
        for bytes in parts {
            guard case .snapshot(let s) = try ServerMessage.decode(bytes, codec: codec) else { Issue.record(); return }
            #expect(s.baseline == 0)
            decoded += try s.entries(baseline: .empty, codec: codec)
        }
        #expect(decoded == entries)
        // ServerMessage.decode reads the header only: a part cut short after it still decodes, its entries do not.
        guard case .snapshot(let cut) = try ServerMessage.decode(Array(parts[0].dropLast(10)), codec: codec) else { Issue.record(); return }
        #expect(throws: WireError.truncated) { try cut.entries(baseline: .empty, codec: codec) }
    }
}
