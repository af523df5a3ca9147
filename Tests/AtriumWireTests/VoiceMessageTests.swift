import Testing
@testable import AtriumWire

@Suite struct VoiceMessageTests {
    static let opus: [UInt8] = [0x48, 0x8A, 0x1C, 0x37, 0xF0]

    func roundTrip(_ m: ClientMessage) throws -> ClientMessage { try ClientMessage.decode(m.encode(codec: nil), codec: nil) }
    func roundTrip(_ m: ServerMessage) throws -> ServerMessage { try ServerMessage.decode(m.encode(codec: nil), codec: nil) }

    @Test func levelsAreRFC6464() {
        let loud = VoiceLevel(voiceActivity: true, minusDBov: 0)
        #expect(loud.rawValue == 0x80 && loud.voiceActivity && loud.minusDBov == 0 && loud.linearAmplitude == 1)
        #expect(VoiceLevel(voiceActivity: false, minusDBov: 200).rawValue == 127)
        #expect(VoiceLevel(voiceActivity: true, minusDBov: -5).rawValue == 0x80)
        #expect(VoiceLevel.silence.rawValue == 0x7F && !VoiceLevel.silence.voiceActivity)
        // 20 dB below overload is a tenth of the amplitude; 6 dB about a half.
        #expect(abs(VoiceLevel(voiceActivity: true, minusDBov: 20).linearAmplitude - 0.1) < 1e-6)
        #expect(abs(VoiceLevel(voiceActivity: true, minusDBov: 6).linearAmplitude - 0.501187) < 1e-5)
        #expect(VoiceLevel(rawValue: 0x97).minusDBov == 23)
    }

    @Test func clientMessagesRoundTrip() throws {
        let messages: [ClientMessage] = [
            .voice(VoiceFrame(sequence: 0, level: .silence, opus: [0xF8])),
            .voice(VoiceFrame(sequence: 65535, level: VoiceLevel(rawValue: 0xA3), opus: Array(repeating: 7, count: 1275))),
            .voiceSetup(VoiceSetup(requestedMode: .relay)),
            .voiceSetup(VoiceSetup(requestedMode: .mix)),
        ] + VoiceControlAction.allCases.map { .voiceControl(VoiceControl(action: $0, target: $0.hasTarget ? 513 : 0)) }
        for m in messages {
            #expect(try roundTrip(m) == m)
        }
        #expect(ClientMessage.voice(VoiceFrame(sequence: 1, level: .silence, opus: [1])).channel == .voice)
        #expect(ClientMessage.voiceSetup(VoiceSetup(requestedMode: .mix)).channel == .control)
        #expect(ClientMessage.voiceControl(VoiceControl(action: .muteSelf)).isReliable)
        #expect(!ClientMessage.voice(VoiceFrame(sequence: 1, level: .silence, opus: [1])).isReliable)
    }

    @Test func serverMessagesRoundTrip() throws {
        let frames = (0..<20).map { i in
            VoiceBundle.Frame(
                speakerId: UInt16(i == 0 ? 0 : 100 + i), sequence: 65530 &+ UInt16(i), level: VoiceLevel(rawValue: UInt8(i * 9)),
                opus: Array(repeating: UInt8(i), count: 1 + i * 3))
        }
        let messages: [ServerMessage] = [
            .voiceBundle(VoiceBundle(frames: frames)),
            .voiceBundle(VoiceBundle(frames: [frames[3]])),
        ] + VoiceMode.allCases.flatMap { mode in VoiceModeReason.allCases.map { .voiceMode(VoiceModeGrant(mode: mode, reason: $0)) } }
        for m in messages {
            #expect(try roundTrip(m) == m)
        }
        #expect(ServerMessage.voiceBundle(VoiceBundle(frames: [frames[1]])).channel == .voice)
        #expect(ServerMessage.voiceMode(VoiceModeGrant(mode: .relay, reason: .mixCapacityFull)).channel == .control)
    }

    @Test func resumesBitRoundTripsAndLeavesTheLengthAlone() throws {
        let frames = [
            VoiceBundle.Frame(speakerId: 7, sequence: 513, level: VoiceLevel(rawValue: 0x97), opus: Self.opus),
            VoiceBundle.Frame(speakerId: 9, sequence: 2000, level: .silence, opus: Self.opus, resumes: true),
            VoiceBundle.Frame(speakerId: 9, sequence: 2001, level: .silence, opus: Array(repeating: 3, count: 1275), resumes: true),
        ]
        let bytes = ServerMessage.voiceBundle(VoiceBundle(frames: frames)).encode(codec: nil)
        // Bit 15 of the second frame's opusLength field (offset 2 + 12 + 5, little-endian high byte).
        #expect(bytes[2 + 12 + 5] == 5 && bytes[2 + 12 + 6] == 0x80)
        #expect(bytes[2 + 5] == 5 && bytes[2 + 6] == 0)
        guard case .voiceBundle(let back) = try ServerMessage.decode(bytes, codec: nil) else { Issue.record(); return }
        #expect(back.frames == frames)
        #expect(back.frames.map(\.resumes) == [false, true, true] && back.frames[2].opus.count == 1275)
        // The writer sets the same bit as the encoder.
        var writer = VoiceBundleWriter(maxBytes: 4000)
        for f in frames {
            let added = writer.append(speakerId: f.speakerId, sequence: f.sequence, level: f.level, opus: f.opus, resumes: f.resumes)
            #expect(added)
        }
        #expect(writer.finish() == bytes)
        // With the bit masked off the length is still checked: 0 and over 1275 stay errors, and VOICE has no flag.
        func server(_ b: [UInt8]) -> WireError? {
            do { _ = try ServerMessage.decode(b, codec: nil); return nil } catch { return error }
        }
        #expect(server([0x90, 1, 1, 0, 1, 0, 0x80, 0, 0x80, 9]) == .invalidField(field: "opusLength", value: 0))
        #expect(server([0x90, 1, 1, 0, 1, 0, 0x80, 0xFC, 0x84] + Array(repeating: 0, count: 1276)) == .invalidField(field: "opusLength", value: 1276))
        #expect(server([0x90, 1, 1, 0, 1, 0, 0x80, 0x00, 0xC0, 9]) == .invalidField(field: "opusLength", value: 0x4000))
        #expect(server([0x90, 1, 1, 0, 1, 0, 0x80, 2, 0x80, 9]) == .truncated)
        #expect(throws: WireError.invalidField(field: "opusLength", value: 0x8001)) {
            try ClientMessage.decode([0x10, 1, 0, 0x80, 1, 0x80, 9], codec: nil)
        }
    }

    @Test func headerReadsVoiceWithoutCopying() throws {
        let bytes = ClientMessage.voice(VoiceFrame(sequence: 513, level: VoiceLevel(rawValue: 0x97), opus: Self.opus)).encode(codec: nil)
        let header = try VoiceFrame.header(bytes)
        #expect(header.sequence == 513 && header.level.rawValue == 0x97 && Array(bytes[header.opus]) == Self.opus)
        #expect(throws: WireError.truncated) { try VoiceFrame.header(Array(bytes.dropLast())) }
        #expect(throws: WireError.trailingBytes(1)) { try VoiceFrame.header(bytes + [0]) }
        #expect(throws: WireError.truncated) { try VoiceFrame.header([0x10, 1, 2]) }
        #expect(throws: WireError.truncated) { try VoiceFrame.header([]) }
        #expect(throws: WireError.unknownMessageType(0x02)) { try VoiceFrame.header([0x02] + bytes.dropFirst()) }
        #expect(throws: WireError.invalidField(field: "opusLength", value: 0)) { try VoiceFrame.header([0x10, 1, 0, 0x80, 0, 0]) }
        // The slow and fast readers agree on every prefix of a message.
        for n in 0...bytes.count {
            let prefix = Array(bytes.prefix(n))
            let slow = Result { () throws(WireError) in try ClientMessage.decode(prefix, codec: nil) }
            let fast = Result { () throws(WireError) in try VoiceFrame.header(prefix) }
            switch (slow, fast) {
            case (.success(.voice(let f)), .success(let h)):
                #expect(f.sequence == h.sequence && f.opus == Array(prefix[h.opus]))
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "prefix \(n)")
            default:
                Issue.record("prefix \(n): \(slow) vs \(fast)")
            }
        }
    }

    @Test func hostileVoiceInputIsRejectedWithAReason() {
        func client(_ bytes: [UInt8]) -> WireError? {
            do { _ = try ClientMessage.decode(bytes, codec: nil); return nil } catch { return error }
        }
        func server(_ bytes: [UInt8]) -> WireError? {
            do { _ = try ServerMessage.decode(bytes, codec: nil); return nil } catch { return error }
        }
        // VOICE: opus length 0 and 1276, length beyond the message, trailing bytes.
        #expect(client([0x10, 1, 0, 0x80, 0, 0]) == .invalidField(field: "opusLength", value: 0))
        #expect(client([0x10, 1, 0, 0x80, 0xFC, 0x04] + Array(repeating: 0, count: 1276)) == .invalidField(field: "opusLength", value: 1276))
        #expect(client([0x10, 1, 0, 0x80, 5, 0, 1, 2]) == .truncated)
        #expect(client([0x10, 1, 0, 0x80, 1, 0, 1, 2]) == .trailingBytes(1))
        #expect(client([0x10, 1]) == .truncated)
        // VOICE_SETUP / VOICE_CONTROL codes.
        #expect(client([0x11, 2]) == .invalidField(field: "requestedMode", value: 2))
        #expect(client([0x11]) == .truncated)
        #expect(client([0x12, 6, 1, 0]) == .invalidField(field: "action", value: 6))
        #expect(client([0x12, 0, 1, 0]) == .invalidField(field: "target", value: 1))  // mute self names no one
        #expect(client([0x12, 2, 0, 0]) == .invalidField(field: "target", value: 0))  // block names someone
        #expect(client([0x12, 4, 9]) == .truncated)
        // VOICE_BUNDLE: no frames, a count the bytes cannot hold, a bad frame inside.
        #expect(server([0x90, 0]) == .invalidField(field: "frameCount", value: 0))
        #expect(server([0x90, 255, 1, 0, 1, 0, 0x80, 1, 0, 9]) == .truncated)
        #expect(server([0x90, 1, 1, 0, 1, 0, 0x80, 0, 0, 9]) == .invalidField(field: "opusLength", value: 0))
        #expect(server([0x90, 1, 1, 0, 1, 0, 0x80, 1, 0, 9, 9]) == .trailingBytes(1))
        // VOICE_MODE codes.
        #expect(server([0x91, 2, 0]) == .invalidField(field: "mode", value: 2))
        #expect(server([0x91, 0, 3]) == .invalidField(field: "reason", value: 3))
        // Directions stay apart.
        #expect(client([0x90, 1]) == .unknownMessageType(0x90))
        #expect(server([0x10, 1]) == .unknownMessageType(0x10))
        // Random bytes after each voice type byte never crash the decoders.
        var state: UInt64 = 99
        for _ in 0..<3000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let type: UInt8 = [0x10, 0x11, 0x12, 0x90, 0x91][Int(state >> 61) % 5]
            let body = (0..<Int((state >> 20) % 24)).map { i in UInt8(truncatingIfNeeded: state >> UInt64(i % 56)) }
            _ = client([type] + body)
            _ = server([type] + body)
        }
    }

    @Test func bundleWriterMatchesTheEncoderAndRespectsItsLimits() throws {
        var writer = VoiceBundleWriter()
        #expect(writer.finish() == nil)
        let frames = [
            VoiceBundle.Frame(speakerId: 7, sequence: 513, level: VoiceLevel(rawValue: 0x97), opus: Self.opus),
            VoiceBundle.Frame(speakerId: 0, sequence: 9, level: VoiceLevel(rawValue: 0x85), opus: [0xFC, 1, 2]),
        ]
        for f in frames {
            let added = writer.append(speakerId: f.speakerId, sequence: f.sequence, level: f.level, opus: f.opus[...])
            #expect(added)
        }
        let message = writer.finish()
        #expect(message == ServerMessage.voiceBundle(VoiceBundle(frames: frames)).encode(codec: nil))
        #expect(writer.isEmpty && writer.byteCount == 2)

        // Fill one datagram: frames of 100 bytes (107 with their fields) until 1200 bytes are reached.
        var accepted = 0
        while writer.append(speakerId: 3, sequence: UInt16(accepted), level: .silence, opus: Array(repeating: 1, count: 100)) {
            accepted += 1
        }
        #expect(accepted == (1200 - 2) / 107)
        let full = writer.finish() ?? []
        #expect(full.count <= 1200)
        guard case .voiceBundle(let b) = try ServerMessage.decode(full, codec: nil) else { Issue.record(); return }
        #expect(b.frames.count == accepted && b.frames.last?.sequence == UInt16(accepted - 1))
        // Packets outside 1…1275 bytes are never added.
        let empty = writer.append(speakerId: 1, sequence: 0, level: .silence, opus: [UInt8]())
        let huge = writer.append(speakerId: 1, sequence: 0, level: .silence, opus: Array(repeating: 0, count: 1276))
        #expect(!empty && !huge && writer.isEmpty)
        // The 255-frame limit, in a large writer.
        var big = VoiceBundleWriter(maxBytes: 10_000)
        var n = 0
        while big.append(speakerId: 1, sequence: 0, level: .silence, opus: [0x08]) { n += 1 }
        #expect(n == 255)
        let bigMessage = big.finish() ?? []
        guard case .voiceBundle(let all) = try ServerMessage.decode(bigMessage, codec: nil) else { Issue.record(); return }
        #expect(all.frames.count == 255)
        // A tiny maxBytes still takes one maximal frame.
        var tiny = VoiceBundleWriter(maxBytes: 10)
        let maximal = tiny.append(speakerId: 1, sequence: 0, level: .silence, opus: Array(repeating: 0, count: 1275))
        #expect(maximal)
    }

    /// `finish(_:)` lends the writer's buffer; a message kept from it must not change when the writer goes on,
    /// and a non-contiguous collection of Opus bytes is written like an array.
    @Test func aLentBundleStaysAsItWasWhenTheWriterGoesOn() throws {
        var writer = VoiceBundleWriter()
        #expect(!writer.finish { _ in Issue.record("nothing to finish") })
        let first = VoiceBundle.Frame(speakerId: 2, sequence: 1, level: VoiceLevel(rawValue: 0x90), opus: Self.opus)
        writer.append(speakerId: first.speakerId, sequence: first.sequence, level: first.level, opus: first.opus)
        var kept: [UInt8] = []
        #expect(writer.finish { kept = $0 })
        let second = VoiceBundle.Frame(speakerId: 5, sequence: 2, level: .silence, opus: [0xFC, 9, 9, 9])
        // A lazily mapped collection has no contiguous storage: the writer takes the copying path.
        writer.append(
            speakerId: second.speakerId, sequence: second.sequence, level: second.level, opus: second.opus.lazy.map { $0 })
        var next: [UInt8] = []
        #expect(writer.finish { next = $0 })
        #expect(kept == ServerMessage.voiceBundle(VoiceBundle(frames: [first])).encode(codec: nil))
        #expect(next == ServerMessage.voiceBundle(VoiceBundle(frames: [second])).encode(codec: nil))
    }
}
