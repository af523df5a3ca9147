import Foundation

/// What a client gets from `POST /v1/join` (docs/ADMIN.md, docs/PROTOCOL.md §18): the sealed connect token it
/// presents as its first packet, and what it needs itself but cannot read from the token — the per-direction
/// session keys, where to connect, and when the token stops opening.
public struct JoinTicket: Sendable, Equatable {
    /// The sealed connect token, opaque to the client.
    public var token: [UInt8]
    public var clientToServerKey: SecretKey
    public var serverToClientKey: SecretKey
    /// Unix seconds: the token must be presented before this.
    public var expiresAt: UInt64
    /// "host:port" of the node(s) the token is good for.
    public var serverAddresses: [String]
    public var userId: String
    public var displayName: String
    /// A Role code (PROTOCOL.md §6.1).
    public var role: UInt8
    public var worldId: String

    public init(
        token: [UInt8], clientToServerKey: SecretKey, serverToClientKey: SecretKey, expiresAt: UInt64,
        serverAddresses: [String], userId: String, displayName: String, role: UInt8, worldId: String
    ) {
        self.token = token
        self.clientToServerKey = clientToServerKey
        self.serverToClientKey = serverToClientKey
        self.expiresAt = expiresAt
        self.serverAddresses = serverAddresses
        self.userId = userId
        self.displayName = displayName
        self.role = role
        self.worldId = worldId
    }

    /// Issues a token with `keyring` and wraps it with what the client needs (the join endpoint does this;
    /// local tools and tests that hold the keyring do it directly).
    public static func issue(
        keyring: TokenKeyring, userId: String, displayName: String, role: UInt8, worldId: String,
        serverAddresses: [String], nowSeconds: UInt64 = unixSeconds(),
        lifetimeSeconds: UInt64 = TokenKeyring.defaultLifetimeSeconds
    ) throws(TokenError) -> JoinTicket {
        let (sealed, token) = try keyring.issue(
            userId: userId, displayName: displayName, role: role, worldId: worldId, serverAddresses: serverAddresses,
            nowSeconds: nowSeconds, lifetimeSeconds: lifetimeSeconds)
        return JoinTicket(
            token: sealed, clientToServerKey: token.clientToServerKey, serverToClientKey: token.serverToClientKey,
            expiresAt: token.expiresAt, serverAddresses: token.serverAddresses, userId: userId,
            displayName: displayName, role: role, worldId: worldId)
    }

    /// Wall-clock unix seconds (tokens carry absolute expiry times).
    public static func unixSeconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970))
    }

    // MARK: JSON (the body of a 200 answer to POST /v1/join)

    struct Wire: Codable {
        var token: String
        var client_to_server_key: String
        var server_to_client_key: String
        var expires_at: UInt64
        var server_addresses: [String]
        var user_id: String
        var display_name: String
        var role: UInt8
        var world: String
    }

    /// The JSON object, keys sorted; binary fields in standard base64.
    public func json() -> Data {
        let wire = Wire(
            token: Data(token).base64EncodedString(),
            client_to_server_key: Data(clientToServerKey.bytes).base64EncodedString(),
            server_to_client_key: Data(serverToClientKey.bytes).base64EncodedString(), expires_at: expiresAt,
            server_addresses: serverAddresses, user_id: userId, display_name: displayName, role: role, world: worldId)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a struct of strings and integers cannot fail.
        return (try? encoder.encode(wire)) ?? Data()
    }

    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses the JSON of `json()`; every field is required and the keys must be 32 bytes.
    public static func decode(json data: Data) throws(DecodeError) -> JoinTicket {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: data)
        } catch {
            throw DecodeError(description: "join answer is not a ticket: \(error)")
        }
        guard let token = Data(base64Encoded: wire.token), !token.isEmpty,
            token.count <= TokenKeyring.maxSealedByteCount
        else { throw DecodeError(description: "join answer: bad token") }
        guard let c2s = Data(base64Encoded: wire.client_to_server_key).flatMap({ SecretKey(Array($0)) }),
            let s2c = Data(base64Encoded: wire.server_to_client_key).flatMap({ SecretKey(Array($0)) })
        else { throw DecodeError(description: "join answer: session keys must be 32 bytes of base64") }
        return JoinTicket(
            token: Array(token), clientToServerKey: c2s, serverToClientKey: s2c, expiresAt: wire.expires_at,
            serverAddresses: wire.server_addresses, userId: wire.user_id, displayName: wire.display_name,
            role: wire.role, worldId: wire.world)
    }
}

/// The body of `POST /v1/join`.
public struct JoinRequest: Sendable, Equatable, Codable {
    public var userId: String
    public var displayName: String
    /// A role name as in PROTOCOL.md §6.1 (e.g. "visitor").
    public var role: String
    public var world: String

    public init(userId: String, displayName: String, role: String, world: String) {
        self.userId = userId
        self.displayName = displayName
        self.role = role
        self.world = world
    }

    enum CodingKeys: String, CodingKey {
        case userId = "user_id"
        case displayName = "display_name"
        case role, world
    }
}
