/// Per-session rate limits (issue #5 defaults), overridable from configuration.
///
/// Each limit is a token bucket: `…PerSecond` is the sustained rate, `…Burst` what may arrive at once
/// (packets bunch up after network jitter). Voice frames must pass two buckets, frames and bytes.
///
/// **Sustained** abuse: a session whose messages (of any kind) were dropped in at least
/// `sustainedDropSeconds` distinct whole seconds of the last `sustainedWindowSeconds` seconds is
/// disconnected. With the defaults: drops in 5 of the last 10 seconds. A burst that overflows once, or a
/// client a little over a limit for a few seconds, only loses the excess messages.
public struct RateLimitPolicy: Sendable, Equatable {
    public var posesPerSecond: Double = 120
    public var poseBurst: Double = 60
    public var voiceFramesPerSecond: Double = 60
    public var voiceFrameBurst: Double = 30
    /// Voice payload bits per second (64 kbps), counted on the Opus payload bytes passed to `admit`.
    public var voiceBitsPerSecond: Double = 64_000
    /// Voice payload bytes that may arrive at once (half a second at 64 kbps).
    public var voiceByteBurst: Double = 4_000
    public var chatPerSecond: Double = 1
    public var chatBurst: Double = 5
    /// 1...64.
    public var sustainedWindowSeconds: Int = 10
    /// 1...sustainedWindowSeconds.
    public var sustainedDropSeconds: Int = 5

    public init() {}

    public static let `default` = RateLimitPolicy()

    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Throws naming the first bad value; config loaders call this before building limiters.
    public func validate() throws(Invalid) {
        let positive: [(String, Double)] = [
            ("posesPerSecond", posesPerSecond), ("poseBurst", poseBurst), ("voiceFramesPerSecond", voiceFramesPerSecond),
            ("voiceFrameBurst", voiceFrameBurst), ("voiceBitsPerSecond", voiceBitsPerSecond),
            ("voiceByteBurst", voiceByteBurst), ("chatPerSecond", chatPerSecond), ("chatBurst", chatBurst),
        ]
        for (name, value) in positive where !(value > 0 && value.isFinite) {
            throw Invalid(description: "rate limit \(name) must be a positive number")
        }
        guard (1...64).contains(sustainedWindowSeconds) else {
            throw Invalid(description: "rate limit sustainedWindowSeconds must be 1...64")
        }
        guard (1...sustainedWindowSeconds).contains(sustainedDropSeconds) else {
            throw Invalid(description: "rate limit sustainedDropSeconds must be 1...sustainedWindowSeconds")
        }
    }
}
