/// Why key text or a keyring could not be accepted. Never contains secret material: entries are named by
/// their position and key id only.
public enum KeyringError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    /// Entry `index` (0-based, in text order) is not `keyId:secret` with a decimal u32 id and a secret of
    /// 64 hex digits or base64 of exactly 32 bytes.
    case badEntry(index: Int, reason: String)
    case duplicateKeyId(UInt32)
    case unknownCurrentKey(UInt32)

    public var description: String {
        switch self {
        case .empty: "no token keys given"
        case let .badEntry(index, reason): "token key entry \(index + 1): \(reason)"
        case .duplicateKeyId(let id): "token key id \(id) given twice"
        case .unknownCurrentKey(let id): "current token key id \(id) is not in the keyring"
        }
    }
}
