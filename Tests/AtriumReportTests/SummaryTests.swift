import Testing
@testable import AtriumReport

@Suite struct SummaryTableTests {
    @Test func containsTheKeyFigures() {
        let text = summaryTable(sampleReport())
        for needle in [
            "expo-1000 — FAIL", "seed 18446744073709551557", "server 10.0.0.5:7777", "world expo-hall",
            "Bots", "requested", "1000", "997", "handshake timeout",
            "Latency (ms)", "p50", "p99", "max", "RTT", "0.412", "0.333", "12.40", "91.20", "140.8",
            "Bandwidth per bot", "412.5", "530.1", "24.40", "Server", "7.90", "1.35", "30000",
            "Tool", "3.50", "warm-up 5 s excluded",
        ] {
            #expect(text.contains(needle), "missing \(needle)")
        }
        #expect(!text.contains("BOT SATURATED"))
    }

    @Test func voiceSectionShowsCountsAndDashes() {
        let lines = summaryTable(sampleReport()).split(separator: "\n").map(String.init)
        let voice = lines.firstIndex(of: "Voice")!
        func cell(_ label: String) -> String? {
            lines[voice...].first { $0.hasPrefix("  " + label + " ") }?.split(separator: " ").last.map(String.init)
        }
        #expect(cell("loss %") == "0.250")
        #expect(cell("streams/listener max") == "8")
        #expect(cell("frames received") == "1234567")
        #expect(cell("frames late") == "321")
        #expect(cell("frames lost") == "3090")
        #expect(cell("gaps") == "1404")
        #expect(cell("longest gap, frames") == "17")
        let empty = summaryTable(LoadReport(scenario: "e")).split(separator: "\n").map(String.init)
        #expect(empty.contains { $0.hasPrefix("  frames late") && $0.hasSuffix("—") })
        #expect(empty.contains { $0.hasPrefix("  voice CPU cores") && $0.hasSuffix("—") })
    }

    @Test func endsWithVerdictListingFailures() {
        var r = sampleReport()
        r.slo = SLOResult(passed: false, failures: ["a > max 1", "b was not measured"])
        let lines = summaryTable(r).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        #expect(lines[lines.count - 2] == "FAIL: a > max 1; b was not measured")

        r.slo = SLOResult()
        #expect(summaryTable(r).hasSuffix("\nPASS\n"))
    }

    @Test func columnsAreAligned() {
        let text = summaryTable(sampleReport())
        let lines = text.split(separator: "\n").map(String.init)
        let latency = lines.firstIndex { $0.hasPrefix("Latency (ms)") }!
        let header = lines[latency]
        let rtt = lines[latency + 2]
        #expect(rtt.hasPrefix("  RTT"))
        // Right-aligned columns end at the same offsets as their headers.
        #expect(header.count == rtt.count)
        #expect(header.range(of: "p99")!.upperBound.utf16Offset(in: header)
            == rtt.range(of: "0.333")!.upperBound.utf16Offset(in: rtt))
        // Figures of single-value sections line up with the first value column.
        let requested = lines.first { $0.hasPrefix("  requested") }!
        #expect(requested.count == header.range(of: "p50")!.upperBound.utf16Offset(in: header))
    }

    @Test func saturationIsShoutedBeforeTheFigures() {
        var r = sampleReport()
        r.botSaturated = true
        r.botSaturationReasons = ["send lag 120 ms > 50 ms", "bot CPU 1.95 of 2 cores"]
        let text = summaryTable(r)
        let warning = "BOT SATURATED — figures below may reflect the tool, not the server: "
            + "send lag 120 ms > 50 ms; bot CPU 1.95 of 2 cores"
        #expect(text.contains(warning))
        #expect(text.range(of: warning)!.lowerBound < text.range(of: "Latency")!.lowerBound)
        #expect(text.contains("YES"))
    }

    @Test func controlCharactersDoNotBreakLines() {
        var r = LoadReport(scenario: "two\nlines")
        r.notes = ["a\tb\nc"]
        r.failureReasons = ["x\ny": 1]
        let text = summaryTable(r)
        #expect(text.contains("two lines — PASS\n"))
        #expect(text.contains("  - a b c\n"))
        #expect(text.contains("    x y "))
    }

    @Test func emptyReportRendersDashes() {
        let text = summaryTable(LoadReport(scenario: "empty"))
        #expect(text.contains("empty — PASS"))
        #expect(text.contains("—"))
        #expect(!text.contains("nan") && !text.contains("NaN") && !text.contains("inf"))
        #expect(text.hasSuffix("PASS\n"))
    }
}

@Suite struct CompareTests {
    static func pair() -> (previous: LoadReport, current: LoadReport) {
        var previous = LoadReport(scenario: "expo-1000", durationSeconds: 60, startedAt: "2026-11-20T10:00:00Z",
                                  botsRequested: 1000)
        previous.botsConnected = 990
        previous.botsFailed = 10
        previous.failureReasons = ["timeout": 10]
        previous.rttMs = Percentiles(p50: 2, p99: 40, max: nil)
        previous.snapshotsPerSecondPerBot = 30
        previous.downKbpsPerBot = MeanP99(mean: 400, p99: 500)
        previous.serverCpuCores = 1.5

        var current = previous
        current.startedAt = "2026-11-21T10:00:00Z"
        current.botsConnected = 1000
        current.botsFailed = 0
        current.failureReasons = [:]
        current.rttMs = Percentiles(p50: 2, p99: 50, max: 80)
        current.snapshotsPerSecondPerBot = 27
        current.downKbpsPerBot = MeanP99(mean: 440, p99: 500)
        current.serverCpuCores = 1.2
        current.voiceLatencyMs = Percentiles(p50: 0, p99: 0, max: 0)
        current.slo = SLOResult(passed: false, failures: ["rtt_ms.p99 = 50 > max 45"])
        return (previous, current)
    }

    @Test func arithmeticAndDirection() {
        let (previous, current) = Self.pair()
        let changes = metricChanges(current: current, previous: previous)
        func change(_ key: String) -> MetricChange? { changes.first { $0.key == key } }

        let rtt = change("rtt_ms.p99")!
        #expect(rtt.previous == 40 && rtt.current == 50 && rtt.delta == 10 && rtt.percent == 25)
        #expect(rtt.verdict == .worse)

        let connected = change("bots.connected")!
        #expect(connected.delta == 10 && connected.percent! == 10.0 / 990.0 * 100 && connected.verdict == .better)

        let failed = change("bots.failed")!
        #expect(failed.delta == -10 && failed.percent == -100 && failed.verdict == .better)
        // A reason absent from one report counts as zero there.
        #expect(change("bots.failure_reasons.timeout")!.current == 0)
        #expect(change("bots.failure_reasons.timeout")!.verdict == .better)

        let snapshots = change("snapshots_per_s_per_bot.mean")!
        #expect(snapshots.delta == -3 && snapshots.percent == -10 && snapshots.verdict == .worse)

        #expect(change("server.cpu_cores")!.verdict == .better)
        #expect(change("down_kbps_per_bot.mean")!.verdict == .changed)
        #expect(change("rtt_ms.p50")!.verdict == .same)
        #expect(change("rtt_ms.max")!.verdict == .new)

        // Zero in both: skipped. Zero now but unmeasured before: shown as new.
        #expect(change("bot_saturated") == nil)
        #expect(change("voice_latency_ms.p99")!.verdict == .new)
        #expect(change("slo.passed") == nil)
        #expect(change("seed") == nil)
        // Failure reasons follow bots.failed.
        let keys = changes.map(\.key)
        #expect(keys.firstIndex(of: "bots.failure_reasons.timeout") == keys.firstIndex(of: "bots.failed")! + 1)
    }

    @Test func voiceDirections() {
        var previous = sampleReport(), current = sampleReport()
        current.voiceFramesLate = 100
        current.voiceFramesLost = 4_000
        current.voiceGaps = 1_000
        current.voiceFramesReceived = 2_000_000
        current.voiceLossPercent = 0.5
        current.serverVoiceCpuCores = 0.1
        current.serverVoiceAddedMs.p99 = 25
        current.voiceBroadcastReachMinPercent = 100
        current.voiceBroadcastReachMeanPercent = 90
        previous.voiceLongestGapFrames = nil
        let changes = metricChanges(current: current, previous: previous)
        func verdict(_ key: String) -> MetricChange.Verdict? { changes.first { $0.key == key }?.verdict }
        #expect(verdict("voice_frames.late") == .better)
        #expect(verdict("voice_frames.lost") == .worse)
        #expect(verdict("voice_gaps.count") == .better)
        #expect(verdict("voice_frames.received") == .changed)
        #expect(verdict("voice_loss_pct") == .worse)
        #expect(verdict("server.voice_cpu_cores") == .better)
        #expect(verdict("voice_gaps.longest_frames") == .new)
        #expect(verdict("server.voice_added_ms.p99") == .worse)
        #expect(verdict("voice_broadcast_reach_pct.min") == .better)
        #expect(verdict("voice_broadcast_reach_pct.mean") == .worse)
        let text = compare(current: current, previous: previous)
        #expect(text.contains("voice_frames.late") && text.contains("voice_gaps.count"))
    }

    @Test func percentOfZeroIsUndefined() {
        #expect(MetricChange(key: "bots.failed", previous: 0, current: 3).percent == nil)
        #expect(MetricChange(key: "bots.failed", previous: 0, current: 3).verdict == .worse)
    }

    @Test func textShowsRowsAndVerdicts() {
        let (previous, current) = Self.pair()
        let text = compare(current: current, previous: previous)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "Compare expo-1000: previous 2026-11-20T10:00:00Z → current 2026-11-21T10:00:00Z")
        #expect(lines[1] == "SLO: PASS → FAIL")
        func row(_ key: String) -> [String]? {
            lines.first { $0.hasPrefix(key + " ") }.map { $0.split(separator: " ").map(String.init) }
        }
        #expect(row("rtt_ms.p99") == ["rtt_ms.p99", "40", "50", "+10", "+25%", "worse"])
        #expect(row("bots.connected") == ["bots.connected", "990", "1000", "+10", "+1%", "better"])
        #expect(row("bots.failed") == ["bots.failed", "10", "0", "-10", "-100%", "better"])
        #expect(row("server.cpu_cores") == ["server.cpu_cores", "1.5", "1.2", "-0.3", "-20%", "better"])
        #expect(row("down_kbps_per_bot.mean") == ["down_kbps_per_bot.mean", "400", "440", "+40", "+10%"])
        #expect(row("rtt_ms.max") == ["rtt_ms.max", "—", "80", "new"])
        #expect(row("bot_saturated") == nil)
        #expect(lines.last == "4 better, 2 worse")
        // Columns line up: every row as wide as the widest cells allow, values right-aligned.
        let header = lines.first { $0.hasPrefix("metric") }!
        let rtt = lines.first { $0.hasPrefix("rtt_ms.p99 ") }!
        #expect(header.range(of: "current")!.upperBound.utf16Offset(in: header)
            == rtt.range(of: " 50 ")!.upperBound.utf16Offset(in: rtt) - 1)
    }

    @Test func identicalReportsShowNoChange() {
        let r = sampleReport()
        let text = compare(current: r, previous: r)
        #expect(text.hasSuffix("0 better, 0 worse\n"))
        #expect(!text.contains("worse\n") || text.hasSuffix("0 worse\n"))
    }

    @Test func emptyReportsCompare() {
        let text = compare(current: LoadReport(scenario: "a"), previous: LoadReport(scenario: "b"))
        #expect(text.contains("different scenarios"))
        #expect(!text.contains("nan") && !text.contains("inf"))
    }
}
