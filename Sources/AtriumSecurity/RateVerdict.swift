/// What to do with one message, from `SessionRateLimiter.admit`.
public enum RateVerdict: Sendable, Equatable {
    /// Within limits: process it.
    case allow
    /// Over a limit: drop it silently (counted).
    case drop
    /// Over limits for a sustained time: disconnect the session (reason: rate limit). Sticky: every later
    /// message of the session gets `.disconnect` too.
    case disconnect
}
