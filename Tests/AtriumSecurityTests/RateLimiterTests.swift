import Testing
@testable import AtriumSecurity

@Suite struct RateLimiterTests {
    @Test func tokenBucketRefillsAndCaps() {
        var bucket = TokenBucket(ratePerSecond: 10, burst: 3)
        let t0: UInt64 = 5_000_000
        do { let ok = bucket.take(nowMicros: t0) && bucket.take(nowMicros: t0) && bucket.take(nowMicros: t0); #expect(ok) }
        do { let ok = !bucket.take(nowMicros: t0); #expect(ok) }
        do { let ok = !bucket.take(nowMicros: t0 + 99_999); #expect(ok) }  // 0.99 tokens
        do { let ok = bucket.take(nowMicros: t0 + 100_000); #expect(ok) }
        do { let ok = bucket.canTake(3, nowMicros: t0 + 10_000_000) && !bucket.canTake(3.5, nowMicros: t0 + 10_000_000); #expect(ok) }
        // A clock that steps back adds nothing.
        var other = TokenBucket(ratePerSecond: 1, burst: 1)
        do { let ok = other.take(nowMicros: 10_000_000); #expect(ok) }
        do { let ok = !other.take(nowMicros: 1_000_000); #expect(ok) }
        do { let ok = !other.take(nowMicros: 10_500_000); #expect(ok) }
        do { let ok = other.take(nowMicros: 11_000_000); #expect(ok) }
    }

    @Test func posesAt120PerSecond() {
        var limiter = SessionRateLimiter()
        var t: UInt64 = 1_000_000
        // 120/s sustained (one every 8333 µs) is never dropped.
        for _ in 0..<1200 {
            #expect(limiter.admit(.pose, bytes: 40, nowMicros: t) == .allow)
            t += 8_334
        }
        // Twice that rate: about half dropped, counted.
        var allowed = 0
        for _ in 0..<240 {
            if limiter.admit(.pose, bytes: 40, nowMicros: t) == .allow { allowed += 1 }
            t += 4_167
        }
        #expect(allowed >= 120 && allowed <= 120 + 61)
        #expect(limiter.drops(.pose) == UInt64(240 - allowed))
        #expect(limiter.drops(.chat) == 0)
    }

    @Test func chatBurstOfFiveThenOnePerSecond() {
        var limiter = SessionRateLimiter()
        let t: UInt64 = 50_000_000
        for _ in 0..<5 { #expect(limiter.admit(.chat, bytes: 10, nowMicros: t) == .allow) }
        #expect(limiter.admit(.chat, bytes: 10, nowMicros: t) == .drop)
        #expect(limiter.admit(.chat, bytes: 10, nowMicros: t + 999_999) == .drop)
        #expect(limiter.admit(.chat, bytes: 10, nowMicros: t + 1_000_000) == .allow)
        #expect(limiter.admit(.chat, bytes: 10, nowMicros: t + 1_500_000) == .drop)
        #expect(limiter.admit(.chat, bytes: 10, nowMicros: t + 2_000_000) == .allow)
        #expect(limiter.drops(.chat) == 3)
    }

    @Test func voiceFramesAndBitRate() {
        // 50 frames/s of 160 bytes = 64 kbps exactly: allowed indefinitely.
        var limiter = SessionRateLimiter()
        var t: UInt64 = 0
        for _ in 0..<500 {
            #expect(limiter.admit(.voiceFrame, bytes: 160, nowMicros: t) == .allow)
            t += 20_000
        }
        // 60 frames/s of 400 bytes = 192 kbps: the byte bucket limits it to 20 frames/s after the burst.
        var heavy = SessionRateLimiter()
        var allowed = 0
        t = 0
        for _ in 0..<180 {
            if heavy.admit(.voiceFrame, bytes: 400, nowMicros: t) == .allow { allowed += 1 }
            t += 16_667
        }
        // 3 s: 4000-byte burst (10 frames) + 8000 B/s × 3 s / 400 B (60 frames).
        #expect(allowed >= 68 && allowed <= 72, "\(allowed)")
        #expect(heavy.drops(.voiceFrame) == UInt64(180 - allowed) && heavy.disconnectedBy == nil)
        // Kept up, it is sustained: dropped in a 5th second (second 4), so disconnected then.
        var verdict = RateVerdict.allow
        while verdict != .disconnect && t < 20_000_000 {
            verdict = heavy.admit(.voiceFrame, bytes: 400, nowMicros: t)
            t += 16_667
        }
        #expect(heavy.disconnectedBy == .voiceFrame && t / 1_000_000 == 4)
        // Tiny frames at 100/s: the frame bucket (60/s) limits.
        var chatty = SessionRateLimiter()
        allowed = 0
        t = 0
        for _ in 0..<300 {
            if chatty.admit(.voiceFrame, bytes: 10, nowMicros: t) == .allow { allowed += 1 }
            t += 10_000
        }
        #expect(allowed >= 30 + 178 && allowed <= 30 + 181, "\(allowed)")   // burst 30 + 60/s × 2.99 s
    }

    @Test func sustainedDroppingDisconnects() {
        var limiter = SessionRateLimiter()
        var t: UInt64 = 100_000_000
        // Drops in 4 separate seconds: only drops.
        for second in 0..<4 {
            for _ in 0..<7 { _ = limiter.admit(.chat, bytes: 1, nowMicros: t) }
            #expect(limiter.disconnectedBy == nil, "second \(second)")
            t += 1_000_000
        }
        // The fifth second with drops inside 10 s: disconnect, and it sticks.
        var verdicts: [RateVerdict] = []
        for _ in 0..<3 { verdicts.append(limiter.admit(.chat, bytes: 1, nowMicros: t)) }
        #expect(verdicts.contains(.disconnect))
        #expect(limiter.disconnectedBy == .chat)
        #expect(limiter.admit(.pose, bytes: 1, nowMicros: t) == .disconnect)
    }

    @Test func occasionalDropsSpreadOutDoNotDisconnect() {
        var limiter = SessionRateLimiter()
        var t: UInt64 = 0
        // Overflow the chat burst by one every 6 s (the bucket is full again by then) for two minutes:
        // at most 2 seconds with drops in any 10 s.
        for _ in 0..<20 {
            for _ in 0..<6 { _ = limiter.admit(.chat, bytes: 1, nowMicros: t) }
            t += 6_000_000
        }
        #expect(limiter.disconnectedBy == nil)
        #expect(limiter.totalDrops > 0)
    }

    @Test func policyOverridesAndValidation() throws {
        var policy = RateLimitPolicy()
        #expect(policy.posesPerSecond == 120 && policy.voiceFramesPerSecond == 60 && policy.voiceBitsPerSecond == 64_000)
        #expect(policy.chatBurst == 5 && policy.chatPerSecond == 1)
        policy.chatBurst = 1
        policy.sustainedWindowSeconds = 2
        policy.sustainedDropSeconds = 1
        try policy.validate()
        var limiter = SessionRateLimiter(policy: policy)
        #expect(limiter.admit(.chat, bytes: 1, nowMicros: 0) == .allow)
        #expect(limiter.admit(.chat, bytes: 1, nowMicros: 0) == .disconnect)
        var bad = RateLimitPolicy()
        bad.posesPerSecond = 0
        #expect(throws: RateLimitPolicy.Invalid.self) { try bad.validate() }
        bad = RateLimitPolicy()
        bad.sustainedDropSeconds = 11
        #expect(throws: RateLimitPolicy.Invalid.self) { try bad.validate() }
        bad = RateLimitPolicy()
        bad.voiceByteBurst = .nan
        #expect(throws: RateLimitPolicy.Invalid.self) { try bad.validate() }
    }
}
