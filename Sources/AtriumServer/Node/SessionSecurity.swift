import AtriumSecurity
import AtriumTransport
import AtriumWire

/// A joined peer's sealed session: what its token granted, the two directions' AEAD state and its rate limits.
struct SessionKeys {
    let token: ConnectToken
    var sealer: SessionSealer
    var opener: SessionOpener
    var limiter: SessionRateLimiter
}

/// Accepts connect tokens for one worker (PROTOCOL.md §18): opens them with the node's keyring, enforces
/// first use from one address, and starts the sealed session. Everything it rejects goes to the security
/// log with the raw address; ordinary logs name peers by slot only.
struct TokenGate {
    let settings: SecuritySettings
    let securityLog: SecurityLogSink?
    private var used = TokenUseGuard()
    /// Tokens refused, by `TokenError.reasonCode` (plus "reused").
    private(set) var rejections: [String: UInt64] = [:]

    init(settings: SecuritySettings, securityLog: SecurityLogSink?) {
        self.settings = settings
        self.securityLog = securityLog
    }

    enum Outcome {
        case accepted(SessionKeys)
        case rejected(reason: String)
    }

    /// Opens the first packet of a connection from `address` as a connect token.
    mutating func admit(_ packet: [UInt8], from address: TransportAddress?, nowSeconds: UInt64) -> Outcome {
        let addressText = address.map { "\($0)" } ?? "unknown"
        let token: ConnectToken
        do {
            token = try settings.keyring.open(packet, nowSeconds: nowSeconds)
        } catch {
            return reject(error.reasonCode, address: addressText, detail: "\(error)")
        }
        guard let address, used.admit(tokenId: token.tokenId, address: address, expiresAt: token.expiresAt, now: nowSeconds)
        else {
            return reject("reused", address: addressText, detail: "token already used from another address")
        }
        // Keys are 32 bytes by construction and sessions start at 0: these cannot throw.
        let keys = SessionKeys(
            token: token,
            sealer: try! SessionSealer(key: token.serverToClientKey, direction: .serverToClient),
            opener: try! SessionOpener(key: token.clientToServerKey, direction: .clientToServer),
            limiter: SessionRateLimiter(policy: settings.rateLimits))
        securityLog?.record(
            "token_accepted", ["address": addressText, "user": token.userId, "world": token.worldId, "role": "\(token.role)"])
        return .accepted(keys)
    }

    private mutating func reject(_ reason: String, address: String, detail: String) -> Outcome {
        rejections[reason, default: 0] += 1
        securityLog?.record("token_rejected", ["address": address, "reason": reason, "detail": detail])
        return .rejected(reason: reason)
    }

    /// Rejected counts summed.
    var rejectedTotal: UInt64 { rejections.values.reduce(0, +) }
}
