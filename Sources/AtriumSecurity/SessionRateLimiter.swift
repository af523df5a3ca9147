/// One session's rate limits (see `RateLimitPolicy` for the limits and what "sustained" means), with
/// counters of dropped messages per kind. Time is the caller's monotonic microsecond clock.
public struct SessionRateLimiter: Sendable {
    public let policy: RateLimitPolicy
    private var pose: TokenBucket
    private var voiceFrames: TokenBucket
    private var voiceBytes: TokenBucket
    private var chat: TokenBucket
    private var dropCounts: [UInt64] = Array(repeating: 0, count: RateLimitedKind.allCases.count)
    /// Bit i set: a drop happened in second `maskSecond - i`.
    private var dropSeconds: UInt64 = 0
    private var maskSecond: UInt64 = 0
    /// The kind whose drop tipped the session over the sustained limit; set once, then every verdict is `.disconnect`.
    public private(set) var disconnectedBy: RateLimitedKind?

    /// - Precondition: `policy.validate()` does not throw.
    public init(policy: RateLimitPolicy = .default) {
        do { try policy.validate() } catch { preconditionFailure("\(error)") }
        self.policy = policy
        pose = TokenBucket(ratePerSecond: policy.posesPerSecond, burst: policy.poseBurst)
        voiceFrames = TokenBucket(ratePerSecond: policy.voiceFramesPerSecond, burst: policy.voiceFrameBurst)
        voiceBytes = TokenBucket(ratePerSecond: policy.voiceBitsPerSecond / 8, burst: policy.voiceByteBurst)
        chat = TokenBucket(ratePerSecond: policy.chatPerSecond, burst: policy.chatBurst)
    }

    /// - Parameter bytes: the message's payload size (only voice frames are limited on bytes).
    public mutating func admit(_ kind: RateLimitedKind, bytes: Int, nowMicros: UInt64) -> RateVerdict {
        if disconnectedBy != nil { return .disconnect }
        let allowed: Bool
        switch kind {
        case .pose: allowed = pose.take(nowMicros: nowMicros)
        case .chat: allowed = chat.take(nowMicros: nowMicros)
        case .voiceFrame:
            // Both buckets must have room; take from neither unless both do.
            let cost = Double(max(0, bytes))
            let framesOK = voiceFrames.canTake(nowMicros: nowMicros)
            let bytesOK = voiceBytes.canTake(cost, nowMicros: nowMicros)
            allowed = framesOK && bytesOK && voiceFrames.take(nowMicros: nowMicros) && voiceBytes.take(cost, nowMicros: nowMicros)
        }
        if allowed { return .allow }
        dropCounts[kind.rawValue] &+= 1
        if recordDrop(second: nowMicros / 1_000_000) {
            disconnectedBy = kind
            return .disconnect
        }
        return .drop
    }

    /// Messages of `kind` dropped so far (the one that caused a disconnect included).
    public func drops(_ kind: RateLimitedKind) -> UInt64 { dropCounts[kind.rawValue] }

    public var totalDrops: UInt64 { dropCounts.reduce(0, &+) }

    /// Marks `second` as a second with drops; true when that makes the drops sustained.
    private mutating func recordDrop(second: UInt64) -> Bool {
        if dropSeconds == 0 {
            maskSecond = second
        } else if second > maskSecond {
            let shift = second - maskSecond
            dropSeconds = shift >= 64 ? 0 : dropSeconds << shift
            maskSecond = second
        }
        // A clock that stepped back counts as the current second.
        dropSeconds |= 1
        let window = policy.sustainedWindowSeconds
        let inWindow = window >= 64 ? dropSeconds : dropSeconds & ((UInt64(1) << UInt64(window)) - 1)
        return inWindow.nonzeroBitCount >= policy.sustainedDropSeconds
    }
}
