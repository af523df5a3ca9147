import AtriumClient
import AtriumWire
import Foundation
import Logging
import Testing

@testable import AtriumServer

/// A world of capacity 2 in a temporary directory.
func tinyWorldDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atrium-tiny-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let world = """
        id: tiny
        name: Tiny room
        bounds:
          min: [0, 0, 0]
          max: [20, 5, 20]
        interest_radius: 5
        capacity: 2
        roles: [visitor]
        default_role: visitor
        spawn_points:
          - position: [10, 0, 10]
        """
    try world.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    return dir.path
}

@Suite(.serialized) struct InstancingTests {
    @Test func fullWorldOpensAnotherInstanceUpToTheLimit() async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.bindAddress = "127.0.0.1"
        configuration.maxInstancesPerWorld = 2
        let (worlds, errors) = LoadedWorld.loadDirectory(try tinyWorldDirectory())
        #expect(errors.isEmpty)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let node = try NodeRuntime.start(configuration: configuration, worlds: worlds, logger: logger)

        var clients: [AtriumConnection] = []
        var welcomes: [Welcome] = []
        for i in 0..<4 {
            let client = try AtriumConnection()
            welcomes.append(try client.join(server: node.address, worldId: "tiny", displayName: "c\(i)"))
            clients.append(client)
        }
        // Two instances of two: the first pair sees each other, not the second pair.
        #expect(pump(clients) {
            clients[0].session.avatars.count == 2 && clients[2].session.avatars.count == 2
        })
        #expect(clients[0].session.avatars[welcomes[1].clientId] != nil)
        #expect(clients[2].session.avatars[welcomes[3].clientId] != nil)
        #expect(clients[0].session.avatars.count == 2 && clients[3].session.avatars.count == 2)

        // The fifth finds every instance full.
        let fifth = try AtriumConnection()
        #expect(throws: ConnectionError.self) { try fifth.join(server: node.address, worldId: "tiny", displayName: "c4") }
        #expect(fifth.session.phase == .ended(.worldFull))
        await node.shutdown()
    }
}
