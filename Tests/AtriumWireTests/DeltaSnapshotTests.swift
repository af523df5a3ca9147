import Testing
@testable import AtriumWire

extension SeededRNG {
    /// A view of `count` random avatars with ids in 1...maxId.
    mutating func view(sequence: UInt32, count: Int, maxId: Int = 200, codec: PoseCodec) -> SnapshotView {
        var ids = Set<UInt16>()
        while ids.count < count { ids.insert(UInt16(int(1...maxId))) }
        return SnapshotView(sequence: sequence, avatars: ids.sorted().map {
            ViewEntry(id: $0, lastInputSequence: u32(), pose: quantizedPose(codec: codec))
        })
    }

    /// Random entries against `baseline`: updates (nudged poses, input sequence ahead), fulls (new ids or
    /// refreshes) and leaves; sorted by id, each id once.
    mutating func entries(against baseline: SnapshotView, maxId: Int = 200, codec: PoseCodec) -> [SnapshotEntry] {
        var out: [SnapshotEntry] = []
        for id in 1...maxId {
            let id = UInt16(id)
            if let old = baseline[id] {
                switch int(0...9) {
                case 0...4:
                    out.append(.update(ViewEntry(
                        id: id, lastInputSequence: old.lastInputSequence &+ UInt32(int(0...20)), pose: nudged(old.pose, codec: codec))))
                case 5: out.append(.full(ViewEntry(id: id, lastInputSequence: u32(), pose: quantizedPose(codec: codec))))
                case 6: out.append(.leave(id))
                case 7: out.append(.update(ViewEntry(id: id, lastInputSequence: old.lastInputSequence &- UInt32(int(1...5)), pose: old.pose)))
                default: break
                }
            } else if chance(0.05) {
                out.append(chance(0.8)
                    ? .full(ViewEntry(id: id, lastInputSequence: u32(), pose: quantizedPose(codec: codec)))
                    : .update(ViewEntry(id: id, lastInputSequence: u32(), pose: quantizedPose(codec: codec))))
            }
        }
        return out
    }
}

/// Decodes one entry's bits by hand: returns the bit position after the header and after the entry.
func entryExtent(_ bytes: [UInt8], baseline: SnapshotView, codec: PoseCodec) throws -> (start: Int, end: Int) {
    var r = BitReader(bytes)
    _ = try r.readU8()
    let header = try DeltaSnapshot.readHeader(from: &r)
    let start = r.bitPosition
    _ = try DeltaSnapshot.readEntries(count: Int(header.entryCount), baseline: baseline, codec: codec, from: &r)
    return (start, r.bitPosition)
}

@Suite struct DeltaSnapshotTests {
    let codec = Fixtures.hallCodec

    @Test func entryBitsIsTheEncodedSize() throws {
        var rng = SeededRNG(seed: 60)
        var kinds = [0, 0, 0, 0]
        for i in 0..<3000 {
            let baseline = rng.view(sequence: UInt32(1000 + i), count: rng.int(0...30), codec: codec)
            var some = Array(rng.entries(against: baseline, codec: codec).prefix(5))
            if let absent = (UInt16(201)...UInt16(400)).randomElement(using: &rng), rng.chance(0.1) { some.append(.leave(absent)) }
            for entry in some {
                let (bytes, _) = DeltaSnapshot.encode(
                    sequence: baseline.sequence + 1, serverTimeMicros: 5, baseline: baseline, entries: [entry], codec: codec)
                let (header, decoded) = try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec)
                let bits = DeltaSnapshot.entryBits(entry, baseline: baseline, codec: codec)
                if bits == 0 {  // a leave of an avatar not in the baseline: left out
                    #expect(header.entryCount == 0 && decoded.isEmpty)
                    kinds[3] += 1
                    continue
                }
                let extent = try entryExtent(bytes, baseline: baseline, codec: codec)
                #expect(extent.end - extent.start == DeltaSnapshot.gapBits(Int(entry.id)) + bits)
                #expect(bytes.count == (DeltaSnapshot.headerBits + DeltaSnapshot.gapBits(Int(entry.id)) + bits + 7) / 8)
                switch decoded.first {
                case .update: kinds[0] += 1
                case .full: kinds[1] += 1
                case .leave: kinds[2] += 1
                case nil: Issue.record("no entry")
                }
            }
        }
        #expect(kinds.allSatisfy { $0 > 100 }, "\(kinds)")
    }

    @Test func encodeDecodeApply() throws {
        var rng = SeededRNG(seed: 61)
        for i in 0..<2000 {
            let sequence = UInt32(truncatingIfNeeded: 40 + i * 7919) | 1
            let baseline = rng.chance(0.2) ? SnapshotView.empty
                : rng.view(sequence: sequence &- UInt32(rng.int(1...32)), count: rng.int(0...60), codec: codec)
            let entries = rng.entries(against: baseline, codec: codec)
            let (bytes, view) = DeltaSnapshot.encode(
                sequence: sequence, serverTimeMicros: UInt64(i), baseline: baseline, entries: entries, codec: codec)
            #expect(try DeltaSnapshot.decodeHeader(bytes).sequence == sequence)
            let (header, decoded) = try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec)
            #expect(header == SnapshotHeader(
                sequence: sequence, serverTimeMicros: UInt64(i), baseline: baseline.sequence, partIndex: 0, partCount: 1,
                entryCount: UInt16(decoded.count)))
            // The recipient rebuilds exactly the view the sender kept.
            #expect(DeltaSnapshot.apply(decoded, to: baseline, sequence: sequence) == view)
            // Every explicit entry carries the state it was given; unmentioned avatars keep theirs.
            var given: [UInt16: SnapshotEntry] = [:]
            for e in entries { given[e.id] = e }
            for e in decoded {
                switch (e, given[e.id]) {
                case (.leave, .leave?): break
                case (.update(let s), .update(let g)?), (.full(let s), .update(let g)?), (.full(let s), .full(let g)?):
                    #expect(s == g)
                default: Issue.record("\(e) from \(String(describing: given[e.id]))")
                }
            }
            for a in view.avatars where given[a.id] == nil { #expect(baseline[a.id] == a) }
            for e in entries where e.state != nil { #expect(view[e.id] == e.state) }
            for case .leave(let id) in entries { #expect(view[id] == nil) }
        }
    }

    @Test func updatesBecomeFullWhenTheyMust() throws {
        let pose = codec.quantize(AvatarPose(headPosition: Vec3(1, 1.6, 2), headRotation: .identity))
        let baseline = SnapshotView(sequence: 9, avatars: [ViewEntry(id: 3, lastInputSequence: 100, pose: pose)])
        func written(_ e: SnapshotEntry) throws -> SnapshotEntry? {
            let bytes = DeltaSnapshot.encode(sequence: 10, serverTimeMicros: 0, baseline: baseline, entries: [e], codec: codec).bytes
            return try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec).entries.first
        }
        let same = ViewEntry(id: 3, lastInputSequence: 107, pose: pose)
        #expect(try written(.update(same)) == .update(same))
        #expect(DeltaSnapshot.entryBits(.update(same), baseline: baseline, codec: codec) == 2 + 7 + 1)  // kind, γ(8), unchanged
        // Input sequence went back (a new session under the same id): full.
        let back = ViewEntry(id: 3, lastInputSequence: 99, pose: pose)
        #expect(try written(.update(back)) == .full(back))
        // 2^31 − 1 ahead is still an update; 2^31 is not.
        let ahead = ViewEntry(id: 3, lastInputSequence: 100 &+ 0x7FFF_FFFF, pose: pose)
        #expect(try written(.update(ahead)) == .update(ahead))
        let tooFar = ViewEntry(id: 3, lastInputSequence: 100 &+ 0x8000_0000, pose: pose)
        #expect(try written(.update(tooFar)) == .full(tooFar))
        // Not in the baseline: full.
        let other = ViewEntry(id: 4, lastInputSequence: 1, pose: pose)
        #expect(try written(.update(other)) == .full(other))
        // A leave of an avatar the baseline does not have is left out.
        #expect(try written(.leave(4)) == nil)
        #expect(DeltaSnapshot.entryBits(.leave(4), baseline: baseline, codec: codec) == 0)
        // Codes beyond their fields are clamped as written, and the view holds what was written.
        var wild = pose
        wild.x = 999_999
        let (bytes, view) = DeltaSnapshot.encode(
            sequence: 10, serverTimeMicros: 0, baseline: baseline, entries: [.full(ViewEntry(id: 5, lastInputSequence: 1, pose: wild))], codec: codec)
        #expect(view[5]?.pose.x == 200_000)
        #expect(try DeltaSnapshot.apply(DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec).entries, to: baseline, sequence: 10) == view)
    }

    @Test func viewLookupAndApply() {
        var rng = SeededRNG(seed: 62)
        let v = rng.view(sequence: 3, count: 100, maxId: 65535, codec: codec)
        for a in v.avatars { #expect(v[a.id] == a) }
        #expect(SnapshotView.empty[1] == nil && SnapshotView.empty.sequence == 0)
        var missing = 0
        for id in 0...UInt16(2000) where v[id] == nil { missing += 1 }
        #expect(missing > 1900)
        let a = v.avatars[0], b = v.avatars[1]
        let applied = DeltaSnapshot.apply([.leave(a.id), .full(ViewEntry(id: b.id, lastInputSequence: 1, pose: a.pose))], to: v, sequence: 4)
        #expect(applied.sequence == 4 && applied.avatars.count == 99 && applied[a.id] == nil && applied[b.id]?.lastInputSequence == 1)
    }

    @Test func ring() {
        var ring = SnapshotViewRing()
        #expect(ring.capacity == 32 && ring.view(0) == .empty && ring.view(1) == nil)
        for s in UInt32(1)...40 { ring.insert(SnapshotView(sequence: s, avatars: [])) }
        #expect(ring.view(8) == nil && ring.view(9)?.sequence == 9 && ring.view(40)?.sequence == 40)
        // An older view never replaces a newer one in its slot.
        ring.insert(SnapshotView(sequence: 8, avatars: []))
        #expect(ring.view(8) == nil && ring.view(40)?.sequence == 40)
        ring.insert(SnapshotView(sequence: 0, avatars: []))
        #expect(ring.view(0) == .empty)
        // Baselines: the acknowledged view if held and 1...32 old.
        #expect(ring.baseline(acknowledged: 40, for: 41).sequence == 40)
        #expect(ring.baseline(acknowledged: 9, for: 41).sequence == 9)
        #expect(ring.baseline(acknowledged: 9, for: 42) == .empty)  // 33 old
        #expect(ring.baseline(acknowledged: 5, for: 20) == .empty)  // no longer held
        #expect(ring.baseline(acknowledged: 0, for: 20) == .empty)
        #expect(ring.baseline(acknowledged: 41, for: 41) == .empty)
        // Wrap-around: sequences skip 0.
        var wrap = SnapshotViewRing(capacity: 4)
        for s in [UInt32.max - 2, UInt32.max - 1, UInt32.max, 1, 2] { wrap.insert(SnapshotView(sequence: s, avatars: [])) }
        #expect(wrap.view(UInt32.max)?.sequence == UInt32.max && wrap.view(2)?.sequence == 2)
        #expect(wrap.baseline(acknowledged: UInt32.max, for: 2).sequence == UInt32.max)
        ring.removeAll()
        #expect(ring.view(40) == nil)
    }

    @Test func headerRules() throws {
        func header(sequence: UInt32 = 50, baseline: UInt32 = 0, partIndex: UInt8 = 0, partCount: UInt8 = 1) -> [UInt8] {
            var w = BitWriter()
            w.writeU8(0x83); w.writeU32(sequence); w.writeU64(2); w.writeU32(baseline)
            w.writeU8(partIndex); w.writeU8(partCount); w.writeU16(0)
            return w.bytes
        }
        #expect(try DeltaSnapshot.decodeHeader(header()).entryCount == 0)
        #expect(try DeltaSnapshot.decodeHeader(header(baseline: 18)).baseline == 18)
        #expect(try DeltaSnapshot.decodeHeader(header(baseline: 49)).baseline == 49)
        #expect(try DeltaSnapshot.decodeHeader(header(sequence: 3, baseline: UInt32.max - 5)).baseline == UInt32.max - 5)
        #expect(throws: WireError.invalidField(field: "sequence", value: 0)) { try DeltaSnapshot.decodeHeader(header(sequence: 0)) }
        for bad: UInt32 in [17, 50, 51, 1000] {
            #expect(throws: WireError.invalidField(field: "baseline", value: UInt64(bad))) { try DeltaSnapshot.decodeHeader(header(baseline: bad)) }
        }
        #expect(throws: WireError.invalidField(field: "partCount", value: 0)) { try DeltaSnapshot.decodeHeader(header(partCount: 0)) }
        #expect(throws: WireError.invalidField(field: "partIndex", value: 3)) { try DeltaSnapshot.decodeHeader(header(partIndex: 3, partCount: 3)) }
        #expect(throws: WireError.unknownMessageType(0x84)) { try DeltaSnapshot.decodeHeader([0x84] + header().dropFirst()) }
        #expect(throws: WireError.truncated) { try DeltaSnapshot.decodeHeader(Array(header().prefix(20))) }
        // The baseline view handed to decode must be the one the header names.
        let view = SnapshotView(sequence: 40, avatars: [])
        #expect(throws: WireError.baselineMismatch(expected: 18, given: 40)) {
            try DeltaSnapshot.decode(header(baseline: 18), baseline: view, codec: codec)
        }
        #expect(throws: WireError.baselineMismatch(expected: 0, given: 40)) { try DeltaSnapshot.decode(header(), baseline: view, codec: codec) }
        // ServerMessage.decode reads the header alone.
        guard case .snapshot(let s) = try ServerMessage.decode(header(baseline: 18) + [1, 2, 3], codec: nil) else { Issue.record(); return }
        #expect(s.sequence == 50 && s.baseline == 18 && s.header.entryCount == 0)
        #expect(throws: WireError.trailingBytes(3)) { try s.entries(baseline: SnapshotView(sequence: 18, avatars: []), codec: codec) }
    }

    @Test func serverMessageCarriesTheBytes() throws {
        var rng = SeededRNG(seed: 63)
        let baseline = rng.view(sequence: 7, count: 20, codec: codec)
        let (bytes, view) = DeltaSnapshot.encode(
            sequence: 9, serverTimeMicros: 1, baseline: baseline, entries: rng.entries(against: baseline, codec: codec), codec: codec)
        let m = try ServerMessage.decode(bytes, codec: codec)
        guard case .snapshot(let s) = m else { Issue.record(); return }
        #expect(m.encode(codec: nil) == bytes && m.channel == .state && !m.isReliable)
        #expect(s.header == (try DeltaSnapshot.decodeHeader(bytes)) && s.bytes == bytes)
        #expect(try DeltaSnapshot.apply(s.entries(baseline: baseline, codec: codec), to: baseline, sequence: 9) == view)
        #expect(try Snapshot(bytes) == s)
    }
}

@Suite struct SnapshotReceiverTests {
    let codec = Fixtures.hallCodec

    @Test func partsAssembleInAnyOrder() throws {
        var rng = SeededRNG(seed: 70)
        for _ in 0..<100 {
            var receiver = SnapshotReceiver()
            let first = rng.entries(against: .empty, maxId: 2000, codec: codec)
            let one = SnapshotPacker.pack(sequence: 1, serverTimeMicros: 1, baseline: .empty, entries: first, codec: codec, maxBytes: 1200)
            for p in one.parts { _ = try receiver.receive(p, codec: codec) }
            #expect(receiver.acknowledgement == 1 && receiver.view(1) == one.view)
            let entries = rng.entries(against: one.view, maxId: 2000, codec: codec)
            let two = SnapshotPacker.pack(sequence: 2, serverTimeMicros: 2, baseline: one.view, entries: entries, codec: codec, maxBytes: 150)
            var completed: SnapshotView?
            for (n, p) in two.parts.shuffled(using: &rng).enumerated() {
                guard case .applied(let part) = try receiver.receive(p, codec: codec) else { Issue.record(); continue }
                #expect((part.completed != nil) == (n == two.parts.count - 1))
                if let c = part.completed { completed = c }
                #expect(receiver.acknowledgement == (n == two.parts.count - 1 ? 2 : 1))
            }
            #expect(completed == two.view && receiver.view(2) == two.view)
            #expect(try receiver.receive(two.parts[0], codec: codec) == .duplicate(try DeltaSnapshot.decodeHeader(two.parts[0])))
        }
    }

    @Test func missingBaselineIsDropped() throws {
        var receiver = SnapshotReceiver()
        let bytes = DeltaSnapshot.encode(sequence: 5, serverTimeMicros: 0, baseline: SnapshotView(sequence: 3, avatars: []), entries: [], codec: codec).bytes
        #expect(try receiver.receive(bytes, codec: codec) == .baselineUnavailable(try DeltaSnapshot.decodeHeader(bytes)))
        #expect(receiver.acknowledgement == 0)
    }

    @Test func inconsistentPartsAreErrors() throws {
        let pose = codec.quantize(AvatarPose(headPosition: .zero, headRotation: .identity))
        func part(_ index: UInt8, of count: UInt8 = 2, ids: [UInt16], time: UInt64 = 1, baseline: SnapshotView = .empty) -> [UInt8] {
            DeltaSnapshot.encode(
                sequence: 4, serverTimeMicros: time, baseline: baseline,
                entries: ids.map { .full(ViewEntry(id: $0, lastInputSequence: 1, pose: pose)) }, codec: codec, partIndex: index, partCount: count).bytes
        }
        // The same avatar in two parts of one snapshot (crafted: each part alone is well formed).
        var receiver = SnapshotReceiver()
        _ = try receiver.receive(part(0, ids: [3, 8]), codec: codec)
        #expect(throws: WireError.invalidField(field: "id", value: 8)) { try receiver.receive(part(1, ids: [1, 8, 12]), codec: codec) }
        // Parts that disagree on the header.
        receiver = SnapshotReceiver()
        _ = try receiver.receive(part(0, ids: [3]), codec: codec)
        #expect(throws: WireError.invalidField(field: "serverTimeMicros", value: 9)) { try receiver.receive(part(1, ids: [4], time: 9), codec: codec) }
        #expect(throws: WireError.invalidField(field: "partCount", value: 3)) { try receiver.receive(part(1, of: 3, ids: [4]), codec: codec) }
        receiver = SnapshotReceiver()
        _ = try receiver.receive(DeltaSnapshot.encode(sequence: 2, serverTimeMicros: 0, baseline: .empty, entries: [], codec: codec).bytes, codec: codec)
        _ = try receiver.receive(part(0, ids: [3]), codec: codec)
        #expect(throws: WireError.invalidField(field: "baseline", value: 2)) {
            try receiver.receive(part(1, ids: [4], baseline: SnapshotView(sequence: 2, avatars: [])), codec: codec)
        }
    }
}
