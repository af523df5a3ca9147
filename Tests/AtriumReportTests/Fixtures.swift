import AtriumReport

/// A fully measured report with awkward numbers (thirds, tiny and large values) and a short timeline.
func sampleReport() -> LoadReport {
    var r = LoadReport(
        scenario: "expo-1000", durationSeconds: 60, startedAt: "2026-11-21T10:00:00Z",
        seed: 18_446_744_073_709_551_557, server: "10.0.0.5:7777", world: "expo-hall", botsRequested: 1000)
    r.botsConnected = 997
    r.botsFailed = 3
    r.failureReasons = ["handshake timeout": 2, "world full": 1]
    r.connectMs = Percentiles(p50: 12.5, p99: 48.25, max: 80)
    r.rttMs = Percentiles(p50: 0.412, p99: 1.0 / 3.0, max: 12.4)
    r.poseLatencyMs = Percentiles(p50: 33.3, p99: 91.2, max: 140.75)
    r.voiceLatencyMs = Percentiles(p50: 61, p99: 88.8, max: 120)
    r.voiceLossPercent = 0.25
    r.voiceStreamsPerListenerMax = 8
    r.voiceFramesReceived = 1_234_567
    r.voiceFramesLate = 321
    r.voiceFramesLost = 3_090
    r.voiceGaps = 1_404
    r.voiceLongestGapFrames = 17
    r.voiceBroadcastReachMinPercent = 97.5
    r.voiceBroadcastReachMeanPercent = 99.875
    r.downKbpsPerBot = MeanP99(mean: 412.5, p99: 530.125)
    r.upKbpsPerBot = MeanP99(mean: 24.4, p99: 30)
    r.downDatagramsPerSecondPerBot = 45.5
    r.upDatagramsPerSecondPerBot = 30
    r.poseBytesDeltaMean = 9.75
    r.poseBytesAbsoluteMean = 21
    r.snapshotsPerSecondPerBot = 29.9
    r.snapshotGapsPerBotPerMinute = 0.00001
    r.serverTickMs = Percentiles(p50: 2.1, p99: 7.9, max: nil)
    r.serverCpuCores = 1.35
    r.serverVoiceCpuCores = 0.2
    r.serverVoiceAddedMs = Percentiles(p50: 8.5, p99: 17.125, max: 24)
    r.serverDatagramsInPerSecond = 30_000
    r.serverDatagramsOutPerSecond = 45_000
    r.serverTickOverruns = 2
    r.botSaturated = false
    r.botCpuCores = 0.8
    r.botSendLagMsMax = 3.5
    r.slo = SLOResult(passed: false, failures: ["pose_latency_ms.p99 = 91.2 > max 76.7"])
    r.timeline = (0..<5).map { i in
        TimelinePoint(
            t: Double(i), connected: 200 * i,
            rttP50: i == 0 ? nil : 0.4 + Double(i) / 10, rttP99: i == 0 ? nil : 1.5,
            poseP50: 30, poseP99: 90 + Double(i),
            downKbpsPerBot: 400, upKbpsPerBot: 24,
            serverTickP50: 2, serverTickP99: 8, serverCpuCores: 1.3,
            botSendLagMs: 1, botCpuCores: 0.7)
    }
    r.notes = ["warm-up 5 s excluded"]
    return r
}
