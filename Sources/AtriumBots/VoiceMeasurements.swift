import AtriumClient
import AtriumWire

/// When each speaker sent each of its recent VOICE frames, keyed by (speaker avatar id, u16 sequence); shared
/// by every bot of the runner (same process, same clock), like the pose send-time table.
///
/// A ring of `slots` entries per speaker (256 × 20 ms ≈ 5 s of history). Each entry remembers its sequence,
/// so a frame older than the ring (or a wrapped sequence) finds nothing instead of another frame's time.
struct VoiceSendTimes {
    static let slots = 256
    /// Speaker → its row in the flat tables + 1 (0 = none yet).
    private var rows = AvatarTable<Int32>(empty: 0)
    private var sequences: [UInt16] = []
    /// 0 = empty.
    private var times: [UInt64] = []

    mutating func record(speaker: UInt16, sequence: UInt16, at micros: UInt64) {
        var row = Int(rows[speaker]) - 1
        if row < 0 {
            row = times.count / Self.slots
            rows[speaker] = Int32(row + 1)
            sequences.append(contentsOf: repeatElement(0, count: Self.slots))
            times.append(contentsOf: repeatElement(0, count: Self.slots))
        }
        let index = row * Self.slots + Int(sequence) % Self.slots
        sequences[index] = sequence
        times[index] = max(1, micros)
    }

    /// The send time of that frame, nil when it is not (or no longer) in the table.
    func sendTime(speaker: UInt16, sequence: UInt16) -> UInt64? {
        let row = Int(rows[speaker]) - 1
        guard row >= 0 else { return nil }
        let index = row * Self.slots + Int(sequence) % Self.slots
        guard times[index] != 0, sequences[index] == sequence else { return nil }
        return times[index]
    }
}

/// Walks a VOICE_BUNDLE (PROTOCOL.md §17.3) in place, without copying the Opus packets: what a bot needs
/// to count and time frames it never decodes. The same checks as `ServerMessage.decode`: a frame count of
/// 1…255, every Opus length 1…1275 and inside the message, nothing after the last frame.
enum VoiceBundleScan {
    struct Frame: Equatable {
        var speakerId: UInt16
        var sequence: UInt16
        var level: VoiceLevel
        var opusLength: Int
        /// The frame's resumes mark (PROTOCOL.md §17.3).
        var resumes = false
    }

    /// The bundle's frames, or nil when the message is not a well-formed VOICE_BUNDLE.
    static func frames(_ bytes: [UInt8]) -> [Frame]? {
        var frames: [Frame] = []
        let ok = forEachFrame(bytes) { frames.append($0) }
        return ok ? frames : nil
    }

    /// Checks the whole bundle first, then calls `body` for each frame in order; false (and no calls) when it
    /// is malformed.
    @discardableResult
    static func forEachFrame(_ bytes: [UInt8], _ body: (Frame) -> Void) -> Bool {
        guard let count = validFrameCount(bytes) else { return false }
        var at = 2
        for _ in 0..<count {
            let field = lengthField(bytes, at)
            let length = Int(field & ~WireLimits.voiceResumesBit)
            body(
                Frame(
                    speakerId: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8,
                    sequence: UInt16(bytes[at + 2]) | UInt16(bytes[at + 3]) << 8,
                    level: VoiceLevel(rawValue: bytes[at + 4]), opusLength: length,
                    resumes: field & WireLimits.voiceResumesBit != 0))
            at += VoiceBundle.frameBytes(opusLength: length)
        }
        return true
    }

    /// The u16 resumes | opusLength field of the frame starting at `at`.
    private static func lengthField(_ bytes: [UInt8], _ at: Int) -> UInt16 {
        UInt16(bytes[at + 5]) | UInt16(bytes[at + 6]) << 8
    }

    /// The frame count when every frame lies inside the message and the message ends with the last one.
    static func validFrameCount(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2, bytes[0] == MessageType.voiceBundle.rawValue else { return nil }
        let count = Int(bytes[1])
        guard count >= 1 else { return nil }
        var at = 2
        for _ in 0..<count {
            guard bytes.count - at >= 7 else { return nil }
            let length = Int(lengthField(bytes, at) & ~WireLimits.voiceResumesBit)
            guard length >= 1, length <= WireLimits.maxVoicePacketBytes, bytes.count - at - 7 >= length else {
                return nil
            }
            at += VoiceBundle.frameBytes(opusLength: length)
        }
        return at == bytes.count ? count : nil
    }
}

/// Distinct voice streams one listener receives within any window of `windowMicros` (1 s by default),
/// and the most it ever had: the "no listener ever receives more than N streams".
///
/// The count of speakers heard in (t − window, t] only grows when a frame arrives, so checking it at every
/// arrival finds the maximum over all windows exactly. A speaker replaced by another within the window counts
/// twice: the figure is an upper bound on simultaneous streams.
struct VoiceStreamWindow {
    let windowMicros: UInt64
    /// When each speaker in the window last arrived: a short list (the speakers of about one window), kept
    /// in place so that a bundle costs no allocation.
    private var lastHeard: [(speaker: UInt16, time: UInt64)] = []
    private(set) var maxStreams = 0

    init(windowMicros: UInt64 = 1_000_000) {
        self.windowMicros = max(1, windowMicros)
    }

    /// Notes frames of `speakers` arriving at `nowMicros` (one bundle) and updates the maximum.
    mutating func heard<S: Sequence<UInt16>>(_ speakers: S, at nowMicros: UInt64) {
        for speaker in speakers {
            if let i = lastHeard.firstIndex(where: { $0.speaker == speaker }) {
                lastHeard[i].time = nowMicros
            } else {
                lastHeard.append((speaker, nowMicros))
            }
        }
        let window = windowMicros
        lastHeard.removeAll { nowMicros - min(nowMicros, $0.time) >= window }
        maxStreams = max(maxStreams, lastHeard.count)
    }

    /// Speakers heard within the window ending at the last arrival.
    var current: Int { lastHeard.count }
}

/// Frame counts summed over voice streams (`VoiceStreamStats` of each listener's jitter buffers).
struct VoiceFrameTotals: Equatable {
    var received = 0
    var late = 0
    var lost = 0
    var gaps = 0
    var longestGap = 0
    /// Slots taken for pauses between talk spurts. A burst of losses longer than the playout delay's slack
    /// looks like a pause to a listener and lands here, not in `lost` (`VoiceStreamStats.skipped`).
    var skipped = 0
    /// Gaps the server marked as routing (a frame marked `resumes` after them), not counted as lost.
    var resumes = 0
    var streams = 0

    mutating func add(_ s: VoiceStreamStats) {
        received += s.received
        late += s.late
        lost += s.lost
        gaps += s.gaps
        longestGap = max(longestGap, s.longestGap)
        skipped += s.skipped
        resumes += s.resumes
        streams += 1
    }

    static func + (a: VoiceFrameTotals, b: VoiceFrameTotals) -> VoiceFrameTotals {
        var sum = a
        sum.received += b.received
        sum.late += b.late
        sum.lost += b.lost
        sum.gaps += b.gaps
        sum.longestGap = max(a.longestGap, b.longestGap)
        sum.skipped += b.skipped
        sum.resumes += b.resumes
        sum.streams += b.streams
        return sum
    }

    /// lost / (received + lost), in percent; nil when no frame was due. A frame that came after its playout
    /// time was counted lost when its slot passed (the listener concealed it), so it is in `lost` too.
    var lossPercent: Double? {
        let due = received + lost
        return due > 0 ? Double(lost) * 100 / Double(due) : nil
    }
}

/// One measuring bot's ears: a jitter buffer per speaker stream (speaker 0 is the server's mix), the
/// streams-per-window counter, and the frames' mouth-to-ear latencies.
struct VoiceListener {
    /// One speaker's stream. Streams live in a flat array so that playout (every frame period, every stream)
    /// walks them in place; `rows` finds a speaker's stream when its frames arrive.
    struct Stream {
        let speaker: UInt16
        var buffer = VoiceJitterBuffer()
        var lastArrival: UInt64
    }

    private(set) var streams: [Stream] = []
    /// Speaker → index in `streams` + 1 (0 = no stream).
    private var rows = AvatarTable<Int32>(empty: 0)
    private(set) var window: VoiceStreamWindow
    /// Streams dropped after falling silent, their counts kept.
    private(set) var retired = VoiceFrameTotals()
    /// Frames of speaker 0 (the mix) received; their latency is not measured (the mix has its own sequence).
    private(set) var mixedFrames = 0
    /// A stream with nothing for this long is retired (the speaker left or went out of range).
    static let idleMicros: UInt64 = 10_000_000

    /// The default window (1 µs) counts the speakers of one VOICE_BUNDLE: the server's per-tick stream cap.
    init(windowMicros: UInt64 = 1) {
        window = VoiceStreamWindow(windowMicros: windowMicros)
    }

    /// Takes one VOICE_BUNDLE's frames. Returns the mouth-to-ear latency (µs) of every frame whose send time
    /// is known (never for the mix).
    mutating func receive(_ frames: [VoiceBundleScan.Frame], at now: UInt64, sendTimes: VoiceSendTimes) -> [UInt64] {
        var latencies: [UInt64] = []
        receive(frames, at: now, sendTimes: sendTimes) { latencies.append($0) }
        return latencies
    }

    /// The same, handing each latency to `latency` as it is measured (no array per bundle).
    mutating func receive(
        _ frames: [VoiceBundleScan.Frame], at now: UInt64, sendTimes: VoiceSendTimes, latency: (UInt64) -> Void
    ) {
        for frame in frames {
            var row = Int(rows[frame.speakerId]) - 1
            if row < 0 {
                row = streams.count
                streams.append(Stream(speaker: frame.speakerId, lastArrival: now))
                rows[frame.speakerId] = Int32(row + 1)
            }
            // The audio is never decoded here, so the buffer holds no payload: it only orders and counts.
            streams[row].buffer.insert(sequence: frame.sequence, payload: [], arrivalMicros: now, resumes: frame.resumes)
            streams[row].lastArrival = now
            if frame.speakerId == VoiceBundle.mixedSpeakerId {
                mixedFrames += 1
                continue
            }
            if let sent = sendTimes.sendTime(speaker: frame.speakerId, sequence: frame.sequence), sent <= now,
                now - sent < 10_000_000
            {
                latency(now - sent)
            }
        }
        window.heard(frames.lazy.map(\.speakerId), at: now)
    }

    /// Plays out every stream up to `now` (which is when slots that never came count as lost) and retires
    /// streams silent for `idleMicros`.
    mutating func advance(to now: UInt64) {
        var i = 0
        while i < streams.count {
            // An empty buffer has nothing to play or to count as lost until a frame arrives.
            if streams[i].buffer.count > 0 {
                while streams[i].buffer.next(nowMicros: now) != nil {}
            }
            guard now - min(now, streams[i].lastArrival) >= Self.idleMicros else {
                i += 1
                continue
            }
            retired.add(streams[i].buffer.stats)
            // Swap-remove: the last stream takes this place (order does not matter; the totals are sums).
            rows[streams[i].speaker] = 0
            let last = streams.count - 1
            if i != last {
                streams.swapAt(i, last)
                rows[streams[i].speaker] = Int32(i + 1)
            }
            streams.removeLast()
        }
    }

    /// Counts over every stream this listener had, retired or live.
    var totals: VoiceFrameTotals {
        var t = retired
        for stream in streams { t.add(stream.buffer.stats) }
        return t
    }

    /// Streams currently held.
    var streamCount: Int { streams.count }
}
