import AtriumWorld
/// Everything an operator can set on a node. Defaults are the embedded configuration that `make run` uses
/// when no file is given; every key is documented in docs/CONFIGURATION.md (a test keeps the two in step).
public struct ServerConfiguration: Sendable, Equatable {
    public var port: Int = 7777
    public var bindAddress: String = "127.0.0.1"
    public var worldsDirectory: String = "Worlds"
    public var maxClients: Int = 4000
    public var helloTimeoutMs: Int = 5000
    public var peerTimeoutMs: Int = 10000
    public var shutdownGraceMs: Int = 2000
    public var logLevel: LogLevel = .info
    public var snapshotMaxBytes: Int = 1200
    public var maxSpeedMetresPerSecond: Double = 10
    public var maxReachMetres: Double = 1.0
    public var statsIntervalMs: Int = 1000
    public var maxInstancesPerWorld: Int = 64
    public var adminPort: Int = 7780
    public var interestMode: InterestSettings.Mode = .spatial
    public var bandwidthKbps: Int = 256
    public var maxFullRateAvatars: Int = 64
    public var interestLeaveMarginMetres: Double = 2
    public var maxRelevantAvatars: Int = 128
    /// Rate tiers' send threshold (InterestSettings.sendThreshold); 0 = every changed avatar every tick.
    public var interestSendThreshold: Double = Double(PriorityWeights.standard.defaultSendThreshold)
    public var adminBindAddress: String = "127.0.0.1"
    // Security (issue #5; docs/PROTOCOL.md §18).
    /// "development" or `keyId:secret` pairs (hex or base64 secrets; the highest id issues).
    public var tokenKeys: String = "development"
    public var allowDevelopmentKeys: Bool = false
    /// The organizer API key that authorizes POST /v1/join; "development" = `atrium-development-organizer-key`.
    public var joinApiKey: String = "development"
    public var tokenLifetimeSeconds: Int = 60
    public var tokenDeadlineMs: Int = 2000
    /// "host:port" written into tokens; "auto" = the bind address (loopback for 0.0.0.0) and bound port.
    public var publicAddress: String = "auto"
    /// Directory of the daily security log files; "off" disables the security log.
    public var securityLogDirectory: String = "logs/security"
    public var securityLogRetentionDays: Int = 30
    public var ratePosesPerSecond: Double = 120
    public var rateVoiceFramesPerSecond: Double = 60
    public var rateVoiceKbps: Double = 64
    public var rateChatBurst: Double = 5
    public var rateChatPerSecond: Double = 1
    /// ENet peers one IPv4 address may hold at once (ENet compares the address, not the port).
    public var peersPerAddress: Int = 4095
    /// Kernel receive/send buffer asked for the node's UDP socket (bytes): one tick's flush to every client
    /// must fit, or the kernel drops datagrams.
    public var socketBufferBytes: Int = 8 * 1024 * 1024
    public var connectLimitAttempts: Int = 10
    public var connectLimitWindowSeconds: Int = 120
    public var connectBanSeconds: Int = 300
    /// Comma-separated IPv4 addresses never connect-limited; "none" for none.
    public var connectLimitExempt: String = "127.0.0.1"
    // Voice (issue #6; docs/PROTOCOL.md §17).
    public var voiceMaxStreams: Int = 8
    public var voiceMixCapacity: Int = 100
    /// Voice flush points per tick at most: the tick and this many − 1 between ticks (PROTOCOL.md §17.3); more
    /// than 2 only while ticks take under a quarter of the period.
    public var voiceFlushesPerTick: Int = 3

    public init() {}

    public enum LogLevel: String, CaseIterable, Sendable {
        case trace, debug, info, notice, warning, error, critical
    }
}

/// One documented configuration key: its name in each source, its type and range, and how it is applied.
public struct ConfigurationKey: Sendable {
    /// The key in a configuration file, e.g. `bind_address`.
    public let name: String
    public let type: String
    public let defaultValue: String
    public let range: String
    public let summary: String
    let apply: @Sendable (inout ServerConfiguration, String) throws(ConfigurationValueError) -> Void

    /// `ATRIUM_BIND_ADDRESS`
    public var environmentName: String { "ATRIUM_" + name.uppercased() }
    /// `--bind-address`
    public var flagName: String { "--" + name.replacingUnderscores(with: "-") }
}

/// Why a raw value was refused; the loader adds the key and where the value came from.
public struct ConfigurationValueError: Error, Sendable {
    public let message: String
}

extension String {
    func replacingUnderscores(with replacement: Character) -> String {
        String(map { $0 == "_" ? replacement : $0 })
    }
}

extension ConfigurationKey {
    static func integer(
        _ name: String, _ keyPath: WritableKeyPath<ServerConfiguration, Int> & Sendable,
        range: ClosedRange<Int>, summary: String
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, type: "integer", defaultValue: String(ServerConfiguration()[keyPath: keyPath]),
            range: "\(range.lowerBound)…\(range.upperBound)", summary: summary
        ) { config, raw throws(ConfigurationValueError) in
            guard let value = Int(raw.trimmed) else {
                throw ConfigurationValueError(message: "'\(raw)' is not a whole number")
            }
            guard range.contains(value) else {
                throw ConfigurationValueError(
                    message: "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
            }
            config[keyPath: keyPath] = value
        }
    }

    static func number(
        _ name: String, _ keyPath: WritableKeyPath<ServerConfiguration, Double> & Sendable,
        range: ClosedRange<Double>, summary: String
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, type: "number", defaultValue: ServerConfiguration()[keyPath: keyPath].shortText,
            range: "\(range.lowerBound.shortText)…\(range.upperBound.shortText)", summary: summary
        ) { config, raw throws(ConfigurationValueError) in
            guard let value = Double(raw.trimmed), value.isFinite else {
                throw ConfigurationValueError(message: "'\(raw)' is not a number")
            }
            guard range.contains(value) else {
                throw ConfigurationValueError(
                    message: "\(raw.trimmed) is out of range \(range.lowerBound.shortText)…\(range.upperBound.shortText)")
            }
            config[keyPath: keyPath] = value
        }
    }

    static func text(
        _ name: String, _ keyPath: WritableKeyPath<ServerConfiguration, String> & Sendable, summary: String
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, type: "string", defaultValue: ServerConfiguration()[keyPath: keyPath],
            range: "non-empty", summary: summary
        ) { config, raw throws(ConfigurationValueError) in
            let value = raw.trimmed
            guard !value.isEmpty else { throw ConfigurationValueError(message: "must not be empty") }
            config[keyPath: keyPath] = value
        }
    }

    static func boolean(
        _ name: String, _ keyPath: WritableKeyPath<ServerConfiguration, Bool> & Sendable, summary: String
    ) -> ConfigurationKey {
        ConfigurationKey(
            name: name, type: "boolean", defaultValue: String(ServerConfiguration()[keyPath: keyPath]),
            range: "true | false", summary: summary
        ) { config, raw throws(ConfigurationValueError) in
            switch raw.trimmed.lowercased() {
            case "true", "yes", "1": config[keyPath: keyPath] = true
            case "false", "no", "0": config[keyPath: keyPath] = false
            default: throw ConfigurationValueError(message: "'\(raw)' is not true or false")
            }
        }
    }

    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<ServerConfiguration, E> & Sendable, summary: String
    ) -> ConfigurationKey where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        return ConfigurationKey(
            name: name, type: "enum", defaultValue: ServerConfiguration()[keyPath: keyPath].rawValue,
            range: allowed.joined(separator: " | "), summary: summary
        ) { config, raw throws(ConfigurationValueError) in
            guard let value = E(rawValue: raw.trimmed) else {
                throw ConfigurationValueError(
                    message: "'\(raw)' is not one of \(allowed.joined(separator: ", "))")
            }
            config[keyPath: keyPath] = value
        }
    }
}

extension ServerConfiguration {
    /// The interest and snapshot settings every shard of this node uses.
    public var interest: InterestSettings {
        var settings = InterestSettings()
        settings.mode = interestMode
        settings.bandwidthKbps = bandwidthKbps
        settings.maxFullRateAvatars = maxFullRateAvatars
        settings.leaveMarginMetres = Float(interestLeaveMarginMetres)
        settings.maxRelevantAvatars = maxRelevantAvatars
        settings.sendThreshold = Float(interestSendThreshold)
        return settings
    }

    /// Voice routing settings every shard starts from (the hearing radius is each world's interest radius).
    public var voiceRouting: VoiceRoutingSettings {
        var settings = VoiceRoutingSettings()
        settings.maxStreams = voiceMaxStreams
        return settings
    }

    /// Every key, in the order docs/CONFIGURATION.md lists them.
    public static let keys: [ConfigurationKey] = [
        .integer("port", \.port, range: 0...65535, summary: "UDP port the node listens on; 0 picks a free port."),
        .text("bind_address", \.bindAddress, summary: "Address to bind (IPv4 literal or host name)."),
        .text("worlds_dir", \.worldsDirectory, summary: "Directory whose *.yaml world files are served, one shard each."),
        .integer("max_clients", \.maxClients, range: 1...4095, summary: "Most simultaneous connections (ENet peers) on the node."),
        .integer("hello_timeout_ms", \.helloTimeoutMs, range: 100...60000,
                 summary: "A connection that has not sent HELLO by then is closed with hello_timeout."),
        .integer("peer_timeout_ms", \.peerTimeoutMs, range: 1000...120000,
                 summary: "A peer silent for this long is dropped (ENet timeout)."),
        .integer("shutdown_grace_ms", \.shutdownGraceMs, range: 0...30000,
                 summary: "On SIGINT/SIGTERM, how long to wait for clients to receive CLOSING before exiting."),
        .choice("log_level", \.logLevel, summary: "Lowest level that is logged."),
        .integer("snapshot_max_bytes", \.snapshotMaxBytes, range: 256...1400,
                 summary: "Largest snapshot datagram; bigger snapshots are split into parts."),
        .number("max_speed_mps", \.maxSpeedMetresPerSecond, range: 0.5...100,
                summary: "Fastest accepted head movement; faster input is rubber-banded to the last good position."),
        .number("max_reach_m", \.maxReachMetres, range: 0.3...2,
                summary: "Farthest a tracked hand may be from the head; farther input is dropped."),
        .integer("stats_interval_ms", \.statsIntervalMs, range: 100...60000,
                 summary: "How often the node publishes its statistics snapshot and logs a status line."),
        .integer("max_instances_per_world", \.maxInstancesPerWorld, range: 1...1000,
                 summary: "When every instance of a world is full, a new one opens, up to this many."),
        .integer("admin_port", \.adminPort, range: 0...65535,
                 summary: "TCP port of the HTTP admin endpoint (GET /v1/stats, /healthz); 0 turns it off."),
        .text("admin_bind_address", \.adminBindAddress, summary: "Address the admin endpoint binds (loopback by default)."),
        .choice("interest_mode", \.interestMode,
                summary: "spatial: relevance, priority, budget and deltas; naive: everyone gets everyone in full."),
        .integer("bandwidth_kbps", \.bandwidthKbps, range: 16...10000,
                 summary: "Downstream budget per client (kbit/s); per tick at most one datagram."),
        .integer("max_full_rate_avatars", \.maxFullRateAvatars, range: 1...1000,
                 summary: "At most this many avatars updated per client per tick."),
        .number("interest_leave_margin_m", \.interestLeaveMarginMetres, range: 0...50,
                summary: "Hysteresis: an avatar leaves a client's set only this far beyond the interest radius."),
        .integer("max_relevant_avatars", \.maxRelevantAvatars, range: 1...4095,
                 summary: "In a crowd, at most this many (the nearest) avatars are relevant to a client by distance; broadcasters come on top."),
        .number("interest_send_threshold", \.interestSendThreshold, range: 0...100,
                summary: "Rate tiers: a changed avatar is sent once its priority accumulator reaches this; 0 = every tick."),
        .text("token_keys", \.tokenKeys,
              summary: "Connect-token keys: `development`, or `id:secret` pairs (hex/base64, comma-separated; the highest id issues). Never logged."),
        .boolean("allow_development_keys", \.allowDevelopmentKeys,
                 summary: "Allow the public development token key or join API key on a non-loopback bind address."),
        .text("join_api_key", \.joinApiKey,
              summary: "Organizer API key for POST /v1/join (`Authorization: Bearer …`); `development` = the public development key."),
        .integer("token_lifetime_s", \.tokenLifetimeSeconds, range: 5...3600,
                 summary: "A connect token must be first used within this many seconds of issue."),
        .integer("token_deadline_ms", \.tokenDeadlineMs, range: 100...60000,
                 summary: "A connection that has not presented its token by then is dropped (token_timeout)."),
        .text("public_address", \.publicAddress,
              summary: "host:port written into connect tokens; `auto` = the bind address (loopback for 0.0.0.0) and port."),
        .text("security_log_dir", \.securityLogDirectory,
              summary: "Directory of the daily security log (raw addresses, token and rate-limit events); `off` disables it."),
        .integer("security_log_retention_days", \.securityLogRetentionDays, range: 1...3650,
                 summary: "Security log files older than this many days are deleted."),
        .number("rate_poses_per_s", \.ratePosesPerSecond, range: 1...1000, summary: "POSE messages a session may send per second."),
        .number("rate_voice_frames_per_s", \.rateVoiceFramesPerSecond, range: 1...1000,
                summary: "VOICE frames a session may send per second."),
        .number("rate_voice_kbps", \.rateVoiceKbps, range: 8...1000, summary: "Voice payload a session may send, kbit/s."),
        .number("rate_chat_burst", \.rateChatBurst, range: 1...100, summary: "CHAT messages a session may send at once."),
        .number("rate_chat_per_s", \.rateChatPerSecond, range: 0.01...100, summary: "CHAT messages per second after the burst."),
        .integer("peers_per_address", \.peersPerAddress, range: 1...4095,
                 summary: "Connections one IPv4 address may hold at once; set it low on a public node."),
        .integer("socket_buffer_bytes", \.socketBufferBytes, range: 65536...(256 * 1024 * 1024),
                 summary: "Kernel receive and send buffer asked for the node's UDP socket, bytes."),
        .integer("connect_limit_attempts", \.connectLimitAttempts, range: 1...10000,
                 summary: "Connect attempts one IPv4 address may make per window before it is refused."),
        .integer("connect_limit_window_s", \.connectLimitWindowSeconds, range: 1...86400,
                 summary: "The window of connect_limit_attempts, seconds."),
        .integer("connect_ban_s", \.connectBanSeconds, range: 0...86400,
                 summary: "How long an address over the connect limit is refused, seconds."),
        .text("connect_limit_exempt", \.connectLimitExempt,
              summary: "IPv4 addresses never connect-limited (comma-separated, `none` for none); loopback by default for local load tests."),
        .integer("voice_max_streams", \.voiceMaxStreams, range: 1...32,
                 summary: "Most voice streams a listener receives at once (chosen by level × distance)."),
        .integer("voice_mix_capacity", \.voiceMixCapacity, range: 0...2000,
                 summary: "Most listeners the node mixes for (VOICE_SETUP mix); beyond it clients get relay mode."),
        .integer("voice_flushes_per_tick", \.voiceFlushesPerTick, range: 1...4,
                 summary: "Voice flush points per tick at most: the tick's, and the rest spread evenly up to the next; more than 2 only while ticks take under a quarter of the period (1 = at ticks only)."),
    ]
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

extension Double {
    var shortText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
