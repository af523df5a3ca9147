import AtriumSecurity
import AtriumTransport
import Testing

/// Loopback tests with real ENet hosts; serialized so their timing does not compete.
@Suite(.serialized) struct AdmissionFilterTests {
    func makeServer(cookies: ConnectCookie = ConnectCookie(), limiter: ConnectLimiter.Policy = .init()) throws
        -> (TransportHost, AdmissionFilter)
    {
        let host = try TransportHost(bindTo: TransportAddress(host: "127.0.0.1", port: 0), peerLimit: 8, channelLimit: 3)
        let filter = AdmissionFilter(for: host, cookies: cookies, limiter: limiter)
        host.setInboundFilter(filter)
        return (host, filter)
    }

    func address(_ host: TransportHost) -> TransportAddress { TransportAddress(host: "127.0.0.1", port: host.localPort) }

    /// Services all hosts until `done` or `seconds`; returns the events per host.
    @discardableResult
    func pump(_ hosts: [TransportHost], seconds: Double, until done: ([[TransportEvent]]) -> Bool = { _ in false })
        -> [[TransportEvent]]
    {
        var events: [[TransportEvent]] = Array(repeating: [], count: hosts.count)
        let deadline = MonotonicClock.nowMicros() + UInt64(seconds * 1e6)
        while MonotonicClock.nowMicros() < deadline {
            for (index, host) in hosts.enumerated() {
                while let event = host.service(timeoutMilliseconds: 1) { events[index].append(event) }
            }
            if done(events) { break }
        }
        return events
    }

    /// The cookie step with both hosts serviced here (``ConnectCookieClient/connect`` would service only
    /// the client, and the server runs on this same thread), then the ENet connect with the cookie.
    func connectWithCookie(_ client: TransportHost, _ server: TransportHost, timeout: Double = 2) throws -> PeerHandle {
        let cookieClient: ConnectCookieClient
        if let installed = client.inboundFilter as? ConnectCookieClient {
            cookieClient = installed
        } else {
            cookieClient = ConnectCookieClient()
            client.setInboundFilter(cookieClient)
        }
        let target = try IPv4Endpoint(resolving: address(server))
        var cookie: UInt32?
        var lastSend: UInt64 = 0
        pump([client, server], seconds: timeout) { _ in
            let now = MonotonicClock.nowMicros()
            if now - lastSend > 250_000 {
                client.sendRaw(cookieClient.request(for: target), to: target)
                lastSend = now
            }
            cookie = cookieClient.cookie(for: target)
            return cookie != nil
        }
        guard let cookie else { throw TransportError("no cookie") }
        return try client.connect(to: address(server), channelCount: 3, data: cookie)
    }

    func connected(_ events: [TransportEvent]) -> Bool {
        events.contains { if case .connected = $0 { true } else { false } }
    }

    @Test func withoutACookieNoPeerIsEverAllocatedAndNothingIsSentBack() throws {
        let (server, filter) = try makeServer()
        let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        for data: UInt32 in [0, 0x1234_5678] {
            let handle = try client.connect(to: address(server), channelCount: 3, data: data)
            client.setTimeout(handle, limit: 1, minimumMilliseconds: 400, maximumMilliseconds: 800)
            var peak = 0
            let events = pump([client, server], seconds: 3) { events in
                peak = max(peak, server.allocatedPeerCount)
                return events[0].contains { if case .disconnected = $0 { true } else { false } }
            }
            #expect(!connected(events[0]) && !connected(events[1]))
            #expect(peak == 0)
        }
        #expect(server.statistics.datagramsSent == 0)
        #expect(filter.counters.connectsWithoutCookie >= 2)
        #expect((server.inboundCounters.dropped[.noValidCookie] ?? 0) >= 2)
        #expect(server.inboundCounters.replies == 0)
    }

    @Test func withACookieTheClientConnectsAndRepliesAreNoLargerThanRequests() throws {
        let (server, filter) = try makeServer()
        let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        let handle = try connectWithCookie(client, server)
        let events = pump([client, server], seconds: 3) { connected($0[0]) && connected($0[1]) }
        #expect(connected(events[0]) && connected(events[1]))
        #expect(client.connectedPeerCount == 1 && handle.slot == 0)
        #expect(filter.counters.cookiesIssued >= 1 && filter.counters.connectsAdmitted == 1)
        let counters = server.inboundCounters
        #expect(counters.replies >= 1 && counters.oversizedReplies == 0)
        #expect(counters.replyBytes == counters.replies * UInt64(ConnectCookieDatagram.replySize))
        #expect(ConnectCookieDatagram.replySize <= ConnectCookieDatagram.requestSize)
        #expect(client.inboundCounters.dropped[.cookieReplyConsumed] == counters.replies)

        // Traffic flows through the filter both ways once connected.
        let serverPeer = try #require(events[1].compactMap { if case .connected(let p, _) = $0 { p } else { nil } }.first)
        client.send([1, 2, 3], to: handle, channel: 0, delivery: .reliable)
        server.send([4, 5], to: serverPeer, channel: 1, delivery: .unreliable)
        let traffic = pump([client, server], seconds: 3) { events in
            events[0].contains { if case .received = $0 { true } else { false } }
                && events[1].contains { if case .received = $0 { true } else { false } }
        }
        #expect(traffic[1].contains { if case .received(_, 0, [1, 2, 3]) = $0 { true } else { false } })
        #expect(traffic[0].contains { if case .received(_, 1, [4, 5]) = $0 { true } else { false } })
        #expect(filter.counters.inspectorRejections.isEmpty)
    }

    @Test func anExpiredCookieIsRejected() throws {
        // Windows of 1 s: a cookie lives 1–2 s.
        let (server, filter) = try makeServer(cookies: ConnectCookie(windowSeconds: 1))
        let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        let cookieClient = ConnectCookieClient()
        client.setInboundFilter(cookieClient)
        let target = try IPv4Endpoint(resolving: address(server))
        client.sendRaw(cookieClient.request(for: target), to: target)
        var cookie: UInt32?
        pump([client, server], seconds: 2) { _ in
            cookie = cookieClient.cookie(for: target)
            return cookie != nil
        }
        let stale = try #require(cookie)
        MonotonicClock.sleep(micros: 2_100_000)
        let handle = try client.connect(to: address(server), channelCount: 3, data: stale)
        client.setTimeout(handle, limit: 1, minimumMilliseconds: 300, maximumMilliseconds: 600)
        let events = pump([client, server], seconds: 2) { events in
            events[0].contains { if case .disconnected = $0 { true } else { false } }
        }
        #expect(!connected(events[1]))
        #expect(filter.counters.connectsWithoutCookie >= 1 && filter.counters.connectsAdmitted == 0)
        #expect(server.allocatedPeerCount == 0)
    }

    @Test func aCookieForAnotherPortDoesNotWork() throws {
        let (server, filter) = try makeServer()
        let first = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        let second = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        _ = try connectWithCookie(first, server)
        let cookie = try #require((first.inboundFilter as? ConnectCookieClient)?.cookie(for: IPv4Endpoint(resolving: address(server))))
        let handle = try second.connect(to: address(server), channelCount: 3, data: cookie)
        second.setTimeout(handle, limit: 1, minimumMilliseconds: 300, maximumMilliseconds: 600)
        let events = pump([first, second, server], seconds: 2) { events in
            events[1].contains { if case .disconnected = $0 { true } else { false } }
        }
        #expect(connected(events[0]) && !connected(events[1]))
        #expect(events[2].filter { if case .connected = $0 { true } else { false } }.count == 1)
        #expect(filter.counters.connectsWithoutCookie >= 1)
    }

    @Test func tooManyConnectsFromOneAddressAreRefusedAndItsCookieRequestsIgnored() throws {
        let (server, filter) = try makeServer(limiter: .init(attempts: 2, windowSeconds: 60, banSeconds: 60))
        var results: [Bool] = []
        for _ in 0..<3 {
            let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
            do {
                let handle = try connectWithCookie(client, server, timeout: 1)
                client.setTimeout(handle, limit: 1, minimumMilliseconds: 300, maximumMilliseconds: 600)
                let events = pump([client, server], seconds: 2) { events in
                    connected(events[0]) || events[0].contains { if case .disconnected = $0 { true } else { false } }
                }
                results.append(connected(events[0]))
            } catch {
                results.append(false)
            }
        }
        #expect(results == [true, true, false])
        #expect(filter.counters.connectsRefused >= 1)
        // Now banned: a cookie request gets no answer.
        let late = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        #expect(throws: TransportError.self) {
            _ = try connectWithCookie(late, server, timeout: 0.6)
        }
        #expect((server.inboundCounters.dropped[.banned] ?? 0) >= 1)
    }

    @Test func unsolicitedCookieRepliesAndConnectsToAClientAreDropped() throws {
        let client = try TransportHost(bindTo: TransportAddress(host: "127.0.0.1", port: 0), peerLimit: 2, channelLimit: 3)
        let cookieClient = ConnectCookieClient()
        client.setInboundFilter(cookieClient)
        let attacker = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 3)
        let target = IPv4Endpoint(host: 0x7F00_0001, port: client.localPort)
        attacker.sendRaw(ConnectCookieDatagram.reply(nonce: 1, cookie: 2, secondsValid: 10), to: target)
        _ = try attacker.connect(to: address(client), channelCount: 3)
        pump([attacker, client], seconds: 0.5)
        #expect(cookieClient.unsolicitedReplies == 1)
        #expect((client.inboundCounters.dropped[.connectToClient] ?? 0) >= 1)
        #expect(client.allocatedPeerCount == 0)
    }

    @Test func spoofedConnectFloodAllocatesNothingWhileARealClientJoins() throws {
        var options = AdmissionFilterFlood.Options()
        options.datagrams = 5_000
        options.seconds = 1.5
        options.sourceSockets = 64
        options.realClientAfterSeconds = 0.3
        let report = try AdmissionFilterFlood.run(options)
        #expect(report.sent >= 4_500)
        #expect(report.peakSpoofedPeers == 0)
        #expect(report.answersToSpoofedSources == 0)
        #expect(report.realClientConnected, "\(report.realClientError ?? "")")
        #expect(report.sourcesUsed > 64)
        let dropped = report.serverDrops["connect-without-valid-cookie"] ?? 0
        #expect(dropped >= 4_000)
        #expect(report.oversizedReplies == 0)
    }

    @Test func theSameFloodWithoutTheFilterDoesAllocatePeers() throws {
        // The control experiment: proves the flood above would have hit ENet.
        var options = AdmissionFilterFlood.Options()
        options.datagrams = 300
        options.seconds = 0.3
        options.sourceSockets = 16
        options.filter = false
        options.realClientAfterSeconds = nil
        let report = try AdmissionFilterFlood.run(options)
        #expect((report.peakSpoofedPeers ?? 0) > 0)
        #expect(report.answersToSpoofedSources > 0)
    }
}
