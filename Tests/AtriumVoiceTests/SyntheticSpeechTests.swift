import Testing
import AtriumVoice

@Suite struct SyntheticSpeechTests {
    @Test func speechHasSyllablesAndPauses() {
        let audio = SyntheticSpeech.render(seed: 3, seconds: 6)
        #expect(audio.samples.count == 6 * 48000 && audio.voiced.count == audio.samples.count)
        let voicedShare = Double(audio.voiced.filter { $0 }.count) / Double(audio.voiced.count)
        #expect(voicedShare > 0.3 && voicedShare < 0.85, "\(voicedShare)")
        // Deterministic for a seed, different across seeds (compared outside #expect: no sample dumps).
        let again = SyntheticSpeech.render(seed: 3, seconds: 6).samples == audio.samples
        let other = SyntheticSpeech.render(seed: 4, seconds: 6).samples == audio.samples
        #expect(again && !other)
        // Peaks at half of full scale.
        #expect(audio.samples.map { abs(Int($0)) }.max() == 16384)
    }

    @Test func loopDecodesToSpeechWithLevelsThatFollowIt() throws {
        let loop = try VoiceLoop(seed: 11, seconds: 8)
        #expect(loop.count == 400 && loop.frameMilliseconds == 20)
        let decoder = try OpusVoiceDecoder()
        var decoded: [Int16] = []
        for frame in loop.frames {
            #expect(try OpusPacketValidator.validate(frame.opus).samples48k == 960)
            decoded += try decoder.decode(frame.opus)
        }
        #expect(decoded.count == 400 * 960)
        #expect(Signal.rms(decoded[...]) > 500, "not silent")
        // Speech frames are much louder than pause frames, and there are both.
        let speech = loop.frames.filter(\.voiced).map { Double($0.level & 0x7F) }
        let pauses = loop.frames.filter { !$0.voiced }.map { Double($0.level & 0x7F) }
        #expect(speech.count > 100 && pauses.count > 40)
        let mean = { (x: [Double]) in x.reduce(0, +) / Double(max(x.count, 1)) }
        #expect(mean(pauses) - mean(speech) > 20, "speech −\(mean(speech)) dBov, pauses −\(mean(pauses)) dBov")
        #expect(mean(speech) < 30)
        // The loop wraps.
        #expect(loop[400] == loop[0] && loop[-1] == loop[399])
        let same = try VoiceLoop(seed: 11, seconds: 8).frames == loop.frames
        #expect(same)
    }
}
