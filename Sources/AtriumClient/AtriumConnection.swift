import AtriumSecurity
import AtriumTransport
import AtriumWire

public struct ConnectionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

/// One client over its own ENet host: connect, join, send poses, receive state. Driven by its owner's
/// thread through `pump`; not thread-safe by design (ENet hosts have one owning thread).
public final class AtriumConnection {
    public let host: TransportHost
    public private(set) var peer: PeerHandle?
    public private(set) var session = ClientSession()
    public private(set) var isConnected = false
    /// Set when ENet reports the disconnect; the data is the server's reason code.
    public private(set) var disconnectReason: ReasonCode?

    public init() throws(TransportError) {
        host = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: Channel.count)
    }

    /// The sealed session, once `join` has a ticket.
    public private(set) var channel: SecureChannel?

    /// Mints a ticket with `keyring` (a node's development key by default, as local tools and tests use) and
    /// joins with it. Real clients get their ticket from the node's `POST /v1/join` (`JoinService`).
    public func join(
        server: TransportAddress, worldId: String, displayName: String, role: Role = .visitor,
        keyring: TokenKeyring = .development, timeoutMilliseconds: UInt32 = 5000
    ) throws(ConnectionError) -> Welcome {
        let ticket: JoinTicket
        do {
            ticket = try JoinTicket.issue(
                keyring: keyring, userId: "local-\(displayName)", displayName: displayName, role: role.rawValue,
                worldId: worldId, serverAddresses: ["\(server)"])
        } catch {
            throw ConnectionError(description: "cannot issue a ticket: \(error)")
        }
        return try join(server: server, ticket: ticket, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Connects, presents the ticket's token, sends a sealed HELLO and returns after WELCOME or DENY; throws on
    /// timeout or when the server drops the connection (its reason code in the message).
    public func join(server: TransportAddress, ticket: JoinTicket, timeoutMilliseconds: UInt32 = 5000) throws(ConnectionError) -> Welcome {
        let peer: PeerHandle
        do {
            // The cookie step first (PROTOCOL.md §18.8): the server ignores a CONNECT without one.
            peer = try ConnectCookieClient.connect(
                host, to: server, channelCount: Channel.count, timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            throw ConnectionError(description: "cannot connect to \(server): \(error)")
        }
        self.peer = peer
        channel = SecureChannel(ticket: ticket)
        let deadline = MonotonicClock.nowMicros() + UInt64(timeoutMilliseconds) * 1000
        while MonotonicClock.nowMicros() < deadline {
            for event in pump(timeoutMilliseconds: 10) {
                switch event {
                case .welcomed(let welcome): return welcome
                case .denied(let deny):
                    throw ConnectionError(description: "denied: \(deny.reason.name) \(deny.detail)")
                default: break
                }
            }
            if !isConnected, disconnectReason != nil {
                throw ConnectionError(description: "disconnected: \(disconnectReason!.name)")
            }
            if isConnected && session.phase == .awaitingWelcome && !helloSent, let token = channel?.tokenPacket {
                helloSent = true
                host.send(token, to: peer, channel: Channel.control.rawValue, delivery: .reliable)
                let role = Role(rawValue: ticket.role) ?? .visitor
                send(session.hello(worldId: ticket.worldId, displayName: ticket.displayName, role: role), channel: .control)
            }
        }
        throw ConnectionError(description: "no answer from \(server) within \(timeoutMilliseconds) ms")
    }

    private var helloSent = false

    /// Services the network for up to `timeoutMilliseconds` (returns early once something arrived) and
    /// returns what happened, in order.
    @discardableResult
    public func pump(timeoutMilliseconds: UInt32 = 0) -> [ClientEvent] {
        var events: [ClientEvent] = []
        var wait = timeoutMilliseconds
        while host.service(timeoutMilliseconds: wait, { handle($0, into: &events) }) { wait = 0 }
        return events
    }

    /// Every received message is opened into this one array (its capacity reused), straight from ENet's packet.
    private var plaintext: [UInt8] = []

    private func handle(_ event: LentTransportEvent, into events: inout [ClientEvent]) {
        switch event {
        case .connected:
            isConnected = true
        case .disconnected(_, let data):
            isConnected = false
            disconnectReason = ReasonCode(rawValue: UInt8(clamping: data)) ?? ReasonCode.none
        case .received(_, let channelNumber, let datagram):
            // Everything from the server is sealed; what does not open is dropped.
            guard channel?.open(datagram, channel: channelNumber, into: &plaintext) == true else { return }
            events.append(session.receive(plaintext, nowMicros: MonotonicClock.nowMicros()))
        }
    }

    /// Seals `bytes` and sends them on `channel`.
    public func send(_ bytes: [UInt8], channel: Channel) {
        guard let peer, let sealed = self.channel?.seal(bytes, channel: channel) else { return }
        host.send(sealed, to: peer, channel: channel.rawValue, delivery: .forAtriumChannel(channel.rawValue))
        host.flush()
    }

    /// Sends `bytes` as they are, unsealed: only for tests of how the server treats hostile input.
    public func sendUnsealed(_ bytes: [UInt8], channel: Channel) {
        guard let peer else { return }
        host.send(bytes, to: peer, channel: channel.rawValue, delivery: .forAtriumChannel(channel.rawValue))
        host.flush()
    }

    public func sendPose(_ pose: AvatarPose) {
        let now = MonotonicClock.nowMicros()
        if let bytes = session.pose(pose, clientTimeMs: UInt32(truncatingIfNeeded: now / 1000)) {
            send(bytes, channel: .state)
        }
    }

    public func sendChat(_ text: String) { send(session.chat(text), channel: .control) }

    /// One Opus frame on the voice channel (PROTOCOL.md §17).
    public func sendVoice(_ frame: VoiceFrame) { send(ClientMessage.voice(frame).encode(codec: nil), channel: .voice) }

    /// Asks for relay or server-mixed voice; the answer comes as a `.voiceMode` event.
    public func requestVoiceMode(_ mode: VoiceMode) {
        send(ClientMessage.voiceSetup(VoiceSetup(requestedMode: mode)).encode(codec: nil), channel: .control)
    }

    /// Mute/unmute self, block/unblock someone, or (moderators) mute someone for everyone.
    public func sendVoiceControl(_ control: VoiceControl) {
        send(ClientMessage.voiceControl(control).encode(codec: nil), channel: .control)
    }

    public func sendPing() { send(session.ping(nowMicros: MonotonicClock.nowMicros()), channel: .state) }

    /// Leaves gracefully and waits (bounded) for ENet to confirm.
    public func leave(timeoutMilliseconds: UInt32 = 1000) {
        guard let peer, isConnected else { return }
        host.disconnect(peer, data: UInt32(ReasonCode.none.rawValue))
        let deadline = MonotonicClock.nowMicros() + UInt64(timeoutMilliseconds) * 1000
        while isConnected && MonotonicClock.nowMicros() < deadline { pump(timeoutMilliseconds: 10) }
    }
}
