/// Builds raw ENet 1.3.17 datagrams byte for byte, as an ENet peer would send them: for load tools
/// (spoofed CONNECT floods), tests of ``ENetDatagramInspector`` and fuzzing seed corpora.
/// Big-endian throughout, like ENet.
public struct ENetDatagramBuilder: Sendable {
    public private(set) var bytes: [UInt8]

    /// Starts a datagram: `peerID` (0xFFF = not yet assigned) with the session bits and an optional sent time.
    public init(peerID: UInt16 = UInt16(ENetWire.maximumPeerID), session: UInt8 = 0, sentTime: UInt16? = 0) {
        var header = peerID & ENetWire.peerIDMask | UInt16(session & 3) << 12
        if sentTime != nil { header |= ENetWire.headerFlagSentTime }
        bytes = []
        bytes.reserveCapacity(64)
        append16(header)
        if let sentTime { append16(sentTime) }
    }

    /// A CONNECT command (48 bytes), laid out as ENet's `enet_host_connect` queues it.
    public mutating func connect(
        connectID: UInt32, data: UInt32, channelCount: UInt32 = 3, outgoingPeerID: UInt16 = 0,
        mtu: UInt32 = 1400, windowSize: UInt32 = ENetWire.maximumWindowSize, reliableSequence: UInt16 = 1
    ) {
        commandHeader(ENetWire.commandConnect, flags: ENetWire.commandFlagAcknowledge, channel: 0xFF, sequence: reliableSequence)
        append16(outgoingPeerID)
        bytes.append(0xFF)  // incomingSessionID
        bytes.append(0xFF)  // outgoingSessionID
        append32(mtu)
        append32(windowSize)
        append32(channelCount)
        append32(0)  // incomingBandwidth
        append32(0)  // outgoingBandwidth
        append32(5000)  // packetThrottleInterval (ENET_PEER_PACKET_THROTTLE_INTERVAL)
        append32(2)  // packetThrottleAcceleration
        append32(2)  // packetThrottleDeceleration
        // connectID travels unconverted (little-endian on our platforms); see ENetConnectRequest.connectID.
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: connectID >> UInt32(shift))) }
        append32(data)
    }

    /// SEND_RELIABLE with its payload.
    public mutating func sendReliable(channel: UInt8, sequence: UInt16, payload: [UInt8]) {
        commandHeader(ENetWire.commandSendReliable, flags: ENetWire.commandFlagAcknowledge, channel: channel, sequence: sequence)
        append16(UInt16(truncatingIfNeeded: payload.count))
        bytes += payload
    }

    /// SEND_UNRELIABLE with its payload.
    public mutating func sendUnreliable(channel: UInt8, sequence: UInt16, unreliableSequence: UInt16, payload: [UInt8]) {
        commandHeader(ENetWire.commandSendUnreliable, flags: 0, channel: channel, sequence: sequence)
        append16(unreliableSequence)
        append16(UInt16(truncatingIfNeeded: payload.count))
        bytes += payload
    }

    /// SEND_FRAGMENT (or SEND_UNRELIABLE_FRAGMENT) with explicit, possibly inconsistent, fields.
    /// `dataLength` defaults to the payload's length.
    public mutating func sendFragment(
        unreliable: Bool = false, channel: UInt8, startSequence: UInt16, fragmentCount: UInt32, fragmentNumber: UInt32,
        totalLength: UInt32, fragmentOffset: UInt32, payload: [UInt8], dataLength: UInt16? = nil
    ) {
        let number = unreliable ? ENetWire.commandSendUnreliableFragment : ENetWire.commandSendFragment
        commandHeader(number, flags: unreliable ? 0 : ENetWire.commandFlagAcknowledge, channel: channel, sequence: startSequence)
        append16(startSequence)
        append16(dataLength ?? UInt16(truncatingIfNeeded: payload.count))
        append32(fragmentCount)
        append32(fragmentNumber)
        append32(totalLength)
        append32(fragmentOffset)
        bytes += payload
    }

    /// ACKNOWLEDGE (8 bytes).
    public mutating func acknowledge(channel: UInt8, sequence: UInt16, receivedSequence: UInt16, receivedSentTime: UInt16) {
        commandHeader(ENetWire.commandAcknowledge, flags: 0, channel: channel, sequence: sequence)
        append16(receivedSequence)
        append16(receivedSentTime)
    }

    /// PING (4 bytes).
    public mutating func ping(sequence: UInt16) {
        commandHeader(ENetWire.commandPing, flags: ENetWire.commandFlagAcknowledge, channel: 0xFF, sequence: sequence)
    }

    /// DISCONNECT (8 bytes).
    public mutating func disconnect(sequence: UInt16, data: UInt32) {
        commandHeader(ENetWire.commandDisconnect, flags: ENetWire.commandFlagAcknowledge, channel: 0xFF, sequence: sequence)
        append32(data)
    }

    /// Arbitrary bytes (to build malformed datagrams).
    public mutating func raw(_ extra: [UInt8]) { bytes += extra }

    /// A complete spoofable connection attempt: header with sent time + one CONNECT (52 bytes).
    public static func connectDatagram(connectID: UInt32, data: UInt32, channelCount: UInt32 = 3, sentTime: UInt16 = 0) -> [UInt8] {
        var builder = ENetDatagramBuilder(sentTime: sentTime)
        builder.connect(connectID: connectID, data: data, channelCount: channelCount)
        return builder.bytes
    }

    private mutating func commandHeader(_ number: Int, flags: UInt8, channel: UInt8, sequence: UInt16) {
        bytes.append(UInt8(number) | flags)
        bytes.append(channel)
        append16(sequence)
    }

    private mutating func append16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    private mutating func append32(_ value: UInt32) {
        append16(UInt16(value >> 16))
        append16(UInt16(value & 0xFFFF))
    }
}
