/// Counts of one voice stream, as a listener sees it.
public struct VoiceStreamStats: Equatable, Sendable {
    /// Frames accepted into the buffer in time (each sequence once).
    public var received = 0
    /// Frames played out.
    public var played = 0
    /// Frames that arrived after their playout time (and were dropped; they were counted as lost first).
    public var late = 0
    /// Sequences that were due while later frames were waiting, and never came in time (concealed).
    public var lost = 0
    /// Copies of a frame already buffered or played.
    public var duplicates = 0
    /// Runs of consecutive lost frames, and the longest run.
    public var gaps = 0
    public var longestGap = 0
    /// Times the stream jumped too far ahead to wait for and playout restarted there.
    public var resyncs = 0
    /// Talk spurts (the first frame, and every frame that came after the buffer ran dry past its slot).
    public var spurts = 0
    /// Slots skipped as silence between spurts. A burst of losses longer than the playout delay's slack
    /// looks exactly like a pause and is counted here, not in `lost`. Slots the server did not send (before a
    /// frame marked `resumes`) are counted here too.
    public var skipped = 0
    /// Frames marked `resumes` (PROTOCOL.md §17.3) that came after a sequence gap: the stream came back after
    /// the server chose not to route it, and the gap was not counted as lost.
    public var resumes = 0

    public init() {}
}

/// What to play next.
public enum VoicePlayout: Equatable, Sendable {
    /// The frame with this sequence: decode it.
    case frame(sequence: UInt16, payload: [UInt8])
    /// This sequence is lost: conceal it (Opus packet-loss concealment, or FEC from the next frame).
    case missing(sequence: UInt16)
}

/// The receive side of one voice stream (one speaker): reorders frames by their u16 sequence (wrapping),
/// holds them for an adaptive playout delay, and says every frame period what to play. Pure: the caller
/// passes the time (any monotonic clock in microseconds) and decodes.
///
/// Sequences count frame slots of the sender's clock (PROTOCOL.md §17.1): +1 per frame, also through
/// silences in which nothing is sent, so a pause shows as a jump.
///
/// Playout: the first frame anchors the clock — sequence e plays at arrival(first) + (e − first) × frame
/// + delay. The delay starts at `initialDelayMicros`; when a frame arrives later than its slot allows it
/// grows at once to that lateness plus half a frame, up to `maxDelayMicros` (frames still buffered get the
/// extra time; playback just stretches). When the buffer has run dry and the next frame to play is
/// overdue, the talker paused: the next frame that arrives starts a new talk spurt where it is (the slots
/// skipped are silence, neither lost nor late) and the delay shrinks a quarter of the way back towards the
/// initial delay. A slot that comes due while later frames wait is lost — unless a frame marked `resumes`
/// (PROTOCOL.md §17.3) came after it: the server did not send the slots before such a frame, so they pass
/// as skipped, never lost.
///
///     on each received frame:    buffer.insert(sequence:payload:arrivalMicros:)
///     every frame period (or more often):
///         while let out = buffer.next(nowMicros: now) { decode or conceal `out` }
public struct VoiceJitterBuffer: Sendable {
    public let frameMicros: Int64
    public let initialDelayMicros: Int64
    public let maxDelayMicros: Int64
    public let capacity: Int

    public private(set) var stats = VoiceStreamStats()
    /// The current playout delay.
    public var delayMicros: UInt64 { UInt64(delay) }

    private var delay: Int64
    /// Slot k holds extended sequence `slotSequence[k]` (−1 = empty) and its payload.
    private var slotSequence: [Int64]
    private var slotPayload: [[UInt8]]
    private var buffered = 0
    /// Highest extended sequence seen (nil before the first frame).
    private var highest: Int64?
    /// Next extended sequence to play.
    private var cursor: Int64 = 0
    /// Playout time of extended sequence 0, before the delay; nil between spurts.
    private var anchor: Int64?
    /// Bit i: sequence cursor − 1 − i was played (for telling duplicates from late frames).
    private var playedMask: UInt64 = 0
    /// Slots before this extended sequence that never came were not sent (the last `resumes` frame): they are
    /// skipped, not lost.
    private var notSentBefore: Int64 = 0
    private var currentGap = 0

    /// - Parameters:
    ///   - frameMicros: duration of one frame (20 ms by default).
    ///   - initialDelayMicros: playout delay at the start (40 ms).
    ///   - maxDelayMicros: the most it grows to under jitter (200 ms).
    ///   - capacity: frames held at most; a frame further ahead than this restarts playout there.
    public init(frameMicros: UInt64 = 20_000, initialDelayMicros: UInt64 = 40_000, maxDelayMicros: UInt64 = 200_000, capacity: Int = 64) {
        self.frameMicros = Int64(max(1, min(frameMicros, 1_000_000)))
        self.initialDelayMicros = Int64(min(initialDelayMicros, 10_000_000))
        self.maxDelayMicros = max(self.initialDelayMicros, Int64(min(maxDelayMicros, 10_000_000)))
        self.capacity = max(2, min(capacity, 4096))
        delay = self.initialDelayMicros
        slotSequence = Array(repeating: -1, count: self.capacity)
        slotPayload = Array(repeating: [], count: self.capacity)
    }

    public enum Insertion: Equatable, Sendable {
        case accepted
        case duplicate
        /// Its playout time has passed.
        case late
        /// Accepted, but so far ahead that playout restarted at it.
        case resynced
    }

    /// Offers one received frame. `resumes`: the frame's resumes mark (PROTOCOL.md §17.3) — the sender did
    /// not send this stream's previous frame, so whatever is missing before it restarts the loss accounting
    /// instead of counting as lost.
    @discardableResult
    public mutating func insert(
        sequence: UInt16, payload: [UInt8], arrivalMicros: UInt64, resumes: Bool = false
    ) -> Insertion {
        let now = Int64(clamping: arrivalMicros)
        let highestBefore = highest
        let e = extend(sequence)
        if resumes {
            // Counted only when it excuses something: a gap behind the newest frame seen before it.
            if let h = highestBefore, e > h + 1 { stats.resumes += 1 }
            notSentBefore = max(notSentBefore, e)
        }
        if e < cursor {
            // Already played or concealed.
            let back = cursor - 1 - e
            if back < 64 && playedMask & (1 << UInt64(back)) != 0 {
                stats.duplicates += 1
                return .duplicate
            }
            stats.late += 1
            return .late
        }
        var result = Insertion.accepted
        if let anchor {
            if buffered == 0 && e > cursor && now >= anchor + cursor * frameMicros + delay {
                // Dry and overdue: the slots up to this frame were a pause. A new talk spurt starts here.
                playedMask = e - cursor >= 64 ? 0 : playedMask << UInt64(e - cursor)
                stats.skipped += Int(e - cursor)
                stats.spurts += 1
                cursor = e
                currentGap = 0
                delay = max(initialDelayMicros, delay - (delay - initialDelayMicros) / 4)
            }
        } else {
            // The first frame: anchor the playout clock on it.
            stats.spurts += 1
            cursor = e
            anchor = now - e * frameMicros
        }
        if e - cursor >= Int64(capacity) {
            // Too far ahead to wait for what is missing: start over here.
            clear()
            cursor = e
            anchor = now - e * frameMicros
            playedMask = 0
            stats.resyncs += 1
            result = .resynced
        }
        let slot = Int(e % Int64(capacity))
        if slotSequence[slot] == e {
            stats.duplicates += 1
            return .duplicate
        }
        // Grow the delay when this frame is later than its slot allows.
        if let anchor {
            let lateness = now - (anchor + e * frameMicros)
            if lateness + frameMicros / 2 > delay {
                delay = min(maxDelayMicros, lateness + frameMicros / 2)
            }
        }
        slotSequence[slot] = e
        slotPayload[slot] = payload
        buffered += 1
        stats.received += 1
        return result
    }

    /// What to play at `nowMicros`: the next frame or a loss to conceal once its time has come, nil when
    /// nothing is due (waiting, or between talk spurts). Call it until it returns nil.
    public mutating func next(nowMicros: UInt64) -> VoicePlayout? {
        guard let anchor else { return nil }
        let now = Int64(clamping: nowMicros)
        while true {
            let due = anchor + cursor * frameMicros + delay
            guard now >= due else { return nil }
            let slot = Int(cursor % Int64(capacity))
            let sequence = UInt16(truncatingIfNeeded: cursor)
            if slotSequence[slot] == cursor {
                let payload = slotPayload[slot]
                slotSequence[slot] = -1
                slotPayload[slot] = []
                buffered -= 1
                advance(played: true)
                stats.played += 1
                currentGap = 0
                return .frame(sequence: sequence, payload: payload)
            }
            if cursor < notSentBefore {
                // Never sent to this listener (a `resumes` frame follows): silence, not loss.
                advance(played: false)
                stats.skipped += 1
                currentGap = 0
                continue
            }
            if buffered > 0 {
                // Later frames are here: this one is lost (or late, which counts the same at playout).
                advance(played: false)
                stats.lost += 1
                if currentGap == 0 { stats.gaps += 1 }
                currentGap += 1
                stats.longestGap = max(stats.longestGap, currentGap)
                return .missing(sequence: sequence)
            }
            // Dry: the talker paused, or the next frame is delayed (`insert` tells which when a frame comes).
            return nil
        }
    }

    /// Frames waiting to be played.
    public var count: Int { buffered }

    private mutating func advance(played: Bool) {
        playedMask = playedMask << 1 | (played ? 1 : 0)
        cursor += 1
    }

    private mutating func clear() {
        for k in slotSequence.indices where slotSequence[k] >= 0 {
            slotSequence[k] = -1
            slotPayload[k] = []
        }
        buffered = 0
    }

    /// The u16 sequence as a 64-bit count, nearest to the highest one seen (serial arithmetic).
    private mutating func extend(_ sequence: UInt16) -> Int64 {
        guard let h = highest else {
            // Start high enough that sequences before the first one stay positive.
            let e = Int64(sequence) + (1 << 16)
            highest = e
            return e
        }
        let delta = Int64(Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: h)))
        let e = h + delta
        if e > h { highest = e }
        return e
    }
}
