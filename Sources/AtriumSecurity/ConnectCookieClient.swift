import AtriumCrypto
import AtriumTransport

/// The client half of the cookie step, installed as the client host's ``InboundDatagramFilter``.
///
/// The request must leave from the host's own UDP socket (``TransportHost/sendRaw(_:to:)``) so the
/// cookie is bound to the port ENet will connect from; the reply arrives on that socket and is caught
/// here, before ENet would see it. A reply is accepted only from the server it was requested from and
/// only with the nonce of the pending request (unsolicited or stale replies are dropped).
///
/// Other datagrams: CONNECTs are dropped (a client never accepts connections, so a spoofed CONNECT
/// cannot take its peer slot) and, with an inspector, malformed ENet datagrams too.
///
/// One cookie serves every connection the host makes to that server (they share the socket).
/// Blocking use for a host with a single connection: ``connect(_:to:channelCount:timeoutMilliseconds:)``.
public final class ConnectCookieClient: InboundDatagramFilter {
    private struct Pending {
        var nonce: UInt64
        var cookie: UInt32?
        var expiresMicros: UInt64
    }

    public var inspector: ENetDatagramInspector?
    private var servers: [IPv4Endpoint: Pending] = [:]
    public private(set) var unsolicitedReplies: UInt64 = 0

    /// - Parameter inspector: checks other datagrams (nil passes them all on).
    public init(inspector: ENetDatagramInspector? = ENetDatagramInspector()) {
        self.inspector = inspector
    }

    /// The request datagram for `server`. Resends while no reply has arrived reuse the pending nonce
    /// (so a slow reply to an earlier copy still counts); once a cookie was received, a new request
    /// gets a new nonce.
    public func request(for server: IPv4Endpoint) -> [UInt8] {
        if let pending = servers[server], pending.cookie == nil {
            return ConnectCookieDatagram.request(nonce: pending.nonce)
        }
        let nonce = UInt64(littleEndianBytes: SecureRandom.bytes(8))
        servers[server] = Pending(nonce: nonce, cookie: nil, expiresMicros: 0)
        return ConnectCookieDatagram.request(nonce: nonce)
    }

    /// The cookie received from `server`, while it is still valid.
    public func cookie(for server: IPv4Endpoint, nowMicros: UInt64 = MonotonicClock.nowMicros()) -> UInt32? {
        guard let pending = servers[server], let cookie = pending.cookie, pending.expiresMicros > nowMicros else { return nil }
        return cookie
    }

    public func forget(_ server: IPv4Endpoint) { servers[server] = nil }

    public func inspect(_ bytes: UnsafeRawBufferPointer, from source: IPv4Endpoint, nowMicros: UInt64) -> InboundVerdict {
        if ConnectCookieDatagram.hasMagic(bytes) {
            guard let reply = try? ConnectCookieDatagram.parseReply(bytes),
                  var pending = servers[source], pending.nonce == reply.nonce
            else {
                unsolicitedReplies &+= 1
                return .drop(.unsolicitedCookieReply)
            }
            pending.cookie = reply.cookie
            pending.expiresMicros = nowMicros &+ UInt64(reply.secondsValid) * 1_000_000
            servers[source] = pending
            return .drop(.cookieReplyConsumed)
        }
        guard let inspector else { return .pass }
        switch inspector.inspect(bytes) {
        case .reject(let rejection): return .drop(.enet(rejection))
        case .accept(connect: .some): return .drop(.connectToClient)
        case .accept(connect: nil): return .pass
        }
    }

    /// Performs the cookie step and starts the ENet connection with the cookie as connect data:
    /// installs a ``ConnectCookieClient`` on `host` (unless one is installed), sends the request
    /// every 250 ms until a reply arrives or `timeoutMilliseconds` pass, then calls
    /// ``TransportHost/connect(to:channelCount:data:)``. The `.connected` event follows as usual.
    ///
    /// It services `host` while waiting, so use it only on a host with no live connections (any event
    /// would be lost); hosts with several connections use ``request(for:)`` and ``cookie(for:nowMicros:)``.
    public static func connect(
        _ host: TransportHost, to server: TransportAddress, channelCount: Int, timeoutMilliseconds: UInt32 = 5000
    ) throws(TransportError) -> PeerHandle {
        guard host.allocatedPeerCount == 0 else {
            throw TransportError("ConnectCookieClient.connect needs a host without connections (events would be lost)")
        }
        let endpoint = try IPv4Endpoint(resolving: server)
        let client: ConnectCookieClient
        if let installed = host.inboundFilter as? ConnectCookieClient {
            client = installed
        } else {
            client = ConnectCookieClient()
            host.setInboundFilter(client)
        }
        let start = MonotonicClock.nowMicros()
        let deadline = start &+ UInt64(timeoutMilliseconds) * 1000
        var nextRequest = start
        while true {
            let now = MonotonicClock.nowMicros()
            if let cookie = client.cookie(for: endpoint, nowMicros: now) {
                return try host.connect(to: server, channelCount: channelCount, data: cookie)
            }
            guard now < deadline else { break }
            if now >= nextRequest {
                host.sendRaw(client.request(for: endpoint), to: endpoint)
                nextRequest = now &+ 250_000
            }
            // No peers: nothing but our reply (consumed by the filter) can arrive; events are impossible.
            _ = host.service(timeoutMilliseconds: UInt32(min(10, (deadline - now) / 1000 + 1)))
        }
        throw TransportError("no connect cookie from \(server) within \(timeoutMilliseconds) ms")
    }
}

extension UInt64 {
    fileprivate init(littleEndianBytes bytes: [UInt8]) {
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(8).enumerated() { value |= UInt64(byte) << (8 * index) }
        self = value
    }
}
