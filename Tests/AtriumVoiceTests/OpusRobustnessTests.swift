import Testing
import AtriumVoice

@Suite struct OpusRobustnessTests {
    /// Packets RFC 6716 §3.4 declares malformed; libopus must reject each one.
    static let malformed: [[UInt8]] = [
        [0x02],                                   // code 2 without a length byte
        [0x01, 0x00],                             // code 1 with an odd payload length
        [0x03],                                   // code 3 without the frame-count byte
        [0x03, 0x00],                             // code 3 with zero frames
        [0x03, 0x31] + [UInt8](repeating: 0, count: 60),  // code 3, 49 × 20 ms = 980 ms > 120 ms
        [0xF8] + [UInt8](repeating: 0x55, count: 1276),    // code 0 frame over 1275 bytes
        [0x02, 0xFB, 0x00, 0x00],                 // code 2 first frame longer than the packet
        [0x03, 0x42, 0xFF, 0xFF, 0xFF, 0xFF],     // code 3 with padding past the end
    ]

    @Test(arguments: malformed)
    func malformedPacketsThrowInvalidPacket(_ packet: [UInt8]) throws {
        let decoder = try OpusVoiceDecoder()
        #expect(throws: OpusError.self) { try decoder.decode(packet) }
        do {
            _ = try decoder.decode(packet)
        } catch {
            #expect(error.code < 0)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func randomGarbageNeverCrashes() throws {
        let decoder = try OpusVoiceDecoder(sampleRate: 48000, channels: 2)
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        var thrown = 0
        for _ in 0..<3000 {
            let length = Int(next() % 1600) + 1
            let packet = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            do {
                let pcm = try decoder.decode(packet)
                #expect(pcm.count % 2 == 0 && pcm.count <= 5760 * 2)
            } catch {
                thrown += 1
                #expect(error.code < 0)
            }
        }
        #expect(thrown > 0)
        // The decoder is still usable afterwards.
        let encoder = try OpusVoiceEncoder(channels: 2)
        let packet = try encoder.encode([Int16](repeating: 0, count: 1920))
        #expect(try decoder.decode(packet).count == 1920)
    }

    @Test func emptyPacketThrowsAndLossIsConcealed() throws {
        let encoder = try OpusVoiceEncoder()
        let decoder = try OpusVoiceDecoder()
        #expect(throws: OpusError.self) { try decoder.decode([]) }
        let sine = Signal.sine(hz: 300, seconds: 0.2)
        for frame in Signal.frames(sine, size: 960).prefix(5) { _ = try decoder.decode(encoder.encode(frame)) }
        let concealed = try decoder.decodeLoss(frameSamples: 960)
        #expect(concealed.count == 960)
        #expect(decoder.lastPacketDurationSamples == 960)
        // Concealment continues the signal rather than emitting silence.
        #expect(Signal.rms(concealed[...]) > 100)
        #expect(try decoder.decodeLoss(frameSamples: 120).count == 120)
        for bad in [0, 7, 959, 5761, -960] {
            #expect(throws: OpusError.self) { try decoder.decodeLoss(frameSamples: bad) }
        }
    }

    @Test func inbandFECRecoversAFrame() throws {
        let encoder = try OpusVoiceEncoder(bitrate: 32_000)
        try encoder.setInbandFEC(true, expectedLossPercent: 20)
        try encoder.setComplexity(5)
        try encoder.setDTX(false)
        let decoder = try OpusVoiceDecoder()
        let packets = try Signal.frames(Signal.rich(seconds: 0.4), size: 960).map { try encoder.encode($0) }
        for packet in packets.prefix(10) { _ = try decoder.decode(packet) }
        // Packet 10 is "lost": rebuild it from packet 11's FEC data, then decode 11 normally.
        #expect(try decoder.decodeFEC(from: packets[11], frameSamples: 960).count == 960)
        #expect(try decoder.decode(packets[11]).count == 960)
    }

    @Test func invalidConfigurationsAndFramesThrowWithOpusText() throws {
        do {
            _ = try OpusVoiceEncoder(sampleRate: 44100)
            Issue.record("44.1 kHz must be rejected")
        } catch {
            #expect(error.code == -1)
            #expect(error.message.contains("invalid argument"))  // opus_strerror(OPUS_BAD_ARG)
        }
        #expect(throws: OpusError.self) { _ = try OpusVoiceEncoder(channels: 3) }
        #expect(throws: OpusError.self) { _ = try OpusVoiceDecoder(sampleRate: 22050) }
        #expect(throws: OpusError.self) { _ = try OpusVoiceEncoder(bitrate: 0) }
        let encoder = try OpusVoiceEncoder()
        for bad in [0, 1, 959, 961, 4800] {
            #expect(throws: OpusError.self) { _ = try encoder.encode([Int16](repeating: 0, count: bad)) }
        }
        let stereo = try OpusVoiceEncoder(channels: 2)
        #expect(throws: OpusError.self) { _ = try stereo.encode([Int16](repeating: 0, count: 961)) }
    }

    @Test(arguments: [120, 240, 480, 960, 1920, 2880])
    func everyFrameDurationEncodesAndDecodes(frameSize: Int) throws {
        let encoder = try OpusVoiceEncoder()
        let decoder = try OpusVoiceDecoder()
        let packet = try encoder.encode(Array(Signal.sine(hz: 440, seconds: 0.06).prefix(frameSize)))
        #expect(try decoder.decode(packet).count == frameSize)
        #expect(OpusPacketInfo.sampleCount(packet) == frameSize)
        let frames = try #require(OpusPacketInfo.frameCount(packet))
        #expect(frames >= 1 && OpusPacketInfo.samplesPerFrame(packet).map { $0 * frames } == frameSize)
        #expect(OpusPacketInfo.channelCount(packet) == 1)
        #expect(OpusPacketInfo.samplesPerFrame(packet, sampleRate: 16000).map { $0 * frames * 3 } == frameSize)
    }

    @Test func packetInfoRejectsEmptyAndMalformed() {
        #expect(OpusPacketInfo.frameCount([]) == nil)
        #expect(OpusPacketInfo.samplesPerFrame([]) == nil)
        #expect(OpusPacketInfo.sampleCount([]) == nil)
        #expect(OpusPacketInfo.channelCount([]) == nil)
        #expect(OpusPacketInfo.frameCount([0x03]) == nil)
        #expect(OpusPacketInfo.samplesPerFrame([0x00], sampleRate: 44100) == nil)
        // TOC 0xFC: CELT FB 20 ms, stereo, code 0.
        #expect(OpusPacketInfo.frameCount([0xFC, 0x00]) == 1)
        #expect(OpusPacketInfo.samplesPerFrame([0xFC]) == 960)
        #expect(OpusPacketInfo.channelCount([0xFC]) == 2)
    }

    @Test func stereoRoundTrip() throws {
        let encoder = try OpusVoiceEncoder(channels: 2, bitrate: 48_000, application: .audio)
        let decoder = try OpusVoiceDecoder(channels: 2)
        let left = Signal.sine(hz: 440, seconds: 0.2), right = Signal.sine(hz: 660, seconds: 0.2)
        var interleaved: [Int16] = []
        for i in left.indices { interleaved += [left[i], right[i]] }
        var output: [Int16] = []
        for frame in Signal.frames(interleaved, size: 1920) { output += try decoder.decode(encoder.encode(frame)) }
        #expect(output.count == interleaved.count)
        let lateLeft = stride(from: 4800, to: output.count, by: 2).map { output[$0] }
        #expect(Signal.rms(lateLeft[...]) > 5000)
    }
}
