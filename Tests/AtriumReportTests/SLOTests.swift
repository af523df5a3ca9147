import Testing
@testable import AtriumReport

@Suite struct SLOTests {
    @Test func maxBoundFails() {
        let result = evaluate([SLOThreshold(metric: "pose_latency_ms.p99", max: 76.7)], on: sampleReport())
        #expect(result == SLOResult(passed: false, failures: ["pose_latency_ms.p99 = 91.2 > max 76.7"]))
    }

    @Test func minBoundFails() {
        let result = evaluate([SLOThreshold(metric: "bots.connected", min: 1000)], on: sampleReport())
        #expect(result == SLOResult(passed: false, failures: ["bots.connected = 997 < min 1000"]))
    }

    @Test func boundaryEqualityPasses() {
        let r = sampleReport()
        let result = evaluate([
            SLOThreshold(metric: "pose_latency_ms.p99", max: 91.2),
            SLOThreshold(metric: "bots.connected", min: 997, max: 997),
            SLOThreshold(metric: "rtt_ms.p99", max: 1.0 / 3.0),
        ], on: r)
        #expect(result == SLOResult(passed: true, failures: []))
    }

    @Test func missingMetricFails() {
        var r = sampleReport()
        r.voiceLatencyMs = Percentiles()
        let result = evaluate([SLOThreshold(metric: "voice_latency_ms.p99", max: 150)], on: r)
        #expect(result == SLOResult(passed: false, failures: ["voice_latency_ms.p99 was not measured"]))
    }

    @Test func nonFiniteMeasurementCountsAsNotMeasured() {
        var r = sampleReport()
        r.serverCpuCores = .nan
        let result = evaluate([SLOThreshold(metric: "server.cpu_cores", max: 2)], on: r)
        #expect(result.failures == ["server.cpu_cores was not measured"])
    }

    @Test func booleansAreZeroOrOne() {
        var r = sampleReport()
        #expect(evaluate([SLOThreshold(metric: "bot_saturated", max: 0)], on: r).passed)
        r.botSaturated = true
        #expect(evaluate([SLOThreshold(metric: "bot_saturated", max: 0)], on: r).failures
            == ["bot_saturated = 1 > max 0"])
    }

    @Test func closeValuesAreShownDistinctly() {
        var r = sampleReport()
        r.rttMs.p99 = 76.70001
        let result = evaluate([SLOThreshold(metric: "rtt_ms.p99", max: 76.7)], on: r)
        #expect(result.failures == ["rtt_ms.p99 = 76.70001 > max 76.7"])
    }

    @Test func severalFailuresKeepThresholdOrder() {
        let result = evaluate([
            SLOThreshold(metric: "server.cpu_cores", max: 1),
            SLOThreshold(metric: "rtt_ms.p50", max: 1),
            SLOThreshold(metric: "snapshots_per_s_per_bot.mean", min: 30),
        ], on: sampleReport())
        #expect(result.failures == [
            "server.cpu_cores = 1.35 > max 1",
            "snapshots_per_s_per_bot.mean = 29.9 < min 30",
        ])
        #expect(!result.passed)
    }

    /// The voice figures of issue #6 are SLO keys like any other.
    @Test func voiceKeysAreSLOKeys() {
        let keys = [
            "voice_latency_ms.p50", "voice_latency_ms.p99", "voice_latency_ms.max", "voice_loss_pct",
            "voice_streams_per_listener.max", "server.voice_cpu_cores", "voice_frames.received",
            "voice_frames.late", "voice_frames.lost", "voice_gaps.count", "voice_gaps.longest_frames",
            "server.voice_added_ms.p50", "server.voice_added_ms.p99", "server.voice_added_ms.max",
            "voice_broadcast_reach_pct.min", "voice_broadcast_reach_pct.mean",
        ]
        for key in keys { #expect(LoadReport.knownMetricKeys.contains(key), "\(key)") }
        let r = sampleReport()
        let result = evaluate([
            SLOThreshold(metric: "voice_latency_ms.p99", max: 150),
            SLOThreshold(metric: "voice_loss_pct", max: 0.2),
            SLOThreshold(metric: "voice_streams_per_listener.max", max: 8),
            SLOThreshold(metric: "server.voice_cpu_cores", max: 0.5),
            SLOThreshold(metric: "voice_frames.late", max: 100),
            SLOThreshold(metric: "voice_gaps.longest_frames", max: 25),
            SLOThreshold(metric: "voice_frames.received", min: 1_000_000),
            SLOThreshold(metric: "server.voice_added_ms.p99", max: 20),
            SLOThreshold(metric: "server.voice_added_ms.max", max: 20),
            SLOThreshold(metric: "voice_broadcast_reach_pct.min", min: 100),
            SLOThreshold(metric: "voice_broadcast_reach_pct.mean", min: 99),
        ], on: r)
        #expect(result.failures == [
            "voice_loss_pct = 0.25 > max 0.2", "voice_frames.late = 321 > max 100", "server.voice_added_ms.max = 24 > max 20",
            "voice_broadcast_reach_pct.min = 97.5 < min 100",
        ])
        let unmeasured = evaluate([SLOThreshold(metric: "voice_gaps.count", max: 10)], on: LoadReport(scenario: "e"))
        #expect(unmeasured.failures == ["voice_gaps.count was not measured"])
    }

    @Test func noThresholdsPass() {
        #expect(evaluate([], on: LoadReport(scenario: "empty")) == SLOResult(passed: true, failures: []))
    }
}
