import AtriumTransport
import Foundation

/// A spoofed-CONNECT flood against a server host behind ``AdmissionFilter``, with one real client
/// joining through the cookie step meanwhile (`atrium-flood`, and a smaller run in the tests).
///
/// Three threads: the server (an in-process ``TransportHost`` with the filter, unless a remote
/// server is given), the flooder (well-formed ENet CONNECTs with random or absent cookies from a
/// ``LoopbackSenderPool`` of random 127/8 sources, paced evenly over the duration) and the real client.
/// The server samples the peers ENet has allocated after every service call.
public enum AdmissionFilterFlood {
    public struct Options: Sendable {
        /// Spoofed CONNECT datagrams to send, evenly over `seconds`.
        public var datagrams = 100_000
        public var seconds = 10.0
        /// Target server; nil starts one in-process on 127.0.0.1 (only then are server figures known).
        public var server: TransportAddress?
        /// Install the ``AdmissionFilter`` on the in-process server (false shows what ENet alone does).
        public var filter = true
        /// Sockets of the source pool, and datagrams between rotations of one socket to a new address.
        public var sourceSockets = 256
        public var rotateEvery = 16
        /// Share of spoofed CONNECTs carrying a random 32-bit cookie (the rest carry 0).
        public var randomCookieShare = 0.5
        /// Join a real client through the cookie step this far into the flood (nil: no client).
        public var realClientAfterSeconds: Double? = 2
        /// Peer slots of the in-process server.
        public var peerLimit = 64

        public init() {}
    }

    public struct Report: Sendable {
        public var sent = 0
        public var sendFailures = 0
        public var sendSeconds = 0.0
        public var sourcesUsed = 0
        /// Datagrams that came back to the spoofed sources (any answer to a spoofed CONNECT).
        public var answersToSpoofedSources = 0
        public var answerBytesToSpoofedSources = 0
        /// In-process server only: the most peers ENet held at once for addresses other than the
        /// real client's (any state, including half-open connects).
        public var peakSpoofedPeers: Int?
        public var peakAllocatedPeers: Int?
        public var rssBeforeKiB: Int?
        public var rssAfterKiB: Int?
        public var datagramsReceivedByServer: UInt64?
        public var serverDrops: [String: UInt64] = [:]
        public var serverReplies: UInt64 = 0
        public var oversizedReplies: UInt64 = 0
        public var filterCounters: AdmissionFilter.Counters?
        public var realClientConnected = false
        public var realClientConnectMilliseconds: Double?
        public var realClientError: String?
    }

    /// Runs one flood; blocks for about `seconds` plus a second of setup and drain.
    public static func run(_ options: Options) throws(TransportError) -> Report {
        let stop = LockedValue(false)
        let serverState = LockedValue<ServerFigures?>(nil)
        let serverPort = LockedValue<UInt16?>(nil)
        let clientAddress = LockedValue<IPv4Endpoint?>(nil)
        let setupError = LockedValue<String?>(nil)
        let started = DispatchSemaphore(value: 0)
        let serverDone = DispatchSemaphore(value: 0)

        if options.server == nil {
            let thread = Thread {
                defer { serverDone.signal() }
                serveInProcess(options, port: serverPort, client: clientAddress, stop: stop, figures: serverState,
                               failure: setupError, started: started)
            }
            thread.stackSize = 1 << 20
            thread.start()
            started.wait()
            if let message = setupError.value { throw TransportError(message) }
        }
        let target: IPv4Endpoint
        if let server = options.server {
            target = try IPv4Endpoint(resolving: server)
        } else {
            target = IPv4Endpoint(host: 0x7F00_0001, port: serverPort.value ?? 0)
        }
        let rssBefore = residentKiB()

        // The real client, on its own thread.
        let clientResult = LockedValue<(connected: Bool, milliseconds: Double?, error: String?)>((false, nil, nil))
        let clientConnectedAfter = LockedValue<Double?>(nil)
        let clientDone = DispatchSemaphore(value: 0)
        if let delay = options.realClientAfterSeconds {
            let thread = Thread {
                defer { clientDone.signal() }
                Thread.sleep(forTimeInterval: delay)
                clientResult.value = joinRealClient(
                    target: target, reportAddress: clientAddress, connectedAfter: clientConnectedAfter, stop: stop)
            }
            thread.start()
        } else {
            clientDone.signal()
        }

        var report = Report()
        let pool = try LoopbackSenderPool(size: options.sourceSockets)
        flood(options, pool: pool, target: target, report: &report)
        // Let the server drain what is queued and the client finish joining.
        let settle = Date().addingTimeInterval(max(1, 6 - report.sendSeconds))
        while options.realClientAfterSeconds != nil, clientConnectedAfter.value == nil, Date() < settle {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        pool.drainReceived()
        report.answersToSpoofedSources = pool.datagramsReceived
        report.answerBytesToSpoofedSources = pool.bytesReceived
        report.sourcesUsed = pool.sourcesUsed
        report.rssBeforeKiB = rssBefore
        report.rssAfterKiB = residentKiB()

        stop.value = true
        clientDone.wait()
        if options.server == nil {
            serverDone.wait()
            if let figures = serverState.value {
                report.peakSpoofedPeers = figures.peakSpoofed
                report.peakAllocatedPeers = figures.peakAllocated
                report.datagramsReceivedByServer = figures.datagramsReceived
                report.serverDrops = Dictionary(uniqueKeysWithValues: figures.counters.dropped.map { ($0.key.name, $0.value) })
                report.serverReplies = figures.counters.replies
                report.oversizedReplies = figures.counters.oversizedReplies
                report.filterCounters = figures.filter
            }
        }
        let client = clientResult.value
        report.realClientConnected = client.connected
        report.realClientConnectMilliseconds = client.milliseconds
        report.realClientError = client.error
        return report
    }

    // MARK: Parts

    private struct ServerFigures: Sendable {
        var peakSpoofed = 0
        var peakAllocated = 0
        var datagramsReceived: UInt64 = 0
        var counters = InboundFilterCounters()
        var filter: AdmissionFilter.Counters?
    }

    private static func serveInProcess(
        _ options: Options, port: LockedValue<UInt16?>, client: LockedValue<IPv4Endpoint?>, stop: LockedValue<Bool>,
        figures: LockedValue<ServerFigures?>, failure: LockedValue<String?>, started: DispatchSemaphore
    ) {
        let host: TransportHost
        do {
            host = try TransportHost(
                bindTo: TransportAddress(host: "127.0.0.1", port: 0), peerLimit: options.peerLimit, channelLimit: 3)
        } catch {
            failure.value = "server: \(error)"
            started.signal()
            return
        }
        let filter = options.filter ? AdmissionFilter(for: host, cookies: ConnectCookie()) : nil
        host.setInboundFilter(filter)
        port.value = host.localPort
        started.signal()

        var result = ServerFigures()
        var knownClient: IPv4Endpoint?
        while !stop.value {
            // Drain events (the real client's connect and pings); then sample allocated peers.
            var events = 0
            while events < 1000, host.service(timeoutMilliseconds: events == 0 ? 1 : 0) != nil { events += 1 }
            if knownClient == nil { knownClient = client.value }
            let peers = host.allocatedPeerAddresses
            result.peakAllocated = max(result.peakAllocated, peers.count)
            result.peakSpoofed = max(result.peakSpoofed, peers.filter { $0 != knownClient && $0.host != 0x7F00_0001 }.count)
        }
        result.datagramsReceived = host.statistics.datagramsReceived
        result.counters = host.inboundCounters
        result.filter = filter?.counters
        figures.value = result
    }

    private static func flood(_ options: Options, pool: LoopbackSenderPool, target: IPv4Endpoint, report: inout Report) {
        var rng = SystemRandomNumberGenerator()
        let total = max(0, options.datagrams)
        let spacing = options.seconds / Double(max(1, total))
        let start = Date()
        var index = 0
        while index < total {
            let due = min(total, Int(Date().timeIntervalSince(start) / max(spacing, 1e-9)) + 1)
            if index >= due {
                Thread.sleep(forTimeInterval: min(spacing * Double(index + 1 - due), 0.001))
                continue
            }
            while index < due {
                let cookie: UInt32 = Double.random(in: 0..<1, using: &rng) < options.randomCookieShare ? rng.next() : 0
                let datagram = ENetDatagramBuilder.connectDatagram(
                    connectID: rng.next(), data: cookie, channelCount: 3, sentTime: UInt16.random(in: 0...UInt16.max, using: &rng))
                if pool.send(datagram, to: target) { report.sent += 1 } else { report.sendFailures += 1 }
                index += 1
                if index % max(1, options.rotateEvery) == 0 { pool.rotate() }
            }
        }
        report.sendSeconds = Date().timeIntervalSince(start)
    }

    /// Cookie step + ENet connect from 127.0.0.1; keeps the connection serviced until `stop`.
    private static func joinRealClient(
        target: IPv4Endpoint, reportAddress: LockedValue<IPv4Endpoint?>, connectedAfter: LockedValue<Double?>,
        stop: LockedValue<Bool>
    ) -> (connected: Bool, milliseconds: Double?, error: String?) {
        let begin = Date()
        do {
            // On loopback, bind 127.0.0.1 explicitly so the server thread knows the client's address up front.
            let loopback = target.host >> 24 == 127
            let host = try TransportHost(
                bindTo: loopback ? TransportAddress(host: "127.0.0.1", port: 0) : nil, peerLimit: 1, channelLimit: 3)
            if loopback { reportAddress.value = IPv4Endpoint(host: 0x7F00_0001, port: host.localPort) }
            guard let server = TransportAddress.parse(target.description) else { return (false, nil, "bad target") }
            _ = try ConnectCookieClient.connect(host, to: server, channelCount: 3, timeoutMilliseconds: 5000)
            var milliseconds: Double?
            let deadline = Date().addingTimeInterval(8)
            while !stop.value {
                if let event = host.service(timeoutMilliseconds: 5) {
                    if case .connected = event, milliseconds == nil {
                        milliseconds = Date().timeIntervalSince(begin) * 1000
                        connectedAfter.value = milliseconds
                    }
                    if case .disconnected = event, milliseconds == nil { return (false, nil, "server refused the connection") }
                }
                if milliseconds == nil, Date() > deadline { return (false, nil, "no ENet connect within 8 s") }
            }
            return (milliseconds != nil, milliseconds, nil)
        } catch {
            return (false, nil, "\(error)")
        }
    }

    /// Resident set size of this process in KiB (Linux /proc; nil elsewhere).
    public static func residentKiB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

/// A value shared between the flood's threads, behind a lock.
final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
