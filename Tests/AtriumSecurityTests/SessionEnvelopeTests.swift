import Testing
@testable import AtriumSecurity

@Suite struct SessionEnvelopeTests {
    static let c2s = SecretKey((0..<32).map { UInt8($0) })!
    static let s2c = SecretKey((0..<32).map { UInt8(0x80 | $0) })!

    static func pair(start: UInt64 = 0) throws -> (SessionSealer, SessionOpener) {
        (try SessionSealer(key: c2s, direction: .clientToServer, startingAt: start),
         try SessionOpener(key: c2s, direction: .clientToServer, startingAt: start))
    }

    @Test func roundTripAndLayout() throws {
        var (sealer, opener) = try Self.pair()
        for n in 0..<5 {
            let payload = Array("message \(n)".utf8)
            let datagram = try sealer.seal(payload, channel: 2)
            #expect(datagram.count == payload.count + 24)
            #expect(Array(datagram.prefix(8)) == [UInt8(n), 0, 0, 0, 0, 0, 0, 0])
            #expect(try opener.open(datagram, channel: 2) == payload)
        }
        #expect(sealer.nextSequence == 5 && opener.highestSequence == 4)
        #expect(try opener.open(try sealer.seal([], channel: 0), channel: 0) == [])
    }

    /// Sealing into a caller's buffer (the server seals into ENet's packet) makes the datagram the array form
    /// makes, and uses up the same sequence.
    @Test func sealingIntoABufferMatchesTheArrayForm() throws {
        var (sealer, opener) = try Self.pair()
        var twin = try SessionSealer(key: Self.c2s, direction: .clientToServer)
        for payload in [[UInt8](), [1], Array(0..<200)] {
            var datagram = [UInt8](repeating: 0, count: SessionEnvelope.overhead + payload.count)
            try payload.withUnsafeBytes { plaintext in
                try datagram.withUnsafeMutableBytes { try sealer.seal(plaintext, channel: 1, into: $0) }
            }
            #expect(datagram == (try twin.seal(payload, channel: 1)))
            #expect(try opener.open(datagram, channel: 1) == payload)
        }
        #expect(sealer.nextSequence == 3)
    }

    /// Opening into a caller's array (the server and the client reuse one for every datagram) gives what the
    /// array form gives, whatever the array held before; a refused datagram — forged, truncated, on the wrong
    /// channel, replayed — leaves the array empty (nothing unauthenticated is handed out) and moves no window.
    @Test func openingIntoAReusedArray() throws {
        var (sealer, opener) = try Self.pair()
        var plaintext = [UInt8](repeating: 0xEE, count: 300)
        for payload in [Array(0..<200), [7], [], Array(0..<40)] as [[UInt8]] {
            let datagram = try sealer.seal(payload, channel: 1)
            try datagram.withUnsafeBytes { try opener.open($0, channel: 1, into: &plaintext) }
            #expect(plaintext == payload)
        }
        let good = try sealer.seal(Array(0..<64), channel: 1)  // seq 4
        var forged = good
        forged[30] ^= 1
        let refused: [([UInt8], UInt8, SessionError)] = [
            (forged, 1, .forged), (Array(good.prefix(23)), 1, .truncated(length: 23)), ([], 1, .truncated(length: 0)),
            (good, 2, .forged), (try sealer.seal([1], channel: 200).map { $0 ^ 0x80 }, 200, .forged),
        ]
        for (datagram, channel, expected) in refused {
            plaintext = [1, 2, 3]
            #expect(throws: expected) { try datagram.withUnsafeBytes { try opener.open($0, channel: channel, into: &plaintext) } }
            #expect(plaintext.isEmpty)
            #expect(opener.highestSequence == 3 && opener.highestSequence(channel: 200) == nil)
        }
        try good.withUnsafeBytes { try opener.open($0, channel: 1, into: &plaintext) }
        #expect(plaintext == Array(0..<64))
        #expect(throws: SessionError.replayed(sequence: 4)) {
            try good.withUnsafeBytes { try opener.open($0, channel: 1, into: &plaintext) }
        }
        #expect(plaintext.isEmpty)
    }

    /// Windows are kept per channel number, created by the first authenticated datagram of a channel, in any
    /// order and up to channel 255.
    @Test func windowsForHighAndSparseChannels() throws {
        var (sealer, opener) = try Self.pair()
        let onHigh = try sealer.seal([1], channel: 255)  // seq 0
        let onLow = try sealer.seal([2], channel: 0)  // seq 1
        let onMiddle = try sealer.seal([3], channel: 7)  // seq 2
        #expect(try opener.open(onLow, channel: 0) == [2])
        #expect(try opener.open(onMiddle, channel: 7) == [3])
        #expect(opener.highestSequence(channel: 255) == nil)
        #expect(try opener.open(onHigh, channel: 255) == [1])
        #expect(opener.highestSequence(channel: 255) == 0 && opener.highestSequence(channel: 0) == 1)
        #expect(opener.highestSequence(channel: 7) == 2 && opener.highestSequence(channel: 6) == nil)
        #expect(opener.highestSequence == 2)
        #expect(throws: SessionError.replayed(sequence: 0)) { try opener.open(onHigh, channel: 255) }
        #expect(throws: SessionError.replayed(sequence: 1)) { try opener.open(onLow, channel: 0) }
        #expect(throws: SessionError.replayed(sequence: 2)) { try opener.open(onMiddle, channel: 7) }
    }

    @Test func everySingleBitFlipIsRejectedWithoutStateChange() throws {
        var (sealer, opener) = try Self.pair()
        _ = try opener.open(try sealer.seal([1], channel: 1), channel: 1)  // seq 0
        let datagram = try sealer.seal(Array(0..<40), channel: 1)          // seq 1
        for index in datagram.indices {
            for bit in 0..<8 {
                var tampered = datagram
                tampered[index] ^= UInt8(1) << UInt8(bit)
                #expect(throws: SessionError.self) { try opener.open(tampered, channel: 1) }
                #expect(opener.highestSequence == 0)
            }
        }
        // Nothing moved: the original still opens, exactly once.
        #expect(try opener.open(datagram, channel: 1) == Array(0..<40))
        #expect(throws: SessionError.replayed(sequence: 1)) { try opener.open(datagram, channel: 1) }
    }

    @Test func replayTooOldAndOutOfOrder() throws {
        var (sealer, opener) = try Self.pair()
        var datagrams: [[UInt8]] = []
        for n in 0..<600 { datagrams.append(try sealer.seal([UInt8(n & 0xFF)], channel: 0)) }
        // Deliver 300 first, then older ones out of order.
        #expect(try opener.open(datagrams[300], channel: 0) == [UInt8(300 & 0xFF)])
        #expect(try opener.open(datagrams[299], channel: 0) == [UInt8(299 & 0xFF)])
        #expect(try opener.open(datagrams[100], channel: 0) == [100])
        #expect(try opener.open(datagrams[45], channel: 0) == [45])   // 300 - 45 = 255: the oldest in the window
        #expect(throws: SessionError.tooOld(sequence: 44)) { try opener.open(datagrams[44], channel: 0) }
        #expect(throws: SessionError.tooOld(sequence: 0)) { try opener.open(datagrams[0], channel: 0) }
        #expect(throws: SessionError.replayed(sequence: 100)) { try opener.open(datagrams[100], channel: 0) }
        #expect(throws: SessionError.replayed(sequence: 300)) { try opener.open(datagrams[300], channel: 0) }
        // A jump forward: slots the window reuses start empty (sequence 301 was never seen).
        #expect(try opener.open(datagrams[556], channel: 0) == [UInt8(556 & 0xFF)])
        #expect(try opener.open(datagrams[301], channel: 0) == [UInt8(301 & 0xFF)])
        #expect(throws: SessionError.tooOld(sequence: 300)) { try opener.open(datagrams[300], channel: 0) }
        #expect(throws: SessionError.replayed(sequence: 301)) { try opener.open(datagrams[301], channel: 0) }
        // A jump of more than the window clears it.
        #expect(try opener.open(datagrams[599], channel: 0) == [UInt8(599 & 0xFF)])
        #expect(throws: SessionError.tooOld(sequence: 301)) { try opener.open(datagrams[301], channel: 0) }
        #expect(try opener.open(datagrams[598], channel: 0) == [UInt8(598 & 0xFF)])
    }

    @Test func everyOrderWithinTheWindowIsAcceptedOnce() throws {
        var (sealer, opener) = try Self.pair()
        var datagrams: [[UInt8]] = []
        for n in 0..<256 { datagrams.append(try sealer.seal([UInt8(n)], channel: 0)) }
        var order = Array(0..<256)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in order.indices.reversed() {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            order.swapAt(i, Int(state >> 33) % (i + 1))
        }
        for n in order { #expect(try opener.open(datagrams[n], channel: 0) == [UInt8(n)]) }
        for n in order { #expect(throws: SessionError.replayed(sequence: UInt64(n))) { try opener.open(datagrams[n], channel: 0) } }
    }

    @Test func nearTheEndOfTheSequenceSpace() throws {
        var (sealer, opener) = try Self.pair(start: .max - 3)
        var datagrams: [[UInt8]] = []
        for _ in 0..<4 { datagrams.append(try sealer.seal([7], channel: 0)) }
        #expect(sealer.nextSequence == nil)
        #expect(Array(datagrams[3].prefix(8)) == [UInt8](repeating: 0xFF, count: 8))
        // The sealer refuses to wrap, every time.
        #expect(throws: SessionError.sequenceExhausted) { try sealer.seal([7], channel: 0) }
        #expect(throws: SessionError.sequenceExhausted) { try sealer.seal([], channel: 0) }
        // The opener takes UInt64.max - k in any order, and UInt64.max itself once.
        for i in [3, 1, 0, 2] { #expect(try opener.open(datagrams[i], channel: 0) == [7]) }
        #expect(opener.highestSequence == .max)
        #expect(throws: SessionError.replayed(sequence: .max)) { try opener.open(datagrams[3], channel: 0) }
        // Below the starting sequence: too old.
        var early = try SessionSealer(key: Self.c2s, direction: .clientToServer, startingAt: .max - 4)
        #expect(throws: SessionError.tooOld(sequence: .max - 4)) { try opener.open(try early.seal([7], channel: 0), channel: 0) }
    }

    @Test func wrongChannelDirectionOrKeyIsForged() throws {
        var (sealer, opener) = try Self.pair()
        let datagram = try sealer.seal([1, 2, 3], channel: 1)
        #expect(throws: SessionError.forged) { try opener.open(datagram, channel: 0) }
        #expect(throws: SessionError.forged) { try opener.open(datagram, channel: 2) }
        // The same key in the other direction (a client that set both keys equal): still rejected.
        var reflected = try SessionOpener(key: Self.c2s, direction: .serverToClient)
        #expect(throws: SessionError.forged) { try reflected.open(datagram, channel: 1) }
        var otherKey = try SessionOpener(key: Self.s2c, direction: .clientToServer)
        #expect(throws: SessionError.forged) { try otherKey.open(datagram, channel: 1) }
        #expect(try opener.open(datagram, channel: 1) == [1, 2, 3])
    }

    @Test func truncatedDatagrams() throws {
        var (sealer, opener) = try Self.pair()
        let datagram = try sealer.seal([9], channel: 0)
        for length in 0..<24 {
            #expect(throws: SessionError.truncated(length: length)) { try opener.open(Array(datagram.prefix(length)), channel: 0) }
        }
        #expect(throws: SessionError.forged) { try opener.open(Array(datagram.prefix(24)), channel: 0) }
        #expect(try opener.open(datagram, channel: 0) == [9])
    }

    @Test func copiesShareTheCounterSoNoncesNeverRepeat() throws {
        var sealer = try SessionSealer(key: Self.c2s, direction: .serverToClient)
        var copy = sealer
        let a = try sealer.seal([1], channel: 0)
        let b = try copy.seal([1], channel: 0)
        #expect(Array(a.prefix(8)) != Array(b.prefix(8)))
        #expect(sealer.nextSequence == 2 && copy.nextSequence == 2)
    }

    @Test func nonceAndAADLayout() {
        #expect(SessionEnvelope.nonce(direction: .clientToServer, sequence: 0x0102) == [0x43, 0x32, 0x53, 0, 2, 1, 0, 0, 0, 0, 0, 0])
        #expect(SessionEnvelope.nonce(direction: .serverToClient, sequence: .max) == [0x53, 0x32, 0x43, 0] + [UInt8](repeating: 0xFF, count: 8))
        #expect(SessionEnvelope.aad(direction: .serverToClient, channel: 3) == [1, 1, 3])
    }
}

@Suite struct SessionChannelWindowTests {
    /// A reliable control message delayed behind hundreds of state datagrams (an ENet retransmission) still
    /// opens: windows are per channel. Replays are still caught, on every channel.
    @Test func delayedReliableMessageOpensBehindOtherChannels() throws {
        var (sealer, opener) = try SessionEnvelopeTests.pair()
        let control = try sealer.seal([0xC0], channel: 0)               // seq 0 on channel 0
        var state: [[UInt8]] = []
        for n in 0..<1000 { state.append(try sealer.seal([UInt8(n & 0xFF)], channel: 1)) }
        for datagram in state { _ = try opener.open(datagram, channel: 1) }
        #expect(opener.highestSequence == 1000 && opener.highestSequence(channel: 0) == nil)
        let opened = try opener.open(control, channel: 0)
        #expect(opened == [0xC0])
        #expect(opener.highestSequence(channel: 0) == 0 && opener.highestSequence(channel: 1) == 1000)
        #expect(throws: SessionError.replayed(sequence: 0)) { try opener.open(control, channel: 0) }
        #expect(throws: SessionError.replayed(sequence: 1000)) { try opener.open(state[999], channel: 1) }
        #expect(throws: SessionError.tooOld(sequence: 1)) { try opener.open(state[0], channel: 1) }
        // Moving a datagram to another channel to dodge that channel's window fails authentication.
        #expect(throws: SessionError.forged) { try opener.open(state[0], channel: 0) }
        #expect(throws: SessionError.forged) { try opener.open(state[0], channel: 2) }
    }
}
