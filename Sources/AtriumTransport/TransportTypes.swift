/// Stable identity of one ENet connection.
///
/// `slot` is the peer's index in `host->peers`; `connectID` is the random ID
/// ENet assigns when the connection is made (the same value on both ends).
/// When ENet reuses the slot for a new connection the ID changes, so an old
/// handle no longer matches and every ``TransportHost`` call ignores it.
public struct PeerHandle: Hashable, Sendable, CustomStringConvertible {
    public let slot: UInt16
    public let connectID: UInt32

    public init(slot: UInt16, connectID: UInt32) {
        self.slot = slot
        self.connectID = connectID
    }

    public var description: String { "peer#\(slot)/\(String(connectID, radix: 16))" }
}

/// How ENet delivers one packet.
public enum Delivery: Sendable {
    /// Retransmitted until acknowledged; delivered in order within the channel.
    case reliable
    /// Not retransmitted; sequenced within the channel (a packet older than
    /// one already delivered is dropped). Packets larger than the MTU are sent
    /// as unreliable fragments (`ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT`).
    case unreliable
    /// Not retransmitted and not sequenced (may arrive out of order).
    /// Oversized packets are fragmented like `.unreliable`.
    case unsequenced
}

public enum TransportEvent: Sendable {
    case connected(PeerHandle, data: UInt32)
    case disconnected(PeerHandle, data: UInt32)
    case received(PeerHandle, channel: UInt8, payload: [UInt8])

    /// The event with a received datagram's bytes copied out of the lender's buffer.
    public init(_ lent: LentTransportEvent) {
        switch lent {
        case .connected(let peer, let data): self = .connected(peer, data: data)
        case .disconnected(let peer, let data): self = .disconnected(peer, data: data)
        case .received(let peer, let channel, let datagram): self = .received(peer, channel: channel, payload: Array(datagram))
        }
    }
}

/// An event as ``TransportHost/service(timeoutMilliseconds:_:)`` hands it over: a received datagram is the ENet
/// packet's own buffer, valid only during that call (keep no pointer into it; copy what must outlive it).
/// Not `Sendable`, for the same reason.
public enum LentTransportEvent {
    case connected(PeerHandle, data: UInt32)
    case disconnected(PeerHandle, data: UInt32)
    case received(PeerHandle, channel: UInt8, datagram: UnsafeRawBufferPointer)
}

public struct TransportError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "TransportError: \(message)" }
}

/// Cumulative socket-level counters of one host (all peers together).
///
/// They count UDP datagrams as the socket sees them, so with an
/// ``Impairment`` installed, received datagrams that the impairment later drops
/// are still counted; the impairment's private wake-up datagrams are not.
public struct HostStatistics: Sendable, Equatable {
    public var datagramsSent: UInt64
    public var datagramsReceived: UInt64
    public var bytesSent: UInt64
    public var bytesReceived: UInt64

    public init(datagramsSent: UInt64 = 0, datagramsReceived: UInt64 = 0, bytesSent: UInt64 = 0, bytesReceived: UInt64 = 0) {
        self.datagramsSent = datagramsSent
        self.datagramsReceived = datagramsReceived
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
    }
}

extension Delivery {
    /// How Atrium's ENet channels deliver (PROTOCOL.md §1.1): 0 control reliable, 1 state unreliable
    /// sequenced, 2 voice unsequenced. One table for the server, the client library and the bots.
    public static func forAtriumChannel(_ channel: UInt8) -> Delivery {
        switch channel {
        case 0: .reliable
        case 2: .unsequenced
        default: .unreliable
        }
    }
}
