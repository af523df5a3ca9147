import AtriumTransport
import AtriumWire
import AtriumWorld
import Testing

@_spi(Benchmarks) @testable import AtriumServer

/// The relay on its own (a shard, no network): flushes between ticks, the resumes mark (PROTOCOL.md §17.3)
/// and the arrival stamps behind the server-added latency.
@Suite struct VoiceRelayTests {
    /// Everything a shard sent, in order.
    final class Sent {
        var messages: [(peer: PeerHandle, bytes: [UInt8], channel: Channel)] = []
        var outbox: Outbox { Outbox { [unowned self] peer, bytes, channel in messages.append((peer, bytes, channel)) } }

        /// The VOICE_BUNDLEs `peer` got since the last `take`.
        func bundles(to peer: PeerHandle) -> [VoiceBundle] {
            messages.compactMap { m in
                guard m.peer == peer, m.channel == .voice,
                    case .voiceBundle(let b) = try? ServerMessage.decode(m.bytes, codec: nil)
                else { return nil }
                return b
            }
        }

        func frames(to peer: PeerHandle, from speaker: UInt16) -> [VoiceBundle.Frame] {
            bundles(to: peer).flatMap(\.frames).filter { $0.speakerId == speaker }
        }

        func clear() { messages.removeAll() }
    }

    /// A shard of the village assembly with `count` avatars at the gate (all within hearing of each other).
    static func shard(count: Int, maxStreams: Int = 8) throws -> (Shard, [Avatar], Sent) {
        let (worlds, errors) = LoadedWorld.loadDirectory(packageRoot.appendingPathComponent("Worlds").path)
        #expect(errors.isEmpty)
        let world = try #require(worlds.first { $0.definition.id == "village-assembly" })
        // No hysteresis: the louder speaker takes a single slot at once, so routing gaps are easy to make.
        let settings = VoiceRoutingSettings(maxStreams: maxStreams, hysteresisDecibels: 0, holdMicros: 0)
        let shard = Shard(
            world: world, limits: MovementLimits(maxSpeed: 5, maxReach: 1), snapshotMaxBytes: 1200, voice: settings)
        let sent = Sent()
        let avatars = try (0..<count).map { i in
            try #require(
                shard.admit(
                    peer: PeerHandle(slot: UInt16(i), connectID: UInt32(i + 1)), displayName: "a\(i)", role: .villager,
                    version: ProtocolVersion.current, nowMicros: 0, outbox: sent.outbox))
        }
        sent.clear()
        return (shard, avatars, sent)
    }

    static let opus: [UInt8] = [0x48, 0x8A, 0x1C, 0x37, 0xF0]

    /// A voiced frame: loud (−10 dBov) or quiet (−60 dBov).
    static func frame(_ sequence: UInt16, loud: Bool = true) -> VoiceFrame {
        VoiceFrame(sequence: sequence, level: VoiceLevel(voiceActivity: true, minusDBov: loud ? 10 : 60), opus: opus)
    }

    /// A whole tick as the worker runs it: state and relayed voice, then the mix.
    func tick(_ shard: Shard, _ sent: Sent, at micros: UInt64) {
        shard.tick(nowMicros: micros, outbox: sent.outbox) { _, _ in }
        shard.mixVoice(nowMicros: micros, outbox: sent.outbox)
    }

    @Test func firstFrameAndFramesAfterARoutingGapAreMarked() throws {
        // One stream per listener: whoever is louder this tick is the one listener L hears.
        let (shard, avatars, sent) = try Self.shard(count: 3, maxStreams: 1)
        let (a, b, l) = (avatars[0].id, avatars[1].id, avatars[2].peer)
        var t: UInt64 = 1_000_000
        func step(_ aSequence: UInt16, aLoud: Bool, _ bSequence: UInt16) -> (a: [VoiceBundle.Frame], b: [VoiceBundle.Frame]) {
            sent.clear()
            shard.voice.receive(Self.frame(aSequence, loud: aLoud), from: a, nowMicros: t)
            shard.voice.receive(Self.frame(bSequence, loud: !aLoud), from: b, nowMicros: t)
            t += 33_333
            tick(shard, sent, at: t)
            return (sent.frames(to: l, from: a), sent.frames(to: l, from: b))
        }
        let first = step(10, aLoud: true, 100)
        #expect(first.a.map(\.sequence) == [10] && first.a[0].resumes, "the first frame L gets from A is marked")
        #expect(first.b.isEmpty)
        let second = step(11, aLoud: true, 101)
        #expect(second.a.map(\.sequence) == [11] && !second.a[0].resumes)
        // B is louder for a tick: L hears B (its first frame from B: marked), not A.
        let gap = step(12, aLoud: false, 102)
        #expect(gap.a.isEmpty && gap.b.map(\.sequence) == [102] && gap.b[0].resumes)
        // A back: L did not get A's frame 12, so 13 resumes the stream.
        let back = step(13, aLoud: true, 103)
        #expect(back.a.map(\.sequence) == [13] && back.a[0].resumes)
        #expect(back.b.isEmpty)
        let after = step(14, aLoud: true, 104)
        #expect(after.a.map(\.sequence) == [14] && !after.a[0].resumes)
    }

    @Test func upstreamLossLeavesNoMark() throws {
        let (shard, avatars, sent) = try Self.shard(count: 2)
        let (a, l) = (avatars[0].id, avatars[1].peer)
        var t: UInt64 = 1_000_000
        var got: [VoiceBundle.Frame] = []
        // Frames 12 and 13 never reach the server.
        for sequence: UInt16 in [10, 11, 14, 15] {
            shard.voice.receive(Self.frame(sequence), from: a, nowMicros: t)
            t += 33_333
            tick(shard, sent, at: t)
            got += sent.frames(to: l, from: a)
            sent.clear()
        }
        #expect(got.map(\.sequence) == [10, 11, 14, 15])
        #expect(got.map(\.resumes) == [true, false, false, false])
    }

    @Test func framesTheServerDropsAreLossNotRouting() throws {
        let (shard, avatars, sent) = try Self.shard(count: 2)
        let (a, l) = (avatars[0].id, avatars[1].peer)
        shard.voice.receive(Self.frame(1), from: a, nowMicros: 1_000_000)
        tick(shard, sent, at: 1_030_000)
        sent.clear()
        // Seven frames before the next flush: the queue holds six, frame 2 is dropped.
        for k: UInt16 in 2...8 { shard.voice.receive(Self.frame(k), from: a, nowMicros: 1_040_000) }
        tick(shard, sent, at: 1_063_000)
        let got = sent.frames(to: l, from: a)
        #expect(got.map(\.sequence) == Array(3...8))
        #expect(got.allSatisfy { !$0.resumes }, "the listener must count the missing frame 2 as lost")
        #expect(shard.voice.counters.framesOverflowed == 1)
    }

    @Test func aMuteIsAGapTheListenerWasNotSent() throws {
        let (shard, avatars, sent) = try Self.shard(count: 2)
        let (a, l) = (avatars[0].id, avatars[1].peer)
        shard.voice.receive(Self.frame(1), from: a, nowMicros: 1_000_000)
        tick(shard, sent, at: 1_030_000)
        #expect(shard.voice.control(VoiceControl(action: .muteSelf), from: a, role: .villager))
        shard.voice.receive(Self.frame(2), from: a, nowMicros: 1_040_000)
        tick(shard, sent, at: 1_063_000)
        #expect(shard.voice.control(VoiceControl(action: .unmuteSelf), from: a, role: .villager))
        sent.clear()
        shard.voice.receive(Self.frame(3), from: a, nowMicros: 1_070_000)
        tick(shard, sent, at: 1_096_000)
        let got = sent.frames(to: l, from: a)
        #expect(got.map(\.sequence) == [3] && got[0].resumes)
    }

    @Test func flushesBetweenTicksUseTheLastRoutingAndOneBundlePerListener() throws {
        let (shard, avatars, sent) = try Self.shard(count: 3)
        let (a, b, l) = (avatars[0].id, avatars[1].id, avatars[2].peer)
        // A tick routes A and B to everyone.
        shard.voice.receive(Self.frame(1), from: a, nowMicros: 1_000_000)
        shard.voice.receive(Self.frame(50), from: b, nowMicros: 1_000_000)
        tick(shard, sent, at: 1_033_333)
        sent.clear()

        shard.voice.receive(Self.frame(2), from: a, nowMicros: 1_040_000)
        shard.voice.receive(Self.frame(51), from: b, nowMicros: 1_041_000)
        #expect(shard.forwardVoice(outbox: sent.outbox))
        let between = sent.bundles(to: l)
        #expect(between.count == 1, "one VOICE_BUNDLE per listener per flush")
        #expect(between.first?.frames.map(\.sequence).sorted() == [2, 51])
        #expect(between.first?.frames.allSatisfy { !$0.resumes } == true)
        // A and B each hear the other (never themselves).
        #expect(sent.frames(to: avatars[0].peer, from: b).map(\.sequence) == [51])
        #expect(sent.frames(to: avatars[0].peer, from: a).isEmpty)
        // Nothing new: nothing sent.
        sent.clear()
        #expect(!shard.forwardVoice(outbox: sent.outbox) && sent.messages.isEmpty)

        // The tick sends only what came after the flush, and still carries on the streams.
        shard.voice.receive(Self.frame(3), from: a, nowMicros: 1_060_000)
        tick(shard, sent, at: 1_066_666)
        #expect(sent.frames(to: l, from: a).map(\.sequence) == [3] && !sent.frames(to: l, from: a)[0].resumes)
        #expect(sent.frames(to: l, from: b).isEmpty)

        // Every copy is timed from its arrival: 2 frames × 2 listeners between ticks, 1 × 2 at the tick.
        var copies: [UInt64: Int] = [:]
        shard.voice.drainForwarded { arrival, n in copies[arrival, default: 0] += n }
        #expect(copies[1_040_000] == 2 && copies[1_041_000] == 2 && copies[1_060_000] == 2)
        var again = 0
        shard.voice.drainForwarded { _, n in again += n }
        #expect(again == 0)
    }

    @Test func aSpeakerWhoStartsBetweenTicksWaitsForTheTick() throws {
        let (shard, avatars, sent) = try Self.shard(count: 2)
        let (a, l) = (avatars[0].id, avatars[1].peer)
        tick(shard, sent, at: 1_000_000)
        shard.voice.receive(Self.frame(7), from: a, nowMicros: 1_010_000)
        sent.clear()
        // Not routed yet: the flush between ticks has nothing for anyone.
        #expect(!shard.forwardVoice(outbox: sent.outbox))
        #expect(sent.frames(to: l, from: a).isEmpty)
        tick(shard, sent, at: 1_033_333)
        let got = sent.frames(to: l, from: a)
        #expect(got.map(\.sequence) == [7] && got[0].resumes)
    }

    @Test func aBlockHoldsAtTheNextFlushBetweenTicks() throws {
        let (shard, avatars, sent) = try Self.shard(count: 2)
        let (a, l) = (avatars[0].id, avatars[1])
        shard.voice.receive(Self.frame(1), from: a, nowMicros: 1_000_000)
        tick(shard, sent, at: 1_033_333)
        #expect(shard.voice.control(VoiceControl(action: .block, target: a), from: l.id, role: .villager))
        shard.voice.receive(Self.frame(2), from: a, nowMicros: 1_040_000)
        sent.clear()
        shard.forwardVoice(outbox: sent.outbox)
        #expect(sent.frames(to: l.peer, from: a).isEmpty)
    }

    @Test func aTickWithoutVoiceRetiresTheRoutes() throws {
        let (shard, avatars, sent) = try Self.shard(count: 2)
        let (a, l) = (avatars[0].id, avatars[1].peer)
        shard.voice.receive(Self.frame(1), from: a, nowMicros: 1_000_000)
        tick(shard, sent, at: 1_033_333)
        // A silent tick: no routing ran, so a frame after it waits for a tick that routes it.
        tick(shard, sent, at: 1_066_666)
        shard.voice.receive(Self.frame(9), from: a, nowMicros: 1_070_000)
        sent.clear()
        #expect(!shard.forwardVoice(outbox: sent.outbox))
        tick(shard, sent, at: 1_100_000)
        #expect(sent.frames(to: l, from: a).map(\.sequence) == [9])
    }

    /// Pruning the remembered (speaker, listener) pairs changes no byte: the same random session of talking,
    /// silences, routing changes, mutes and flushes between ticks, once pruning at every tick and once never,
    /// sends the same messages, resumes marks included.
    @Test func pruningTheForwardedPairsChangesNothingSent() throws {
        var bytes: [[(peer: PeerHandle, bytes: [UInt8])]] = []
        var pairs: [Int] = []
        for slack in [Int.min / 4, Int.max / 4] {  // prune at every tick, never
            let (shard, avatars, sent) = try Self.shard(count: 8, maxStreams: 2)
            shard.voice.pruneSlack = slack
            var rng = LastForwardedTableTests.Generator(state: 0x5EED)
            var sequence = [UInt16](repeating: 0, count: avatars.count)
            var t: UInt64 = 1_000_000
            var held = 0
            for _ in 0..<400 {
                // A few talk (some louder), some go quiet for a while, now and then one mutes or unmutes.
                for (k, avatar) in avatars.enumerated() where k < 5 && rng.next() % 3 != 0 {
                    sequence[k] &+= 1
                    shard.voice.receive(Self.frame(sequence[k], loud: rng.next() % 2 == 0), from: avatar.id, nowMicros: t)
                }
                if rng.next() % 10 == 0 {
                    let k = Int(rng.next() % 5)
                    let action: VoiceControlAction = rng.next() % 2 == 0 ? .muteSelf : .unmuteSelf
                    _ = shard.voice.control(VoiceControl(action: action), from: avatars[k].id, role: .villager)
                }
                if rng.next() % 2 == 0 {
                    shard.forwardVoice(outbox: sent.outbox)
                    t += 15_000
                }
                t += 18_333
                tick(shard, sent, at: t)
                held += shard.voice.forwardedPairCount
            }
            bytes.append(sent.messages.map { ($0.peer, $0.bytes) })
            pairs.append(held)
        }
        #expect(bytes[0].count == bytes[1].count)
        #expect(zip(bytes[0], bytes[1]).allSatisfy { $0.peer == $1.peer && $0.bytes == $1.bytes })
        let marks = bytes[0].compactMap { try? ServerMessage.decode($0.bytes, codec: nil) }.reduce(into: (0, 0)) {
            if case .voiceBundle(let b) = $1 { for f in b.frames { if f.resumes { $0.0 += 1 } else { $0.1 += 1 } } }
        }
        #expect(marks.0 > 50 && marks.1 > 50, "the session has both marked and unmarked frames: \(marks)")
        #expect(pairs[0] < pairs[1], "pruning dropped pairs (summed over ticks): \(pairs)")
    }

    @Test func aLeavingAvatarIsForgottenOnBothSides() throws {
        let (shard, avatars, sent) = try Self.shard(count: 3)
        for (k, avatar) in avatars.enumerated() {
            shard.voice.receive(Self.frame(UInt16(k)), from: avatar.id, nowMicros: 1_000_000)
        }
        tick(shard, sent, at: 1_033_333)
        #expect(shard.voice.forwardedPairCount == 6)
        shard.remove(avatars[0].id, reason: .none)
        #expect(shard.voice.forwardedPairCount == 2)
        // The others carry on without a mark.
        shard.voice.receive(Self.frame(10), from: avatars[1].id, nowMicros: 1_040_000)
        sent.clear()
        tick(shard, sent, at: 1_066_666)
        #expect(sent.frames(to: avatars[2].peer, from: avatars[1].id).map(\.resumes) == [false])
    }
}
