/// Why a connect token could not be opened (or issued). The cases are distinct so the server can count and
/// log them apart; what it tells the peer is its own choice (usually one generic reason, see PROTOCOL.md §18.5).
public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a token: wrong magic, shorter than header + tag, longer than `TokenKeyring.maxSealedByteCount`,
    /// or (after authentication) a body that does not decode.
    case malformed(String)
    /// A token format version this build does not speak.
    case unsupportedVersion(UInt8)
    /// The header names a key id the keyring does not hold (a retired key, or another deployment's token).
    case unknownKey(UInt32)
    /// The tag did not verify: the token was altered, or sealed under a different key with the same id.
    case forged
    /// Authentic, but `now >= expiresAt`.
    case expired(expiresAt: UInt64, now: UInt64)
    /// Issuing only: a field breaks the rules of `ConnectToken.validate()`, or the sealed token would
    /// exceed `TokenKeyring.maxSealedByteCount`.
    case invalidField(String)
    /// OpenSSL failed for a reason unrelated to the input (allocation, provider).
    case cryptoFailure(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed token: \(why)"
        case .unsupportedVersion(let v): "unsupported token version \(v)"
        case .unknownKey(let id): "token sealed under unknown key id \(id)"
        case .forged: "token failed authentication"
        case let .expired(expiresAt, now): "token expired at \(expiresAt) (now \(now))"
        case .invalidField(let why): "invalid token field: \(why)"
        case .cryptoFailure(let why): "token crypto failure: \(why)"
        }
    }

    /// A short stable name for counters and the security log (`token_rejected reason=...`).
    public var reasonCode: String {
        switch self {
        case .malformed: "malformed"
        case .unsupportedVersion: "unsupported_version"
        case .unknownKey: "unknown_key"
        case .forged: "forged"
        case .expired: "expired"
        case .invalidField: "invalid_field"
        case .cryptoFailure: "crypto_failure"
        }
    }
}
