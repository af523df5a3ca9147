import AtriumCrypto
import AtriumSecurity
import AtriumWire

/// The node's security settings, made once from the configuration before anything binds: keys parsed (and
/// never printed), the public development keys refused on a non-loopback bind unless explicitly allowed.
public struct SecuritySettings: Sendable {
    public let keyring: TokenKeyring
    /// SHA-256 of the organizer API key: compared in constant time, the key itself is not kept.
    let joinApiKeyHash: [UInt8]
    public let joinApiKeyIsDevelopment: Bool
    public let tokenLifetimeSeconds: UInt64
    public let tokenDeadlineMicros: UInt64
    public let rateLimits: RateLimitPolicy
    /// nil: "auto" (the bind address, loopback for 0.0.0.0, and the bound port).
    public let publicAddress: String?
    /// Connect attempts per address (the admission filter's limiter).
    public let connectPolicy: ConnectLimiter.Policy

    /// The public development organizer key (`join_api_key: development`).
    public static let developmentJoinApiKey = "atrium-development-organizer-key"

    public struct Refused: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ configuration: ServerConfiguration) throws(Refused) {
        do {
            keyring = configuration.tokenKeys.trimmed == "development"
                ? TokenKeyring.development : try TokenKeyring.parse(configuration.tokenKeys)
        } catch {
            // KeyringError never contains key text.
            throw Refused(description: "configuration error: token_keys: \(error)")
        }
        let apiKey = configuration.joinApiKey.trimmed == "development"
            ? Self.developmentJoinApiKey : configuration.joinApiKey.trimmed
        guard apiKey.utf8.count >= 16 else {
            throw Refused(description: "configuration error: join_api_key must be at least 16 characters")
        }
        joinApiKeyHash = SHA256.hash(Array(apiKey.utf8))
        joinApiKeyIsDevelopment = apiKey == Self.developmentJoinApiKey
        tokenLifetimeSeconds = UInt64(configuration.tokenLifetimeSeconds)
        tokenDeadlineMicros = UInt64(configuration.tokenDeadlineMs) * 1000
        var limits = RateLimitPolicy()
        limits.posesPerSecond = configuration.ratePosesPerSecond
        limits.poseBurst = max(1, configuration.ratePosesPerSecond / 2)
        limits.voiceFramesPerSecond = configuration.rateVoiceFramesPerSecond
        limits.voiceFrameBurst = max(1, configuration.rateVoiceFramesPerSecond / 2)
        limits.voiceBitsPerSecond = configuration.rateVoiceKbps * 1000
        limits.voiceByteBurst = max(1500, configuration.rateVoiceKbps * 1000 / 16)
        limits.chatBurst = configuration.rateChatBurst
        limits.chatPerSecond = configuration.rateChatPerSecond
        do {
            try limits.validate()
        } catch {
            throw Refused(description: "configuration error: \(error)")
        }
        rateLimits = limits
        publicAddress = configuration.publicAddress.trimmed == "auto" ? nil : configuration.publicAddress.trimmed
        var exempt = Set<UInt32>()
        let exemptText = configuration.connectLimitExempt.trimmed
        if exemptText != "none" {
            for item in exemptText.split(separator: ",") {
                guard let address = Self.ipv4(String(item).trimmed) else {
                    throw Refused(description: "configuration error: connect_limit_exempt: '\(item)' is not an IPv4 address")
                }
                exempt.insert(address)
            }
        }
        connectPolicy = ConnectLimiter.Policy(
            attempts: configuration.connectLimitAttempts, windowSeconds: UInt32(configuration.connectLimitWindowSeconds),
            banSeconds: UInt32(configuration.connectBanSeconds), exempt: exempt)

        let exposed = !Self.isLoopback(configuration.bindAddress)
        if exposed && !configuration.allowDevelopmentKeys && keyring.usesDevelopmentKey {
            throw Refused(
                description: "refusing the public development token key on bind address \(configuration.bindAddress): "
                    + "set token_keys (or allow_development_keys: true for a trusted network)")
        }
        let adminExposed = configuration.adminPort != 0 && !Self.isLoopback(configuration.adminBindAddress)
        if (exposed || adminExposed) && !configuration.allowDevelopmentKeys && joinApiKeyIsDevelopment {
            throw Refused(
                description: "refusing the public development join_api_key on a non-loopback address: "
                    + "set join_api_key (or allow_development_keys: true for a trusted network)")
        }
    }

    /// A dotted-quad IPv4 address in host byte order.
    static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    /// True for 127.0.0.0/8, ::1 and localhost.
    static func isLoopback(_ address: String) -> Bool {
        let a = address.trimmed.lowercased()
        return a == "localhost" || a == "::1" || a == "[::1]" || a.hasPrefix("127.")
    }

    /// Constant-time check of a presented organizer API key.
    func acceptsJoinApiKey(_ presented: String) -> Bool {
        constantTimeEquals(SHA256.hash(Array(presented.utf8)), joinApiKeyHash)
    }

    /// The address written into tokens for a node bound to `bindAddress` on `port`.
    func tokenAddress(bindAddress: String, port: UInt16) -> String {
        if let publicAddress { return publicAddress }
        let host = bindAddress == "0.0.0.0" || bindAddress.isEmpty ? "127.0.0.1" : bindAddress
        return "\(host):\(port)"
    }
}
