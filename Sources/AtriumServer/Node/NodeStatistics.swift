import AtriumSecurity
/// An immutable picture of a node, published by its worker once per stats interval and read by anyone.
public struct NodeStatistics: Sendable, Equatable {
    public struct WorldLine: Sendable, Equatable {
        public var worldId: String
        /// 1 for the first instance of a world; more open as instances fill.
        public var instance: Int
        public var avatars: Int
        public var capacity: Int
    }

    public var uptimeSeconds: Double = 0
    public var ticks: UInt64 = 0
    /// Tick work (ingest to flush) over the last interval, in milliseconds.
    public var tickMillisP50: Double = 0
    public var tickMillisP99: Double = 0
    public var tickMillisMax: Double = 0
    /// The worker thread's CPU time per tick over the last interval, in milliseconds: the tick's work without
    /// the time it waited for a core (on a busy machine the wall-clock figures above include that wait).
    public var tickCpuMillisP50: Double = 0
    public var tickCpuMillisP99: Double = 0
    public var tickCpuMillisMax: Double = 0
    /// Ticks that started more than one period late since the node started.
    public var tickOverruns: UInt64 = 0
    /// Process CPU (user + system) over the last interval, in cores (1.0 = one core busy).
    public var cpuCores: Double = 0
    /// CPU of the worker thread alone (network and ticks), in cores.
    public var workerCpuCores: Double = 0
    public var sessions: Int = 0
    public var worlds: [WorldLine] = []
    public var datagramsInPerSecond: Double = 0
    public var datagramsOutPerSecond: Double = 0
    public var bytesInPerSecond: Double = 0
    public var bytesOutPerSecond: Double = 0
    public var totals = ShardCounters()
    /// Messages that could not be decoded, and sessions closed for protocol violations.
    public var malformedMessages: UInt64 = 0
    public var unexpectedMessages: UInt64 = 0
    /// Connect tokens refused (malformed, forged, expired, unknown key, reused) and connections dropped for
    /// presenting none in time.
    public var tokensRejected: UInt64 = 0
    public var tokenTimeouts: UInt64 = 0
    /// Packets of established sessions that did not open (forged, replayed, too old): dropped unanswered.
    public var unopenedPackets: UInt64 = 0
    /// Messages dropped by per-session rate limits.
    public var rateLimitedDrops: UInt64 = 0
    /// Datagrams the kernel dropped at the node's socket (receive buffer full: the worker fell behind reading
    /// it), since start; 0 where the kernel does not report it.
    public var socketDrops: UInt64 = 0
    /// What the admission filter let through or dropped before ENet (cookies, connect limits, malformed datagrams).
    public var admission = AdmissionFilter.Counters()
    /// Voice across all instances (totals since start, except the per-interval maximum and CPU).
    public var voice = VoiceCounters()
    /// Worker-thread CPU spent on voice routing, bundling and mixing over the last interval, in cores.
    public var voiceCpuCores: Double = 0
    /// Server-added voice latency over the last interval: for every relayed frame copy, from when the worker
    /// decoded the VOICE to when the flush that sent it returned. nil when no frame was relayed.
    public var voiceAddedMillis: Millis?

    /// Server-added voice latency since the node started, as counts of relayed frame copies per
    /// `voiceAddedBucketMicros` (index k: k·width ≤ latency < (k+1)·width; the last bucket holds everything
    /// from `voiceAddedBuckets`·width up). Cumulative, so a tool gets any window's exact distribution as the
    /// difference of two snapshots, however its samples line up with the intervals.
    public var voiceAddedCounts: [UInt64] = []
    public static let voiceAddedBucketMicros: UInt64 = 250
    /// Buckets below the overflow bucket: 0…100 ms.
    public static let voiceAddedBuckets = 400

    /// p50, p99 and max of a latency, in milliseconds.
    public struct Millis: Sendable, Equatable {
        public var p50: Double
        public var p99: Double
        public var max: Double
    }

    public init() {}

    public var avatars: Int { worlds.reduce(0) { $0 + $1.avatars } }
}

import Logging

extension NodeStatistics {
    var logMetadata: Logger.Metadata {
        [
            "sessions": "\(sessions)", "avatars": "\(avatars)",
            "tick_ms_p50": "\(tickMillisP50)", "tick_ms_p99": "\(tickMillisP99)",
            "overruns": "\(tickOverruns)", "cpu_cores": "\((cpuCores * 100).rounded() / 100)",
            "dgram_in_s": "\(Int(datagramsInPerSecond))", "dgram_out_s": "\(Int(datagramsOutPerSecond))",
            "socket_drops": "\(socketDrops)",
        ]
    }
}
