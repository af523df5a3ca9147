import AtriumTransport

/// What a connect token says, in the clear (after `TokenKeyring.open`, or before `issue` seals it).
///
/// The sealed form is documented byte by byte in docs/PROTOCOL.md §18.2: a 28-byte public header
/// (magic, version, key id, expiresAt, nonce) that is the AEAD's associated data, then this body sealed
/// with ChaCha20-Poly1305, then the tag. `role` is carried as AtriumWire's `Role` code without depending on it.
public struct ConnectToken: Sendable, Equatable, CustomStringConvertible {
    public static let tokenIdByteCount = 16
    public static let maxUserIdBytes = 64
    public static let maxDisplayNameBytes = 32
    public static let maxWorldIdBytes = 64
    public static let maxServerAddresses = 8
    public static let maxServerAddressBytes = 64

    /// 16 random bytes naming this token (the unit `TokenUseGuard` remembers).
    public var tokenId: [UInt8]
    /// 1...64 bytes of UTF-8, no control characters.
    public var userId: String
    /// 1...32 bytes of UTF-8, no control characters.
    public var displayName: String
    /// AtriumWire `Role` raw value.
    public var role: UInt8
    /// 1...64 bytes of UTF-8, no control characters.
    public var worldId: String
    /// Unix seconds.
    public var issuedAt: UInt64
    /// Unix seconds; the token opens while `now < expiresAt`. Also in the sealed token's public header.
    public var expiresAt: UInt64
    /// 1...8 entries of "host:port", each at most 64 bytes.
    public var serverAddresses: [String]
    public var clientToServerKey: SecretKey
    public var serverToClientKey: SecretKey

    public init(
        tokenId: [UInt8], userId: String, displayName: String, role: UInt8, worldId: String, issuedAt: UInt64,
        expiresAt: UInt64, serverAddresses: [String], clientToServerKey: SecretKey, serverToClientKey: SecretKey
    ) {
        self.tokenId = tokenId
        self.userId = userId
        self.displayName = displayName
        self.role = role
        self.worldId = worldId
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.serverAddresses = serverAddresses
        self.clientToServerKey = clientToServerKey
        self.serverToClientKey = serverToClientKey
    }

    /// Keys redacted (SecretKey's own description); the rest is not secret.
    public var description: String {
        "ConnectToken(user: \(userId), name: \(displayName), role: \(role), world: \(worldId), issuedAt: \(issuedAt), "
            + "expiresAt: \(expiresAt), servers: \(serverAddresses), keys: redacted)"
    }

    /// Throws `.invalidField` naming the first rule broken.
    public func validate() throws(TokenError) {
        guard tokenId.count == Self.tokenIdByteCount else { throw .invalidField("tokenId must be 16 bytes") }
        try Self.checkText(userId, "userId", max: Self.maxUserIdBytes)
        try Self.checkText(displayName, "displayName", max: Self.maxDisplayNameBytes)
        try Self.checkText(worldId, "worldId", max: Self.maxWorldIdBytes)
        guard expiresAt > issuedAt else { throw .invalidField("expiresAt must be after issuedAt") }
        guard (1...Self.maxServerAddresses).contains(serverAddresses.count) else {
            throw .invalidField("1...\(Self.maxServerAddresses) server addresses required")
        }
        for address in serverAddresses {
            guard address.utf8.count <= Self.maxServerAddressBytes, TransportAddress.parse(address) != nil else {
                throw .invalidField("server address is not host:port of at most \(Self.maxServerAddressBytes) bytes")
            }
        }
    }

    private static func checkText(_ text: String, _ name: String, max: Int) throws(TokenError) {
        let count = text.utf8.count
        guard count >= 1, count <= max else { throw .invalidField("\(name) must be 1...\(max) bytes of UTF-8") }
        // Control characters (C0, DEL, C1) would let a name rewrite log lines or terminals.
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalidField("\(name) contains control characters")
        }
    }

    // MARK: Body (the sealed part; PROTOCOL.md §18.2.2)

    func encodeBody() -> [UInt8] {
        var w = ByteWriter(capacity: 320)
        w.raw(tokenId)
        w.u64(issuedAt)
        w.u8(role)
        w.shortString(userId)
        w.shortString(displayName)
        w.shortString(worldId)
        w.u8(UInt8(serverAddresses.count))
        for address in serverAddresses { w.shortString(address) }
        w.raw(clientToServerKey.bytes)
        w.raw(serverToClientKey.bytes)
        return w.bytes
    }

    /// Decodes an authenticated body; `expiresAt` comes from the (authenticated) header.
    static func decodeBody(_ body: [UInt8], expiresAt: UInt64) throws(TokenError) -> ConnectToken {
        var r = ByteReader(body)
        guard let tokenId = r.take(tokenIdByteCount), let issuedAt = r.u64(), let role = r.u8() else {
            throw .malformed("body truncated")
        }
        guard let userId = r.shortString(), let displayName = r.shortString(), let worldId = r.shortString() else {
            throw .malformed("bad string field")
        }
        guard let addressCount = r.u8(), addressCount <= maxServerAddresses else { throw .malformed("bad address count") }
        var addresses: [String] = []
        for _ in 0..<addressCount {
            guard let address = r.shortString() else { throw .malformed("bad server address") }
            addresses.append(address)
        }
        guard let c2s = r.take(SecretKey.byteCount), let s2c = r.take(SecretKey.byteCount) else {
            throw .malformed("body truncated")
        }
        guard r.remaining == 0 else { throw .malformed("trailing bytes after body") }
        let token = ConnectToken(
            tokenId: Array(tokenId), userId: userId, displayName: displayName, role: role, worldId: worldId,
            issuedAt: issuedAt, expiresAt: expiresAt, serverAddresses: addresses,
            clientToServerKey: SecretKey(Array(c2s))!, serverToClientKey: SecretKey(Array(s2c))!)
        do { try token.validate() } catch { throw .malformed("field rule broken: \(error)") }
        return token
    }
}
