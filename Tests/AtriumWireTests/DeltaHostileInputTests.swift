import Testing
@testable import AtriumWire

/// A SNAPSHOT written field by field: header, then whatever `body` writes.
private func crafted(
    sequence: UInt32 = 10, baseline: UInt32 = 0, count: UInt16, partIndex: UInt8 = 0, partCount: UInt8 = 1,
    _ body: (inout BitWriter) -> Void
) -> [UInt8] {
    var w = BitWriter()
    w.writeU8(0x83); w.writeU32(sequence); w.writeU64(1); w.writeU32(baseline)
    w.writeU8(partIndex); w.writeU8(partCount); w.writeU16(count)
    body(&w)
    return w.bytes
}

private extension BitWriter {
    mutating func gamma(_ n: UInt64) { EliasGamma.write(n, into: &self) }
}

@Suite struct DeltaHostileInputTests {
    let codec = Fixtures.hallCodec
    let pose = Fixtures.hallCodec.quantize(AvatarPose(headPosition: Vec3(1, 1.6, 2), headRotation: .identity))

    private var baseline: SnapshotView {
        SnapshotView(sequence: 8, avatars: [ViewEntry(id: 5, lastInputSequence: 100, pose: pose)])
    }

    private func decode(_ bytes: [UInt8], baseline: SnapshotView = .empty) throws(WireError) -> [SnapshotEntry] {
        try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec).entries
    }

    @Test func everyPrefixIsTruncated() {
        var rng = SeededRNG(seed: 80)
        for _ in 0..<300 {
            let baseline = rng.chance(0.3) ? SnapshotView.empty : rng.view(sequence: 100, count: rng.int(0...20), codec: codec)
            let bytes = DeltaSnapshot.encode(
                sequence: 101, serverTimeMicros: 3, baseline: baseline, entries: rng.entries(against: baseline, codec: codec),
                codec: codec).bytes
            for n in 0..<bytes.count {
                #expect(throws: WireError.truncated) { try DeltaSnapshot.decode(Array(bytes[..<n]), baseline: baseline, codec: codec) }
            }
            #expect(throws: Never.self) { try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec) }
            #expect(throws: WireError.trailingBytes(2)) { try DeltaSnapshot.decode(bytes + [0, 0], baseline: baseline, codec: codec) }
        }
    }

    @Test func reservedKind() {
        let bytes = crafted(count: 1) { w in w.gamma(4); w.write(3, bits: 2) }
        #expect(throws: WireError.invalidField(field: "entryKind", value: 3)) { try decode(bytes) }
    }

    @Test func eliasGammaOverflow() {
        // 32 zero bits where an idGap starts.
        let gap = crafted(count: 1) { w in w.write(0, bits: 32); w.write(1, bits: 1); w.write(0, bits: 40) }
        #expect(throws: WireError.invalidField(field: "idGap", value: 32)) { try decode(gap) }
        // …and where an update's sequence delta starts.
        let seq = crafted(sequence: 10, baseline: 8, count: 1) { w in w.gamma(5); w.write(0, bits: 2); w.write(0, bits: 40) }
        #expect(throws: WireError.invalidField(field: "seqDelta", value: 32)) { try decode(seq, baseline: baseline) }
        // The largest code (31 zeros) is read whole: 2^32 − 1 as a gap is an id past 65535.
        let big = crafted(count: 1) { w in w.gamma(UInt64(UInt32.max)) }
        #expect(throws: WireError.invalidField(field: "id", value: UInt64(UInt32.max))) { try decode(big) }
    }

    @Test func idsPast65535() throws {
        let leave = crafted(sequence: 10, baseline: 8, count: 1) { w in w.gamma(70_000); w.write(2, bits: 2) }
        #expect(throws: WireError.invalidField(field: "id", value: 70_000)) { try decode(leave, baseline: baseline) }
        let two = crafted(count: 2) { w in
            w.gamma(65_535); w.write(1, bits: 2); w.writeU32(1); codec.writeFull(pose, into: &w)
            w.gamma(1); w.write(1, bits: 2)
        }
        #expect(throws: WireError.invalidField(field: "id", value: 65_536)) { try decode(two) }
        // 65535 itself is fine.
        let last = crafted(count: 1) { w in w.gamma(65_535); w.write(1, bits: 2); w.writeU32(1); codec.writeFull(pose, into: &w) }
        #expect(try decode(last) == [.full(ViewEntry(id: 65_535, lastInputSequence: 1, pose: pose))])
    }

    @Test func entriesMustMatchTheBaseline() throws {
        // Update or leave of an avatar the baseline does not hold.
        let update = crafted(sequence: 10, baseline: 8, count: 1) { w in w.gamma(6); w.write(0, bits: 2); w.gamma(1); w.write(0, bits: 1) }
        #expect(throws: WireError.invalidField(field: "update.id", value: 6)) { try decode(update, baseline: baseline) }
        let leave = crafted(count: 1) { w in w.gamma(5); w.write(2, bits: 2) }
        #expect(throws: WireError.invalidField(field: "leave.id", value: 5)) { try decode(leave) }
        // The same against the right baseline decodes.
        let fine = crafted(sequence: 10, baseline: 8, count: 1) { w in w.gamma(5); w.write(0, bits: 2); w.gamma(1); w.write(0, bits: 1) }
        #expect(try decode(fine, baseline: baseline) == [.update(ViewEntry(id: 5, lastInputSequence: 100, pose: pose))])
        // A sequence delta of 2^31 or more.
        let far = crafted(sequence: 10, baseline: 8, count: 1) { w in w.gamma(5); w.write(0, bits: 2); w.gamma(1 << 31 + 1); w.write(0, bits: 1) }
        #expect(throws: WireError.invalidField(field: "seqDelta", value: 1 << 31)) { try decode(far, baseline: baseline) }
        let farthest = crafted(sequence: 10, baseline: 8, count: 1) { w in w.gamma(5); w.write(0, bits: 2); w.gamma(1 << 31); w.write(0, bits: 1) }
        #expect(try decode(farthest, baseline: baseline) == [.update(ViewEntry(id: 5, lastInputSequence: 100 &+ 0x7FFF_FFFF, pose: pose))])
    }

    @Test func codesOutsideTheirFields() {
        // A full entry with a head position above E.
        let full = crafted(count: 1) { w in
            w.gamma(1); w.write(1, bits: 2); w.writeU32(1)
            w.write(0, bits: 8); w.write(200_001, bits: 18); w.write(0, bits: 14 + 18 + 32)
        }
        #expect(throws: WireError.invalidField(field: "headPosition.x", value: 200_001)) { try decode(full) }
        // An update whose y delta leaves 0...10000: the baseline has y = 1600, raw class → 10001.
        let update = crafted(sequence: 10, baseline: 8, count: 1) { w in
            w.gamma(5); w.write(0, bits: 2); w.gamma(1)
            w.write(1, bits: 1); w.write(0, bits: 1)        // changed, not special
            w.write(0, bits: 1); w.write(0, bits: 4)        // x unchanged (small, zigzag 0)
            w.write(0b111, bits: 3); w.write(10_001, bits: 14)
        }
        #expect(throws: WireError.invalidField(field: "headPosition.y", value: 10_001)) { try decode(update, baseline: baseline) }
    }

    @Test func hugeCountsDoNotAllocate() {
        #expect(throws: WireError.truncated) { try decode(crafted(count: 65_535) { _ in }) }
        #expect(throws: WireError.truncated) { try decode(crafted(count: 65_535) { w in w.gamma(1); w.write(1, bits: 2) }) }
    }

    /// Within a part ids are strictly ascending by construction (gaps ≥ 1); across parts a repeated id is
    /// an error of the assembled snapshot.
    @Test func duplicateIdsAcrossParts() throws {
        let a = crafted(sequence: 3, count: 1, partIndex: 0, partCount: 2) { w in w.gamma(9); w.write(1, bits: 2); w.writeU32(1); codec.writeFull(pose, into: &w) }
        let b = crafted(sequence: 3, count: 2, partIndex: 1, partCount: 2) { w in
            w.gamma(2); w.write(1, bits: 2); w.writeU32(1); codec.writeFull(pose, into: &w)
            w.gamma(7); w.write(1, bits: 2); w.writeU32(1); codec.writeFull(pose, into: &w)
        }
        var receiver = SnapshotReceiver()
        _ = try receiver.receive(a, codec: codec)
        #expect(throws: WireError.invalidField(field: "id", value: 9)) { try receiver.receive(b, codec: codec) }
        #expect(receiver.acknowledgement == 0)
    }

    @Test func randomAndMutatedInputNeverTraps() {
        var rng = SeededRNG(seed: 81)
        var decoded = 0
        for i in 0..<30_000 {
            let baseline = rng.view(sequence: 100, count: rng.int(0...12), maxId: 60, codec: codec)
            var bytes: [UInt8]
            if i % 3 == 0 {
                bytes = [0x83] + (0..<rng.int(0...80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if bytes.count > 17 && rng.chance(0.8) {
                    // A plausible header, random entries.
                    bytes[1] = 101; bytes[2] = 0; bytes[3] = 0; bytes[4] = 0
                    bytes[13] = rng.bool() ? 100 : 0; bytes[14] = 0; bytes[15] = 0; bytes[16] = 0
                    if bytes.count > 18 { bytes[17] = 0; bytes[18] = 1 }
                }
            } else {
                bytes = DeltaSnapshot.encode(
                    sequence: 101, serverTimeMicros: 3, baseline: baseline, entries: rng.entries(against: baseline, maxId: 60, codec: codec),
                    codec: codec).bytes
                for _ in 0..<rng.int(1...4) { bytes[rng.int(0...bytes.count - 1)] ^= UInt8(1) << UInt8(rng.int(0...7)) }
                if rng.chance(0.2) { bytes = Array(bytes.prefix(rng.int(0...bytes.count))) + [UInt8](repeating: 0xFF, count: rng.int(0...3)) }
            }
            let view = (try? DeltaSnapshot.decodeHeader(bytes)).map { $0.baseline == 0 ? SnapshotView.empty : baseline } ?? baseline
            if let (header, entries) = try? DeltaSnapshot.decode(bytes, baseline: view, codec: codec) {
                decoded += 1
                // Whatever decodes is well formed: ids strictly ascending, updates and leaves of known avatars.
                #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.id < $1.id })
                #expect(entries.count == Int(header.entryCount))
                _ = DeltaSnapshot.apply(entries, to: view, sequence: header.sequence)
            }
            var receiver = SnapshotReceiver()
            _ = try? receiver.receive(bytes, codec: codec)
            _ = try? ServerMessage.decode(bytes, codec: codec)
        }
        #expect(decoded > 100)
    }

    @Test func unsortedEntriesAreAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            let codec = PoseCodec(bounds: WorldBounds(min: Vec3(-1, -1, -1), max: Vec3(1, 1, 1)))
            let pose = codec.quantize(AvatarPose(headPosition: .zero, headRotation: .identity))
            _ = DeltaSnapshot.encode(
                sequence: 1, serverTimeMicros: 0, baseline: .empty,
                entries: [.full(ViewEntry(id: 4, lastInputSequence: 1, pose: pose)), .full(ViewEntry(id: 2, lastInputSequence: 1, pose: pose))],
                codec: codec)
        }
    }
}
