import Foundation

// The JSON result file. Key names are fixed by the load-test spec; the layout below is the single source of
// truth for them: `jsonData()`, `metrics` and `knownMetricKeys` are all derived from `jsonNode`.

extension LoadReport {
    /// The result document, pretty-printed in a fixed, grouped key order. Unmeasured values are `null`.
    public func jsonData() -> Data {
        Data(jsonNode.serialized().utf8)
    }

    /// Every numeric value of the JSON document, flattened to dotted keys ("rtt_ms.p99", "server.cpu_cores",
    /// "bots.failure_reasons.timeout"); booleans as 0/1. Unmeasured values are absent. Identity fields that are
    /// not measurements (`seed`) and per-second data (`timeline`) are not included.
    public var metrics: [String: Double] {
        var out: [String: Double] = [:]
        for (key, value) in metricSlots { if let value { out[key] = value } }
        return out
    }

    /// Every numeric dotted key a report can have, measured or not, for validating SLO thresholds.
    /// Excludes the per-reason counts under `bots.failure_reasons.` (their names are only known at run time)
    /// and `slo.passed` (an SLO cannot refer to its own verdict).
    public static let knownMetricKeys: Set<String> = Set(LoadReport(scenario: "").metricSlots.map(\.key))
        .subtracting(["slo.passed"])

    /// Numeric slots in document order; nil = not measured.
    var metricSlots: [(key: String, value: Double?)] {
        jsonNode.numericLeaves(skipping: ["seed", "timeline"])
    }

    var jsonNode: JSONNode {
        func pct(_ p: Percentiles) -> JSONNode {
            .object([("p50", .number(p.p50)), ("p99", .number(p.p99)), ("max", .number(p.max))])
        }
        func meanP99(_ m: MeanP99) -> JSONNode {
            .object([("mean", .number(m.mean)), ("p99", .number(m.p99))])
        }
        func mean(_ v: Double?) -> JSONNode { .object([("mean", .number(v))]) }

        let reasons = failureReasons.keys.sorted().map { (key: $0, value: JSONNode.int(failureReasons[$0]!)) }
        let timelineNodes = timeline.map { point -> JSONNode in
            var members: [(key: String, value: JSONNode)] = [
                (TimelinePoint.CodingKeys.t.stringValue, .number(point.t)),
                (TimelinePoint.CodingKeys.connected.stringValue, .int(point.connected)),
            ]
            for (key, value) in point.optionalFields { members.append((key.stringValue, .number(value))) }
            return .object(members)
        }

        return .object([
            ("scenario", .string(scenario)),
            ("started_at", .string(startedAt)),
            ("duration_s", .number(durationSeconds)),
            ("seed", .uint(seed)),
            ("server_address", .string(server)),
            ("world", .string(world)),
            ("slo", .object([("passed", .bool(slo.passed)), ("failures", .strings(slo.failures))])),
            ("bot_saturated", .bool(botSaturated)),
            ("bots", .object([
                ("requested", .int(botsRequested)),
                ("connected", .int(botsConnected)),
                ("failed", .int(botsFailed)),
                ("failure_reasons", .object(reasons)),
            ])),
            ("connect_ms", pct(connectMs)),
            ("rtt_ms", pct(rttMs)),
            ("pose_latency_ms", pct(poseLatencyMs)),
            ("voice_latency_ms", pct(voiceLatencyMs)),
            ("voice_loss_pct", .number(voiceLossPercent)),
            ("voice_streams_per_listener", .object([("max", .number(voiceStreamsPerListenerMax))])),
            ("voice_frames", .object([
                ("received", .number(voiceFramesReceived)),
                ("late", .number(voiceFramesLate)),
                ("lost", .number(voiceFramesLost)),
            ])),
            ("voice_gaps", .object([
                ("count", .number(voiceGaps)),
                ("longest_frames", .number(voiceLongestGapFrames)),
            ])),
            ("voice_broadcast_reach_pct", .object([
                ("min", .number(voiceBroadcastReachMinPercent)),
                ("mean", .number(voiceBroadcastReachMeanPercent)),
            ])),
            ("down_kbps_per_bot", meanP99(downKbpsPerBot)),
            ("up_kbps_per_bot", meanP99(upKbpsPerBot)),
            ("down_datagrams_per_s_per_bot", mean(downDatagramsPerSecondPerBot)),
            ("up_datagrams_per_s_per_bot", mean(upDatagramsPerSecondPerBot)),
            ("pose_bytes", .object([
                ("delta_mean", .number(poseBytesDeltaMean)),
                ("absolute_mean", .number(poseBytesAbsoluteMean)),
                ("delta_span_inputs_mean", .number(poseDeltaSpanMean)),
            ])),
            ("snapshots_per_s_per_bot", mean(snapshotsPerSecondPerBot)),
            ("snapshot_gaps_per_bot_per_min", .number(snapshotGapsPerBotPerMinute)),
            ("server", .object([
                ("tick_ms", pct(serverTickMs)),
                ("tick_cpu_ms", pct(serverTickCpuMs)),
                ("cpu_cores", .number(serverCpuCores)),
                ("voice_cpu_cores", .number(serverVoiceCpuCores)),
                ("voice_added_ms", pct(serverVoiceAddedMs)),
                ("datagrams_in_per_s", .number(serverDatagramsInPerSecond)),
                ("datagrams_out_per_s", .number(serverDatagramsOutPerSecond)),
                ("tick_overruns", .number(serverTickOverruns)),
                ("socket_drops", .number(serverSocketDrops)),
                ("voice_frames_overflowed", .number(serverVoiceFramesOverflowed)),
            ])),
            ("bot", .object([
                ("cpu_cores", .number(botCpuCores)),
                ("send_lag_ms_max", .number(botSendLagMsMax)),
                ("saturation_reasons", .strings(botSaturationReasons)),
            ])),
            ("notes", .strings(notes)),
            ("timeline", .array(timelineNodes)),
        ])
    }

    // MARK: Decoding

    /// Reads a result file written by `jsonData()` (for `--compare`). `scenario`, `duration_s`,
    /// `bots.{requested,connected,failed}`, `bot_saturated` and `slo.passed` must be present; any other key may
    /// be missing (older files) and then reads as not measured / empty. Unknown keys are ignored.
    /// Throws `DecodingError` naming the offending key path.
    public static func decode(jsonData: Data) throws -> LoadReport {
        let file = try JSONDecoder().decode(ReportFile.self, from: jsonData)
        var r = LoadReport(
            scenario: file.scenario,
            durationSeconds: file.duration_s,
            startedAt: file.started_at ?? "",
            seed: file.seed ?? 0,
            server: file.server_address ?? "",
            world: file.world ?? "",
            botsRequested: file.bots.requested
        )
        r.botsConnected = file.bots.connected
        r.botsFailed = file.bots.failed
        r.failureReasons = file.bots.failure_reasons ?? [:]
        r.connectMs = file.connect_ms ?? Percentiles()
        r.rttMs = file.rtt_ms ?? Percentiles()
        r.poseLatencyMs = file.pose_latency_ms ?? Percentiles()
        r.voiceLatencyMs = file.voice_latency_ms ?? Percentiles()
        r.voiceLossPercent = file.voice_loss_pct
        r.voiceStreamsPerListenerMax = file.voice_streams_per_listener?.max
        r.voiceFramesReceived = file.voice_frames?.received
        r.voiceFramesLate = file.voice_frames?.late
        r.voiceFramesLost = file.voice_frames?.lost
        r.voiceGaps = file.voice_gaps?.count
        r.voiceLongestGapFrames = file.voice_gaps?.longest_frames
        r.voiceBroadcastReachMinPercent = file.voice_broadcast_reach_pct?.min
        r.voiceBroadcastReachMeanPercent = file.voice_broadcast_reach_pct?.mean
        r.downKbpsPerBot = file.down_kbps_per_bot ?? MeanP99()
        r.upKbpsPerBot = file.up_kbps_per_bot ?? MeanP99()
        r.downDatagramsPerSecondPerBot = file.down_datagrams_per_s_per_bot?.mean
        r.upDatagramsPerSecondPerBot = file.up_datagrams_per_s_per_bot?.mean
        r.poseBytesDeltaMean = file.pose_bytes?.delta_mean
        r.poseBytesAbsoluteMean = file.pose_bytes?.absolute_mean
        r.poseDeltaSpanMean = file.pose_bytes?.delta_span_inputs_mean
        r.snapshotsPerSecondPerBot = file.snapshots_per_s_per_bot?.mean
        r.snapshotGapsPerBotPerMinute = file.snapshot_gaps_per_bot_per_min
        r.serverTickMs = file.server?.tick_ms ?? Percentiles()
        r.serverTickCpuMs = file.server?.tick_cpu_ms ?? Percentiles()
        r.serverCpuCores = file.server?.cpu_cores
        r.serverVoiceCpuCores = file.server?.voice_cpu_cores
        r.serverVoiceAddedMs = file.server?.voice_added_ms ?? Percentiles()
        r.serverDatagramsInPerSecond = file.server?.datagrams_in_per_s
        r.serverDatagramsOutPerSecond = file.server?.datagrams_out_per_s
        r.serverTickOverruns = file.server?.tick_overruns
        r.serverSocketDrops = file.server?.socket_drops
        r.serverVoiceFramesOverflowed = file.server?.voice_frames_overflowed
        r.botSaturated = file.bot_saturated
        r.botSaturationReasons = file.bot?.saturation_reasons ?? []
        r.botCpuCores = file.bot?.cpu_cores
        r.botSendLagMsMax = file.bot?.send_lag_ms_max
        r.slo = SLOResult(passed: file.slo.passed, failures: file.slo.failures ?? [])
        r.timeline = file.timeline ?? []
        r.notes = file.notes ?? []
        return r
    }
}

/// Mirror of the JSON layout for decoding; property names are the JSON keys. Optionals decode missing or null
/// as nil.
private struct ReportFile: Decodable {
    struct Bots: Decodable {
        var requested: Int
        var connected: Int
        var failed: Int
        var failure_reasons: [String: Int]?
    }
    struct SLO: Decodable {
        var passed: Bool
        var failures: [String]?
    }
    struct Mean: Decodable { var mean: Double? }
    struct Max: Decodable { var max: Double? }
    struct VoiceFrames: Decodable {
        var received: Double?
        var late: Double?
        var lost: Double?
    }
    struct VoiceGaps: Decodable {
        var count: Double?
        var longest_frames: Double?
    }
    struct MinMean: Decodable {
        var min: Double?
        var mean: Double?
    }
    struct PoseBytes: Decodable {
        var delta_mean: Double?
        var absolute_mean: Double?
        var delta_span_inputs_mean: Double?
    }
    struct Server: Decodable {
        var tick_ms: Percentiles?
        var tick_cpu_ms: Percentiles?
        var cpu_cores: Double?
        var voice_cpu_cores: Double?
        var voice_added_ms: Percentiles?
        var datagrams_in_per_s: Double?
        var datagrams_out_per_s: Double?
        var tick_overruns: Double?
        var socket_drops: Double?
        var voice_frames_overflowed: Double?
    }
    struct Bot: Decodable {
        var cpu_cores: Double?
        var send_lag_ms_max: Double?
        var saturation_reasons: [String]?
    }

    var scenario: String
    var started_at: String?
    var duration_s: Double
    var seed: UInt64?
    var server_address: String?
    var world: String?
    var slo: SLO
    var bot_saturated: Bool
    var bots: Bots
    var connect_ms: Percentiles?
    var rtt_ms: Percentiles?
    var pose_latency_ms: Percentiles?
    var voice_latency_ms: Percentiles?
    var voice_loss_pct: Double?
    var voice_streams_per_listener: Max?
    var voice_frames: VoiceFrames?
    var voice_gaps: VoiceGaps?
    var voice_broadcast_reach_pct: MinMean?
    var down_kbps_per_bot: MeanP99?
    var up_kbps_per_bot: MeanP99?
    var down_datagrams_per_s_per_bot: Mean?
    var up_datagrams_per_s_per_bot: Mean?
    var pose_bytes: PoseBytes?
    var snapshots_per_s_per_bot: Mean?
    var snapshot_gaps_per_bot_per_min: Double?
    var server: Server?
    var bot: Bot?
    var notes: [String]?
    var timeline: [TimelinePoint]?
}
