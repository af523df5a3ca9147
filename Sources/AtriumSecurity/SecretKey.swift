import AtriumCrypto

/// A 32-byte symmetric key (token keys, per-direction session keys). Never printed: `description`,
/// `debugDescription` and the reflection `dump()` uses all redact the bytes, so a key that ends up in a
/// log line or a test failure message does not leak. Equality compares in constant time.
public struct SecretKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public static let byteCount = 32

    /// The raw key, for handing to the cipher. Do not log it.
    public let bytes: [UInt8]

    /// Nil unless `bytes` is exactly 32 bytes.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// 32 bytes from OpenSSL's CSPRNG.
    public static func random() -> SecretKey {
        SecretKey(SecureRandom.bytes(byteCount))!
    }

    /// The public development token key: SHA-256 of the ASCII text `atrium-development-token-key-v1`, i.e.
    /// `07433ef8e0e3979d1ed059b0225b8da33df075427b406ce7d9a24d34a7669c89`. Anyone can forge tokens under it,
    /// so servers refuse it unless they only listen on loopback (see `isDevelopmentKey`).
    public static let development = SecretKey(SHA256.hash(Array("atrium-development-token-key-v1".utf8)))!

    /// True when these are the bytes of the public development key (whatever key id they are filed under).
    public var isDevelopmentKey: Bool { self == Self.development }

    public static func == (a: SecretKey, b: SecretKey) -> Bool { constantTimeEquals(a.bytes, b.bytes) }

    public var description: String { isDevelopmentKey ? "SecretKey(development)" : "SecretKey(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
