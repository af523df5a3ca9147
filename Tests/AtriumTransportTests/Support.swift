import Testing
@testable import AtriumTransport

let loopbackAny = TransportAddress(host: "127.0.0.1", port: 0)

func makeServer(peers: Int = 16, channels: Int = 4, limits: TransportLimits = TransportLimits()) throws -> TransportHost {
    try TransportHost(bindTo: loopbackAny, peerLimit: peers, channelLimit: channels, limits: limits)
}

func makeClient(peers: Int = 4, channels: Int = 4, limits: TransportLimits = TransportLimits()) throws -> TransportHost {
    try TransportHost(bindTo: nil, peerLimit: peers, channelLimit: channels, limits: limits)
}

func serverAddress(_ server: TransportHost) -> TransportAddress {
    TransportAddress(host: "127.0.0.1", port: server.localPort)
}

func nowSeconds() -> Double { Double(monotonicNanoseconds()) / 1e9 }

/// Events collected per host by ``pump``.
final class EventLog {
    var events: [[TransportEvent]]
    init(hosts: Int) { events = Array(repeating: [], count: hosts) }

    func received(_ host: Int) -> [(PeerHandle, UInt8, [UInt8])] {
        events[host].compactMap {
            if case let .received(peer, channel, payload) = $0 { return (peer, channel, payload) }
            return nil
        }
    }

    func connected(_ host: Int) -> [(PeerHandle, UInt32)] {
        events[host].compactMap {
            if case let .connected(peer, data) = $0 { return (peer, data) }
            return nil
        }
    }

    func disconnected(_ host: Int) -> [(PeerHandle, UInt32)] {
        events[host].compactMap {
            if case let .disconnected(peer, data) = $0 { return (peer, data) }
            return nil
        }
    }
}

/// Services every host in turn until `done(log)` holds or `seconds` pass.
/// Bounded both in wall time and in iterations. Returns whether `done` held.
@discardableResult
func pump(
    _ hosts: [TransportHost], into log: EventLog, seconds: Double = 5,
    until done: (EventLog) -> Bool
) -> Bool {
    let deadline = nowSeconds() + seconds
    var iterations = 0
    while iterations < 1_000_000 {
        iterations += 1
        for (index, host) in hosts.enumerated() {
            var drained = 0
            while drained < 10_000, let event = host.service(timeoutMilliseconds: drained == 0 ? 1 : 0) {
                log.events[index].append(event)
                drained += 1
            }
        }
        if done(log) { return true }
        if nowSeconds() > deadline { return false }
    }
    return false
}

/// Connects `client` to `server`, pumping until both sides report it.
func establish(
    _ client: TransportHost, _ server: TransportHost, channels: Int = 4, data: UInt32 = 0
) throws -> (client: PeerHandle, server: PeerHandle) {
    let handle = try client.connect(to: serverAddress(server), channelCount: channels, data: data)
    let log = EventLog(hosts: 2)
    let ok = pump([client, server], into: log) { !$0.connected(0).isEmpty && !$0.connected(1).isEmpty }
    try #require(ok, "connection not established")
    return (handle, log.connected(1)[0].0)
}
