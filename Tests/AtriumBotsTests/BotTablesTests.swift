import AtriumClient
import AtriumSecurity
import AtriumTransport
import AtriumWire
import Testing

@testable import AtriumBots

/// The flat per-avatar and per-peer tables the runner looks things up in for every datagram, and the
/// allocation-free paths that replaced copies (sealing into a packet buffer, in-place voice streams).
@Suite struct BotTablesTests {
    @Test func avatarTableReadsEmptyUntilWrittenAndGrowsToAnyId() {
        var table = AvatarTable<UInt32>(empty: 0)
        #expect(table[7] == 0 && table.values.isEmpty)
        table[3] = 30
        table[200] = 2000
        #expect(table[3] == 30 && table[200] == 2000 && table[4] == 0 && table[199] == 0 && table[201] == 0)
        table[UInt16.max] = 1
        #expect(table[UInt16.max] == 1 && table.values.count == 65_536)
        table[3] = 0
        #expect(table[3] == 0 && table[200] == 2000)
    }

    /// Input send times: per avatar, one slot per sequence mod 256; an unknown avatar or an empty slot is nil,
    /// and a slot holds the newest input that mapped to it.
    @Test func inputSendTimesAreKeptPerAvatarAndSlot() {
        var times = InputSendTimes()
        #expect(times.time(avatar: 5, sequence: 1) == nil)
        times.record(avatar: 5, sequence: 1, at: 100)
        times.record(avatar: 9, sequence: 1, at: 900)
        times.record(avatar: 5, sequence: 2, at: 133)
        #expect(times.time(avatar: 5, sequence: 1) == 100)
        #expect(times.time(avatar: 9, sequence: 1) == 900)
        #expect(times.time(avatar: 5, sequence: 2) == 133)
        #expect(times.time(avatar: 9, sequence: 2) == nil)
        #expect(times.time(avatar: 6, sequence: 1) == nil)
        times.record(avatar: 5, sequence: 1 + UInt32(InputSendTimes.slots), at: 8_000)
        #expect(times.time(avatar: 5, sequence: 1) == 8_000)
        #expect(times.time(avatar: 9, sequence: 1) == 900)
    }

    /// A peer table answers only for the exact handle stored in a slot: a reused slot (new connect id) and a
    /// removal of an old handle leave the current peer alone.
    @Test func peerTableMatchesWholeHandles() {
        var table = PeerTable()
        let a = PeerHandle(slot: 3, connectID: 0xAAAA)
        let b = PeerHandle(slot: 3, connectID: 0xBBBB)
        let c = PeerHandle(slot: 40, connectID: 0xCCCC)
        #expect(table[a] == nil)
        table[a] = 7
        table[c] = 8
        #expect(table[a] == 7 && table[c] == 8 && table[b] == nil)
        table[b] = 9  // slot 3 reused
        #expect(table[a] == nil && table[b] == 9)
        table[a] = nil  // the old handle: no effect on the new one
        #expect(table[b] == 9)
        #expect(table.removeValue(forKey: b) == 9 && table[b] == nil)
        #expect(table.removeValue(forKey: b) == nil && table[c] == 8)
    }

    /// Sealing straight into a buffer gives the same datagrams as sealing into a new array, and the peer opens
    /// them.
    @Test func sealingIntoABufferMatchesSealingIntoAnArray() throws {
        let keyA = try #require(SecretKey(Array(repeating: 1, count: 32)))
        let keyB = try #require(SecretKey(Array(repeating: 2, count: 32)))
        let ticket = JoinTicket(
            token: [1, 2, 3], clientToServerKey: keyA, serverToClientKey: keyB, expiresAt: 0, serverAddresses: [],
            userId: "u", displayName: "d", role: 0, worldId: "w")
        var viaArray = SecureChannel(ticket: ticket)
        var viaBuffer = SecureChannel(ticket: ticket)
        var opener = try SessionOpener(key: keyA, direction: .clientToServer)
        for message: [UInt8] in [[0x02, 9, 9, 9], [], Array(0..<200)] {
            let expected = viaArray.seal(message, channel: .state)
            var datagram = [UInt8](repeating: 0, count: SecureChannel.overhead + message.count)
            let sealed = message.withUnsafeBytes { plain in
                datagram.withUnsafeMutableBytes { viaBuffer.seal(plain, channel: .state, into: $0) }
            }
            #expect(sealed && expected != nil && datagram == expected)
            #expect(try opener.open(datagram, channel: Channel.state.rawValue) == message)
        }
    }

    /// Streams retire by swapping the last one into their place: the streams left keep their own counts and
    /// go on receiving into the right buffers.
    @Test func retiringAStreamKeepsTheOthersIntact() {
        let sendTimes = VoiceSendTimes()
        var listener = VoiceListener()
        func frames(_ speakers: [UInt16], _ sequence: UInt16) -> [VoiceBundleScan.Frame] {
            speakers.map { VoiceBundleScan.Frame(speakerId: $0, sequence: sequence, level: .silence, opusLength: 60) }
        }
        var t: UInt64 = 1_000_000
        for k in 0..<3 {
            _ = listener.receive(frames([1, 2, 3], UInt16(k)), at: t, sendTimes: sendTimes)
            listener.advance(to: t)
            t += 20_000
        }
        // Speaker 1 falls silent; 2 and 3 go on until 1 is idle long enough to retire.
        var k: UInt16 = 3
        while t < 1_000_000 + 40_000 + VoiceListener.idleMicros {
            _ = listener.receive(frames([2, 3], k), at: t, sendTimes: sendTimes)
            listener.advance(to: t)
            k += 1
            t += 20_000
        }
        listener.advance(to: t + 200_000)
        #expect(listener.streamCount == 2)
        #expect(Set(listener.streams.map(\.speaker)) == [2, 3])
        let received = Int(k)
        #expect(listener.streams.allSatisfy { $0.buffer.stats.received == received && $0.buffer.stats.lost == 0 })
        #expect(listener.retired.received == 3 && listener.retired.streams == 1)
        // A returning speaker gets a fresh stream.
        _ = listener.receive(frames([1], 500), at: t + 300_000, sendTimes: sendTimes)
        #expect(listener.streamCount == 3 && listener.totals.received == 3 + 2 * received + 1)
    }
}
