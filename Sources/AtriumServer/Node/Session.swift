import AtriumTransport
import AtriumWire

/// One ENet peer's conversation with the node.
struct Session {
    enum State: Equatable {
        /// Connected; the connect token (the first packet, PROTOCOL.md §18) not yet received.
        case awaitingToken
        /// Token accepted, session sealed; HELLO not yet received.
        case awaitingHello
        /// Joined a shard with this avatar.
        case joined(shard: Int, avatar: UInt16)
        /// CLOSING or DENY sent; everything further is ignored until ENet reports the disconnect.
        case closing
    }

    let peer: PeerHandle
    let connectedMicros: UInt64
    var state: State = .awaitingToken
    /// Set when the token is accepted: every later packet in either direction is sealed with these.
    var keys: SessionKeys?
    var lastHeardMicros: UInt64
    var displayName = ""
    /// Reasons already logged for this peer: one log line per peer per reason, never a flood.
    private var loggedReasons: Set<String> = []

    init(peer: PeerHandle, connectedMicros: UInt64) {
        self.peer = peer
        self.connectedMicros = connectedMicros
        self.lastHeardMicros = connectedMicros
    }

    /// True the first time `reason` is seen for this peer.
    mutating func shouldLog(_ reason: String) -> Bool {
        loggedReasons.insert(reason).inserted
    }

    /// Peers are named by slot and connection id in ordinary logs, never by address.
    var logName: String { "peer \(peer.slot)/\(String(peer.connectID, radix: 16))" }
}
