import Testing
import AtriumVoice

/// RFC 6716 §3.4, one test per requirement with a packet that meets it and one that breaks it, then a
/// cross-check against libopus on real and random packets.
@Suite struct OpusPacketValidatorTests {
    /// TOC byte: config (0…31), stereo, code (0…3).
    static func toc(config: UInt8, stereo: Bool = false, code: UInt8) -> UInt8 { config << 3 | (stereo ? 4 : 0) | code }
    /// Config 1: SILK narrowband 20 ms. Config 3: SILK 60 ms. Config 31: CELT fullband 20 ms.
    static let silk20: UInt8 = 1, silk60: UInt8 = 3, celt20: UInt8 = 31, celt2_5: UInt8 = 28

    static func validate(_ p: [UInt8]) -> Result<OpusPacketLayout, OpusPacketViolation> {
        Result { () throws(OpusPacketViolation) in try OpusPacketValidator.validate(p) }
    }

    static func rule(_ p: [UInt8]) -> String? {
        if case .failure(let v) = validate(p) { return v.rule }
        return nil
    }

    @Test func r1PacketsAreAtLeastOneByte() throws {
        #expect(Self.validate([]) == .failure(.empty))
        let layout = try OpusPacketValidator.validate([Self.toc(config: Self.celt20, code: 0)])
        #expect(layout.frameCount == 1 && layout.samplesPerFrame == 960 && layout.durationMicros == 20_000)
    }

    @Test func r2NoFrameIsLongerThan1275Bytes() throws {
        let t0 = Self.toc(config: Self.celt20, code: 0)
        #expect(try OpusPacketValidator.validate([t0] + Array(repeating: 0, count: 1275)).frameCount == 1)
        #expect(Self.validate([t0] + Array(repeating: 0, count: 1276)) == .failure(.frameTooLong(frame: 0, bytes: 1276)))
        // Code 1: two frames of 1275 are fine, of 1276 not.
        let t1 = Self.toc(config: Self.celt20, code: 1)
        #expect(try OpusPacketValidator.validate([t1] + Array(repeating: 0, count: 2550)).frameCount == 2)
        #expect(Self.rule([t1] + Array(repeating: 0, count: 2552)) == "R2")
        // Code 2: the implicit second frame.
        let t2 = Self.toc(config: Self.celt20, code: 2)
        #expect(Self.rule([t2, 1, 0] + Array(repeating: 0, count: 1276)) == "R2")
        #expect(try OpusPacketValidator.validate([t2, 1, 0] + Array(repeating: 0, count: 1275)).frameCount == 2)
        // Code 3 CBR: frames of (N − 2) / M bytes.
        let t3 = Self.toc(config: Self.celt20, code: 3)
        #expect(Self.rule([t3, 2] + Array(repeating: 0, count: 2552)) == "R2")
        // Code 3 VBR: the implicit last frame.
        #expect(Self.rule([t3, 0x80 | 2, 1, 0] + Array(repeating: 0, count: 1276)) == "R2")
    }

    @Test func r3Code1PacketsHaveAnOddLength() throws {
        let t1 = Self.toc(config: Self.silk20, code: 1)
        let ok = try OpusPacketValidator.validate([t1, 1, 2, 3, 4])
        #expect(ok.frameCount == 2 && ok.durationMicros == 40_000)
        #expect(try OpusPacketValidator.validate([t1]).frameCount == 2)  // two empty frames (N = 1 is odd)
        #expect(Self.validate([t1, 1, 2, 3]) == .failure(.code1OddPayload(bytes: 3)))
    }

    @Test func r4Code2FirstLengthFitsThePacket() throws {
        let t2 = Self.toc(config: Self.silk20, code: 2)
        #expect(try OpusPacketValidator.validate([t2, 3, 9, 9, 9, 8, 8]).frameCount == 2)
        #expect(try OpusPacketValidator.validate([t2, 0]).frameCount == 2)  // two empty frames
        #expect(Self.validate([t2]) == .failure(.code2FrameLengthOverrun))  // no length byte
        #expect(Self.validate([t2, 4, 9, 9, 9]) == .failure(.code2FrameLengthOverrun))  // 4 > 3 remaining
        #expect(Self.validate([t2, 252]) == .failure(.code2FrameLengthOverrun))  // two-byte length cut off
        // Two-byte length: 252 + 4 × 1 = 256.
        #expect(try OpusPacketValidator.validate([t2, 252, 1] + Array(repeating: 0, count: 256)).frameCount == 2)
        #expect(Self.rule([t2, 252, 1] + Array(repeating: 0, count: 255)) == "R4")
    }

    @Test func r5Code3HoldsOneFrameUpTo120ms() throws {
        let t3 = Self.toc(config: Self.silk60, code: 3)
        #expect(try OpusPacketValidator.validate([t3, 2]).durationMicros == 120_000)
        #expect(Self.validate([t3, 0]) == .failure(.code3NoFrames))
        #expect(Self.validate([t3, 3]) == .failure(.code3TooLong(micros: 180_000)))
        let celt = Self.toc(config: Self.celt2_5, code: 3)
        #expect(try OpusPacketValidator.validate([celt, 48]).frameCount == 48)  // 48 × 2.5 ms
        #expect(Self.rule([celt, 49]) == "R5")
    }

    @Test func r6CBRCode3SplitsIntoEqualFramesAfterPadding() throws {
        let t3 = Self.toc(config: Self.celt20, code: 3)
        #expect(try OpusPacketValidator.validate([t3, 3, 1, 2, 3, 4, 5, 6]).frameCount == 3)
        #expect(Self.validate([t3]) == .failure(.code3CBRLayout))  // no frame-count byte
        #expect(Self.validate([t3, 3, 1, 2, 3, 4, 5]) == .failure(.code3CBRLayout))  // 5 bytes over 3 frames
        // Padding: flag 0x40, one length byte 2 → 2 trailing bytes; 4 bytes left for 2 frames.
        let padded = try OpusPacketValidator.validate([t3, 0x40 | 2, 2, 1, 2, 3, 4, 0, 0])
        #expect(padded.paddingBytes == 3 && padded.frameCount == 2)
        #expect(Self.validate([t3, 0x40 | 2, 2, 1, 2, 3, 0, 0]) == .failure(.code3CBRLayout))
        #expect(Self.validate([t3, 0x40 | 1, 9, 1, 2]) == .failure(.code3CBRLayout))  // more padding than bytes
        #expect(Self.validate([t3, 0x40 | 1]) == .failure(.code3CBRLayout))  // padding length missing
        // A padding byte of 255 means 254 bytes and another length byte: 255 + 1 + 0 = 256 bytes of padding.
        let long: [UInt8] = [t3, 0x40 | 1, 255, 0, 7] + Array(repeating: 0, count: 254)
        #expect(try OpusPacketValidator.validate(long).paddingBytes == 256)
        #expect(Self.rule(Array(long.dropLast(2))) == "R6")
    }

    @Test func r7VBRCode3HoldsHeaderLengthsFramesAndPadding() throws {
        let t3 = Self.toc(config: Self.celt20, code: 3)
        // Three frames: lengths 2 and 1 coded, the last takes the rest (3 bytes).
        let ok = try OpusPacketValidator.validate([t3, 0x80 | 3, 2, 1, 9, 9, 8, 7, 7, 7])
        #expect(ok.variableBitrate && ok.frameCount == 3)
        #expect(try OpusPacketValidator.validate([t3, 0x80 | 3, 2, 1, 9, 9, 8]).frameCount == 3)  // empty last frame
        #expect(Self.validate([t3, 0x80 | 3, 2, 1, 9, 9]) == .failure(.code3VBRLayout))  // frames 1–2 need 3 bytes
        #expect(Self.validate([t3, 0x80 | 3, 2]) == .failure(.code3VBRLayout))  // second length missing
        #expect(Self.validate([t3, 0x80 | 2, 253]) == .failure(.code3VBRLayout))  // two-byte length cut off
        // With padding: 1 + 2 trailing bytes.
        #expect(try OpusPacketValidator.validate([t3, 0xC0 | 2, 2, 1, 9, 8, 0, 0]).paddingBytes == 3)
        #expect(Self.validate([t3, 0xC0 | 2, 2, 1, 0, 0]) == .failure(.code3VBRLayout))
    }

    @Test func realEncoderPacketsPass() throws {
        for (channels, frame) in [(1, 960), (2, 960), (1, 480), (1, 2880), (2, 1920)] {
            let encoder = try OpusVoiceEncoder(channels: channels)
            let pcm = Signal.rich(seconds: 0.2)
            let input = channels == 1 ? Array(pcm[0..<frame]) : Array(pcm[0..<2 * frame])
            let packet = try encoder.encode(input)
            let layout = try OpusPacketValidator.validate(packet)
            #expect(layout.samples48k == frame, "\(channels) ch, \(frame)")
            #expect(layout.stereo == (channels == 2))
            #expect(layout.frameCount == OpusPacketInfo.frameCount(packet))
        }
    }

    /// libopus's parser enforces the same rules: on random packets biased towards tricky headers, the
    /// validator accepts exactly what the decoder accepts, with the same sample count.
    @Test func agreesWithLibopusOnRandomPackets() throws {
        let decoder = try OpusVoiceDecoder(channels: 2)
        var state: UInt64 = 0x5EED_0F0F
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        var accepted = 0
        for _ in 0..<4000 {
            let length = Int(next() % 40)
            var p = (0..<length).map { _ in UInt8(truncatingIfNeeded: next()) }
            if !p.isEmpty, next() % 2 == 0 { p[0] |= 3 }  // many code 3 packets
            if p.count > 1, next() % 2 == 0 { p[1] &= 0xC7 }  // small frame counts
            if p.count > 2, next() % 3 == 0 { p[2] = UInt8(next() % 8) }  // short padding / lengths
            let ours = Self.validate(p)
            let theirs = p.isEmpty ? nil : try? decoder.decode(p)
            switch ours {
            case .success(let layout):
                accepted += 1
                #expect(theirs?.count == 2 * layout.samples48k, "\(p)")
            case .failure(let violation):
                #expect(theirs == nil, "\(p): we say \(violation), libopus decodes it")
            }
        }
        #expect(accepted > 200)
    }
}
