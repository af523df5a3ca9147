import AtriumTransport

/// Remembers which source address first presented each token, until the token expires, so a token
/// (which travels over the network in the clear-but-sealed form) cannot be replayed from another address.
/// The same address may present it again (a retransmitted first message, a quick reconnect).
///
/// Memory is bounded: entries whose token has expired are pruned at most every `pruneIntervalSeconds` and
/// whenever the guard is full. If it is still full of unexpired entries, a token it has not seen is
/// **rejected** (fail closed: forgetting a token would let a second address use it; refusing costs the
/// joiner one retry with a fresh token) and counted in `rejectedWhileFull`. At 60 s token lifetimes the
/// default 65,536 entries allow ~1,000 joins/s sustained.
public struct TokenUseGuard: Sendable {
    public static let defaultCapacity = 65_536
    public static let pruneIntervalSeconds: UInt64 = 10

    private struct Entry: Sendable {
        var address: String
        var expiresAt: UInt64
    }

    public let capacity: Int
    private var entries: [[UInt8]: Entry] = [:]
    private var nextPruneAt: UInt64 = 0
    public private(set) var rejectedWhileFull: UInt64 = 0

    public init(capacity: Int = defaultCapacity) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Tokens currently remembered.
    public var count: Int { entries.count }

    /// True when `address` may use `tokenId`: first use (recorded now), or the same address as the first use.
    /// False for a second address, an already expired token (`now >= expiresAt`), a tokenId that is not 16
    /// bytes, or a new token while the guard is full.
    public mutating func admit(tokenId: [UInt8], address: String, expiresAt: UInt64, now: UInt64) -> Bool {
        guard tokenId.count == ConnectToken.tokenIdByteCount, now < expiresAt else { return false }
        if now >= nextPruneAt { prune(now: now) }
        if let entry = entries[tokenId], entry.expiresAt > now { return entry.address == address }
        if entries.count >= capacity {
            prune(now: now)
            guard entries.count < capacity else {
                rejectedWhileFull &+= 1
                return false
            }
        }
        entries[tokenId] = Entry(address: address, expiresAt: expiresAt)
        return true
    }

    /// The same for an address as AtriumTransport reports it (`TransportHost.address(of:)`).
    public mutating func admit(tokenId: [UInt8], address: TransportAddress, expiresAt: UInt64, now: UInt64) -> Bool {
        admit(tokenId: tokenId, address: address.description, expiresAt: expiresAt, now: now)
    }

    /// The same for an IPv4 address given as a number (0x7F000001 = 127.0.0.1, as `AddressPseudonym` takes it).
    public mutating func admit(tokenId: [UInt8], ipv4 host: UInt32, port: UInt16, expiresAt: UInt64, now: UInt64) -> Bool {
        let text = "\(host >> 24).\(host >> 16 & 0xFF).\(host >> 8 & 0xFF).\(host & 0xFF):\(port)"
        return admit(tokenId: tokenId, address: text, expiresAt: expiresAt, now: now)
    }

    /// Drops every entry whose token has expired.
    public mutating func prune(now: UInt64) {
        entries = entries.filter { $0.value.expiresAt > now }
        nextPruneAt = now &+ Self.pruneIntervalSeconds
    }
}
