import AtriumSecurity
import AtriumWire
import Foundation
import Testing

@testable import AtriumServer

@Suite struct SecuritySettingsTests {
    @Test func developmentKeysOnlyOnLoopbackUnlessAllowed() throws {
        var config = ServerConfiguration()
        config.bindAddress = "127.0.0.1"
        #expect(throws: Never.self) { try SecuritySettings(config) }
        config.bindAddress = "0.0.0.0"
        #expect(throws: SecuritySettings.Refused.self) { try SecuritySettings(config) }
        config.allowDevelopmentKeys = true
        #expect(throws: Never.self) { try SecuritySettings(config) }
        // Real keys: fine anywhere, and the refusal never prints key text.
        config.allowDevelopmentKeys = false
        config.tokenKeys = "7:" + String(repeating: "ab", count: 32)
        config.joinApiKey = "an-organizer-key-of-some-length"
        let settings = try SecuritySettings(config)
        #expect(settings.keyring.keyIds == [7] && !settings.keyring.usesDevelopmentKey)
        config.tokenKeys = "7:abc"
        do {
            _ = try SecuritySettings(config)
            Issue.record("a short key must be refused")
        } catch {
            #expect(!error.description.contains("abc"))
        }
    }

    @Test func ratesComeFromTheConfiguration() throws {
        var config = ServerConfiguration()
        config.ratePosesPerSecond = 30
        config.rateChatBurst = 2
        let settings = try SecuritySettings(config)
        #expect(settings.rateLimits.posesPerSecond == 30 && settings.rateLimits.chatBurst == 2)
    }
}

@Suite struct JoinEndpointTests {
    func issuer() throws -> (JoinIssuer, StatisticsBoard) {
        let (worlds, errors) = LoadedWorld.loadDirectory(packageRoot.appendingPathComponent("Worlds").path)
        #expect(errors.isEmpty)
        var config = ServerConfiguration()
        config.port = 0
        config.securityLogDirectory = "off"
        let board = StatisticsBoard()
        return (try JoinIssuer(configuration: config, worlds: worlds, board: board), board)
    }

    func body(_ request: JoinRequest) -> Data { try! JSONEncoder().encode(request) }

    @Test func theOrganizerKeyIsRequiredAndRequestsAreChecked() throws {
        let (join, _) = try issuer()
        let request = body(JoinRequest(userId: "u1", displayName: "Zoë", role: "visitor", world: "expo-hall"))
        #expect(join.issue(authorization: nil, body: request) == .failure(.unauthorized))
        #expect(join.issue(authorization: "Bearer wrong-key-wrong-key", body: request) == .failure(.unauthorized))
        let auth = "Bearer " + SecuritySettings.developmentJoinApiKey
        #expect(join.issue(authorization: auth, body: Data("{}".utf8)).isBadRequest)
        #expect(join.issue(authorization: auth, body: body(JoinRequest(userId: "u", displayName: "x", role: "visitor", world: "nowhere")))
            == .failure(.unknownWorld("nowhere")))
        #expect(join.issue(authorization: auth, body: body(JoinRequest(userId: "u", displayName: "x", role: "village_head", world: "classroom")))
            .isBadRequest)
        // The node is not running yet: no port to put in the token.
        #expect(join.issue(authorization: auth, body: request) == .failure(.notReady))
    }

    @Test func aTicketOpensWithTheNodesKeyring() async throws {
        let node = try startTestNode()
        let (worlds, _) = LoadedWorld.loadDirectory(packageRoot.appendingPathComponent("Worlds").path)
        var config = ServerConfiguration()
        config.securityLogDirectory = "off"
        let board = StatisticsBoard()
        board.attach(node)
        let join = try JoinIssuer(configuration: config, worlds: worlds, board: board)
        let result = join.issue(
            authorization: "Bearer " + SecuritySettings.developmentJoinApiKey,
            body: body(JoinRequest(userId: "u1", displayName: "Zoë", role: "teacher", world: "classroom")))
        guard case .success(let ticket) = result else {
            Issue.record("\(result)")
            return
        }
        // Through JSON and back, as a client receives it.
        let received = try JoinTicket.decode(json: ticket.json())
        #expect(received == ticket)
        let token = try node.tokenKeyring.open(received.token, nowSeconds: JoinTicket.unixSeconds())
        #expect(token.displayName == "Zoë" && token.role == Role.teacher.rawValue && token.worldId == "classroom")
        #expect(token.serverAddresses == ["127.0.0.1:\(node.port)"])
        #expect(token.clientToServerKey == received.clientToServerKey)
        // And it joins.
        let peer = try RawPeer(node.address, ticket: received)
        #expect(peer.hello(world: "classroom") != nil)
        await node.shutdown()
    }
}

extension Result where Failure == JoinIssuer.Failure {
    var isBadRequest: Bool {
        if case .failure(.badRequest) = self { return true }
        return false
    }
}
