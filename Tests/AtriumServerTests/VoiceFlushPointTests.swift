import Testing

@testable import AtriumServer

/// How many voice flush points a tick gets (Worker.voiceFlushes): all that are configured while ticks are
/// light, at most 2 once a tick takes a quarter of the period.
@Suite struct VoiceFlushPointTests {
    static let period: UInt64 = 33_333

    @Test func lightTicksGetEveryConfiguredPoint() {
        for configured in 1...4 {
            #expect(Worker.voiceFlushes(configured: configured, work: 6_000, period: Self.period) == configured)
        }
    }

    @Test func busyTicksGetAtMostTwo() {
        #expect(Worker.voiceFlushes(configured: 3, work: Self.period / 4, period: Self.period) == 2)
        #expect(Worker.voiceFlushes(configured: 4, work: 20_000, period: Self.period) == 2)
        // Fewer than 2 configured stays fewer.
        #expect(Worker.voiceFlushes(configured: 1, work: 20_000, period: Self.period) == 1)
        #expect(Worker.voiceFlushes(configured: 0, work: 0, period: Self.period) == 1)
    }

    @Test func theDefaultIsThree() {
        #expect(ServerConfiguration().voiceFlushesPerTick == 3)
    }
}
