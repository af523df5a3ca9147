// AtriumReport: load-test results — the model the runner fills in, SLO checks, and the JSON, text and HTML
// renderings. Pure: no I/O, no clock. A `nil` measurement means "not measured"; non-finite values (NaN, ±inf)
// are treated as not measured everywhere (JSON null, absent from `metrics`, "—" in tables, gaps in charts).

/// Latency-style distribution summary. `nil` = not measured.
public struct Percentiles: Sendable, Equatable, Codable {
    public var p50: Double?
    public var p99: Double?
    public var max: Double?

    public init(p50: Double? = nil, p99: Double? = nil, max: Double? = nil) {
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }

    private enum CodingKeys: String, CodingKey { case p50, p99, max }

    // Explicit so that unmeasured values are written as null rather than omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(p50.finiteOrNil, forKey: .p50)
        try c.encode(p99.finiteOrNil, forKey: .p99)
        try c.encode(max.finiteOrNil, forKey: .max)
    }
}

/// Mean and 99th percentile of a per-bot rate. `nil` = not measured.
public struct MeanP99: Sendable, Equatable, Codable {
    public var mean: Double?
    public var p99: Double?

    public init(mean: Double? = nil, p99: Double? = nil) {
        self.mean = mean
        self.p99 = p99
    }

    private enum CodingKeys: String, CodingKey { case mean, p99 }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mean.finiteOrNil, forKey: .mean)
        try c.encode(p99.finiteOrNil, forKey: .p99)
    }
}

/// One sample per second of the run. Latencies in ms, bandwidth in kbit/s per bot, CPU in cores.
public struct TimelinePoint: Sendable, Equatable, Codable {
    public var t: Double
    public var connected: Int
    public var rttP50: Double?
    public var rttP99: Double?
    public var poseP50: Double?
    public var poseP99: Double?
    public var voiceP50: Double?
    public var voiceP99: Double?
    public var downKbpsPerBot: Double?
    public var upKbpsPerBot: Double?
    public var serverTickP50: Double?
    public var serverTickP99: Double?
    public var serverCpuCores: Double?
    public var botSendLagMs: Double?
    public var botCpuCores: Double?

    public init(
        t: Double, connected: Int,
        rttP50: Double? = nil, rttP99: Double? = nil,
        poseP50: Double? = nil, poseP99: Double? = nil,
        voiceP50: Double? = nil, voiceP99: Double? = nil,
        downKbpsPerBot: Double? = nil, upKbpsPerBot: Double? = nil,
        serverTickP50: Double? = nil, serverTickP99: Double? = nil, serverCpuCores: Double? = nil,
        botSendLagMs: Double? = nil, botCpuCores: Double? = nil
    ) {
        self.t = t
        self.connected = connected
        self.rttP50 = rttP50
        self.rttP99 = rttP99
        self.poseP50 = poseP50
        self.poseP99 = poseP99
        self.voiceP50 = voiceP50
        self.voiceP99 = voiceP99
        self.downKbpsPerBot = downKbpsPerBot
        self.upKbpsPerBot = upKbpsPerBot
        self.serverTickP50 = serverTickP50
        self.serverTickP99 = serverTickP99
        self.serverCpuCores = serverCpuCores
        self.botSendLagMs = botSendLagMs
        self.botCpuCores = botCpuCores
    }

    /// The JSON keys of a timeline object (snake_case of the property names), in output order.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case t, connected
        case rttP50 = "rtt_p50", rttP99 = "rtt_p99"
        case poseP50 = "pose_p50", poseP99 = "pose_p99"
        case voiceP50 = "voice_p50", voiceP99 = "voice_p99"
        case downKbpsPerBot = "down_kbps_per_bot", upKbpsPerBot = "up_kbps_per_bot"
        case serverTickP50 = "server_tick_p50", serverTickP99 = "server_tick_p99"
        case serverCpuCores = "server_cpu_cores"
        case botSendLagMs = "bot_send_lag_ms"
        case botCpuCores = "bot_cpu_cores"
    }

    /// The optional measurements, keyed like the JSON, in output order.
    var optionalFields: [(key: CodingKeys, value: Double?)] {
        [
            (.rttP50, rttP50), (.rttP99, rttP99), (.poseP50, poseP50), (.poseP99, poseP99),
            (.voiceP50, voiceP50), (.voiceP99, voiceP99),
            (.downKbpsPerBot, downKbpsPerBot), (.upKbpsPerBot, upKbpsPerBot),
            (.serverTickP50, serverTickP50), (.serverTickP99, serverTickP99), (.serverCpuCores, serverCpuCores),
            (.botSendLagMs, botSendLagMs), (.botCpuCores, botCpuCores),
        ]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(t, forKey: .t)
        try c.encode(connected, forKey: .connected)
        for (key, value) in optionalFields { try c.encode(value.finiteOrNil, forKey: key) }
    }
}

/// Everything one load-test run measured, plus its SLO verdict.
public struct LoadReport: Sendable, Equatable {
    // Identity
    public var scenario: String
    public var durationSeconds: Double
    /// ISO-8601 UTC, e.g. "2026-11-21T10:00:00Z".
    public var startedAt: String
    public var seed: UInt64
    /// The server address the bots connected to.
    public var server: String
    public var world: String

    // Bots
    public var botsRequested: Int
    public var botsConnected: Int
    public var botsFailed: Int
    public var failureReasons: [String: Int]

    // Latency, ms
    public var connectMs: Percentiles
    public var rttMs: Percentiles
    public var poseLatencyMs: Percentiles
    public var voiceLatencyMs: Percentiles

    // Voice
    public var voiceLossPercent: Double?
    public var voiceStreamsPerListenerMax: Double?
    /// Frame counts over every measured voice stream of the run (each listener's jitter buffer per speaker):
    /// frames that arrived in time, that arrived after their playout time, that never came (concealed).
    public var voiceFramesReceived: Double?
    public var voiceFramesLate: Double?
    public var voiceFramesLost: Double?
    /// Runs of consecutive lost frames (each one an audible dropout), and the longest run, in frames.
    public var voiceGaps: Double?
    public var voiceLongestGapFrames: Double?
    /// Per broadcast talk spurt, the percentage of measuring listeners in its reach (by the routing rules) that
    /// received at least one of its frames: the lowest and the mean over the spurts.
    public var voiceBroadcastReachMinPercent: Double?
    public var voiceBroadcastReachMeanPercent: Double?

    // Bandwidth and delivery, per bot
    public var downKbpsPerBot: MeanP99
    public var upKbpsPerBot: MeanP99
    public var downDatagramsPerSecondPerBot: Double?
    public var upDatagramsPerSecondPerBot: Double?
    public var poseBytesDeltaMean: Double?
    public var poseBytesAbsoluteMean: Double?
    /// Mean pose periods a delta spans: the avatar's input sequence in the update minus in its baseline. Deltas
    /// grow with it (far avatars are refreshed less often; acknowledgements take a round trip).
    public var poseDeltaSpanMean: Double?
    public var snapshotsPerSecondPerBot: Double?
    public var snapshotGapsPerBotPerMinute: Double?

    // Server
    /// p50 and p99; max optional.
    public var serverTickMs: Percentiles
    /// The worker thread's CPU time per tick (same aggregation as `serverTickMs`): tick work without waiting for a core.
    public var serverTickCpuMs: Percentiles
    public var serverCpuCores: Double?
    public var serverVoiceCpuCores: Double?
    /// Server-added voice latency (the node's own measure: VOICE decoded → the flush that sent it), ms.
    public var serverVoiceAddedMs: Percentiles
    public var serverDatagramsInPerSecond: Double?
    public var serverDatagramsOutPerSecond: Double?
    public var serverTickOverruns: Double?
    /// Datagrams the kernel dropped at the node's socket during the run (its receive buffer was full).
    public var serverSocketDrops: Double?
    /// Voice frames the node dropped from speakers' queues over 120 ms during the run.
    public var serverVoiceFramesOverflowed: Double?

    // The tool itself
    public var botSaturated: Bool
    public var botSaturationReasons: [String]
    public var botCpuCores: Double?
    public var botSendLagMsMax: Double?

    public var slo: SLOResult
    public var timeline: [TimelinePoint]
    public var notes: [String]

    /// Identity only: every measurement nil or empty, no bots connected or failed, not saturated, SLO passed.
    public init(
        scenario: String,
        durationSeconds: Double = 0,
        startedAt: String = "",
        seed: UInt64 = 0,
        server: String = "",
        world: String = "",
        botsRequested: Int = 0
    ) {
        self.scenario = scenario
        self.durationSeconds = durationSeconds
        self.startedAt = startedAt
        self.seed = seed
        self.server = server
        self.world = world
        self.botsRequested = botsRequested
        self.botsConnected = 0
        self.botsFailed = 0
        self.failureReasons = [:]
        self.connectMs = Percentiles()
        self.rttMs = Percentiles()
        self.poseLatencyMs = Percentiles()
        self.voiceLatencyMs = Percentiles()
        self.voiceLossPercent = nil
        self.voiceStreamsPerListenerMax = nil
        self.voiceFramesReceived = nil
        self.voiceFramesLate = nil
        self.voiceFramesLost = nil
        self.voiceGaps = nil
        self.voiceLongestGapFrames = nil
        self.voiceBroadcastReachMinPercent = nil
        self.voiceBroadcastReachMeanPercent = nil
        self.downKbpsPerBot = MeanP99()
        self.upKbpsPerBot = MeanP99()
        self.downDatagramsPerSecondPerBot = nil
        self.upDatagramsPerSecondPerBot = nil
        self.poseBytesDeltaMean = nil
        self.poseBytesAbsoluteMean = nil
        self.poseDeltaSpanMean = nil
        self.snapshotsPerSecondPerBot = nil
        self.snapshotGapsPerBotPerMinute = nil
        self.serverTickMs = Percentiles()
        self.serverTickCpuMs = Percentiles()
        self.serverCpuCores = nil
        self.serverVoiceCpuCores = nil
        self.serverVoiceAddedMs = Percentiles()
        self.serverDatagramsInPerSecond = nil
        self.serverDatagramsOutPerSecond = nil
        self.serverTickOverruns = nil
        self.serverSocketDrops = nil
        self.serverVoiceFramesOverflowed = nil
        self.botSaturated = false
        self.botSaturationReasons = []
        self.botCpuCores = nil
        self.botSendLagMsMax = nil
        self.slo = SLOResult()
        self.timeline = []
        self.notes = []
    }
}

/// One SLO bound on a metric, named by its dotted JSON key (see `LoadReport.knownMetricKeys`).
/// Both bounds are inclusive: a value equal to `min` or `max` passes.
public struct SLOThreshold: Sendable, Equatable {
    public var metric: String
    public var min: Double?
    public var max: Double?

    public init(metric: String, min: Double? = nil, max: Double? = nil) {
        self.metric = metric
        self.min = min
        self.max = max
    }

    /// Same as `LoadReport.knownMetricKeys`.
    public static var knownMetricKeys: Set<String> { LoadReport.knownMetricKeys }
}

public struct SLOResult: Sendable, Equatable {
    public var passed: Bool
    /// Human-readable, e.g. "pose_latency_ms.p99 = 91.2 > max 76.7".
    public var failures: [String]

    public init(passed: Bool = true, failures: [String] = []) {
        self.passed = passed
        self.failures = failures
    }
}

extension Optional where Wrapped == Double {
    /// The value if it is a finite number, otherwise nil.
    var finiteOrNil: Double? {
        guard let v = self, v.isFinite else { return nil }
        return v
    }
}
