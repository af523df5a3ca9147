import AtriumClient
import Testing

@Suite struct VoiceJitterBufferTests {
    /// One frame on the wire: sent at `sent`, arriving at `arrival` (nil: lost).
    struct Packet {
        var sequence: UInt16
        var arrival: UInt64
        /// The server's resumes mark (PROTOCOL.md §17.3).
        var resumes = false
    }

    /// Feeds `packets` (in any order) into a buffer, polling every 5 ms until `end`; returns what played.
    static func run(_ packets: [Packet], until end: UInt64, buffer: inout VoiceJitterBuffer) -> [VoicePlayout] {
        let ordered = packets.enumerated().sorted { ($0.element.arrival, $0.offset) < ($1.element.arrival, $1.offset) }.map(\.element)
        var out: [VoicePlayout] = []
        var i = 0
        var now: UInt64 = 0
        while now <= end {
            while i < ordered.count && ordered[i].arrival <= now {
                buffer.insert(
                    sequence: ordered[i].sequence, payload: [UInt8(truncatingIfNeeded: ordered[i].sequence)],
                    arrivalMicros: ordered[i].arrival, resumes: ordered[i].resumes)
                i += 1
            }
            while let next = buffer.next(nowMicros: now) { out.append(next) }
            now += 5_000
        }
        return out
    }

    static func playedSequences(_ out: [VoicePlayout]) -> [UInt16] {
        out.compactMap { if case .frame(let s, _) = $0 { s } else { nil } }
    }

    /// 20 ms frames sent from t = 1 s, with a base latency and extra delay per frame.
    static func stream(first: UInt16 = 100, count: Int, latency: UInt64 = 30_000, extra: (Int) -> UInt64? = { _ in 0 }) -> [Packet] {
        (0..<count).compactMap { k in
            extra(k).map { Packet(sequence: first &+ UInt16(k), arrival: 1_000_000 + UInt64(k) * 20_000 + latency + $0) }
        }
    }

    @Test func steadyStreamPlaysInOrderWithTheInitialDelay() {
        var buffer = VoiceJitterBuffer()
        let out = Self.run(Self.stream(count: 100), until: 4_000_000, buffer: &buffer)
        #expect(Self.playedSequences(out) == (0..<100).map { 100 + UInt16($0) })
        #expect(buffer.stats.played == 100 && buffer.stats.lost == 0 && buffer.stats.late == 0 && buffer.stats.received == 100)
        #expect(buffer.delayMicros == 40_000)
        // Payloads come with their frames.
        if case .frame(let s, let p) = out[5] { #expect(p == [UInt8(truncatingIfNeeded: s)]) } else { Issue.record() }
    }

    @Test func shuffledAndDuplicatedFramesPlayOnceInOrder() {
        var rng = SystemRandomNumberGenerator()
        _ = rng.next()  // jitter below is seeded separately so the test is reproducible
        var state: UInt64 = 42
        func random() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        // Jitter 0…60 ms reorders neighbours; every seventh frame also arrives twice.
        var packets = Self.stream(count: 200) { _ in random() % 60_000 }
        for k in stride(from: 0, to: 200, by: 7) { packets.append(Packet(sequence: packets[k].sequence, arrival: packets[k].arrival + random() % 30_000)) }
        var buffer = VoiceJitterBuffer()
        let out = Self.run(packets, until: 8_000_000, buffer: &buffer)
        let played = Self.playedSequences(out)
        #expect(played == played.sorted() && Set(played).count == played.count, "in order, each once")
        // 29 copies; a copy of a frame that was itself late counts as late.
        #expect(buffer.stats.duplicates <= 29 && buffer.stats.duplicates + buffer.stats.late >= 29)
        #expect(buffer.delayMicros > 40_000 && buffer.delayMicros <= 200_000, "the delay grew under jitter")
        // Early on a few frames may be late while the delay adapts; after that none.
        // Every slot is played, lost or skipped, except frames that came after a later one started a spurt
        // (those are only late).
        let accounted = buffer.stats.played + buffer.stats.lost + buffer.stats.skipped
        #expect(accounted <= 200 && accounted + buffer.stats.late >= 200 && buffer.stats.played >= 190)
        #expect(buffer.stats.lost <= 5 && buffer.stats.late >= buffer.stats.lost)
    }

    @Test func lossesAreCountedAsGaps() {
        let dropped: Set<Int> = [10, 11, 12, 30, 70, 71]
        // 80 ms of delay: the frame after a 3-frame gap arrives before the gap's first slot is due.
        var buffer = VoiceJitterBuffer(initialDelayMicros: 80_000)
        let out = Self.run(Self.stream(count: 100) { dropped.contains($0) ? nil : 0 }, until: 4_000_000, buffer: &buffer)
        #expect(buffer.stats.lost == 6 && buffer.stats.gaps == 3 && buffer.stats.longestGap == 3)
        #expect(buffer.stats.played == 94 && buffer.stats.late == 0)
        let missing = out.compactMap { if case .missing(let s) = $0 { s } else { nil } }
        #expect(missing == [110, 111, 112, 130, 170, 171])
        // Everything in sequence order, lost ones in their places.
        let all = out.map { o -> UInt16 in
            switch o {
            case .frame(let s, _): s
            case .missing(let s): s
            }
        }
        #expect(all == (0..<100).map { 100 + UInt16($0) })
    }

    /// Sequences count slots, so a burst of losses longer than the delay's slack cannot be told from a pause.
    @Test func aLongBurstOfLossReadsAsAPause() {
        var buffer = VoiceJitterBuffer()
        let out = Self.run(Self.stream(count: 60) { (20..<25).contains($0) ? nil : 0 }, until: 3_000_000, buffer: &buffer)
        #expect(buffer.stats.skipped == 5 && buffer.stats.lost == 0 && buffer.stats.spurts == 2)
        #expect(Self.playedSequences(out).count == 55)
    }

    @Test func lateFramesAreCountedAndDropped() {
        // Frame 20 arrives 400 ms late: past even the largest delay.
        var buffer = VoiceJitterBuffer()
        let out = Self.run(Self.stream(count: 60) { $0 == 20 ? 400_000 : 0 }, until: 3_000_000, buffer: &buffer)
        #expect(buffer.stats.late == 1 && buffer.stats.lost == 1 && buffer.stats.played == 59)
        #expect(!Self.playedSequences(out).contains(120))
    }

    @Test func sequenceNumbersWrap() {
        var buffer = VoiceJitterBuffer()
        let out = Self.run(Self.stream(first: 65_520, count: 40) { $0 % 3 == 0 ? 15_000 : 0 }, until: 3_000_000, buffer: &buffer)
        #expect(Self.playedSequences(out) == (0..<40).map { 65_520 &+ UInt16($0) })
        #expect(buffer.stats.lost == 0)
    }

    @Test func delayGrowsUnderJitterUpToItsCap() {
        var state: UInt64 = 7
        var buffer = VoiceJitterBuffer(maxDelayMicros: 120_000)
        _ = Self.run(Self.stream(count: 150) { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (state >> 33) % 400_000
        }, until: 6_000_000, buffer: &buffer)
        #expect(buffer.delayMicros == 120_000)
        #expect(buffer.stats.late > 0 && buffer.stats.lost > 0, "jitter beyond the cap costs frames")
    }

    @Test func pausesAreNeitherLossNorLateness() {
        // The talker says 50 frames, is silent for 2 s (100 slots, nothing sent), says 50 more; then a short
        // pause of 3 slots (60 ms).
        let silent = Set(50..<150).union(200..<203)
        var buffer = VoiceJitterBuffer()
        let out = Self.run(Self.stream(count: 253) { silent.contains($0) ? nil : 0 }, until: 7_000_000, buffer: &buffer)
        #expect(Self.playedSequences(out).count == 150)
        #expect(buffer.stats.lost == 0 && buffer.stats.late == 0 && buffer.delayMicros == 40_000)
        #expect(!out.contains { if case .missing = $0 { true } else { false } })
    }

    @Test func aJumpFarAheadResyncs() {
        var buffer = VoiceJitterBuffer(capacity: 32)
        var packets = Self.stream(count: 20)
        // Right after frame 19, with frame 18 still waiting: the stream continues 4900 slots ahead.
        packets += (0..<20).map { k in Packet(sequence: 5000 + UInt16(k), arrival: 1_405_000 + UInt64(k) * 20_000) }
        let out = Self.run(packets, until: 3_000_000, buffer: &buffer)
        #expect(buffer.stats.resyncs == 1 && Self.playedSequences(out).suffix(20) == ArraySlice((0..<20).map { 5000 + UInt16($0) }))
        #expect(buffer.stats.lost == 0)
    }

    /// `stream` with the frames at `notSent` never sent and the frame after each such run marked resumes.
    static func routed(count: Int, notSent: Set<Int>, lost: Set<Int> = []) -> [Packet] {
        var packets = stream(count: count) { notSent.contains($0) || lost.contains($0) ? nil : 0 }
        for i in packets.indices {
            let k = Int(packets[i].sequence &- 100)
            if k > 0 && notSent.contains(k - 1) { packets[i].resumes = true }
        }
        return packets
    }

    @Test func aGapBeforeAResumesFrameIsNotLoss() {
        // 80 ms of delay, as in lossesAreCountedAsGaps: the gaps do not read as pauses, so unmarked they are lost.
        let notSent: Set<Int> = [10, 11, 12, 30, 70, 71]
        var marked = VoiceJitterBuffer(initialDelayMicros: 80_000)
        let out = Self.run(Self.routed(count: 100, notSent: notSent), until: 4_000_000, buffer: &marked)
        #expect(marked.stats.lost == 0 && marked.stats.gaps == 0 && marked.stats.skipped == 6)
        #expect(marked.stats.resumes == 3 && marked.stats.played == 94 && marked.stats.spurts == 1)
        #expect(!out.contains { if case .missing = $0 { true } else { false } })
        #expect(Self.playedSequences(out) == (0..<100).filter { !notSent.contains($0) }.map { 100 + UInt16($0) })

        var unmarked = VoiceJitterBuffer(initialDelayMicros: 80_000)
        let plain = Self.routed(count: 100, notSent: notSent).map { Packet(sequence: $0.sequence, arrival: $0.arrival) }
        _ = Self.run(plain, until: 4_000_000, buffer: &unmarked)
        #expect(unmarked.stats.lost == 6 && unmarked.stats.resumes == 0)
    }

    @Test func lossOutsideARoutingGapStillCounts() {
        // Frames 20 and 21 lost on the way (no mark after them); 50…53 not sent, 54 marked.
        var buffer = VoiceJitterBuffer(initialDelayMicros: 80_000)
        _ = Self.run(Self.routed(count: 100, notSent: Set(50..<54), lost: [20, 21]), until: 4_000_000, buffer: &buffer)
        #expect(buffer.stats.lost == 2 && buffer.stats.gaps == 1 && buffer.stats.skipped == 4 && buffer.stats.resumes == 1)
    }

    @Test func aResumesMarkWithoutAGapChangesNothing() {
        // The first frame of a stream is always marked; so may be a frame right after its predecessor.
        var packets = Self.stream(count: 50)
        packets[0].resumes = true
        packets[10].resumes = true
        var buffer = VoiceJitterBuffer()
        let out = Self.run(packets, until: 3_000_000, buffer: &buffer)
        #expect(Self.playedSequences(out) == (0..<50).map { 100 + UInt16($0) })
        #expect(buffer.stats.resumes == 0 && buffer.stats.lost == 0 && buffer.stats.skipped == 0)
    }

    @Test func aResumesFrameAfterAPauseStartsASpurt() {
        // A long routing gap: the buffer runs dry, and the marked frame starts a new spurt as after a pause.
        var buffer = VoiceJitterBuffer()
        let out = Self.run(Self.routed(count: 100, notSent: Set(20..<60)), until: 4_000_000, buffer: &buffer)
        #expect(buffer.stats.lost == 0 && buffer.stats.skipped == 40 && buffer.stats.spurts == 2 && buffer.stats.resumes == 1)
        #expect(Self.playedSequences(out).count == 60)
    }
}
