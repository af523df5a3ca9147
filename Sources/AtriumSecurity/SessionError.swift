import AtriumCrypto

/// Why a datagram could not be sealed or opened. Every opening failure leaves the opener unchanged.
public enum SessionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Shorter than the 24-byte envelope overhead (8-byte sequence + 16-byte tag).
    case truncated(length: Int)
    /// The tag did not verify: altered bytes, the wrong key, direction or channel.
    case forged
    /// This sequence number was already accepted (on this channel).
    case replayed(sequence: UInt64)
    /// Older than the channel's replay window (256 or more below the highest sequence accepted on that
    /// channel) or below the opener's starting sequence.
    case tooOld(sequence: UInt64)
    /// The sealer used sequence UInt64.max; it never wraps (a wrapped nonce would repeat under the same key).
    case sequenceExhausted
    /// Larger than OpenSSL's length parameters allow.
    case tooLarge(length: Int)
    /// OpenSSL failed for a reason unrelated to the input (allocation, provider).
    case cryptoFailure(CryptoError)

    public var description: String {
        switch self {
        case .truncated(let length): "sealed datagram of \(length) bytes is shorter than 24"
        case .forged: "sealed datagram failed authentication"
        case .replayed(let seq): "sequence \(seq) replayed"
        case .tooOld(let seq): "sequence \(seq) is older than the replay window"
        case .sequenceExhausted: "sequence space exhausted"
        case .tooLarge(let length): "datagram of \(length) bytes is too large"
        case .cryptoFailure(let error): "session crypto failure: \(error)"
        }
    }
}
