import Testing
@testable import AtriumWire

/// The shared-body encoder must write exactly what the plain encoder writes, whatever the baselines.
@Suite struct EntryBodyCacheTests {
    let codec = Fixtures.hallCodec

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func cachedEncodeEqualsPlainEncode(seed: UInt64) {
        var rng = SeededRNG(seed: 0xCAC4_E000 + seed)
        let ids: [UInt16] = (1...40).map { UInt16($0 * 3) }
        // A history of states per avatar: recipients' baselines hold older ones.
        var history: [[ViewEntry]] = ids.map { id in
            [ViewEntry(id: id, lastInputSequence: UInt32(rng.int(1...1000)), pose: codec.quantize(rng.pose(in: Fixtures.hall)))]
        }
        var cache = EntryBodyCache()
        var totalEntries = 0
        for tick in 1...60 {
            for a in ids.indices {
                var e = history[a].last!
                if rng.chance(0.8) {
                    e.lastInputSequence &+= UInt32(rng.int(0...3))
                    e.pose = codec.quantize(rng.pose(in: Fixtures.hall))
                }
                if rng.chance(0.02) { e.lastInputSequence = UInt32(rng.int(0...5)) }  // a recycled id went back
                history[a].append(e)
                if history[a].count > 8 { history[a].removeFirst() }
            }
            cache.beginTick()
            let sequence = UInt32(100 + tick)
            for _ in 0..<25 {
                // A recipient: a baseline holding some avatars at some older state, some entries.
                var baseAvatars: [ViewEntry] = []
                for a in ids.indices where rng.chance(0.7) {
                    baseAvatars.append(history[a][rng.int(0...history[a].count - 1)])
                }
                let baseline = rng.chance(0.1)
                    ? SnapshotView.empty
                    : SnapshotView(sequence: sequence - UInt32(rng.int(1...32)), avatars: baseAvatars)
                var entries: [SnapshotEntry] = []
                for a in ids.indices {
                    let now = history[a].last!
                    switch rng.int(0...5) {
                    case 0: entries.append(.full(now))
                    case 1, 2, 3: entries.append(.update(now))
                    case 4: entries.append(.leave(now.id))
                    default: break
                    }
                }
                totalEntries += entries.count
                let plain = DeltaSnapshot.encode(
                    sequence: sequence, serverTimeMicros: UInt64(tick) * 33_333, baseline: baseline, entries: entries, codec: codec)
                let cached = DeltaSnapshot.encode(
                    sequence: sequence, serverTimeMicros: UInt64(tick) * 33_333, baseline: baseline, entries: entries, codec: codec,
                    bodies: &cache)
                #expect(cached.bytes == plain.bytes)
                #expect(cached.view == plain.view)
            }
        }
        // Sharing happened: far fewer bodies encoded than entries written.
        #expect(cache.encodedBodies * 2 < cache.lookups)
        #expect(cache.lookups > 0 && cache.lookups <= totalEntries)
    }

    @Test func emptyAndLeaveOnlySnapshotsMatch() {
        var cache = EntryBodyCache()
        cache.beginTick()
        var rng = SeededRNG(seed: 1)
        let a = ViewEntry(id: 5, lastInputSequence: 9, pose: codec.quantize(rng.pose(in: Fixtures.hall)))
        let baseline = SnapshotView(sequence: 7, avatars: [a])
        for entries in [[SnapshotEntry](), [.leave(5)], [.leave(4), .leave(5), .leave(6)]] {
            let plain = DeltaSnapshot.encode(sequence: 8, serverTimeMicros: 1, baseline: baseline, entries: entries, codec: codec)
            let cached = DeltaSnapshot.encode(
                sequence: 8, serverTimeMicros: 1, baseline: baseline, entries: entries, codec: codec, bodies: &cache)
            #expect(cached.bytes == plain.bytes)
            #expect(cached.view == plain.view)
        }
    }
}
