import Testing
@testable import AtriumWire

/// The server's encoder (`SnapshotWriter` with shared bodies) must write exactly what the plain encoder
/// writes, whatever the baselines.
@Suite struct EntryBodyCacheTests {
    let codec = Fixtures.hallCodec

    /// One recipient's snapshot through the writer: `entries` (carrying the states set in `cache` this tick)
    /// resolved as `DeltaSnapshot.encode` resolves them, bases named by `keys` (the key of each state `baseline`
    /// holds); a base whose key `isForgotten` is reported unknown (the writer then writes full).
    func write(
        _ writer: inout SnapshotWriter, _ cache: inout EntryBodyCache, sequence: UInt32, time: UInt64,
        baseline: SnapshotView, keys: [UInt16: UInt32], entries: [SnapshotEntry], isForgotten: (UInt32) -> Bool
    ) -> [UInt8] {
        let count = entries.count(where: { entry in
            if case .leave(let id) = entry { return baseline[id] != nil }
            return true
        })
        writer.begin(sequence: sequence, serverTimeMicros: time, baseline: baseline.sequence, entryCount: count)
        for entry in entries {
            switch entry {
            case .leave(let id):
                if baseline[id] != nil { writer.leave(id) }
            case .full(let state):
                writer.full(state.id, codec: codec, bodies: &cache)
            case .update(let state):
                if let key = keys[state.id] {
                    writer.update(state.id, baseKey: key, codec: codec, bodies: &cache) {
                        isForgotten(key) ? nil : baseline[state.id]
                    }
                } else {
                    writer.full(state.id, codec: codec, bodies: &cache)
                }
            }
        }
        return writer.finish()
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func cachedEncodeEqualsPlainEncode(seed: UInt64) {
        var rng = SeededRNG(seed: 0xCAC4_E000 + seed)
        let ids: [UInt16] = (1...40).map { UInt16($0 * 3) }
        // A history of states per avatar, each with its key: recipients' baselines hold older ones.
        var nextKey: UInt32 = 1
        var history: [[(key: UInt32, state: ViewEntry)]] = ids.map { id in
            defer { nextKey += 1 }
            return [(nextKey, ViewEntry(id: id, lastInputSequence: UInt32(rng.int(1...1000)), pose: codec.quantize(rng.pose(in: Fixtures.hall))))]
        }
        // Bases with these keys are "no longer known" to the writer's caller: written full.
        let isForgotten = { (key: UInt32) in key % 17 == 0 }
        var cache = EntryBodyCache()
        var writer = SnapshotWriter()
        var totalEntries = 0
        var forgottenSeen = 0
        for tick in 1...60 {
            for a in ids.indices {
                var e = history[a].last!.state
                if rng.chance(0.4) {
                    e.lastInputSequence &+= UInt32(rng.int(0...3))
                    e.pose = codec.quantize(rng.pose(in: Fixtures.hall))
                } else if rng.chance(0.7) {
                    // Small motion: short update bodies (the cache keeps those in its table, longer ones apart).
                    e.lastInputSequence &+= 1
                    e.pose.x = e.pose.x > 2 ? e.pose.x - UInt32(rng.int(0...2)) : e.pose.x + 1
                    e.pose.head.a ^= UInt16(rng.int(0...3))
                    e.pose.flags ^= rng.chance(0.1) ? PoseFlags.speaking.rawValue : 0
                }
                if rng.chance(0.02) { e.lastInputSequence = UInt32(rng.int(0...5)) }  // a recycled id went back
                // A new key even when nothing changed: keys need only name one state each.
                history[a].append((nextKey, e))
                nextKey += 1
                if history[a].count > 8 { history[a].removeFirst() }
            }
            cache.beginTick()
            for a in ids.indices { cache.setState(history[a].last!.state, codec: codec) }
            let sequence = UInt32(100 + tick)
            for _ in 0..<25 {
                // A recipient: a baseline holding some avatars at some older state, some entries.
                var baseAvatars: [ViewEntry] = []
                var keys: [UInt16: UInt32] = [:]
                for a in ids.indices where rng.chance(0.7) {
                    let held = history[a][rng.int(0...history[a].count - 1)]
                    baseAvatars.append(held.state)
                    keys[held.state.id] = held.key
                }
                let empty = rng.chance(0.1)
                let baseline = empty
                    ? SnapshotView.empty
                    : SnapshotView(sequence: sequence - UInt32(rng.int(1...32)), avatars: baseAvatars)
                if empty { keys = [:] }
                var entries: [SnapshotEntry] = []
                var expected: [SnapshotEntry] = []
                for a in ids.indices {
                    let now = history[a].last!.state
                    switch rng.int(0...5) {
                    case 0: entries.append(.full(now))
                    case 1, 2, 3: entries.append(.update(now))
                    case 4: entries.append(.leave(now.id))
                    default: continue
                    }
                    if case .update = entries.last!, let key = keys[now.id], isForgotten(key) {
                        expected.append(.full(now))
                        forgottenSeen += 1
                    } else {
                        expected.append(entries.last!)
                    }
                }
                totalEntries += entries.count
                let plain = DeltaSnapshot.encode(
                    sequence: sequence, serverTimeMicros: UInt64(tick) * 33_333, baseline: baseline, entries: expected, codec: codec)
                let cached = write(
                    &writer, &cache, sequence: sequence, time: UInt64(tick) * 33_333, baseline: baseline, keys: keys,
                    entries: entries, isForgotten: isForgotten)
                #expect(cached == plain.bytes)
            }
        }
        // Sharing happened: far fewer bodies encoded than entries written.
        #expect(cache.encodedBodies * 2 < cache.lookups)
        #expect(cache.lookups > 0 && cache.lookups <= totalEntries)
        #expect(forgottenSeen > 0)
    }

    @Test func emptyAndLeaveOnlySnapshotsMatch() {
        var cache = EntryBodyCache()
        var writer = SnapshotWriter()
        cache.beginTick()
        var rng = SeededRNG(seed: 1)
        let a = ViewEntry(id: 5, lastInputSequence: 9, pose: codec.quantize(rng.pose(in: Fixtures.hall)))
        let baseline = SnapshotView(sequence: 7, avatars: [a])
        for entries in [[SnapshotEntry](), [.leave(5)], [.leave(4), .leave(5), .leave(6)]] {
            let plain = DeltaSnapshot.encode(sequence: 8, serverTimeMicros: 1, baseline: baseline, entries: entries, codec: codec)
            let cached = write(
                &writer, &cache, sequence: 8, time: 1, baseline: baseline, keys: [5: 1], entries: entries, isForgotten: { _ in false })
            #expect(cached == plain.bytes)
        }
    }

    /// The writer's buffer is reused: bytes handed out stay as they were when the next snapshot is written.
    @Test func finishedBytesSurviveTheNextSnapshot() {
        var cache = EntryBodyCache()
        var writer = SnapshotWriter()
        cache.beginTick()
        var rng = SeededRNG(seed: 2)
        let a = ViewEntry(id: 3, lastInputSequence: 1, pose: codec.quantize(rng.pose(in: Fixtures.hall)))
        cache.setState(a, codec: codec)
        writer.begin(sequence: 1, serverTimeMicros: 10, baseline: 0, entryCount: 1)
        writer.full(a.id, codec: codec, bodies: &cache)
        let first = writer.finish()
        writer.begin(sequence: 2, serverTimeMicros: 20, baseline: 0, entryCount: 0)
        let second = writer.finish()
        #expect(first == DeltaSnapshot.encode(sequence: 1, serverTimeMicros: 10, baseline: .empty, entries: [.full(a)], codec: codec).bytes)
        #expect(second == DeltaSnapshot.encode(sequence: 2, serverTimeMicros: 20, baseline: .empty, entries: [], codec: codec).bytes)
    }
}
