/// A token bucket: holds up to `burst` tokens, refills at `ratePerSecond`, starts full. Time is a monotonic
/// microsecond clock passed in by the caller (`MonotonicClock.nowMicros()` in the server, a fake in tests);
/// a clock that steps backwards refills nothing.
public struct TokenBucket: Sendable, Equatable {
    public let ratePerSecond: Double
    public let burst: Double
    public private(set) var tokens: Double
    private var lastMicros: UInt64?

    /// - Precondition: `ratePerSecond > 0` and `burst > 0` (see `RateLimitPolicy.validate()`).
    public init(ratePerSecond: Double, burst: Double) {
        precondition(ratePerSecond > 0 && burst > 0, "token bucket needs a positive rate and burst")
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        tokens = burst
    }

    /// Adds what accrued since the last call (capped at `burst`).
    public mutating func refill(nowMicros: UInt64) {
        if let last = lastMicros, nowMicros > last {
            tokens = min(burst, tokens + Double(nowMicros - last) * ratePerSecond / 1_000_000)
        }
        if lastMicros == nil || nowMicros > lastMicros! { lastMicros = nowMicros }
    }

    /// Refills, then reports whether `cost` tokens are there (without taking them).
    public mutating func canTake(_ cost: Double = 1, nowMicros: UInt64) -> Bool {
        refill(nowMicros: nowMicros)
        return tokens >= cost
    }

    /// Refills, then takes `cost` tokens if they are there.
    public mutating func take(_ cost: Double = 1, nowMicros: UInt64) -> Bool {
        guard canTake(cost, nowMicros: nowMicros) else { return false }
        tokens -= cost
        return true
    }
}
