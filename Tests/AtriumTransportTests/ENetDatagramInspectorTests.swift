import Foundation
import Testing
@testable import AtriumTransport

@Suite struct ENetDatagramInspectorTests {
    let inspector = ENetDatagramInspector(maximumPacketSize: 4096, channelLimit: 3, peerLimit: 16)

    func verdict(_ build: (inout ENetDatagramBuilder) -> Void, peer: UInt16 = 2, sentTime: UInt16? = 7) -> ENetDatagramVerdict {
        var builder = ENetDatagramBuilder(peerID: peer, session: 1, sentTime: sentTime)
        build(&builder)
        return inspector.inspect(builder.bytes)
    }

    func fragment(
        count: UInt32 = 3, number: UInt32 = 0, total: UInt32 = 3000, offset: UInt32 = 0, length: Int = 1000,
        channel: UInt8 = 0, dataLength: UInt16? = nil, unreliable: Bool = false
    ) -> ENetDatagramVerdict {
        verdict {
            $0.sendFragment(
                unreliable: unreliable, channel: channel, startSequence: 4, fragmentCount: count, fragmentNumber: number,
                totalLength: total, fragmentOffset: offset, payload: [UInt8](repeating: 9, count: length), dataLength: dataLength)
        }
    }

    @Test func aConnectLikeENetsIsAcceptedWithItsDataAndConnectID() {
        let bytes = ENetDatagramBuilder.connectDatagram(connectID: 0x1234_5678, data: 0xCAFE_F00D, channelCount: 3, sentTime: 99)
        #expect(bytes.count == 52)
        let expected = ENetConnectRequest(
            outgoingPeerID: 0, mtu: 1400, windowSize: 65536, channelCount: 3, connectID: 0x1234_5678, data: 0xCAFE_F00D)
        #expect(inspector.inspect(bytes) == .accept(connect: expected))
    }

    @Test func connectRules() {
        func connect(_ build: (inout ENetDatagramBuilder) -> Void) -> ENetDatagramVerdict {
            var builder = ENetDatagramBuilder()
            build(&builder)
            return inspector.inspect(builder.bytes)
        }
        #expect(connect { $0.connect(connectID: 1, data: 0, channelCount: 4) } == .reject(.connectChannelCount))
        #expect(connect { $0.connect(connectID: 1, data: 0, channelCount: 0) } == .reject(.connectChannelCount))
        #expect(connect { $0.connect(connectID: 1, data: 0, mtu: 575) } == .reject(.connectMTU))
        #expect(connect { $0.connect(connectID: 1, data: 0, mtu: 5000) } == .reject(.connectMTU))
        #expect(connect { $0.connect(connectID: 1, data: 0, windowSize: 0) } == .reject(.connectWindowSize))
        #expect(connect { $0.connect(connectID: 1, data: 0, windowSize: 1 << 20) } == .reject(.connectWindowSize))
        // Only one CONNECT, alone, to the unassigned peer ID.
        #expect(connect { $0.connect(connectID: 1, data: 0); $0.ping(sequence: 2) } == .reject(.commandWithoutPeer))
        #expect(connect { $0.ping(sequence: 2) } == .reject(.commandWithoutPeer))
        #expect(verdict { $0.connect(connectID: 1, data: 0) } == .reject(.connectToAssignedPeer))
    }

    @Test func ordinaryTrafficIsAccepted() {
        #expect(verdict { $0.ping(sequence: 1) } == .accept(connect: nil))
        #expect(verdict({ $0.ping(sequence: 1) }, sentTime: nil) == .accept(connect: nil))
        #expect(verdict {
            $0.acknowledge(channel: 0, sequence: 1, receivedSequence: 5, receivedSentTime: 9)
            $0.sendReliable(channel: 0, sequence: 6, payload: [1, 2, 3])
            $0.sendUnreliable(channel: 1, sequence: 0, unreliableSequence: 3, payload: [])
            $0.disconnect(sequence: 7, data: 0)
        } == .accept(connect: nil))
        #expect(fragment() == .accept(connect: nil))
        #expect(fragment(number: 2, offset: 2000) == .accept(connect: nil))
        #expect(fragment(unreliable: true) == .accept(connect: nil))
    }

    @Test func headerAndFramingRejections() {
        #expect(inspector.inspect([]) == .reject(.truncatedHeader))
        #expect(inspector.inspect([0x80]) == .reject(.truncatedHeader))
        #expect(inspector.inspect([0x80, 0x02, 0x00]) == .reject(.truncatedHeader))  // sent-time flag, 1 byte of it
        #expect(inspector.inspect([0x00, 0x02]) == .reject(.noCommands))
        #expect(inspector.inspect([0xFF, 0xFF, 0, 0]) == .reject(.compressed))
        #expect(inspector.inspect([0x40, 0x02, 0x05, 0xFF, 0, 1]) == .reject(.compressed))
        #expect(verdict({ $0.ping(sequence: 1) }, peer: 16) == .reject(.unknownPeer))
        #expect(verdict { $0.raw([0x05, 0xFF, 0x00]) } == .reject(.truncatedCommand))
        #expect(verdict { $0.raw([0x00, 0xFF, 0x00, 0x01]) } == .reject(.unknownCommand))
        #expect(verdict { $0.raw([0x0D, 0xFF, 0x00, 0x01]) } == .reject(.unknownCommand))
        #expect(verdict { $0.raw([0x01, 0xFF, 0x00, 0x01, 0, 0]) } == .reject(.truncatedCommand))  // ACK needs 8
        #expect(verdict { for i in 0..<33 { $0.ping(sequence: UInt16(i)) } } == .reject(.tooManyCommands))
        #expect(verdict { for i in 0..<32 { $0.ping(sequence: UInt16(i)) } } == .accept(connect: nil))
    }

    @Test func payloadRejections() {
        var builder = ENetDatagramBuilder(peerID: 1)
        builder.sendReliable(channel: 0, sequence: 1, payload: [1, 2, 3, 4])
        let full = builder.bytes
        #expect(inspector.inspect(Array(full.dropLast())) == .reject(.payloadPastDatagram))
        #expect(verdict { $0.sendReliable(channel: 3, sequence: 1, payload: [1]) } == .reject(.channel))
        #expect(verdict { $0.sendReliable(channel: 0, sequence: 1, payload: [UInt8](repeating: 0, count: 4097)) }
            == .reject(.packetTooLarge))
    }

    @Test func fragmentRejections() {
        #expect(fragment(length: 0) == .reject(.fragmentEmpty))
        #expect(fragment(count: 0) == .reject(.fragmentCount))
        #expect(fragment(count: 1024 * 1024 + 1, total: 4000) == .reject(.fragmentCount))
        #expect(fragment(count: 3, number: 3) == .reject(.fragmentNumber))
        #expect(fragment(count: 100, total: 99, length: 1) == .reject(.fragmentTotalLength))
        #expect(fragment(total: 4097) == .reject(.fragmentTotalLength))
        #expect(fragment(total: 0x7FFF_FFFF) == .reject(.fragmentTotalLength))
        #expect(fragment(offset: 2001) == .reject(.fragmentRange))
        #expect(fragment(offset: 0xFFFF_FFFF) == .reject(.fragmentRange))
        #expect(fragment(channel: 5) == .reject(.channel))
        #expect(fragment(length: 10, dataLength: 11) == .reject(.payloadPastDatagram))
    }

    @Test func theFuzzSeedsAreDatagramsTheInspectorAccepts() throws {
        // Fuzz/make-corpus.py writes these byte by byte; they must stay valid seeds.
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/ENetInspector")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names.count >= 8)
        for name in names {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            guard case .accept(let connect) = inspector.inspect(bytes) else {
                Issue.record("seed \(name) rejected: \(inspector.inspect(bytes))")
                continue
            }
            if name == "connect" {
                #expect(connect?.connectID == 0xA1B2_C3D4 && connect?.data == 0x1122_3344)
            }
        }
    }

    @Test func everyPrefixAndEveryByteFlipOfValidDatagramsIsHandled() {
        // Not a proof, a cheap sweep: no input may trap, and a truncated datagram is accepted only
        // when it ends exactly at a command boundary (then it is a shorter, well-formed datagram).
        var connect = ENetDatagramBuilder()
        connect.connect(connectID: 5, data: 6)
        var traffic = ENetDatagramBuilder(peerID: 3)
        traffic.sendFragment(channel: 1, startSequence: 2, fragmentCount: 2, fragmentNumber: 1, totalLength: 20,
                             fragmentOffset: 10, payload: Array(repeating: 1, count: 10))
        traffic.sendReliable(channel: 0, sequence: 3, payload: [7, 7])
        let samples: [(bytes: [UInt8], boundaries: Set<Int>)] = [(connect.bytes, []), (traffic.bytes, [4 + 24 + 10])]
        for (sample, boundaries) in samples {
            for length in 0..<sample.count {
                if case .accept = inspector.inspect(Array(sample.prefix(length))), !boundaries.contains(length) {
                    Issue.record("a truncated datagram (\(length) of \(sample.count) bytes) was accepted")
                }
            }
            for index in sample.indices {
                for bit in 0..<8 {
                    var flipped = sample
                    flipped[index] ^= 1 << bit
                    _ = inspector.inspect(flipped)
                }
            }
        }
    }
}
