import AtriumSecurity
import AtriumWire

/// The client's side of a sealed session (PROTOCOL.md §18): the token goes out first, as is, on the
/// control channel; every later packet in either direction is a sealed datagram. Pure (no I/O): the
/// connection or the load runner moves the bytes.
public struct SecureChannel {
    public let ticket: JoinTicket
    private var sealer: SessionSealer
    private var opener: SessionOpener
    /// Packets from the server that did not open (forged, replayed, too old, truncated): dropped.
    public private(set) var rejected = 0

    public init(ticket: JoinTicket) {
        self.ticket = ticket
        // Both keys are 32 bytes (SecretKey guarantees it), so these cannot fail.
        sealer = try! SessionSealer(key: ticket.clientToServerKey, direction: .clientToServer)
        opener = try! SessionOpener(key: ticket.serverToClientKey, direction: .serverToClient)
    }

    /// The first packet after connecting: the sealed connect token, unchanged, on `Channel.control`.
    public var tokenPacket: [UInt8] { ticket.token }

    /// `message` sealed for `channel`; nil only after 2^64 packets (the session must end).
    public mutating func seal(_ message: [UInt8], channel: Channel) -> [UInt8]? {
        try? sealer.seal(message, channel: channel.rawValue)
    }

    /// Bytes `seal(into:)` adds to a message.
    public static let overhead = SessionEnvelope.overhead

    /// Seals `message` straight into `datagram` (exactly `overhead` + `message.count` bytes, e.g. a transport
    /// packet's buffer), so nothing is allocated or copied per send. False only after 2^64 packets (the session
    /// must end; `datagram` must then not be sent).
    public mutating func seal(
        _ message: UnsafeRawBufferPointer, channel: Channel, into datagram: UnsafeMutableRawBufferPointer
    ) -> Bool {
        do {
            try sealer.seal(message, channel: channel.rawValue, into: datagram)
            return true
        } catch {
            return false
        }
    }

    /// The message inside a packet from the server, or nil (counted) when it does not open.
    public mutating func open(_ packet: [UInt8], channel: UInt8) -> [UInt8]? {
        var plaintext: [UInt8] = []
        let opened = packet.withUnsafeBytes { open($0, channel: channel, into: &plaintext) }
        return opened ? plaintext : nil
    }

    /// The same from a borrowed datagram (e.g. the transport's lent packet), into `plaintext` (its contents
    /// replaced, its capacity reused; left empty when the datagram does not open): false, counted, when it does not.
    public mutating func open(_ datagram: UnsafeRawBufferPointer, channel: UInt8, into plaintext: inout [UInt8]) -> Bool {
        do {
            try opener.open(datagram, channel: channel, into: &plaintext)
            return true
        } catch {
            rejected += 1
            return false
        }
    }
}
