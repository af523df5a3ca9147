import Foundation

/// The stats endpoint's JSON (documented in docs/ADMIN.md): snake_case, stable field names.
struct StatisticsDocument: Codable, Equatable {
    struct Tick: Codable, Equatable {
        var p50: Double
        var p99: Double
        var max: Double
    }

    /// Counts per fixed-width latency bucket since the node started, trailing empty buckets left out.
    struct Buckets: Codable, Equatable {
        var bucket_us: UInt64
        var counts: [UInt64]
    }

    struct World: Codable, Equatable {
        var world: String
        var instance: Int
        var avatars: Int
        var capacity: Int
    }

    struct Counters: Codable, Equatable {
        var inputs_applied: UInt64
        var inputs_stale: UInt64
        var inputs_rubber_banded: UInt64
        var inputs_out_of_reach: UInt64
        var snapshots_sent: UInt64
        var snapshot_datagrams: UInt64
        var snapshot_bytes: UInt64
        var chat_relayed: UInt64
        var avatars_deferred_by_budget: UInt64
        var avatars_deferred_by_rate: UInt64
        var malformed_messages: UInt64
        var unexpected_messages: UInt64
        var tokens_rejected: UInt64
        var token_timeouts: UInt64
        var unopened_packets: UInt64
        var rate_limited_drops: UInt64
        var socket_drops: UInt64
        var voice_frames_received: UInt64
        var voice_frames_invalid: UInt64
        var voice_frames_muted: UInt64
        var voice_frames_forwarded: UInt64
        var voice_bundles_sent: UInt64
        var voice_frames_overflowed: UInt64
        var voice_mixed_frames: UInt64
        var cookie_requests: UInt64
        var connects_admitted: UInt64
        var connects_without_cookie: UInt64
        var connects_refused: UInt64
        var datagrams_rejected: UInt64
    }

    var uptime_s: Double
    var ticks: UInt64
    var tick_ms: Tick
    var tick_cpu_ms: Tick
    var tick_overruns: UInt64
    var cpu_cores: Double
    var worker_cpu_cores: Double
    var voice_cpu_cores: Double
    var voice_max_streams_per_listener: Int
    /// Absent when no voice frame was relayed in the interval.
    var voice_added_ms: Tick?
    /// Absent until a voice frame was relayed.
    var voice_added_since_start: Buckets?
    var sessions: Int
    var avatars: Int
    var datagrams_in_per_s: Double
    var datagrams_out_per_s: Double
    var bytes_in_per_s: Double
    var bytes_out_per_s: Double
    var worlds: [World]
    var counters: Counters

    init(_ s: NodeStatistics) {
        uptime_s = s.uptimeSeconds
        ticks = s.ticks
        tick_ms = Tick(p50: s.tickMillisP50, p99: s.tickMillisP99, max: s.tickMillisMax)
        tick_cpu_ms = Tick(p50: s.tickCpuMillisP50, p99: s.tickCpuMillisP99, max: s.tickCpuMillisMax)
        tick_overruns = s.tickOverruns
        cpu_cores = s.cpuCores
        worker_cpu_cores = s.workerCpuCores
        voice_cpu_cores = s.voiceCpuCores
        voice_max_streams_per_listener = s.voice.maxStreamsPerListener
        voice_added_ms = s.voiceAddedMillis.map { Tick(p50: $0.p50, p99: $0.p99, max: $0.max) }
        if let last = s.voiceAddedCounts.lastIndex(where: { $0 > 0 }) {
            voice_added_since_start = Buckets(
                bucket_us: NodeStatistics.voiceAddedBucketMicros, counts: Array(s.voiceAddedCounts[...last]))
        }
        sessions = s.sessions
        avatars = s.avatars
        datagrams_in_per_s = s.datagramsInPerSecond
        datagrams_out_per_s = s.datagramsOutPerSecond
        bytes_in_per_s = s.bytesInPerSecond
        bytes_out_per_s = s.bytesOutPerSecond
        worlds = s.worlds.map { World(world: $0.worldId, instance: $0.instance, avatars: $0.avatars, capacity: $0.capacity) }
        let t = s.totals
        counters = Counters(
            inputs_applied: t.inputsApplied, inputs_stale: t.inputsStale, inputs_rubber_banded: t.inputsRubberBanded,
            inputs_out_of_reach: t.inputsOutOfReach, snapshots_sent: t.snapshotsSent,
            snapshot_datagrams: t.snapshotDatagrams, snapshot_bytes: t.snapshotBytes, chat_relayed: t.chatRelayed,
            avatars_deferred_by_budget: t.deferredByBudget, avatars_deferred_by_rate: t.deferredByRate,
            malformed_messages: s.malformedMessages, unexpected_messages: s.unexpectedMessages,
            tokens_rejected: s.tokensRejected, token_timeouts: s.tokenTimeouts, unopened_packets: s.unopenedPackets,
            rate_limited_drops: s.rateLimitedDrops, socket_drops: s.socketDrops, voice_frames_received: s.voice.framesReceived,
            voice_frames_invalid: s.voice.framesInvalid, voice_frames_muted: s.voice.framesMuted,
            voice_frames_forwarded: s.voice.framesForwarded, voice_bundles_sent: s.voice.bundlesSent,
            voice_frames_overflowed: s.voice.framesOverflowed, voice_mixed_frames: s.voice.mixedFrames, cookie_requests: s.admission.cookieRequests,
            connects_admitted: s.admission.connectsAdmitted, connects_without_cookie: s.admission.connectsWithoutCookie,
            connects_refused: s.admission.connectsRefused,
            datagrams_rejected: s.admission.inspectorRejections.values.reduce(0, +))
    }

    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain numbers and strings cannot fail.
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
