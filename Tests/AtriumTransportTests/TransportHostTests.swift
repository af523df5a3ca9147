import Testing
#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import AtriumTransport

/// Every test that opens sockets lives under this suite: `.serialized` applies to the
/// nested suites too, so timing-sensitive loopback tests never compete with each other.
@Suite(.serialized) enum LoopbackNetworkTests {}

extension LoopbackNetworkTests {
    @Suite struct TransportHostTests {
        @Test func connectAndAcceptCarryConnectDataAndAgreeOnIdentity() throws {
            let server = try makeServer()
            let client = try makeClient()
            let handle = try client.connect(to: serverAddress(server), channelCount: 2, data: 0xDEAD_BEEF)
            let log = EventLog(hosts: 2)
            try #require(pump([client, server], into: log) { !$0.connected(0).isEmpty && !$0.connected(1).isEmpty })

            #expect(log.connected(0).map(\.0) == [handle])
            let (serverSide, data) = log.connected(1)[0]
            #expect(data == 0xDEAD_BEEF)
            #expect(serverSide.connectID == handle.connectID)  // ENet uses one ID for both ends
            #expect(server.connectedPeerCount == 1)
            #expect(client.connectedPeerCount == 1)
            #expect(server.address(of: serverSide) == TransportAddress(host: "127.0.0.1", port: client.localPort))
            #expect(client.address(of: handle) == serverAddress(server))
            #expect(client.roundTripTimeMilliseconds(handle) != nil)
        }

        @Test func keepingUnreliablePacketsReachesBothEnds() throws {
            let server = try makeServer()
            let client = try makeClient()
            let handle = try client.connect(to: serverAddress(server), channelCount: 2, data: 0)
            let log = EventLog(hosts: 2)
            try #require(pump([client, server], into: log) { !$0.connected(0).isEmpty && !$0.connected(1).isEmpty })
            let serverSide = log.connected(1)[0].0
            #expect(server.packetThrottleDeceleration(serverSide) != 0 && client.packetThrottleDeceleration(handle) != 0)
            server.keepUnreliablePackets(serverSide)
            #expect(server.packetThrottleDeceleration(serverSide) == 0)
            // The remote end learns it from ENet's THROTTLE_CONFIGURE.
            #expect(pump([client, server], into: log) { _ in client.packetThrottleDeceleration(handle) == 0 })
        }

        @Test func sendAndReceiveOnEveryChannelAndDeliveryMode() throws {
            // Room for the 10 000-byte packet below (the default cap is 4 KiB).
            let limits = TransportLimits(maximumPacketSize: 64 * 1024)
            let server = try makeServer(channels: 4, limits: limits)
            let client = try makeClient(channels: 4, limits: limits)
            let (c, s) = try establish(client, server, channels: 4)

            let modes: [Delivery] = [.reliable, .unreliable, .unsequenced]
            var expectedAtServer: [[UInt8]] = []
            var expectedAtClient: [[UInt8]] = []
            for channel in UInt8(0)..<4 {
                for (m, mode) in modes.enumerated() {
                    for i in 0..<5 {
                        let up = [channel, UInt8(m), UInt8(i), 0xAA]
                        let down = [channel, UInt8(m), UInt8(i), 0x55]
                        #expect(client.send(up, to: c, channel: channel, delivery: mode))
                        #expect(server.send(down, to: s, channel: channel, delivery: mode))
                        expectedAtServer.append(up)
                        expectedAtClient.append(down)
                    }
                }
            }
            // Empty and fragmented payloads (reliable and unreliable fragments).
            let big = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let mid = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
            #expect(client.send([], to: c, channel: 0, delivery: .reliable))
            #expect(client.send(big, to: c, channel: 1, delivery: .reliable))
            #expect(client.send(mid, to: c, channel: 2, delivery: .unreliable))
            expectedAtServer += [[], big, mid]
            // Unknown channel is refused.
            #expect(!client.send([1], to: c, channel: 4, delivery: .reliable))
            client.flush()
            server.flush()

            let log = EventLog(hosts: 2)
            pump([client, server], into: log) {
                $0.received(1).count >= expectedAtServer.count && $0.received(0).count >= expectedAtClient.count
            }
            let atServer = log.received(1)
            let atClient = log.received(0)
            #expect(atServer.allSatisfy { $0.0 == s })
            #expect(atClient.allSatisfy { $0.0 == c })
            #expect(Set(atServer.map(\.2)) == Set(expectedAtServer))
            #expect(Set(atClient.map(\.2)) == Set(expectedAtClient))
            for (_, channel, payload) in atServer + atClient where payload.count == 4 {
                #expect(payload[0] == channel)
            }
            for (_, channel, payload) in atServer where payload.count > 4 {
                #expect(channel == (payload == big ? 1 : 2))
            }
            // Reliable packets of one channel arrive in order.
            for channel in UInt8(0)..<4 {
                let reliable = atServer.filter { $0.1 == channel && $0.2.count == 4 && $0.2[1] == 0 }.map { $0.2[2] }
                #expect(reliable == [0, 1, 2, 3, 4])
            }
        }

        /// `send(count:fill:)` writes the packet in ENet's own buffer; a fill that gives up sends nothing.
        @Test func packetsFilledInPlaceAndAbandoned() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, s) = try establish(client, server)
            #expect(client.send(count: 3, to: c, channel: 0, delivery: .reliable) { out in
                out.copyBytes(from: [7, 8, 9])
                return true
            })
            #expect(!client.send(count: 2, to: c, channel: 0, delivery: .reliable) { _ in false })
            #expect(!client.send(count: 2, to: c, channel: 9, delivery: .reliable) { _ in true })  // no such channel
            #expect(client.send([1, 2], to: c, channel: 0, delivery: .reliable))
            client.flush()
            let log = EventLog(hosts: 2)
            pump([client, server], into: log) { $0.received(1).count >= 2 }
            #expect(log.received(1).map(\.2) == [[7, 8, 9], [1, 2]])
            #expect(log.received(1).allSatisfy { $0.0 == s })
        }

        @Test func gracefulDisconnectReportsBothSidesWithData() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, s) = try establish(client, server)
            client.disconnect(c, data: 77)
            let log = EventLog(hosts: 2)
            try #require(pump([client, server], into: log) { !$0.disconnected(0).isEmpty && !$0.disconnected(1).isEmpty })
            #expect(log.disconnected(1).map(\.0) == [s])
            #expect(log.disconnected(1).map(\.1) == [77])
            #expect(log.disconnected(0).map(\.0) == [c])
            #expect(server.connectedPeerCount == 0 && client.connectedPeerCount == 0)

            // Server-initiated, and disconnectLater after queued data.
            let (c2, s2) = try establish(client, server)
            #expect(server.send([9, 9, 9], to: s2, channel: 0, delivery: .reliable))
            server.disconnectLater(s2, data: 123)
            let log2 = EventLog(hosts: 2)
            try #require(pump([client, server], into: log2) { !$0.disconnected(0).isEmpty && !$0.disconnected(1).isEmpty })
            #expect(log2.received(0).map(\.2) == [[9, 9, 9]])
            #expect(log2.disconnected(0).map(\.0) == [c2])
            #expect(log2.disconnected(0).map(\.1) == [123])
            #expect(log2.disconnected(1).map(\.0) == [s2])
        }

        @Test func disconnectNowNotifiesOnlyTheRemoteSide() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, s) = try establish(client, server)
            server.disconnectNow(s, data: 5)
            #expect(!server.send([1], to: s, channel: 0, delivery: .reliable))  // handle forgotten at once
            let log = EventLog(hosts: 2)
            try #require(pump([client, server], into: log) { !$0.disconnected(0).isEmpty })
            #expect(log.disconnected(0).map(\.0) == [c])
            #expect(log.disconnected(0).map(\.1) == [5])
            pump([client, server], into: log, seconds: 0.1) { _ in false }
            #expect(log.disconnected(1).isEmpty)
        }

        @Test func staleHandleNeverTouchesTheReusedPeer() throws {
            let server = try makeServer(peers: 1)
            let client = try makeClient(peers: 1)
            let (oldC, oldS) = try establish(client, server)
            client.disconnect(oldC, data: 0)
            let log = EventLog(hosts: 2)
            try #require(pump([client, server], into: log) { !$0.disconnected(0).isEmpty && !$0.disconnected(1).isEmpty })

            // With one slot per host, the new connection must reuse slot 0 on both sides.
            let (newC, newS) = try establish(client, server)
            #expect(newC.slot == oldC.slot && newS.slot == oldS.slot)
            #expect(newC.connectID != oldC.connectID)

            #expect(!server.send([1], to: oldS, channel: 0, delivery: .reliable))
            #expect(server.address(of: oldS) == nil)
            #expect(server.roundTripTimeMilliseconds(oldS) == nil)
            server.setTimeout(oldS, limit: 1, minimumMilliseconds: 1, maximumMilliseconds: 1)
            server.disconnect(oldS, data: 1)
            server.disconnectLater(oldS, data: 1)
            server.disconnectNow(oldS, data: 1)
            client.disconnectNow(oldC, data: 1)

            #expect(server.send([42], to: newS, channel: 0, delivery: .reliable))
            let log2 = EventLog(hosts: 2)
            pump([client, server], into: log2, seconds: 3) { !$0.received(0).isEmpty }
            #expect(log2.received(0).map(\.2) == [[42]])
            #expect(log2.disconnected(0).isEmpty && log2.disconnected(1).isEmpty)
            #expect(server.connectedPeerCount == 1)
        }

        @Test func statisticsCountDatagramsAndBytesCumulatively() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, _) = try establish(client, server)
            let before = server.statistics
            #expect(before.datagramsReceived > 0)
            for i in 0..<20 {
                client.send([UInt8](repeating: UInt8(i), count: 100), to: c, channel: 0, delivery: .unreliable)
                client.flush()
            }
            let log = EventLog(hosts: 2)
            pump([client, server], into: log) { $0.received(1).count >= 20 }
            let serverStats = server.statistics
            let clientStats = client.statistics
            #expect(serverStats.datagramsReceived >= before.datagramsReceived + 20)
            #expect(serverStats.bytesReceived >= before.bytesReceived + 2000)
            #expect(clientStats.datagramsSent >= 20 && clientStats.bytesSent >= 2000)
            #expect(serverStats.datagramsReceived <= clientStats.datagramsSent)
            // Cumulative: a second read never goes backwards.
            let again = server.statistics
            #expect(again.datagramsReceived >= serverStats.datagramsReceived)
            #expect(again.bytesReceived >= serverStats.bytesReceived)
        }

        @Test func twoHundredPeersFromOneClientHost() throws {
            let count = 200
            let server = try makeServer(peers: 256, channels: 1)
            let client = try makeClient(peers: count, channels: 1)
            var handles: [PeerHandle] = []
            for i in 0..<count {
                handles.append(try client.connect(to: serverAddress(server), channelCount: 1, data: UInt32(i)))
            }
            #expect(throws: TransportError.self) { _ = try client.connect(to: serverAddress(server), channelCount: 1) }
            let log = EventLog(hosts: 2)
            try #require(pump([client, server], into: log, seconds: 20) {
                $0.connected(0).count == count && $0.connected(1).count == count
            })
            #expect(Set(log.connected(1).map(\.1)) == Set((0..<count).map(UInt32.init)))
            #expect(Set(log.connected(0).map(\.0)) == Set(handles))
            #expect(server.connectedPeerCount == count)

            for (i, handle) in handles.enumerated() {
                #expect(client.send([UInt8(i & 0xFF), UInt8(i >> 8)], to: handle, channel: 0, delivery: .reliable))
            }
            try #require(pump([client, server], into: log, seconds: 20) { $0.received(1).count == count })
            // Each server-side peer delivered exactly the index its connect data named.
            let dataByPeer = Dictionary(uniqueKeysWithValues: log.connected(1).map { ($0.0, $0.1) })
            for (peer, _, payload) in log.received(1) {
                #expect(dataByPeer[peer] == UInt32(payload[0]) | UInt32(payload[1]) << 8)
            }
        }

        @Test func serviceReturnsNilAfterTheTimeout() throws {
            let host = try makeServer()
            let start = nowSeconds()
            #expect(host.service(timeoutMilliseconds: 60) == nil)
            let elapsed = nowSeconds() - start
            #expect(elapsed >= 0.055 && elapsed < 2)
            #expect(host.poll() == nil)
        }

        /// The batch receive path: waiting on the socket times out when nothing comes, wakes when a datagram is
        /// there, and one drain takes every datagram sent (fewer than ENet's 256 per pass) in order, after which
        /// the socket is empty and another drain finds nothing.
        @Test func waitingOnTheSocketThenDrainingTakesABatchInOnePass() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, s) = try establish(client, server, channels: 4)
            while server.drain({ _ in }) > 0 {}
            let start = nowSeconds()
            #expect(!server.waitReadable(timeoutMilliseconds: 30))
            #expect(nowSeconds() - start >= 0.025)

            for i in 0..<100 {
                #expect(client.send([UInt8(i), 7], to: c, channel: 1, delivery: .unreliable))
            }
            client.flush()
            #expect(server.waitReadable(timeoutMilliseconds: 2000))
            // Loopback delivers the whole flush at once, but give the kernel a moment to queue all of it.
            usleep(20_000)
            var received: [[UInt8]] = []
            let handled = server.drain { event in
                if case .received(let peer, let channel, let datagram) = event, peer == s, channel == 1 {
                    received.append(Array(datagram))
                }
            }
            #expect(handled == 100)
            #expect(received == (0..<100).map { [UInt8($0), 7] })
            #expect(!server.waitReadable(timeoutMilliseconds: 0))
            #expect(server.drain { _ in } == 0)
        }

        @Test func maximumPacketSizeIsEnforcedAndSettable() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, _) = try establish(client, server)
            #expect(client.maximumPacketSize == TransportLimits.defaultMaximumPacketSize)
            #expect(client.maximumWaitingData == TransportLimits.defaultMaximumWaitingData)
            client.maximumPacketSize = 100
            #expect(client.maximumPacketSize == 100)
            #expect(client.send([UInt8](repeating: 1, count: 100), to: c, channel: 0, delivery: .reliable))
            #expect(!client.send([UInt8](repeating: 1, count: 101), to: c, channel: 0, delivery: .reliable))
            client.maximumWaitingData = 4096
            #expect(client.maximumWaitingData == 4096)
        }

        @Test func socketBuffersAreAskedForAndReadBack() throws {
            let asked = 4 * 1024 * 1024
            let host = try makeServer(limits: TransportLimits(socketBufferBytes: asked))
            let plain = try makeServer()
            let got = host.socketBufferBytes
            // Linux doubles the request; without CAP_NET_ADMIN it first caps it at the sysctl maximum.
            let cap = { (name: String) -> Int in
                (try? String(contentsOfFile: "/proc/sys/net/core/\(name)", encoding: .utf8))
                    .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            }
            #expect(got.receive >= min(asked, cap("rmem_max")))
            #expect(got.send >= min(asked, cap("wmem_max")))
            // Asking changes something whenever the kernel allows more than ENet's own 256 KiB.
            if cap("rmem_max") > asked || geteuid() == 0 {
                #expect(got.receive > plain.socketBufferBytes.receive)
            }
        }

        /// A host nobody reads: once its receive buffer (the smallest the kernel allows) is full, the kernel drops
        /// what keeps coming, and the host reports those drops. Linux only (SO_MEMINFO).
        @Test func kernelDropsAtAFullSocketAreReported() throws {
            let host = try makeServer(limits: TransportLimits(socketBufferBytes: 65_536))
            let sender = try makeClient()
            #if os(Linux)
            #expect(host.socketDrops == 0)
            let target = serverAddress(host)
            // ~2 MB into a buffer of at most a few hundred KiB, never read: most of it must be dropped.
            for _ in 0..<2_000 { _ = try sender.sendRaw([UInt8](repeating: 0xAB, count: 1_000), to: target) }
            let drops = try #require(host.socketDrops)
            #expect(drops > 0 && drops < 2_000, "\(drops) of 2000 dropped")
            #else
            #expect(host.socketDrops == nil)
            #endif
        }

        /// The lending service hands over ENet's packet bytes in place: the same bytes the copying service gives
        /// (an empty packet too), every packet once, on its channel; a handler may reset the very peer whose
        /// packet it holds (the packet is in no ENet queue by then, and is destroyed once, afterwards).
        @Test func lentDatagramsAreThePacketsBytesAndOutliveAResetOfTheirPeer() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, s) = try establish(client, server, channels: 4)
            let sent: [[UInt8]] = [[], [1], Array(0..<200), Array(repeating: 0xAB, count: 3000)]
            for (i, payload) in sent.enumerated() {
                #expect(client.send(payload, to: c, channel: UInt8(i % 3), delivery: .reliable))
            }
            client.flush()
            var received: [(PeerHandle, UInt8, [UInt8])] = []
            let deadline = nowSeconds() + 5
            while received.count < sent.count, nowSeconds() < deadline {
                _ = client.poll()
                server.service(timeoutMilliseconds: 1) { event in
                    if case .received(let peer, let channel, let datagram) = event {
                        received.append((peer, channel, Array(datagram)))
                    }
                }
            }
            #expect(received.map(\.2) == sent)
            #expect(received.map(\.1) == [0, 1, 2, 0])
            #expect(received.allSatisfy { $0.0 == s })

            #expect(client.send([9, 9, 9], to: c, channel: 1, delivery: .reliable))
            client.flush()
            var seenBeforeAndAfterReset: [UInt8]?
            let until = nowSeconds() + 5
            while seenBeforeAndAfterReset == nil, nowSeconds() < until {
                server.service(timeoutMilliseconds: 1) { event in
                    guard case .received(let peer, _, let datagram) = event else { return }
                    server.disconnectNow(peer, data: 0)
                    seenBeforeAndAfterReset = Array(datagram)
                }
            }
            #expect(seenBeforeAndAfterReset == [9, 9, 9])
            #expect(server.connectedPeerCount == 0)
        }

        @Test func connectionToNothingTimesOutAsDisconnect() throws {
            // A port nobody listens on: bind a host, read its port, then destroy it.
            var port: UInt16 = 0
            do { port = try makeServer().localPort }
            let client = try makeClient()
            let handle = try client.connect(to: TransportAddress(host: "127.0.0.1", port: port), channelCount: 1)
            client.setTimeout(handle, limit: 1, minimumMilliseconds: 200, maximumMilliseconds: 400)
            let log = EventLog(hosts: 1)
            try #require(pump([client], into: log, seconds: 10) { !$0.disconnected(0).isEmpty })
            #expect(log.disconnected(0).map(\.0) == [handle])
            #expect(log.connected(0).isEmpty)
        }
    }
}
