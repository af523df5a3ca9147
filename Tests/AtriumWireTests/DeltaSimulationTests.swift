import Testing
@testable import AtriumWire

/// A server and lossy clients, end to end at the wire level: 50 avatars moving like people, per-recipient
/// relevance that changes (enters, leaves, avatars going away and coming back), a random subset of the
/// changed avatars sent each tick, snapshots split into parts, parts lost, delayed and reordered,
/// acknowledgements lost and delayed. Whatever gets through must rebuild exactly the server's view.
@Suite struct DeltaSimulationTests {
    let codec = Fixtures.hallCodec

    struct Recipient {
        var snapshotLoss: Double
        var ackLoss: Double
        var maxBytes: Int
        /// Chance per tick that the client forgets everything (its receiver starts again).
        var resets = 0.0
        /// Chance that a part arrives 3–40 ticks late.
        var stragglers = 0.0
        // Server side.
        var ring = SnapshotViewRing()
        var acked: UInt32 = 0
        var relevant: Set<UInt16> = []
        var views: [UInt32: SnapshotView] = [:]
        // In flight: (arrival tick, bytes) and (arrival tick, ack).
        var parts: [(tick: Int, bytes: [UInt8])] = []
        var acks: [(tick: Int, sequence: UInt32)] = []
        // Client side.
        var receiver = SnapshotReceiver()
        var completed = 0, dropped = 0, partsApplied = 0
        var bytesSent = 0, bytesIfFull = 0
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func lossyDeltasRebuildTheServersViews(seed: UInt64) throws {
        var rng = SeededRNG(seed: 0x5EED_0000 + seed)
        let ticks = 2500, calmTicks = 60  // the last ticks lose nothing and send everything
        let area = (min: codec.bounds.min + Vec3(1, 0, 1), max: codec.bounds.max - Vec3(1, 0, 1))
        var ids = Set<UInt16>()
        while ids.count < 50 { ids.insert(UInt16(rng.int(1...3000))) }
        let avatarIds = ids.sorted()
        var motions = avatarIds.enumerated().map { i, id in
            AvatarMotion(kind: MotionKind.allCases[i % 3], seed: seed &* 1000 &+ UInt64(id), area: area)
        }
        var states: [UInt16: ViewEntry] = [:]
        var present = Set(avatarIds)
        var recipients = [
            Recipient(snapshotLoss: 0, ackLoss: 0, maxBytes: 1200),
            Recipient(snapshotLoss: 0.1, ackLoss: 0.1, maxBytes: 1200),
            Recipient(snapshotLoss: 0.25, ackLoss: 0.5, maxBytes: 400),
            Recipient(snapshotLoss: 0.5, ackLoss: 0.25, maxBytes: 200),
            Recipient(snapshotLoss: 0.5, ackLoss: 0.5, maxBytes: 1200),
            Recipient(snapshotLoss: -1, ackLoss: -1, maxBytes: 300),  // varies every tick
            Recipient(snapshotLoss: 0.1, ackLoss: 0.1, maxBytes: 1200, resets: 0.003),
            Recipient(snapshotLoss: 0.2, ackLoss: 0.2, maxBytes: 500, stragglers: 0.05),
        ]
        for r in recipients.indices {
            recipients[r].relevant = Set(avatarIds.filter { _ in rng.chance(0.6) })
        }

        for tick in 1...ticks {
            let sequence = UInt32(tick)
            let calm = tick > ticks - calmTicks
            // The world moves. No input this tick keeps an avatar's state; sometimes an avatar goes away,
            // comes back, or comes back as a new session (its input sequence starts again).
            for (i, id) in avatarIds.enumerated() {
                let pose = motions[i].step(1.0 / 30)
                if !calm && rng.chance(0.002) {
                    if present.contains(id) { present.remove(id) } else { present.insert(id) }
                }
                guard present.contains(id) else { states[id] = nil; continue }
                var state = states[id] ?? ViewEntry(id: id, lastInputSequence: UInt32(rng.int(0...5)), pose: codec.quantize(pose))
                let inputs = rng.int(0...3)
                if inputs > 0 {
                    state.lastInputSequence &+= UInt32(inputs)
                    state.pose = codec.quantize(pose)
                }
                if !calm && rng.chance(0.0005) { state.lastInputSequence = 1 }
                states[id] = state
            }

            for r in recipients.indices {
                var rc = recipients[r]
                // Acknowledgements that arrive now (the newest one wins; never one we did not send).
                for ack in rc.acks where ack.tick == tick {
                    if ack.sequence != 0, ack.sequence < sequence, ack.sequence > rc.acked { rc.acked = ack.sequence }
                }
                rc.acks.removeAll { $0.tick <= tick }
                // Relevance changes.
                if !calm {
                    for id in avatarIds where rng.chance(0.01) {
                        if rc.relevant.contains(id) { rc.relevant.remove(id) } else { rc.relevant.insert(id) }
                    }
                }
                // Entries against the newest acknowledged view still held.
                let baseline = rc.ring.baseline(acknowledged: rc.acked, for: sequence)
                let sendProbability = calm ? 1 : rng.double(0.5...1)
                var entries: [SnapshotEntry] = []
                var fullEntries: [SnapshotEntry] = []
                for id in avatarIds {
                    let old = baseline[id]
                    if let state = states[id], rc.relevant.contains(id) {
                        fullEntries.append(.full(state))
                        if old == nil {
                            if calm || rng.chance(0.9) { entries.append(.full(state)) }
                        } else if old != state, rng.chance(sendProbability) {
                            entries.append(rng.chance(0.02) ? .full(state) : .update(state))
                        }
                    } else if old != nil, calm || rng.chance(0.8) {
                        entries.append(.leave(id))
                    }
                }
                let (parts, view) = SnapshotPacker.pack(
                    sequence: sequence, serverTimeMicros: UInt64(tick) * 33_333, baseline: baseline, entries: entries,
                    codec: codec, maxBytes: rc.maxBytes)
                rc.ring.insert(view)
                rc.views[sequence] = view
                rc.views[sequence &- 80] = nil
                rc.bytesSent += parts.reduce(0) { $0 + $1.count }
                rc.bytesIfFull += SnapshotPacker.pack(
                    sequence: sequence, serverTimeMicros: 0, baseline: .empty, entries: fullEntries, codec: codec,
                    maxBytes: rc.maxBytes).parts.reduce(0) { $0 + $1.count }
                // What the server authoritatively sent: the states it wrote.
                for e in entries { if let s = e.state { #expect(view[s.id] == s) } }

                // The network: parts lost, most delivered this tick, some a tick or two late.
                let loss = calm ? 0 : rc.snapshotLoss >= 0 ? rc.snapshotLoss : rng.double(0...0.5)
                for bytes in parts where !rng.chance(loss) {
                    let delay = rng.chance(rc.stragglers) ? rng.int(3...40) : rng.chance(0.1) ? rng.int(1...2) : 0
                    rc.parts.append((calm ? tick : tick + delay, bytes))
                }
                if !calm && rng.chance(rc.resets) { rc.receiver.reset() }
                // The client.
                var arriving = rc.parts.filter { $0.tick <= tick }.map(\.bytes)
                rc.parts.removeAll { $0.tick <= tick }
                arriving.shuffle(using: &rng)
                for bytes in arriving {
                    switch try rc.receiver.receive(bytes, codec: codec) {
                    case .applied(let part):
                        rc.partsApplied += 1
                        let k = part.header.sequence
                        guard let serverView = rc.views[k] else { Issue.record("no server view \(k)"); continue }
                        // Explicit entries carry exactly the states the server's view holds for them.
                        for e in part.entries {
                            switch e {
                            case .update(let s), .full(let s): #expect(serverView[s.id] == s)
                            case .leave(let id): #expect(serverView[id] == nil)
                            }
                        }
                        if let done = part.completed {
                            rc.completed += 1
                            #expect(done == serverView, "seed \(seed) recipient \(r) sequence \(k)")
                        }
                    case .baselineUnavailable:
                        rc.dropped += 1
                    case .duplicate:
                        Issue.record("duplicate part")
                    }
                }
                // The acknowledgement rides on the next POSE.
                let ackLoss = calm ? 0 : rc.ackLoss >= 0 ? rc.ackLoss : rng.double(0...0.5)
                if !rng.chance(ackLoss) {
                    rc.acks.append((tick + (calm ? 1 : rng.int(1...3)), rc.receiver.acknowledgement))
                }
                recipients[r] = rc
            }
        }

        var report = "seed \(seed):"
        for (r, rc) in recipients.enumerated() {
            // After the calm ticks every recipient is up to date and knows exactly its relevant avatars.
            let last = UInt32(ticks)
            #expect(rc.receiver.acknowledgement == last)
            let expected = rc.relevant.sorted().compactMap { states[$0] }
            #expect(rc.receiver.view(last)?.avatars == expected, "recipient \(r)")
            #expect(rc.completed > ticks / 4)
            if rc.resets > 0 || rc.stragglers > 0 { #expect(rc.dropped > 0) }
            report += " [\(r): \(rc.completed) views, \(rc.dropped) parts without baseline, "
                + "\(rc.bytesSent / ticks) B/tick vs \(rc.bytesIfFull / ticks) B/tick full]"
        }
        print(report)
    }
}
