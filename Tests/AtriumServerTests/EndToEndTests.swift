import AtriumClient
import AtriumSecurity
import AtriumTransport
import AtriumWire
import Foundation
import Logging
import Testing

@testable import AtriumServer

/// A node on an ephemeral loopback port serving the shipped worlds.
func startTestNode(_ adjust: (inout ServerConfiguration) -> Void = { _ in }) throws -> NodeRuntime {
    var configuration = ServerConfiguration()
    configuration.port = 0
    configuration.bindAddress = "127.0.0.1"
    configuration.shutdownGraceMs = 1000
    configuration.securityLogDirectory = "off"
    adjust(&configuration)
    let (worlds, errors) = LoadedWorld.loadDirectory(packageRoot.appendingPathComponent("Worlds").path)
    #expect(errors.isEmpty, "\(errors)")
    var logger = Logger(label: "test-node")
    logger.logLevel = .critical
    return try NodeRuntime.start(configuration: configuration, worlds: worlds, logger: logger)
}

/// Pumps every client until `condition` holds or `seconds` pass; returns whether it held.
@discardableResult
func pump(_ clients: [AtriumConnection], seconds: Double = 3, until condition: () -> Bool) -> Bool {
    let deadline = MonotonicClock.nowMicros() + UInt64(seconds * 1_000_000)
    while MonotonicClock.nowMicros() < deadline {
        for client in clients { client.pump(timeoutMilliseconds: 2) }
        if condition() { return true }
    }
    return condition()
}

extension NodeRuntime {
    var address: TransportAddress { TransportAddress(host: "127.0.0.1", port: port) }
}

@Suite(.serialized) struct EndToEndTests {
    @Test func threeClientsSeeEachOtherMoveAndLeave() async throws {
        let node = try startTestNode()
        let alice = try AtriumConnection()
        let bob = try AtriumConnection()
        let carol = try AtriumConnection()
        let welcomeA = try alice.join(server: node.address, worldId: "expo-hall", displayName: "Alice")
        let welcomeB = try bob.join(server: node.address, worldId: "expo-hall", displayName: "Bob")
        let welcomeC = try carol.join(server: node.address, worldId: "expo-hall", displayName: "卡罗尔")
        #expect(welcomeA.worldId == "expo-hall" && welcomeA.tickRateHz == 30 && welcomeA.worldContentHash.count == 32)
        #expect(Set([welcomeA.clientId, welcomeB.clientId, welcomeC.clientId]).count == 3)

        // Everyone learns everyone's name and sees everyone in snapshots.
        let all = [alice, bob, carol]
        #expect(pump(all) {
            all.allSatisfy { c in
                [welcomeA, welcomeB, welcomeC].allSatisfy { c.session.avatars[$0.clientId]?.latestPose != nil }
            }
        })
        #expect(bob.session.avatars[welcomeC.clientId]?.displayName == "卡罗尔")
        #expect(carol.session.avatars[welcomeA.clientId]?.role == .visitor)

        // Alice steps half a metre (after a moment: the server enforces a speed limit since her spawn);
        // Bob and Carol see it within a few ticks.
        pump(all, seconds: 0.3) { false }
        let start = try #require(alice.session.avatars[welcomeA.clientId]?.latestPose)
        var moved = start
        moved.headPosition = start.headPosition + Vec3(0.5, 0, 0.2)
        moved.headRotation = Quat.yaw(0.7)
        moved.rightHand = HandPose(position: moved.headPosition + Vec3(0.3, -0.4, -0.2), rotation: .identity)
        let sentAt = MonotonicClock.nowMicros()
        alice.sendPose(moved)
        let seen = pump(all, seconds: 2) {
            [bob, carol].allSatisfy { c in
                guard let p = c.session.avatars[welcomeA.clientId]?.latestPose else { return false }
                return Vec3.distance(p.headPosition, moved.headPosition) < 0.002 && p.rightHand != nil
            }
        }
        #expect(seen, "the move did not reach the others")
        #expect(MonotonicClock.nowMicros() - sentAt < 1_000_000)
        let bobsView = try #require(bob.session.avatars[welcomeA.clientId]?.latestPose)
        #expect(Quat.angle(bobsView.headRotation, moved.headRotation) < 0.01)
        #expect(bob.session.avatars[welcomeA.clientId]?.lastInputSequence == 1)

        // Carol leaves; the others get AVATAR_LEFT.
        carol.leave()
        #expect(pump([alice, bob]) {
            alice.session.avatars[welcomeC.clientId] == nil && bob.session.avatars[welcomeC.clientId] == nil
        })

        // Shutdown: the remaining clients get CLOSING(server_closing).
        node.stop()
        #expect(pump([alice, bob], seconds: 3) {
            alice.session.phase == .ended(.serverClosing) && bob.session.phase == .ended(.serverClosing)
        })
        await node.waitUntilStopped()
    }

    @Test func joinRefusalsCarryReasonCodes() async throws {
        let node = try startTestNode()
        defer { node.stop() }
        let client = try AtriumConnection()
        #expect(throws: ConnectionError.self) {
            try client.join(server: node.address, worldId: "no-such-world", displayName: "x")
        }
        #expect(client.session.phase == .ended(.unknownWorld))

        let presenter = try AtriumConnection()
        #expect(throws: ConnectionError.self) {
            try presenter.join(server: node.address, worldId: "classroom", displayName: "p", role: .villageHead)
        }
        #expect(presenter.session.phase == .ended(.roleNotAllowed))
        await node.shutdown()
    }

    @Test func versionMismatchIsDenied() async throws {
        let node = try startTestNode()
        let raw = try RawPeer(node.address)
        raw.send(
            ClientMessage.hello(
                Hello(minVersion: 7, maxVersion: 9, requestedRole: .visitor, worldId: "expo-hall", displayName: "future")
            ).encode(codec: nil), channel: .control)
        let reply = try #require(raw.nextMessage())
        guard case .deny(let deny) = reply else {
            Issue.record("expected DENY, got \(reply)")
            return
        }
        #expect(deny.reason == .versionMismatch && deny.serverMinVersion == ProtocolVersion.supported.lowerBound && deny.serverMaxVersion == ProtocolVersion.supported.upperBound)
        #expect(raw.waitForDisconnect() == UInt32(ReasonCode.versionMismatch.rawValue))
        await node.shutdown()
    }

    @Test func hostileInputClosesOnlyThatSession() async throws {
        let node = try startTestNode { $0.helloTimeoutMs = 300 }
        let honest = try AtriumConnection()
        let welcome = try honest.join(server: node.address, worldId: "expo-hall", displayName: "honest")

        // Garbage before HELLO → CLOSING(malformed_message) and a disconnect with that code.
        let garbage = try RawPeer(node.address)
        garbage.send([0x01, 0xFF], channel: .control)
        #expect(garbage.nextClosingReason() == .malformedMessage)

        // A pose before HELLO → unexpected_message.
        let early = try RawPeer(node.address)
        early.send([0x04] + Array(repeating: 0, count: 8), channel: .state)
        #expect(early.nextClosingReason() == .unexpectedMessage)

        // A token, then silence → hello_timeout.
        let silent = try RawPeer(node.address)
        #expect(silent.nextClosingReason(seconds: 3) == .helloTimeout)

        // A joined client sending an unknown message type and truncated data is closed too.
        let rogue = try AtriumConnection()
        let rogueWelcome = try rogue.join(server: node.address, worldId: "expo-hall", displayName: "rogue")
        rogue.send([0x7E, 1, 2, 3], channel: .state)
        #expect(pump([rogue, honest]) { rogue.session.phase == .ended(.malformedMessage) })
        #expect(pump([honest]) { honest.session.avatars[rogueWelcome.clientId] == nil })

        // The honest client still moves and is still served.
        let before = honest.session.snapshotsReceived
        #expect(pump([honest]) { honest.session.snapshotsReceived > before + 5 })
        #expect(honest.session.phase == .joined && honest.session.avatars[welcome.clientId] != nil)
        // The node counted the violations (statistics are published once per interval).
        #expect(pump([honest], seconds: 3) { node.statistics.malformedMessages >= 2 && node.statistics.unexpectedMessages >= 1 })
        await node.shutdown()
    }

    @Test func movementLimitsRubberBand() async throws {
        let node = try startTestNode()
        let mover = try AtriumConnection()
        let watcher = try AtriumConnection()
        let moverWelcome = try mover.join(server: node.address, worldId: "expo-hall", displayName: "mover")
        _ = try watcher.join(server: node.address, worldId: "expo-hall", displayName: "watcher")
        #expect(pump([mover, watcher]) { watcher.session.avatars[moverWelcome.clientId]?.latestPose != nil })
        let start = try #require(watcher.session.avatars[moverWelcome.clientId]?.latestPose)

        // 40 m in one step: a teleport. The server keeps the last good position.
        var jump = start
        jump.headPosition = start.headPosition + Vec3(40, 0, 0)
        mover.sendPose(jump)
        // A hand 1.27 m from the head (reach limit 1 m): dropped.
        var longArm = start
        longArm.leftHand = HandPose(position: start.headPosition + Vec3(0.9, 0, 0.9), rotation: .identity)
        mover.sendPose(longArm)
        pump([mover, watcher], seconds: 0.5) { false }
        let seen = try #require(watcher.session.avatars[moverWelcome.clientId]?.latestPose)
        #expect(Vec3.distance(seen.headPosition, start.headPosition) < 0.01)
        #expect(seen.leftHand == nil)
        await node.shutdown()
    }
}

/// A bare ENet peer for sending arbitrary bytes at the node.
/// A client that speaks the session layer by hand, so tests can send what a real client never would.
final class RawPeer {
    let host: TransportHost
    let peer: PeerHandle
    var connected = false
    var disconnectData: UInt32?
    /// The sealed session (nil: the peer never presented a token).
    var channel: SecureChannel?

    /// A development-key ticket for `world` (what a local tool or a test holds).
    static func ticket(world: String = "expo-hall", name: String = "raw", role: Role = .visitor, port: UInt16 = 0) -> JoinTicket {
        try! JoinTicket.issue(
            keyring: .development, userId: "user-\(name)", displayName: name, role: role.rawValue, worldId: world,
            serverAddresses: ["127.0.0.1:\(port)"])
    }

    /// Connects; then presents `token` (nil: nothing) as the first packet. Later `send`s are sealed with
    /// `ticket`'s keys when given.
    init(_ address: TransportAddress, ticket: JoinTicket? = RawPeer.ticket(), token: [UInt8]? = nil) throws {
        host = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: Channel.count)
        peer = try ConnectCookieClient.connect(host, to: address, channelCount: Channel.count)
        let deadline = MonotonicClock.nowMicros() + 3_000_000
        while !connected && MonotonicClock.nowMicros() < deadline {
            if case .connected = host.service(timeoutMilliseconds: 10) { connected = true }
        }
        guard connected else { throw ConnectionError(description: "raw peer could not connect") }
        if let ticket {
            channel = SecureChannel(ticket: ticket)
            sendUnsealed(token ?? ticket.token, channel: .control)
        } else if let token {
            sendUnsealed(token, channel: .control)
        }
    }

    /// Sealed with the session (as a real client sends everything after the token).
    func send(_ bytes: [UInt8], channel: Channel) {
        guard let sealed = self.channel?.seal(bytes, channel: channel) else { return }
        sendUnsealed(sealed, channel: channel)
    }

    func sendUnsealed(_ bytes: [UInt8], channel: Channel) {
        host.send(bytes, to: peer, channel: channel.rawValue, delivery: .forAtriumChannel(channel.rawValue))
        host.flush()
    }

    /// Joins with a sealed HELLO for the ticket's world; returns the WELCOME's client id.
    func hello(world: String = "expo-hall") -> UInt16? {
        send(
            ClientMessage.hello(
                Hello(minVersion: 1, maxVersion: ProtocolVersion.current, requestedRole: .visitor, worldId: world, displayName: "raw")
            ).encode(codec: nil), channel: .control)
        let deadline = MonotonicClock.nowMicros() + 3_000_000
        while MonotonicClock.nowMicros() < deadline {
            if case .welcome(let welcome) = nextMessage(seconds: 0.1) { return welcome.clientId }
        }
        return nil
    }

    func nextMessage(seconds: Double = 3) -> ServerMessage? {
        let deadline = MonotonicClock.nowMicros() + UInt64(seconds * 1_000_000)
        while MonotonicClock.nowMicros() < deadline {
            switch host.service(timeoutMilliseconds: 10) {
            case .received(_, let channelNumber, let packet):
                guard let payload = channel?.open(packet, channel: channelNumber) else { continue }
                return try? ServerMessage.decode(payload, codec: nil)
            case .disconnected(_, let data): disconnectData = data
            default: break
            }
        }
        return nil
    }

    func nextClosingReason(seconds: Double = 3) -> ReasonCode? {
        let deadline = MonotonicClock.nowMicros() + UInt64(seconds * 1_000_000)
        while MonotonicClock.nowMicros() < deadline {
            if case .closing(let closing) = nextMessage(seconds: 0.1) { return closing.reason }
        }
        return nil
    }

    func waitForDisconnect(seconds: Double = 3) -> UInt32? {
        let deadline = MonotonicClock.nowMicros() + UInt64(seconds * 1_000_000)
        while disconnectData == nil && MonotonicClock.nowMicros() < deadline {
            if case .disconnected(_, let data) = host.service(timeoutMilliseconds: 10) { disconnectData = data }
        }
        return disconnectData
    }
}
