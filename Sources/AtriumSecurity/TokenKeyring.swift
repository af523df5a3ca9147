import AtriumCrypto

/// The server's token keys: key id → 32-byte key, and the id that new tokens are sealed under.
///
/// Rotation: deploy "old,new" with `currentKeyId` = new; tokens sealed under the old id still open until
/// the old key is removed (after at most one token lifetime). Keys never appear in `description`, debug
/// output or `dump()`.
public struct TokenKeyring: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Bytes: "ATK".
    public static let magic: [UInt8] = [0x41, 0x54, 0x4B]
    public static let version: UInt8 = 1
    /// magic 3 + version 1 + keyId 4 + expiresAt 8 + nonce 12.
    public static let headerByteCount = 28
    public static let tagByteCount = 16
    /// No sealed token is longer (a token whose fields would make it longer cannot be issued).
    public static let maxSealedByteCount = 600
    public static let defaultLifetimeSeconds: UInt64 = 60
    /// The key id of the development key in `TokenKeyring.development`.
    public static let developmentKeyId: UInt32 = 0

    private let keys: [UInt32: SecretKey]
    public let currentKeyId: UInt32

    public init(keys: [UInt32: SecretKey], currentKeyId: UInt32) throws(KeyringError) {
        guard !keys.isEmpty else { throw .empty }
        guard keys[currentKeyId] != nil else { throw .unknownCurrentKey(currentKeyId) }
        self.keys = keys
        self.currentKeyId = currentKeyId
    }

    /// Only the public development key, id 0. For loopback-only servers and tests.
    public static let development = try! TokenKeyring(keys: [developmentKeyId: .development], currentKeyId: developmentKeyId)

    /// Parses `keyId:secret` entries separated by commas, semicolons or whitespace, e.g.
    /// `"1:BASE64,2:BASE64"`. A secret is 64 hex digits or base64 (standard or URL-safe, padding optional) of
    /// exactly 32 bytes. `currentKeyId` defaults to the highest id given (the newest key in a rotation).
    public static func parse(_ text: String, currentKeyId: UInt32? = nil) throws(KeyringError) -> TokenKeyring {
        let separators: Set<Character> = [",", ";", " ", "\t", "\n", "\r"]
        let entries = text.split(whereSeparator: { separators.contains($0) })
        guard !entries.isEmpty else { throw .empty }
        var keys: [UInt32: SecretKey] = [:]
        for (index, entry) in entries.enumerated() {
            guard let colon = entry.firstIndex(of: ":") else { throw .badEntry(index: index, reason: "expected keyId:secret") }
            guard let id = UInt32(entry[..<colon]) else { throw .badEntry(index: index, reason: "key id is not a decimal u32") }
            guard let bytes = KeyText.decodeSecret(entry[entry.index(after: colon)...]), let key = SecretKey(bytes) else {
                throw .badEntry(index: index, reason: "secret is not 32 bytes of hex or base64")
            }
            guard keys[id] == nil else { throw .duplicateKeyId(id) }
            keys[id] = key
        }
        return try TokenKeyring(keys: keys, currentKeyId: currentKeyId ?? keys.keys.max()!)
    }

    /// Key ids held, ascending.
    public var keyIds: [UInt32] { keys.keys.sorted() }

    /// True when any key is the public development key; a server must refuse that on non-loopback binds.
    public var usesDevelopmentKey: Bool { keys.values.contains { $0.isDevelopmentKey } }

    public var description: String {
        "TokenKeyring(keyIds: \(keyIds), current: \(currentKeyId)\(usesDevelopmentKey ? ", development key" : ""))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["description": description], displayStyle: .struct) }

    // MARK: Issue

    /// A new token with a random tokenId and random per-direction session keys, sealed under the current key.
    /// `lifetimeSeconds` is the time to first use (default 60 s).
    public func issue(
        userId: String, displayName: String, role: UInt8, worldId: String, serverAddresses: [String],
        nowSeconds: UInt64, lifetimeSeconds: UInt64 = defaultLifetimeSeconds
    ) throws(TokenError) -> (sealed: [UInt8], token: ConnectToken) {
        guard lifetimeSeconds > 0 else { throw .invalidField("lifetime must be positive") }
        let (expiresAt, overflow) = nowSeconds.addingReportingOverflow(lifetimeSeconds)
        guard !overflow else { throw .invalidField("expiry overflows") }
        let token = ConnectToken(
            tokenId: SecureRandom.bytes(ConnectToken.tokenIdByteCount), userId: userId, displayName: displayName,
            role: role, worldId: worldId, issuedAt: nowSeconds, expiresAt: expiresAt, serverAddresses: serverAddresses,
            clientToServerKey: .random(), serverToClientKey: .random())
        return (try seal(token, nonce: SecureRandom.bytes(ChaChaPoly.nonceByteCount)), token)
    }

    /// Seals `token` under the current key with `nonce`. Internal: outside tests the nonce is always fresh
    /// random (a repeated nonce under one key breaks ChaCha20-Poly1305).
    func seal(_ token: ConnectToken, nonce: [UInt8]) throws(TokenError) -> [UInt8] {
        try token.validate()
        precondition(nonce.count == ChaChaPoly.nonceByteCount)
        var header = ByteWriter(capacity: Self.maxSealedByteCount)
        header.raw(Self.magic)
        header.u8(Self.version)
        header.u32(currentKeyId)
        header.u64(token.expiresAt)
        header.raw(nonce)
        let body = token.encodeBody()
        guard Self.headerByteCount + body.count + Self.tagByteCount <= Self.maxSealedByteCount else {
            throw .invalidField("sealed token would exceed \(Self.maxSealedByteCount) bytes")
        }
        do {
            let sealed = try ChaChaPoly.seal(key: keys[currentKeyId]!.bytes, nonce: nonce, aad: header.bytes, plaintext: body)
            return header.bytes + sealed
        } catch {
            throw .cryptoFailure("\(error)")
        }
    }

    // MARK: Open

    /// Checks, in order: size and magic (`.malformed`), version, key id (`.unknownKey`), tag (`.forged`),
    /// body (`.malformed`), expiry (`.expired`). Expiry is checked only after authentication, so an altered
    /// expiresAt reads as forged, never as expired.
    public func open(_ sealed: [UInt8], nowSeconds: UInt64) throws(TokenError) -> ConnectToken {
        guard sealed.count >= Self.headerByteCount + Self.tagByteCount else { throw .malformed("too short") }
        guard sealed.count <= Self.maxSealedByteCount else { throw .malformed("too long") }
        var r = ByteReader(sealed)
        guard let magic = r.take(3), magic.elementsEqual(Self.magic) else { throw .malformed("bad magic") }
        let version = r.u8()!
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let keyId = r.u32()!
        let expiresAt = r.u64()!
        let nonce = Array(r.take(ChaChaPoly.nonceByteCount)!)
        guard let key = keys[keyId] else { throw .unknownKey(keyId) }
        let body: [UInt8]
        do {
            body = try ChaChaPoly.open(
                key: key.bytes, nonce: nonce, aad: Array(sealed[0..<Self.headerByteCount]),
                ciphertext: Array(sealed[Self.headerByteCount...]))
        } catch CryptoError.authenticationFailed {
            throw .forged
        } catch {
            throw .cryptoFailure("\(error)")
        }
        let token = try ConnectToken.decodeBody(body, expiresAt: expiresAt)
        guard nowSeconds < expiresAt else { throw .expired(expiresAt: expiresAt, now: nowSeconds) }
        return token
    }
}
