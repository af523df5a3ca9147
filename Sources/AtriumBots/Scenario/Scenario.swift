import AtriumBehaviours
import AtriumReport
import AtriumTransport
import AtriumWire
import AtriumYAML

/// A load-test scenario: which server, which world, how many bots doing what, for how long, under which
/// network conditions, and which limits decide pass or fail. Format: docs/LOADTESTS.md.
public struct Scenario: Sendable {
    public enum Target: Sendable, Equatable {
        /// An already running server.
        case remote(TransportAddress)
        /// Start a node in this process on a free loopback port, from this configuration file (or defaults).
        case local(configPath: String?)
    }

    public var name: String
    public var description: String
    public var target: Target
    public var world: String
    /// The world file the bots read zones from; default `Worlds/<world>.yaml`.
    public var worldFile: String
    public var bots: Int
    public var rampPerSecond: Double
    public var durationSeconds: Double
    public var seed: UInt64
    public var poseRateHz: Double
    public var behaviours: [BehaviourShare]
    public var voiceDutyCycle: Double
    /// How many bots (spread over the run like measuring bots) ask the server for its mix (VOICE_SETUP mix)
    /// instead of relayed streams.
    public var voiceMixListeners: Int
    public var impairment: Impairment?
    public var slo: [SLOThreshold]
    public var connectTimeoutSeconds: Double
    /// How many bots decode every snapshot for latency figures; the rest count and acknowledge only.
    public var measuringBots: Int
    /// A remote node's `GET /v1/stats` URL (docs/ADMIN.md), for server-side figures.
    public var statsURL: String?
    /// A remote node's POST /v1/join URL; default: the stats URL's host with /v1/join, else port 7780 of the
    /// server's host.
    public var joinURL: String?
    /// How many times to run again when a run failed an SLO while the tool itself saturated: such a run measured
    /// a machine that could not keep the bots' schedule, not the server.
    public var saturationRetries: Int

    /// The join endpoint of a remote target (see `joinURL`).
    public var effectiveJoinURL: String? {
        guard case .remote(let address) = target else { return nil }
        if let joinURL { return joinURL }
        if let statsURL, statsURL.hasSuffix("/v1/stats") { return String(statsURL.dropLast("/v1/stats".count)) + "/v1/join" }
        return "http://\(address.host):7780/v1/join"
    }

    public init(name: String, world: String, bots: Int, target: Target) {
        self.name = name
        self.description = ""
        self.target = target
        self.world = world
        self.worldFile = "Worlds/\(world).yaml"
        self.bots = bots
        self.rampPerSecond = 100
        self.durationSeconds = 60
        self.seed = 1
        self.poseRateHz = 30
        self.behaviours = [BehaviourShare(kind: .wander, weight: 1)]
        self.voiceDutyCycle = 0
        self.voiceMixListeners = 0
        self.impairment = nil
        self.slo = []
        self.connectTimeoutSeconds = 10
        self.measuringBots = 200
        self.statsURL = nil
        self.joinURL = nil
        self.saturationRetries = 0
    }
}

/// One behaviour and its share of the bots.
public struct BehaviourShare: Sendable, Equatable {
    public var kind: BehaviourKind
    public var weight: Double

    public init(kind: BehaviourKind, weight: Double) {
        self.kind = kind
        self.weight = weight
    }
}

extension Scenario {
    static let topKeys: Set<String> = [
        "name", "description", "server", "world", "world_file", "bots", "ramp_per_s", "duration_s", "seed",
        "pose_rate_hz", "behaviours", "voice", "impairment", "slo", "connect_timeout_s", "measuring_bots",
        "saturation_retries",
    ]

    /// Parses and validates a scenario; every problem names file and line.
    public static func parse(_ text: String, file: String) throws(DocumentError) -> Scenario {
        let root = try YAMLDocument.parse(text, file: file).mapping(allowedKeys: topKeys)
        let name = try root.required("name").string()
        let world = try root.required("world").string()
        guard WireLimits.isValidWorldId(world) else {
            throw try root.required("world").error("'\(world)' is not a valid world id ([a-z0-9-], 1–64)")
        }
        let bots = try root.required("bots").int(in: 1...20_000)
        let server = try root.required("server")
        let target = try parseTarget(server)
        var scenario = Scenario(name: name, world: world, bots: bots, target: target)
        if let stats = try server.mapping(allowedKeys: serverKeys).optional("stats_url") {
            let text = try stats.string()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw stats.error("'\(text)' is not an http:// or https:// URL")
            }
            guard case .remote = target else { throw stats.error("stats_url applies to a remote server") }
            scenario.statsURL = text
        }
        if let join = try server.mapping(allowedKeys: serverKeys).optional("join_url") {
            let text = try join.string()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw join.error("'\(text)' is not an http:// or https:// URL")
            }
            guard case .remote = target else { throw join.error("join_url applies to a remote server") }
            scenario.joinURL = text
        }
        if let v = root.optional("description") { scenario.description = try v.string() }
        if let v = root.optional("world_file") { scenario.worldFile = try v.string() }
        if let v = root.optional("ramp_per_s") { scenario.rampPerSecond = try v.double(in: 0.1...100_000) }
        if let v = root.optional("duration_s") { scenario.durationSeconds = try v.double(in: 1...86_400) }
        if let v = root.optional("seed") { scenario.seed = UInt64(try v.int(in: 0...Int.max)) }
        if let v = root.optional("pose_rate_hz") { scenario.poseRateHz = try v.double(in: 1...90) }
        if let v = root.optional("connect_timeout_s") { scenario.connectTimeoutSeconds = try v.double(in: 0.5...120) }
        if let v = root.optional("measuring_bots") { scenario.measuringBots = try v.int(in: 0...20_000) }
        if let v = root.optional("saturation_retries") { scenario.saturationRetries = try v.int(in: 0...5) }
        if let v = root.optional("behaviours") { scenario.behaviours = try parseBehaviours(v) }
        if let v = root.optional("voice") {
            let voice = try v.mapping(allowedKeys: ["duty_cycle", "mix_listeners"])
            if let d = voice.optional("duty_cycle") { scenario.voiceDutyCycle = try d.double(in: 0...1) }
            if let m = voice.optional("mix_listeners") {
                scenario.voiceMixListeners = try m.int(in: 0...20_000)
                guard scenario.voiceMixListeners <= bots else {
                    throw m.error("mix_listeners (\(scenario.voiceMixListeners)) cannot exceed bots (\(bots))")
                }
            }
        }
        if let v = root.optional("impairment") { scenario.impairment = try parseImpairment(v, seed: scenario.seed) }
        if let v = root.optional("slo") { scenario.slo = try parseSLO(v) }
        return scenario
    }

    static let serverKeys: Set<String> = ["address", "local", "config", "stats_url", "join_url"]

    static func parseTarget(_ value: YAMLValue) throws(DocumentError) -> Target {
        let map = try value.mapping(allowedKeys: serverKeys)
        let address = map.optional("address")
        let local = try map.optional("local")?.bool() ?? false
        switch (address, local) {
        case (let address?, false):
            let text = try address.string()
            guard let parsed = TransportAddress.parse(text) else {
                throw address.error("'\(text)' is not host:port")
            }
            if map.optional("config") != nil { throw value.error("'config' applies only to a local server") }
            return .remote(parsed)
        case (nil, true):
            return .local(configPath: try map.optional("config")?.string())
        case (.some, true):
            throw value.error("give either 'address' or 'local: true', not both")
        case (nil, false):
            throw value.error("give 'address: host:port' or 'local: true'")
        }
    }

    static func parseBehaviours(_ value: YAMLValue) throws(DocumentError) -> [BehaviourShare] {
        let allowed = Set(BehaviourKind.allCases.map(\.rawValue))
        let map = try value.mapping(allowedKeys: allowed)
        var shares: [BehaviourShare] = []
        for key in map.keys {
            guard let kind = BehaviourKind(rawValue: key), let weight = map.optional(key) else { continue }
            shares.append(BehaviourShare(kind: kind, weight: try weight.double(in: 0...1_000_000)))
        }
        guard shares.contains(where: { $0.weight > 0 }) else {
            throw value.error("at least one behaviour needs a weight above 0")
        }
        return shares
    }

    static func parseImpairment(_ value: YAMLValue, seed: UInt64) throws(DocumentError) -> Impairment {
        let map = try value.mapping(allowedKeys: ["loss_pct", "latency_ms", "jitter_ms", "duplicate_pct", "reorder_pct"])
        func number(_ key: String, _ range: ClosedRange<Double>) throws(DocumentError) -> Double {
            try map.optional(key)?.double(in: range) ?? 0
        }
        let latency = try number("latency_ms", 0...10_000)
        let jitter = try number("jitter_ms", 0...10_000)
        if jitter > latency, let j = map.optional("jitter_ms") {
            throw j.error("jitter (\(jitter) ms) cannot exceed latency (\(latency) ms): delays would be negative")
        }
        return Impairment(
            lossPercent: try number("loss_pct", 0...100), latencyMs: latency, jitterMs: jitter,
            duplicatePercent: try number("duplicate_pct", 0...100), reorderPercent: try number("reorder_pct", 0...100),
            seed: seed)
    }

    static func parseSLO(_ value: YAMLValue) throws(DocumentError) -> [SLOThreshold] {
        let known = LoadReport.knownMetricKeys
        let map = try value.mapping(allowedKeys: known)
        var thresholds: [SLOThreshold] = []
        for key in map.keys {
            guard let entry = map.optional(key) else { continue }
            let limits = try entry.mapping(allowedKeys: ["min", "max"])
            let min = try limits.optional("min")?.double()
            let max = try limits.optional("max")?.double()
            guard min != nil || max != nil else { throw entry.error("give 'min', 'max' or both") }
            if let min, let max, min > max { throw entry.error("min \(min) is above max \(max)") }
            thresholds.append(SLOThreshold(metric: key, min: min, max: max))
        }
        return thresholds
    }
}
