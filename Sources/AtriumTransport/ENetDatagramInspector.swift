/// Bounds-checked reading of one ENet 1.3.17 datagram exactly as it arrives on the socket, before ENet
/// sees it (the intercept callback runs first).
///
/// libenet 1.3.17 trusts several fields it later uses for allocation and copying: a fragment's total
/// length sizes the reassembly buffer (up to `maximumPacketSize`, 32 MiB by default), and the fragment
/// checks that later ENet releases added (zero-length fragments, a total smaller than the fragment count)
/// are missing. The inspector rejects every datagram that a well-behaved ENet peer of ours never sends,
/// so the copy of libenet we link only ever parses datagrams that are in range.
///
/// Wire layout (all ENet numbers are big-endian):
/// - header: `peerID` u16 (low 12 bits = peer, bits 12–13 session, 0x4000 compressed, 0x8000 sent-time),
///   then `sentTime` u16 only if the sent-time flag is set;
/// - commands, each a 4-byte command header (`command` u8: low 4 bits = number, 0x80 acknowledge,
///   0x40 unsequenced; `channelID` u8; `reliableSequenceNumber` u16) and a fixed body per number,
///   the send commands followed by `dataLength` payload bytes.
///
/// Pure and allocation-free: it runs on every received datagram.
public struct ENetDatagramInspector: Sendable, Equatable {
    /// Largest packet (and fragment total) we accept; match the host's ``TransportHost/maximumPacketSize``.
    public var maximumPacketSize: Int
    /// Highest channel count a CONNECT may ask for and bound for send commands' channel IDs.
    public var channelLimit: Int
    /// Peer slots of the receiving host: a datagram addressed to a higher peer ID is rejected.
    public var peerLimit: Int

    public init(
        maximumPacketSize: Int = TransportLimits.defaultMaximumPacketSize,
        channelLimit: Int = ENetWire.maximumChannelCount,
        peerLimit: Int = ENetWire.maximumPeerID
    ) {
        self.maximumPacketSize = maximumPacketSize
        self.channelLimit = channelLimit
        self.peerLimit = peerLimit
    }

    public func inspect(_ bytes: [UInt8]) -> ENetDatagramVerdict {
        bytes.withUnsafeBytes { inspect($0) }
    }

    public func inspect(_ bytes: UnsafeRawBufferPointer) -> ENetDatagramVerdict {
        let count = bytes.count
        guard count >= 2 else { return .reject(.truncatedHeader) }
        let rawPeer = read16(bytes, 0)
        if rawPeer & ENetWire.headerFlagCompressed != 0 { return .reject(.compressed) }
        let headerSize = rawPeer & ENetWire.headerFlagSentTime != 0 ? 4 : 2
        guard count >= headerSize else { return .reject(.truncatedHeader) }
        let peerID = Int(rawPeer & ENetWire.peerIDMask)
        let unassigned = peerID == ENetWire.maximumPeerID
        if !unassigned && peerID >= peerLimit { return .reject(.unknownPeer) }

        var offset = headerSize
        var commands = 0
        var connect: ENetConnectRequest?
        while offset < count {
            commands += 1
            if commands > ENetWire.maximumPacketCommands { return .reject(.tooManyCommands) }
            guard count - offset >= 4 else { return .reject(.truncatedCommand) }
            let number = Int(bytes[offset] & ENetWire.commandMask)
            let channel = Int(bytes[offset + 1])
            let size = ENetWire.commandSize(number)
            guard size > 0 else { return .reject(.unknownCommand) }
            guard count - offset >= size else { return .reject(.truncatedCommand) }
            let body = offset  // command start; fields below are read at fixed offsets from it
            offset += size

            // A datagram to the unassigned peer ID is a connection attempt: ENet handles only a leading
            // CONNECT there (anything else it ignores), and our clients send the CONNECT alone.
            if unassigned {
                guard number == ENetWire.commandConnect, commands == 1 else { return .reject(.commandWithoutPeer) }
            } else if number == ENetWire.commandConnect {
                return .reject(.connectToAssignedPeer)
            }

            switch number {
            case ENetWire.commandConnect:
                let mtu = read32(bytes, body + 8)
                let window = read32(bytes, body + 12)
                let channels = read32(bytes, body + 16)
                guard channels >= 1, channels <= UInt32(max(1, channelLimit)) else {
                    return .reject(.connectChannelCount)
                }
                guard (ENetWire.minimumMTU...ENetWire.maximumMTU).contains(mtu) else { return .reject(.connectMTU) }
                guard (ENetWire.minimumWindowSize...ENetWire.maximumWindowSize).contains(window) else {
                    return .reject(.connectWindowSize)
                }
                connect = ENetConnectRequest(
                    outgoingPeerID: read16(bytes, body + 4), mtu: mtu, windowSize: window,
                    channelCount: channels, connectID: readNative32(bytes, body + 40), data: read32(bytes, body + 44))

            case ENetWire.commandSendReliable, ENetWire.commandSendUnreliable, ENetWire.commandSendUnsequenced:
                guard channel < channelLimit else { return .reject(.channel) }
                // dataLength is the last u16 of each of these bodies.
                let length = Int(read16(bytes, body + size - 2))
                guard length <= maximumPacketSize else { return .reject(.packetTooLarge) }
                guard count - offset >= length else { return .reject(.payloadPastDatagram) }
                offset += length

            case ENetWire.commandSendFragment, ENetWire.commandSendUnreliableFragment:
                guard channel < channelLimit else { return .reject(.channel) }
                let length = UInt64(read16(bytes, body + 6))
                let fragmentCount = UInt64(read32(bytes, body + 8))
                let fragmentNumber = UInt64(read32(bytes, body + 12))
                let totalLength = UInt64(read32(bytes, body + 16))
                let fragmentOffset = UInt64(read32(bytes, body + 20))
                guard length > 0 else { return .reject(.fragmentEmpty) }
                guard fragmentCount > 0, fragmentCount <= UInt64(ENetWire.maximumFragmentCount) else {
                    return .reject(.fragmentCount)
                }
                guard fragmentNumber < fragmentCount else { return .reject(.fragmentNumber) }
                guard totalLength >= fragmentCount, totalLength <= UInt64(max(0, maximumPacketSize)) else {
                    return .reject(.fragmentTotalLength)
                }
                // 64-bit sums of 32-bit fields cannot overflow.
                guard fragmentOffset + length <= totalLength else { return .reject(.fragmentRange) }
                guard count - offset >= Int(length) else { return .reject(.payloadPastDatagram) }
                offset += Int(length)

            default:
                break  // fixed-size control commands (ACK, VERIFY_CONNECT, DISCONNECT, PING, limits): no payload
            }
        }
        guard commands > 0 else { return .reject(.noCommands) }
        return .accept(connect: connect)
    }

    // Loads assemble bytes one by one: no alignment assumptions, and every index was range-checked above.
    @inline(__always)
    private func read16(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1])
    }

    /// ENet 1.3.17 copies `connectID` into the command without byte-order conversion (unlike every
    /// other field), so it travels in the sender's memory order: little-endian on every platform we run on.
    @inline(__always)
    private func readNative32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    @inline(__always)
    private func read32(_ bytes: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }
}

/// What ``ENetDatagramInspector`` found.
public enum ENetDatagramVerdict: Equatable, Sendable {
    /// Well-formed; `connect` holds the CONNECT command if the datagram is a connection attempt.
    case accept(connect: ENetConnectRequest?)
    case reject(ENetDatagramRejection)
}

/// The fields of an ENet CONNECT command that admission decisions need.
public struct ENetConnectRequest: Equatable, Hashable, Sendable {
    public var outgoingPeerID: UInt16
    public var mtu: UInt32
    public var windowSize: UInt32
    public var channelCount: UInt32
    /// Random per connection attempt; ENet's retransmissions of one attempt repeat it. Read
    /// little-endian (ENet sends it unconverted), so it equals the ``PeerHandle/connectID`` both ends see.
    public var connectID: UInt32
    /// The 32-bit connect data (`enet_host_connect`'s `data`), e.g. a connect cookie.
    public var data: UInt32

    public init(outgoingPeerID: UInt16, mtu: UInt32, windowSize: UInt32, channelCount: UInt32, connectID: UInt32, data: UInt32) {
        self.outgoingPeerID = outgoingPeerID
        self.mtu = mtu
        self.windowSize = windowSize
        self.channelCount = channelCount
        self.connectID = connectID
        self.data = data
    }
}

/// Why a datagram was rejected. Raw values are stable names for counters and logs.
public enum ENetDatagramRejection: String, CaseIterable, Sendable {
    case truncatedHeader = "truncated-header"
    /// Compression flag set: we never enable ENet's range coder, so it only comes from a foreign sender.
    case compressed
    case unknownPeer = "unknown-peer"
    case noCommands = "no-commands"
    case tooManyCommands = "too-many-commands"
    case truncatedCommand = "truncated-command"
    case unknownCommand = "unknown-command"
    /// Anything but one CONNECT addressed to the unassigned peer ID 0xFFF.
    case commandWithoutPeer = "command-without-peer"
    case connectToAssignedPeer = "connect-to-assigned-peer"
    case connectChannelCount = "connect-channel-count"
    case connectMTU = "connect-mtu"
    case connectWindowSize = "connect-window-size"
    case channel
    case packetTooLarge = "packet-too-large"
    case payloadPastDatagram = "payload-past-datagram"
    case fragmentEmpty = "fragment-empty"
    case fragmentCount = "fragment-count"
    case fragmentNumber = "fragment-number"
    case fragmentTotalLength = "fragment-total-length"
    case fragmentRange = "fragment-range"
}

/// ENet 1.3.17 protocol constants (enet/protocol.h), spelled out so the inspector is pure Swift.
public enum ENetWire {
    public static let headerFlagSentTime: UInt16 = 0x8000
    public static let headerFlagCompressed: UInt16 = 0x4000
    public static let headerSessionMask: UInt16 = 0x3000
    public static let peerIDMask: UInt16 = 0x0FFF
    public static let maximumPeerID = 0xFFF
    public static let maximumChannelCount = 255
    public static let maximumPacketCommands = 32
    public static let maximumFragmentCount = 1024 * 1024
    public static let minimumMTU: UInt32 = 576
    public static let maximumMTU: UInt32 = 4096
    public static let minimumWindowSize: UInt32 = 4096
    public static let maximumWindowSize: UInt32 = 65536

    public static let commandMask: UInt8 = 0x0F
    public static let commandFlagAcknowledge: UInt8 = 0x80
    public static let commandFlagUnsequenced: UInt8 = 0x40

    public static let commandAcknowledge = 1
    public static let commandConnect = 2
    public static let commandVerifyConnect = 3
    public static let commandDisconnect = 4
    public static let commandPing = 5
    public static let commandSendReliable = 6
    public static let commandSendUnreliable = 7
    public static let commandSendFragment = 8
    public static let commandSendUnsequenced = 9
    public static let commandBandwidthLimit = 10
    public static let commandThrottleConfigure = 11
    public static let commandSendUnreliableFragment = 12

    /// sizeof the ENetProtocol* struct of a command number (as ENet's `commandSizes` table); 0 = no such command.
    @inline(__always)
    public static func commandSize(_ number: Int) -> Int {
        switch number {
        case commandAcknowledge, commandDisconnect, commandSendUnreliable, commandSendUnsequenced: 8
        case commandConnect: 48
        case commandVerifyConnect: 44
        case commandPing: 4
        case commandSendReliable: 6
        case commandSendFragment, commandSendUnreliableFragment: 24
        case commandBandwidthLimit: 12
        case commandThrottleConfigure: 16
        default: 0
        }
    }
}
