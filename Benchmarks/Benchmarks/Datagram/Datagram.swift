// Datagram suite: what the server pays per sealed datagram, around the message codecs (issue #4: at 1,000 bots
// the worker receives ~40,000 datagrams/s and sends ~60,000, and about half its time is per-datagram work).
//
//   Datagram POSE open+decode         a client's sealed POSE (channel 1) opened with the session's SessionOpener
//                                     from a borrowed buffer into a new array, then ClientMessage.decode
//   Datagram POSE open into reused array+decode
//                                     the same opened into one array reused for every datagram, as Worker does
//   Datagram POSE receive loopback    the same through a TransportHost on loopback: the server's event for each
//                                     ENet packet (recvmsg, ENet's parsing and queueing, the event), opened and
//                                     decoded as Worker does (from the lent packet into a reused array); the
//                                     client's sealing and sending are not timed
//   Datagram POSE receive loopback, copied event
//                                     the same with the packet copied into the event and opened into a new array
//                                     (what Worker did before the lent events)
//   Datagram SNAPSHOT seal 900 bytes  SessionSealer.seal of a 900-byte message straight into a send buffer, as
//                                     Worker.deliver seals into ENet's packet
//
// POSEs come from `HeadsetMotion` (walking, both hands tracked): a 40-odd-byte message, 64-odd sealed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumSecurity
import AtriumTransport
import AtriumWire
import AtriumWorld
import Benchmark
import BenchmarkSupport

let benchmarks: @Sendable () -> Void = {
    let world = BenchmarkWorlds.load("expo-hall")
    let codec = PoseCodec(bounds: world.bounds)
    let threadCPU = BenchmarkMetric.threadCPU

    // 1000 datagrams per measured iteration (figures per datagram), so the framework's per-iteration work (clock
    // and /proc reads, which allocate) stays out of them.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, threadCPU, .throughput, .mallocCountTotal], units: [threadCPU: .count],
        warmupIterations: 10, scalingFactor: .kilo, maxDuration: .seconds(3))

    let fixture = PoseDatagrams(codec: codec, count: 1000)

    Benchmark("Datagram POSE open+decode") { benchmark in
        // A new opener per iteration (not measured): the replay window would refuse the ring's sequences again.
        var opener = fixture.opener()
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        for i in benchmark.scaledIterations {
            fixture.sealed[i].withUnsafeBytes { datagram in
                blackHole(try! ClientMessage.decode(opener.open(datagram, channel: Channel.state.rawValue), codec: codec))
            }
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
        benchmark.stopMeasurement()
    }

    Benchmark("Datagram POSE open into reused array+decode") { benchmark in
        var opener = fixture.opener()
        var plaintext: [UInt8] = []
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        for i in benchmark.scaledIterations {
            fixture.sealed[i].withUnsafeBytes { datagram in
                try! opener.open(datagram, channel: Channel.state.rawValue, into: &plaintext)
                blackHole(try! ClientMessage.decode(plaintext, codec: codec))
            }
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
        benchmark.stopMeasurement()
    }

    let loopback = LoopbackBox()
    for (name, lent) in [("Datagram POSE receive loopback", true), ("Datagram POSE receive loopback, copied event", false)] {
        Benchmark(name) { benchmark in
            let cpu = loopback.link.receive(fixture, codec: codec, batches: 10, lent: lent)
            benchmark.measurement(threadCPU, cpu)
        } setup: {
            loopback.link = PoseLink(fixture)
        } teardown: {
            loopback.link = nil
        }
    }

    Benchmark("Datagram SNAPSHOT seal 900 bytes") { benchmark in
        var sealer = try! SessionSealer(key: fixture.serverKey, direction: .serverToClient)
        let message = (0..<900).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var datagram = [UInt8](repeating: 0, count: SessionEnvelope.overhead + message.count)
        benchmark.startMeasurement()
        let cpu = ThreadCPUClock()
        message.withUnsafeBytes { plaintext in
            datagram.withUnsafeMutableBytes { out in
                for _ in benchmark.scaledIterations {
                    try! sealer.seal(plaintext, channel: Channel.state.rawValue, into: out)
                    blackHole(out[8])
                }
            }
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
        benchmark.stopMeasurement()
    }
}

/// `count` POSE messages of a walking headset, sealed by one client session with sequences 0 ..< count.
struct PoseDatagrams: @unchecked Sendable {
    let clientKey = SecretKey([UInt8](repeating: 0xA5, count: SecretKey.byteCount))!
    let serverKey = SecretKey([UInt8](repeating: 0x5A, count: SecretKey.byteCount))!
    let messages: [[UInt8]]
    let sealed: [[UInt8]]

    init(codec: PoseCodec, count: Int) {
        var motion = HeadsetMotion(kind: .walking, seed: 0xDA7A_6AA1, centre: (0, 0), spread: 10)
        messages = (0..<UInt32(count)).map { i in
            let pose = motion.step(1.0 / 30)
            return ClientMessage.pose(PoseInput(inputSequence: i + 1, clientTimeMs: 33 * i, ackSnapshot: i, pose: pose))
                .encode(codec: codec)
        }
        var sealer = try! SessionSealer(key: clientKey, direction: .clientToServer)
        sealed = messages.map { try! sealer.seal($0, channel: Channel.state.rawValue) }
        // The loops must measure the success path.
        var opener = self.opener()
        for datagram in sealed {
            guard case .pose = try? ClientMessage.decode(opener.open(datagram, channel: Channel.state.rawValue), codec: codec)
            else { fatalError("Datagram benchmarks: a sealed POSE does not open and decode") }
        }
    }

    func opener() -> SessionOpener { try! SessionOpener(key: clientKey, direction: .clientToServer) }
}

/// A server host and a client host connected on loopback, with the client's sealer and the server's opener.
final class PoseLink {
    let server: TransportHost
    let client: TransportHost
    let serverPeer: PeerHandle
    let clientPeer: PeerHandle
    var sealer: SessionSealer
    var opener: SessionOpener
    var plaintext: [UInt8] = []

    init(_ fixture: PoseDatagrams) {
        server = try! TransportHost(
            bindTo: TransportAddress(host: "127.0.0.1", port: 0), peerLimit: 4, channelLimit: Channel.count)
        client = try! TransportHost(bindTo: nil, peerLimit: 1, channelLimit: Channel.count)
        clientPeer = try! client.connect(
            to: TransportAddress(host: "127.0.0.1", port: server.localPort), channelCount: Channel.count)
        var accepted: PeerHandle?
        var clientUp = false
        let deadline = MonotonicClock.nowMicros() + 5_000_000
        while accepted == nil || !clientUp {
            guard MonotonicClock.nowMicros() < deadline else { fatalError("Datagram benchmarks: no loopback connection") }
            if case .connected(let peer, _)? = server.service(timeoutMilliseconds: 1) { accepted = peer }
            if case .connected? = client.service(timeoutMilliseconds: 1) { clientUp = true }
        }
        serverPeer = accepted!
        // Unreliable POSEs must not be dropped by ENet's throttle at the sender.
        client.keepUnreliablePackets(clientPeer)
        sealer = try! SessionSealer(key: fixture.clientKey, direction: .clientToServer)
        opener = fixture.opener()
    }

    /// Sends the fixture's messages as `batches` rounds (one UDP datagram per POSE, as a client sends them) and
    /// times only the server's side: every event handled as Worker handles it (`lent`), or as it did before
    /// with a copied event and a new plaintext array. Returns the thread CPU time scaled to 1000 datagrams.
    func receive(_ fixture: PoseDatagrams, codec: PoseCodec, batches: Int, lent: Bool) -> Int {
        var cpuTime = 0
        var received = 0
        let perBatch = fixture.messages.count / batches
        for batch in 0..<batches {
            for message in fixture.messages[(batch * perBatch)..<((batch + 1) * perBatch)] {
                message.withUnsafeBytes { plaintext in
                    _ = client.send(
                        count: SessionEnvelope.overhead + plaintext.count, to: clientPeer,
                        channel: Channel.state.rawValue, delivery: .forAtriumChannel(Channel.state.rawValue)
                    ) { datagram in
                        (try? sealer.seal(plaintext, channel: Channel.state.rawValue, into: datagram)) != nil
                    }
                }
                client.flush()
            }
            let cpu = ThreadCPUClock()
            var got = 0
            let deadline = MonotonicClock.nowMicros() + 1_000_000
            while got < perBatch, MonotonicClock.nowMicros() < deadline {
                if lent {
                    server.poll { event in
                        guard case .received(_, let channel, let datagram) = event else { return }
                        try! opener.open(datagram, channel: channel, into: &plaintext)
                        blackHole(try! ClientMessage.decode(plaintext, codec: codec))
                        got += 1
                    }
                } else if case .received(_, let channel, let payload)? = server.poll() {
                    blackHole(try! ClientMessage.decode(opener.open(payload, channel: channel), codec: codec))
                    got += 1
                }
            }
            cpuTime += cpu.elapsed()
            received += got
        }
        // ENet pings and acknowledgements go out on the next service; lost POSEs (none on loopback) would show
        // as a higher cost per datagram, not a lower one.
        return cpuTime * 1000 / max(1, received)
    }
}

/// Shares the link between the benchmark closure and its setup.
final class LoopbackBox: @unchecked Sendable {
    var link: PoseLink!
}
