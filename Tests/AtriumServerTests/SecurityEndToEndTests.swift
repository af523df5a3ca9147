import AtriumClient
import AtriumCrypto
import AtriumSecurity
import AtriumTransport
import AtriumWire
import Foundation
import Testing

@testable import AtriumServer

/// The session layer over real ENet on loopback (PROTOCOL.md §18): tokens, the deadline, sealed packets,
/// rate limits.
@Suite(.serialized) struct SecurityEndToEndTests {
    @Test func aPeerThatNeverSendsATokenIsDroppedAtTheDeadline() async throws {
        let node = try startTestNode { $0.tokenDeadlineMs = 300 }
        let started = MonotonicClock.nowMicros()
        let silent = try RawPeer(node.address, ticket: nil)
        #expect(silent.waitForDisconnect(seconds: 3) == ReasonCode.tokenTimeout.disconnectData)
        let waited = Double(MonotonicClock.nowMicros() - started) / 1e6
        #expect(waited >= 0.25 && waited < 2.5, "dropped after \(waited) s")
        #expect(silent.nextMessage(seconds: 0.2) == nil, "nothing is ever sent to a peer without a session")
        #expect(pump([], seconds: 2) { node.statistics.tokenTimeouts >= 1 })
        await node.shutdown()
    }

    @Test func expiredTamperedForeignAndGarbageTokensAreRefused() async throws {
        let node = try startTestNode()
        let good = RawPeer.ticket()
        var tampered = good.token
        tampered[40] ^= 0x01
        let expired = try JoinTicket.issue(
            keyring: .development, userId: "u", displayName: "late", role: 0, worldId: "expo-hall",
            serverAddresses: ["127.0.0.1:1"], nowSeconds: JoinTicket.unixSeconds() - 120, lifetimeSeconds: 60)
        let foreignKeyring = try TokenKeyring(keys: [0: .random()], currentKeyId: 0)
        let foreign = try JoinTicket.issue(
            keyring: foreignKeyring, userId: "u", displayName: "foreign", role: 0, worldId: "expo-hall",
            serverAddresses: ["127.0.0.1:1"])
        let cases: [(String, [UInt8])] = [
            ("tampered", tampered), ("expired", expired.token), ("foreign key", foreign.token),
            ("garbage", Array(repeating: 0x41, count: 100)), ("empty-ish", [0x01]),
        ]
        for (name, token) in cases {
            let peer = try RawPeer(node.address, ticket: good, token: token)
            #expect(peer.waitForDisconnect(seconds: 3) == ReasonCode.invalidToken.disconnectData, "\(name)")
        }
        #expect(pump([], seconds: 2) { node.statistics.tokensRejected >= UInt64(cases.count) })
        // The node still serves honest clients.
        let honest = try AtriumConnection()
        _ = try honest.join(server: node.address, worldId: "expo-hall", displayName: "honest")
        await node.shutdown()
    }

    @Test func aTokenUsedFromASecondAddressIsRefused() async throws {
        let node = try startTestNode()
        let ticket = RawPeer.ticket(name: "first")
        let first = try RawPeer(node.address, ticket: ticket)
        #expect(first.hello() != nil)
        // Another ENet host: another source port, so another address.
        let second = try RawPeer(node.address, ticket: ticket)
        #expect(second.waitForDisconnect(seconds: 3) == ReasonCode.invalidToken.disconnectData)
        await node.shutdown()
    }

    @Test func theTokenDecidesNameRoleAndWorld() async throws {
        let node = try startTestNode()
        let ticket = RawPeer.ticket(world: "classroom", name: "Ada", role: .student)
        let peer = try RawPeer(node.address, ticket: ticket)
        // A HELLO for another world than the token's is refused.
        peer.send(
            ClientMessage.hello(
                Hello(minVersion: 1, maxVersion: ProtocolVersion.current, requestedRole: .teacher, worldId: "expo-hall", displayName: "x")
            ).encode(codec: nil), channel: .control)
        guard case .deny(let deny) = peer.nextMessage() else {
            Issue.record("expected DENY")
            return
        }
        #expect(deny.reason == .unknownWorld)
        await node.shutdown()
    }

    @Test func flippedBitsAndReplaysAreDroppedWithoutChangingTheSession() async throws {
        let node = try startTestNode()
        let ticket = RawPeer.ticket(name: "flipper")
        let peer = try RawPeer(node.address, ticket: ticket)
        #expect(peer.hello() != nil)
        // A sealed PING, kept to replay and to corrupt.
        var channel = SecureChannel(ticket: ticket)
        // Sequence numbers the peer's own channel has not used yet.
        for _ in 0..<1000 { _ = channel.seal([0], channel: .state) }
        let ping = ClientMessage.ping(Ping(clientTimeMicros: 4242)).encode(codec: nil)
        let sealedOrNil = channel.seal(ping, channel: .state)
        let sealed = try #require(sealedOrNil)
        var corrupted = 0
        for bit in 0..<(sealed.count * 8) {
            var bad = sealed
            bad[bit / 8] ^= 1 << UInt8(bit % 8)
            peer.sendUnsealed(bad, channel: .state)
            corrupted += 1
        }
        // None of them produced a PONG, and the session is intact: the original opens and is answered.
        peer.sendUnsealed(sealed, channel: .state)
        var pongs = 0
        let deadline = MonotonicClock.nowMicros() + 2_000_000
        while MonotonicClock.nowMicros() < deadline {
            if case .pong(let pong) = peer.nextMessage(seconds: 0.1), pong.clientTimeMicros == 4242 { pongs += 1 }
        }
        #expect(pongs == 1)
        // The same packet again is a replay: no second PONG.
        peer.sendUnsealed(sealed, channel: .state)
        var again = 0
        let until = MonotonicClock.nowMicros() + 1_000_000
        while MonotonicClock.nowMicros() < until {
            if case .pong(let pong) = peer.nextMessage(seconds: 0.1), pong.clientTimeMicros == 4242 { again += 1 }
        }
        #expect(again == 0)
        #expect(peer.disconnectData == nil, "the session survived \(corrupted) corrupted packets")
        #expect(pump([], seconds: 2) { node.statistics.unopenedPackets >= UInt64(corrupted) })
        await node.shutdown()
    }

    /// The worker opens each datagram straight from ENet's packet: empty ones, ones shorter than the envelope,
    /// a sealed one cut short or with its tag cut off, and garbage are dropped and counted, without ending the
    /// session or using up its sequence; the intact datagram, sent after them, is answered once.
    @Test func truncatedEmptyAndGarbageDatagramsAreDroppedAndTheSessionGoesOn() async throws {
        let node = try startTestNode()
        let peer = try RawPeer(node.address, ticket: RawPeer.ticket(name: "cutter"))
        #expect(peer.hello() != nil)
        let ping = ClientMessage.ping(Ping(clientTimeMicros: 7777)).encode(codec: nil)
        let sealedOrNil = peer.channel?.seal(ping, channel: .state)
        let sealed = try #require(sealedOrNil)
        let bad: [[UInt8]] = [
            [], [0], Array(sealed.prefix(SessionEnvelope.overhead - 1)), Array(sealed.prefix(SessionEnvelope.overhead)),
            Array(sealed.dropLast()), Array(sealed.dropLast(SessionEnvelope.tagByteCount)), [UInt8](repeating: 0xFF, count: 600),
        ]
        let before = node.statistics.unopenedPackets
        for datagram in bad { peer.sendUnsealed(datagram, channel: .state) }
        #expect(pump([], seconds: 2) { node.statistics.unopenedPackets >= before + UInt64(bad.count) })
        peer.sendUnsealed(sealed, channel: .state)
        var pongs = 0
        let deadline = MonotonicClock.nowMicros() + 1_500_000
        while MonotonicClock.nowMicros() < deadline {
            if case .pong(let pong) = peer.nextMessage(seconds: 0.1), pong.clientTimeMicros == 7777 { pongs += 1 }
        }
        #expect(pongs == 1)
        #expect(peer.disconnectData == nil, "the session survived \(bad.count) malformed datagrams")
        await node.shutdown()
    }

    @Test func aPoseFloodIsDroppedThenDisconnected() async throws {
        let node = try startTestNode { $0.ratePosesPerSecond = 10 }
        let flooder = try AtriumConnection()
        let welcome = try flooder.join(server: node.address, worldId: "expo-hall", displayName: "flood")
        #expect(pump([flooder]) { flooder.session.avatars[welcome.clientId]?.latestPose != nil })
        let pose = try #require(flooder.session.avatars[welcome.clientId]?.latestPose)
        // ~100 poses a second against a limit of 10: the excess is dropped, and after drops in 5 of 10
        // seconds the session is closed with rate_limited.
        let deadline = MonotonicClock.nowMicros() + 9_000_000
        while MonotonicClock.nowMicros() < deadline && flooder.session.phase != .ended(.rateLimited) {
            flooder.sendPose(pose)
            flooder.pump(timeoutMilliseconds: 10)
        }
        #expect(flooder.session.phase == .ended(.rateLimited))
        #expect(pump([], seconds: 2) { node.statistics.rateLimitedDrops > 0 })
        await node.shutdown()
    }

    @Test func peersPerAddressIsCapped() async throws {
        let node = try startTestNode { $0.peersPerAddress = 1 }
        let first = try AtriumConnection()
        _ = try first.join(server: node.address, worldId: "expo-hall", displayName: "first")
        // Same IPv4 address (127.0.0.1), another port: ENet refuses the second peer.
        let second = try AtriumConnection()
        #expect(throws: ConnectionError.self) {
            try second.join(server: node.address, worldId: "expo-hall", displayName: "second", timeoutMilliseconds: 1500)
        }
        #expect(first.session.phase == .joined)
        await node.shutdown()
    }
}
