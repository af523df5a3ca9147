import Testing
@testable import AtriumTransport

/// Runs the inspector on every datagram and records what it saw; passes everything it accepts.
final class InspectingFilter: InboundDatagramFilter {
    let inspector: ENetDatagramInspector
    var seen = 0
    var rejections: [ENetDatagramRejection] = []
    var connects: [ENetConnectRequest] = []
    var raw: [[UInt8]] = []

    init(_ inspector: ENetDatagramInspector) { self.inspector = inspector }

    func inspect(_ bytes: UnsafeRawBufferPointer, from source: IPv4Endpoint, nowMicros: UInt64) -> InboundVerdict {
        seen += 1
        switch inspector.inspect(bytes) {
        case .reject(let reason):
            rejections.append(reason)
            raw.append(Array(bytes))
            return .drop(InboundDropReason(reason.rawValue))
        case .accept(let connect):
            if let connect { connects.append(connect) }
            return .pass
        }
    }
}

/// Answers every datagram with `reply(datagram)` (or drops everything when nil).
final class ReplyingFilter: InboundDatagramFilter {
    let reply: (([UInt8]) -> [UInt8])?
    var sources: [IPv4Endpoint] = []
    init(reply: (([UInt8]) -> [UInt8])?) { self.reply = reply }

    func inspect(_ bytes: UnsafeRawBufferPointer, from source: IPv4Endpoint, nowMicros: UInt64) -> InboundVerdict {
        sources.append(source)
        guard let reply else { return .drop(InboundDropReason("all")) }
        return .reply(reply(Array(bytes)))
    }
}

/// Catches raw datagrams that start with 0xEE (test replies) and passes the rest.
final class CatchingFilter: InboundDatagramFilter {
    var caught: [([UInt8], IPv4Endpoint)] = []
    func inspect(_ bytes: UnsafeRawBufferPointer, from source: IPv4Endpoint, nowMicros: UInt64) -> InboundVerdict {
        guard bytes.first == 0xEE else { return .pass }
        caught.append((Array(bytes), source))
        return .drop(InboundDropReason("caught"))
    }
}

extension LoopbackNetworkTests {
    @Suite struct InboundFilterTests {
        @Test func realENetTrafficPassesTheInspectorUntouched() throws {
            let limits = TransportLimits(maximumPacketSize: 64 * 1024)
            let server = try makeServer(channels: 3, limits: limits)
            let client = try makeClient(channels: 3, limits: limits)
            let inspector = ENetDatagramInspector(maximumPacketSize: 64 * 1024, channelLimit: 3, peerLimit: 16)
            let atServer = InspectingFilter(inspector)
            let atClient = InspectingFilter(ENetDatagramInspector(maximumPacketSize: 64 * 1024, channelLimit: 3, peerLimit: 4))
            server.setInboundFilter(atServer)
            client.setInboundFilter(atClient)
            let (c, s) = try establish(client, server, channels: 3, data: 0xABCD_0123)
            #expect(atServer.connects.first?.data == 0xABCD_0123)
            #expect(atServer.connects.first?.connectID == c.connectID)

            let big = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
            var expected = 0
            for i in 0..<20 {
                client.send([UInt8(i)], to: c, channel: 0, delivery: .reliable)
                client.send([UInt8(i), 1], to: c, channel: 1, delivery: .unreliable)
                client.send([UInt8(i), 2], to: c, channel: 2, delivery: .unsequenced)
                server.send([UInt8(i)], to: s, channel: 0, delivery: .reliable)
                expected += 3
            }
            client.send(big, to: c, channel: 0, delivery: .reliable)
            client.send(big, to: c, channel: 1, delivery: .unreliable)
            server.send(big, to: s, channel: 0, delivery: .reliable)
            expected += 2
            let log = EventLog(hosts: 2)
            pump([client, server], into: log) { $0.received(1).count >= expected && $0.received(0).count >= 21 }
            #expect(log.received(1).count == expected)
            #expect(log.received(1).filter { $0.2 == big }.count == 2)
            #expect(log.received(0).contains { $0.2 == big })

            client.disconnect(c, data: 3)
            pump([client, server], into: log) { !$0.disconnected(1).isEmpty && !$0.disconnected(0).isEmpty }
            #expect(log.disconnected(1).map(\.1) == [3])

            #expect(atServer.rejections.isEmpty, "server rejected \(atServer.raw.prefix(3))")
            #expect(atClient.rejections.isEmpty, "client rejected \(atClient.raw.prefix(3))")
            #expect(atServer.seen >= 5 && atClient.seen >= 3)  // datagrams, each bundling several commands
            #expect(server.inboundCounters.passed == UInt64(atServer.seen))
            #expect(server.inboundCounters.droppedTotal == 0)
        }

        @Test func droppedConnectsNeverAllocateAPeer() throws {
            let server = try makeServer()
            let client = try makeClient()
            let dropAll = ReplyingFilter(reply: nil)
            server.setInboundFilter(dropAll)
            let handle = try client.connect(to: serverAddress(server), channelCount: 2)
            client.setTimeout(handle, limit: 1, minimumMilliseconds: 300, maximumMilliseconds: 600)
            let log = EventLog(hosts: 2)
            var peakAllocated = 0
            pump([client, server], into: log, seconds: 4) {
                peakAllocated = max(peakAllocated, server.allocatedPeerCount)
                return !$0.disconnected(0).isEmpty
            }
            #expect(log.connected(1).isEmpty && log.connected(0).isEmpty)
            #expect(peakAllocated == 0)
            #expect(log.disconnected(0).map(\.0) == [handle])
            let drops = server.inboundCounters.dropped[InboundDropReason("all")] ?? 0
            #expect(drops >= 1 && drops == UInt64(dropAll.sources.count))
            #expect(dropAll.sources.allSatisfy { $0.host == 0x7F00_0001 && $0.port == client.localPort })
            #expect(server.inboundCounters.passed == 0)

            // Without the filter the same connect allocates a peer and completes.
            server.setInboundFilter(nil)
            #expect(server.inboundFilter == nil)
            _ = try establish(client, server)
            #expect(server.allocatedPeerCount == 1)
        }

        @Test func repliesGoToTheSourceOnlyWhenNotLargerThanTheDatagram() throws {
            let server = try makeServer()
            let client = try makeClient()
            let catcher = CatchingFilter()
            client.setInboundFilter(catcher)
            let target = try IPv4Endpoint(resolving: serverAddress(server))
            #expect(target == IPv4Endpoint(host: 0x7F00_0001, port: server.localPort))

            // Equal size: sent. One byte more: refused and counted.
            server.setInboundFilter(ReplyingFilter { [0xEE] + Array($0.dropFirst()) })
            #expect(client.sendRaw([1, 2, 3, 4, 5, 6, 7, 8], to: target))
            let log = EventLog(hosts: 2)
            pump([client, server], into: log, seconds: 2) { _ in !catcher.caught.isEmpty }
            #expect(catcher.caught.count == 1)
            #expect(catcher.caught.first?.0 == [0xEE, 2, 3, 4, 5, 6, 7, 8])
            #expect(catcher.caught.first?.1 == target)
            #expect(server.inboundCounters.replies == 1 && server.inboundCounters.replyBytes == 8)

            server.setInboundFilter(ReplyingFilter { [0xEE] + $0 })
            #expect(try client.sendRaw([1, 2, 3], to: serverAddress(server)))
            pump([client, server], into: log, seconds: 0.3) { _ in false }
            #expect(catcher.caught.count == 1)
            #expect(server.inboundCounters.oversizedReplies == 1)
            #expect(server.inboundCounters.replies == 1)

            // The raw send bound the client's socket; ENet keeps using that port.
            let port = client.localPort
            #expect(port != 0)
            server.setInboundFilter(nil)
            let (_, s) = try establish(client, server)
            #expect(server.address(of: s)?.port == port)
            #expect(client.localPort == port)
        }

        @Test func filterRunsBeforeTheImpairmentAndNeverSeesItsWakes() throws {
            let server = try makeServer(channels: 3)
            let client = try makeClient(channels: 3)
            let filter = InspectingFilter(ENetDatagramInspector(channelLimit: 3, peerLimit: 16))
            server.setInboundFilter(filter)
            server.setImpairment(Impairment(latencyMs: 15, jitterMs: 5, duplicatePercent: 20, seed: 9))
            let (c, _) = try establish(client, server, channels: 3)
            for i in 0..<100 { client.send([UInt8(i)], to: c, channel: 0, delivery: .reliable) }
            let log = EventLog(hosts: 2)
            pump([client, server], into: log) { $0.received(1).count >= 100 }
            #expect(log.received(1).map { $0.2[0] } == (0..<100).map(UInt8.init))
            #expect((server.impairmentCounters?.released ?? 0) > 0)
            // Wakes are 16 random bytes: the inspector would reject them, so none reached the filter.
            #expect(filter.rejections.isEmpty)
            #expect(server.inboundCounters.passed == UInt64(filter.seen))
        }

        @Test func peersPerAddressCapsConnectionsFromOneAddress() throws {
            let server = try makeServer(limits: TransportLimits(peersPerAddress: 2))
            #expect(server.peersPerAddress == 2)
            let clients = try (0..<3).map { _ in try makeClient() }
            var handles: [PeerHandle] = []
            for client in clients { handles.append(try client.connect(to: serverAddress(server), channelCount: 1)) }
            for (client, handle) in zip(clients, handles) {
                client.setTimeout(handle, limit: 1, minimumMilliseconds: 300, maximumMilliseconds: 600)
            }
            let log = EventLog(hosts: 4)
            pump(clients + [server], into: log, seconds: 4) { log in
                (0..<3).allSatisfy { !log.connected($0).isEmpty || !log.disconnected($0).isEmpty }
            }
            #expect(log.connected(3).count == 2)
            #expect((0..<3).filter { !log.disconnected($0).isEmpty }.count == 1)
        }
    }
}
