import ArgumentParser
import AtriumTransport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The raw-ENet floor: the same number and size of datagrams a load run moved, through ENet with no
/// logic at all, so the server's CPU can be stated as a multiple of what ENet alone costs.
@main
struct Floor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atrium-floor",
        abstract: "Send a load run's datagram pattern through bare ENet and report the receiving side's CPU.",
        discussion: """
            Either give the pattern (--clients, --rate, --up-bytes, --down-bytes) or --from a load report JSON,
            which supplies clients (bots.connected), the per-bot datagram rates and sizes. The 'server' host runs
            on its own thread and does only ENet work: receive every datagram, send one datagram per client per
            tick, flush once per tick — the floor under any real server's network cost.
            """)

    @Option(help: "Load report (JSON) whose pattern to replay.") var from: String?
    @Option(help: "Connected clients.") var clients: Int = 1000
    @Option(help: "Server ticks (downstream datagrams per client) per second.") var rate: Double = 30
    @Option(name: .customLong("up-rate"), help: "Upstream datagrams per client per second.") var upRate: Double?
    @Option(name: .customLong("up-bytes"), help: "Payload bytes per upstream datagram.") var upBytes: Int = 40
    @Option(name: .customLong("down-bytes"), help: "Payload bytes per downstream datagram.") var downBytes: Int = 900
    @Option(help: "Seconds to measure (after all clients connect).") var duration: Double = 20

    /// The same kernel buffers as the node's default `socket_buffer_bytes` and the bot tool's hosts, so
    /// the floor drops no more and no less than a load run.
    static let serverSocketBuffer = 8 * 1024 * 1024
    static let clientSocketBuffer = 8 * 1024 * 1024

    func run() throws {
        let pattern =
            try from.map { try Pattern(report: $0) }
            ?? Pattern(clients: clients, tickRate: rate, upRate: upRate ?? rate, upBytes: upBytes, downBytes: downBytes)
        print("floor: \(pattern.clients) clients, ↓ \(pattern.tickRate)/s × \(pattern.downBytes) B, ↑ \(String(format: "%.1f", pattern.upRate))/s × \(pattern.upBytes) B, \(Int(duration)) s")

        let stop = Atomic<Bool>(false)
        let ready = DispatchSemaphore(value: 0)
        let result = Mutex<(cpu: Double, wall: Double, inDatagrams: UInt64, outDatagrams: UInt64)?>(nil)
        let port = Mutex<UInt16>(0)
        let measuring = Atomic<Bool>(false)
        let serverThread = Thread {
            // The server side: bare ENet, one flush per tick.
            guard let host = try? TransportHost(
                bindTo: TransportAddress(host: "127.0.0.1", port: 0), peerLimit: 4095, channelLimit: 3,
                limits: TransportLimits(socketBufferBytes: Self.serverSocketBuffer))
            else { return }
            port.withLock { $0 = host.localPort }
            ready.signal()
            var peers: [PeerHandle] = []
            let payload = [UInt8](repeating: 0xA5, count: pattern.downBytes)
            let period = UInt64(1_000_000 / pattern.tickRate)
            var deadline = MonotonicClock.nowMicros() + period
            var start: (cpu: Double, wall: UInt64, io: HostStatistics)?
            while !stop.load(ordering: .relaxed) {
                while MonotonicClock.nowMicros() < deadline {
                    let remaining = deadline - MonotonicClock.nowMicros()
                    if let event = host.service(timeoutMilliseconds: UInt32(remaining / 1000)) {
                        if case .connected(let peer, _) = event { peers.append(peer) }
                    } else if remaining < 1000 {
                        MonotonicClock.sleep(micros: deadline - min(deadline, MonotonicClock.nowMicros()))
                    }
                }
                for peer in peers { host.send(payload, to: peer, channel: 1, delivery: .unreliable) }
                host.flush()
                deadline += period
                if start == nil && measuring.load(ordering: .relaxed) {
                    start = (MonotonicClock.threadCPUSeconds(), MonotonicClock.nowMicros(), host.statistics)
                }
            }
            if let start {
                let io = host.statistics
                result.withLock {
                    $0 = (
                        MonotonicClock.threadCPUSeconds() - start.cpu, Double(MonotonicClock.nowMicros() - start.wall) / 1e6,
                        io.datagramsReceived - start.io.datagramsReceived, io.datagramsSent - start.io.datagramsSent
                    )
                }
            }
        }
        serverThread.start()
        ready.wait()

        // The client side: one host per 1,000 peers, each peer sending at the upstream rate.
        let address = TransportAddress(host: "127.0.0.1", port: port.withLock { $0 })
        var hosts: [TransportHost] = []
        var peers: [(host: Int, peer: PeerHandle)] = []
        for i in 0..<pattern.clients {
            if i % 1000 == 0 { hosts.append(
                try TransportHost(
                    bindTo: nil, peerLimit: 1000, channelLimit: 3,
                    limits: TransportLimits(socketBufferBytes: Self.clientSocketBuffer)))
            }
            peers.append((hosts.count - 1, try hosts[hosts.count - 1].connect(to: address, channelCount: 3)))
        }
        var connected = 0
        let connectDeadline = MonotonicClock.nowMicros() + 30_000_000
        while connected < pattern.clients && MonotonicClock.nowMicros() < connectDeadline {
            for host in hosts {
                while let event = host.poll() { if case .connected = event { connected += 1 } }
            }
            MonotonicClock.sleep(micros: 500)
        }
        print("floor: \(connected)/\(pattern.clients) connected")
        measuring.store(true, ordering: .relaxed)
        let up = [UInt8](repeating: 0x5A, count: pattern.upBytes)
        let start = MonotonicClock.nowMicros()
        let end = start + UInt64(duration * 1_000_000)
        let upPeriod = 1_000_000 / pattern.upRate
        var cursor = 0
        while MonotonicClock.nowMicros() < end {
            let now = MonotonicClock.nowMicros()
            while true {
                let round = Double(cursor / peers.count)
                let index = cursor % peers.count
                let due = start + UInt64(round * upPeriod + Double(index) * upPeriod / Double(peers.count))
                guard due <= now else { break }
                let (h, peer) = peers[index]
                hosts[h].send(up, to: peer, channel: 1, delivery: .unreliable)
                cursor += 1
            }
            for host in hosts {
                host.flush()
                while host.poll() != nil {}
            }
            MonotonicClock.sleep(micros: 500)
        }
        stop.store(true, ordering: .relaxed)
        while result.withLock({ $0 }) == nil { usleep(10_000) }
        let r = result.withLock { $0! }
        let cores = r.cpu / r.wall
        print(String(format: "floor: server thread %.3f cores (%.2f s CPU over %.1f s), %.0f datagrams/s in, %.0f out",
                     cores, r.cpu, r.wall, Double(r.inDatagrams) / r.wall, Double(r.outDatagrams) / r.wall))
        print(String(format: "FLOOR_CPU_CORES=%.4f", cores))
    }
}

struct Pattern: Sendable {
    var clients: Int
    var tickRate: Double
    var upRate: Double
    var upBytes: Int
    var downBytes: Int

    init(clients: Int, tickRate: Double, upRate: Double, upBytes: Int, downBytes: Int) {
        self.clients = clients
        self.tickRate = tickRate
        self.upRate = upRate
        self.upBytes = upBytes
        self.downBytes = downBytes
    }

    /// The pattern of a load run: per-bot datagram rates, and bytes per datagram from kbps ÷ datagrams.
    init(report path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("\(path) is not a load report")
        }
        func number(_ keys: String...) -> Double? {
            var node: Any? = root
            for key in keys { node = (node as? [String: Any])?[key] }
            return node as? Double ?? (node as? Int).map(Double.init)
        }
        guard let bots = number("bots", "connected"), let downRate = number("down_datagrams_per_s_per_bot", "mean"),
            let upRate = number("up_datagrams_per_s_per_bot", "mean"), let down = number("down_kbps_per_bot", "mean"),
            let up = number("up_kbps_per_bot", "mean"), downRate > 0, upRate > 0
        else { throw ValidationError("\(path) lacks bots.connected or the per-bot datagram and kbps figures") }
        self.init(
            clients: Int(bots), tickRate: downRate, upRate: upRate,
            upBytes: max(1, Int(up * 1000 / 8 / upRate)), downBytes: max(1, Int(down * 1000 / 8 / downRate)))
    }
}
