import Testing
@testable import AtriumTransport

@Suite struct ImpairmentModelTests {
    @Test func sameSeedSameDecisionsDifferentSeedDifferentDecisions() {
        let parameters = Impairment(lossPercent: 20, latencyMs: 30, jitterMs: 10, duplicatePercent: 5, reorderPercent: 5, seed: 42)
        var a = ImpairmentModel(parameters), b = ImpairmentModel(parameters)
        var c = ImpairmentModel(Impairment(lossPercent: 20, latencyMs: 30, jitterMs: 10, duplicatePercent: 5, reorderPercent: 5, seed: 43))
        let first = (0..<1000).map { _ in a.next() }
        #expect(first == (0..<1000).map { _ in b.next() })
        #expect(first != (0..<1000).map { _ in c.next() })
    }

    @Test func ratesAndBoundsMatchTheParameters() {
        var model = ImpairmentModel(Impairment(lossPercent: 20, latencyMs: 50, jitterMs: 10, duplicatePercent: 10, seed: 7))
        let n = 100_000
        let decisions = (0..<n).map { _ in model.next() }
        let lost = decisions.filter(\.drop).count
        #expect(abs(Double(lost) / Double(n) - 0.20) < 0.01)
        let kept = decisions.filter { !$0.drop }
        #expect(kept.allSatisfy { (40_000_000...60_000_000).contains($0.delayNanoseconds) })
        let duplicated = kept.filter { $0.duplicateDelayNanoseconds != nil }.count
        #expect(abs(Double(duplicated) / Double(kept.count) - 0.10) < 0.01)
        #expect(kept.allSatisfy { ($0.duplicateDelayNanoseconds ?? .max) >= $0.delayNanoseconds })
    }

    @Test func extremesAndGarbageParameters() {
        var none = ImpairmentModel(Impairment(seed: 1))
        #expect(none.passesThroughImmediately)
        #expect((0..<1000).allSatisfy { _ in none.next() == ImpairmentDecision(drop: false, delayNanoseconds: 0, duplicateDelayNanoseconds: nil) })
        var all = ImpairmentModel(Impairment(lossPercent: 100, seed: 1))
        #expect((0..<1000).allSatisfy { _ in all.next().drop })
        var garbage = ImpairmentModel(Impairment(lossPercent: .nan, latencyMs: -5, jitterMs: .infinity, duplicatePercent: 500, seed: 1))
        #expect(garbage.loss == 0 && garbage.latency == 0 && garbage.jitter == 60_000 && garbage.duplicate == 100)
        _ = garbage.next()
    }

    @Test func heldQueueReleasesInDueThenArrivalOrder() {
        var queue = HeldQueue()
        let address = AtriumTransportTestsAddress.zero
        let dues: [UInt64] = [50, 10, 30, 10, 40, 20, 10]
        for (i, due) in dues.enumerated() {
            queue.push(HeldDatagram(due: due, sequence: UInt64(i), source: address, bytes: [UInt8(i)]))
        }
        #expect(queue.countDue(25, limit: 100) == 4)
        #expect(queue.countDue(25, limit: 2) == 2)
        var order: [UInt8] = []
        while let next = queue.popIfDue(35) { order.append(next.bytes[0]) }
        #expect(order == [1, 3, 6, 5, 2])
        #expect(queue.count == 2 && queue.nextDue == 40)
    }
}

import CENet
enum AtriumTransportTestsAddress {
    static let zero = ENetAddress(host: 0, port: 0)
}

/// End-to-end impairment over loopback ENet. Impairment is installed on the server,
/// so it shapes client→server traffic.
extension LoopbackNetworkTests {
    @Suite struct ImpairmentTransportTests {
        @Test func zeroImpairmentPassesEverything() throws {
            let server = try makeServer()
            let client = try makeClient()
            server.setImpairment(Impairment(seed: 1))
            client.setImpairment(Impairment(seed: 2))
            let (c, _) = try establish(client, server)
            let log = EventLog(hosts: 2)
            for i in 0..<300 {
                client.send([UInt8(i & 0xFF), UInt8(i >> 8)], to: c, channel: 0, delivery: .reliable)
                client.send([UInt8(i & 0xFF), UInt8(i >> 8), 1], to: c, channel: 1, delivery: .unreliable)
                if i % 20 == 19 { pump([client, server], into: log, seconds: 0.01) { _ in false } }
            }
            pump([client, server], into: log) { $0.received(1).count >= 600 }
            let reliable = log.received(1).filter { $0.2.count == 2 }.map { Int($0.2[0]) | Int($0.2[1]) << 8 }
            let unreliable = log.received(1).filter { $0.2.count == 3 }
            #expect(reliable == Array(0..<300))
            #expect(unreliable.count == 300)
            #expect(server.impairmentCounters == ImpairmentCounters())
            #expect(client.impairmentCounters == ImpairmentCounters())
        }

        @Test func fullLossDeliversNothingAndRemovalRestoresTraffic() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, _) = try establish(client, server)
            server.setImpairment(Impairment(lossPercent: 100, seed: 5))
            for i in 0..<50 {
                client.send([UInt8(i)], to: c, channel: 0, delivery: .reliable)
                client.send([UInt8(i), 1], to: c, channel: 1, delivery: .unreliable)
                client.flush()
            }
            let log = EventLog(hosts: 2)
            pump([client, server], into: log, seconds: 0.4) { _ in false }
            #expect(log.received(1).isEmpty)
            #expect((server.impairmentCounters?.dropped ?? 0) >= 50)

            server.setImpairment(nil)
            #expect(server.impairment == nil)
            // ENet retransmits the reliable packets once datagrams flow again.
            pump([client, server], into: log, seconds: 8) { $0.received(1).filter { $0.2.count == 1 }.count >= 50 }
            #expect(log.received(1).filter { $0.2.count == 1 }.map { $0.2[0] } == (0..<50).map(UInt8.init))
        }

        @Test func twentyPercentLossOverTwoThousandUnreliablePackets() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, _) = try establish(client, server)
            server.setImpairment(Impairment(lossPercent: 20, seed: 2024))
            let total = 2000
            let log = EventLog(hosts: 2)
            for i in 0..<total {
                // One flush per packet puts each packet in its own datagram, so datagram loss = packet loss.
                client.send([UInt8(i & 0xFF), UInt8(i >> 8), 0xEE], to: c, channel: 0, delivery: .unreliable)
                client.flush()
                if i % 25 == 24 { pump([client, server], into: log, seconds: 0.005) { _ in false } }
            }
            pump([client, server], into: log, seconds: 1) { _ in false }
            let delivered = log.received(1).filter { $0.2.count == 3 && $0.2[2] == 0xEE }.count
            // Binomial(2000, 0.8): mean 1600, sd ≈ 18; the band is ±~8 sd.
            #expect((1450...1750).contains(delivered), "delivered \(delivered) of \(total)")
            let ids = log.received(1).filter { $0.2.count == 3 }.map { Int($0.2[0]) | Int($0.2[1]) << 8 }
            #expect(ids == ids.sorted())  // sequenced: never out of order
        }

        @Test func latencyShiftsArrival() throws {
            func oneWayMilliseconds(latency: Double?) throws -> Double {
                let server = try makeServer()
                let client = try makeClient()
                let (c, _) = try establish(client, server)
                server.setImpairment(latency.map { Impairment(latencyMs: $0, seed: 3) })
                let log = EventLog(hosts: 2)
                pump([client, server], into: log, seconds: 0.05) { _ in false }
                let start = nowSeconds()
                client.send([1, 2, 3], to: c, channel: 0, delivery: .reliable)
                client.flush()
                try #require(pump([client, server], into: log, seconds: 5) { !$0.received(1).isEmpty })
                return (nowSeconds() - start) * 1000
            }
            let base = try oneWayMilliseconds(latency: nil)
            let delayed = try oneWayMilliseconds(latency: 120)
            #expect(base < 60, "baseline \(base) ms")
            #expect(delayed >= 118 && delayed < 1000, "delayed \(delayed) ms")
        }

        @Test func jitterReorderAndDuplicationKeepReliableDeliveryExact() throws {
            let server = try makeServer()
            let client = try makeClient()
            server.setImpairment(Impairment(lossPercent: 5, latencyMs: 10, jitterMs: 8, duplicatePercent: 20, reorderPercent: 10, seed: 77))
            client.setImpairment(Impairment(latencyMs: 5, jitterMs: 3, duplicatePercent: 10, seed: 78))
            let (c, s) = try establish(client, server)
            let log = EventLog(hosts: 2)
            for i in 0..<200 {
                client.send([UInt8(i)], to: c, channel: 0, delivery: .reliable)
                client.send([UInt8(i), 0], to: c, channel: 1, delivery: .unsequenced)
                client.flush()  // one datagram per pair, so datagrams really get reordered
                if i % 10 == 9 { pump([client, server], into: log, seconds: 0.005) { _ in false } }
            }
            server.send([1, 1, 1], to: s, channel: 2, delivery: .reliable)
            try #require(pump([client, server], into: log, seconds: 15) {
                $0.received(1).filter { $0.2.count == 1 }.count >= 200 && !$0.received(0).isEmpty
            })
            // Re-injected datagrams keep their source address, so ENet accepts them and
            // its own sequencing removes duplicates: every reliable packet exactly once, in order.
            #expect(log.received(1).filter { $0.2.count == 1 }.map { $0.2[0] } == (0..<200).map(UInt8.init))
            #expect(log.received(0).map(\.2) == [[1, 1, 1]])
            // Jitter and reordering really reorder: unsequenced packets arrive out of order,
            // and ENet's unsequenced window still drops the duplicates.
            let unsequenced = log.received(1).filter { $0.2.count == 2 }.map { Int($0.2[0]) }
            #expect(unsequenced != unsequenced.sorted())
            #expect(Set(unsequenced).count == unsequenced.count)
            // Wake-up datagrams are not counted as traffic.
            #expect(server.statistics.datagramsReceived <= client.statistics.datagramsSent)
            let counters = try #require(server.impairmentCounters)
            #expect(counters.delayed > 0 && counters.duplicated > 0 && counters.dropped > 0 && counters.released > 0)
            #expect(counters.overflowed == 0)
        }

        @Test func removingImpairmentDiscardsHeldDatagrams() throws {
            let server = try makeServer()
            let client = try makeClient()
            let (c, _) = try establish(client, server)
            server.setImpairment(Impairment(latencyMs: 10_000, seed: 4))
            client.send([1], to: c, channel: 0, delivery: .unreliable)
            client.flush()
            let log = EventLog(hosts: 2)
            pump([client, server], into: log, seconds: 0.1) { _ in false }
            #expect(server.impairedDatagramsHeld >= 1)
            #expect(log.received(1).isEmpty)
            server.setImpairment(nil)
            #expect(server.impairedDatagramsHeld == 0)
        }
    }
}
