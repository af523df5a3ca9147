import Testing
import AtriumVoice

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct VoiceMixerTests {
    /// Amplitude (relative to full scale) of the `hz` component of `x`: one exact DFT bin when `x` spans a
    /// whole number of periods.
    static func amplitude(_ x: ArraySlice<Int16>, hz: Double) -> Double {
        var re = 0.0, im = 0.0
        for (k, v) in x.enumerated() {
            let w = 2 * Double.pi * hz * Double(k) / 48000
            re += Double(v) * cos(w)
            im -= Double(v) * sin(w)
        }
        return 2 * (re * re + im * im).squareRoot() / Double(x.count) / 32767
    }

    static func tonePackets(hz: Double, amplitude: Double, frames: Int) throws -> [[UInt8]] {
        let encoder = try OpusVoiceEncoder(bitrate: 32_000)
        let pcm = Signal.sine(hz: hz, seconds: Double(frames) * 0.02, amplitude: amplitude)
        return try Signal.frames(pcm, size: 960).map { try encoder.encode($0) }
    }

    /// One speaker in a test mix: its packets (nil = lost), gain and azimuth.
    struct Talker {
        var id: UInt16
        var packets: [[UInt8]?]
        var gain: Float
        var azimuth: Float
    }

    /// Decodes and mixes `frames` frames for one listener and decodes the stream: left and right channels.
    static func mixAndDecode(frames: Int, _ talkers: [Talker]) throws -> (left: [Int16], right: [Int16]) {
        let stage = VoiceDecodeStage()
        let mixer = try VoiceMixer()
        let decoder = try OpusVoiceDecoder(channels: 2)
        var left: [Int16] = [], right: [Int16] = []
        for f in 0..<frames {
            let decoded = try stage.decode(talkers.map {
                VoiceSpeakerFrame(speakerId: $0.id, sequence: UInt16(f), packet: $0.packets[f])
            })
            let out = try mixer.mix(
                talkers.map { VoiceMixSource(speakerId: $0.id, gain: $0.gain, azimuth: $0.azimuth) }, from: decoded)
            #expect(out.sequence == UInt16(f) && out.mixedSources == talkers.count)
            #expect(try OpusPacketValidator.validate(out.packet).samples48k == 960)
            let pcm = try decoder.decode(out.packet)
            for k in stride(from: 0, to: pcm.count, by: 2) {
                left.append(pcm[k])
                right.append(pcm[k + 1])
            }
        }
        return (left, right)
    }

    static func dB(_ x: Double) -> Double { 20 * log10(max(x, 1e-9)) }

    @Test func panIsConstantPower() {
        for az in stride(from: -Float.pi, through: Float.pi, by: 0.1) {
            let (l, r) = VoiceMixer.pan(azimuth: az)
            #expect(abs(l * l + r * r - 1) < 1e-5)
        }
        let right = VoiceMixer.pan(azimuth: .pi / 2), left = VoiceMixer.pan(azimuth: -.pi / 2), ahead = VoiceMixer.pan(azimuth: 0)
        #expect(right.right > 0.999 && right.left < 1e-3 && left.left > 0.999 && left.right < 1e-3)
        #expect(abs(ahead.left - 0.7071) < 1e-3 && abs(ahead.right - 0.7071) < 1e-3)
        // Facing north (−z): east (+x) is right, west left, north ahead; facing east, south (+z) is right.
        #expect(abs(VoiceMixer.azimuth(forwardX: 0, forwardZ: -1, dx: 3, dz: 0) - .pi / 2) < 1e-6)
        #expect(abs(VoiceMixer.azimuth(forwardX: 0, forwardZ: -1, dx: -3, dz: 0) + .pi / 2) < 1e-6)
        #expect(abs(VoiceMixer.azimuth(forwardX: 0, forwardZ: -1, dx: 0, dz: -3)) < 1e-6)
        #expect(abs(VoiceMixer.azimuth(forwardX: 1, forwardZ: 0, dx: 0, dz: 2) - .pi / 2) < 1e-6)
    }

    /// A 440 Hz tone at 0.3 of full scale from a speaker at the listener's right with gain 0.5 comes out
    /// at 0.15 on the right and nearly nothing on the left.
    @Test func toneFromTheRightComesOutRightAtItsGain() throws {
        let packets = try Self.tonePackets(hz: 440, amplitude: 0.3, frames: 60)
        let out = try Self.mixAndDecode(frames: 60, [Talker(id: 7, packets: packets, gain: 0.5, azimuth: .pi / 2)])
        // 0.8 s after a 0.2 s warm-up: 352 whole periods of 440 Hz.
        let window = 9600..<(9600 + 38400)
        let r = Self.amplitude(out.right[window], hz: 440), l = Self.amplitude(out.left[window], hz: 440)
        #expect(abs(Self.dB(r) - Self.dB(0.15)) < 1.5, "right \(r)")
        #expect(Self.dB(r) - Self.dB(l) > 20, "left \(l) right \(r)")
    }

    /// Two speakers sum: 440 Hz on the right, 660 Hz on the left, and both ahead.
    @Test func twoSpeakersSum() throws {
        let a = try Self.tonePackets(hz: 440, amplitude: 0.3, frames: 60)
        let b = try Self.tonePackets(hz: 660, amplitude: 0.25, frames: 60)
        let window = 9600..<(9600 + 38400)
        let split = try Self.mixAndDecode(frames: 60, [
            Talker(id: 1, packets: a, gain: 0.5, azimuth: .pi / 2), Talker(id: 2, packets: b, gain: 0.8, azimuth: -.pi / 2),
        ])
        #expect(abs(Self.dB(Self.amplitude(split.right[window], hz: 440)) - Self.dB(0.15)) < 1.5)
        #expect(abs(Self.dB(Self.amplitude(split.left[window], hz: 660)) - Self.dB(0.2)) < 1.5)
        #expect(Self.amplitude(split.left[window], hz: 440) < 0.015 && Self.amplitude(split.right[window], hz: 660) < 0.02)
        let ahead = try Self.mixAndDecode(frames: 60, [
            Talker(id: 1, packets: a, gain: 0.5, azimuth: 0), Talker(id: 2, packets: b, gain: 0.8, azimuth: 0),
        ])
        for channel in [ahead.left, ahead.right] {
            #expect(abs(Self.dB(Self.amplitude(channel[window], hz: 440)) - Self.dB(0.15 * 0.7071)) < 1.5)
            #expect(abs(Self.dB(Self.amplitude(channel[window], hz: 660)) - Self.dB(0.2 * 0.7071)) < 1.5)
        }
    }

    @Test func lostRepeatedAndBadPacketsAreConcealedAndIdleSpeakersForgotten() throws {
        let packets = try Self.tonePackets(hz: 440, amplitude: 0.3, frames: 10)
        let stage = VoiceDecodeStage()
        let mixer = try VoiceMixer()
        let source = [VoiceMixSource(speakerId: 3, gain: 1, azimuth: 0)]
        for f in 0..<10 {
            // Frames 2, 5, 8 lost; frame 4 garbage; frame 7 repeats frame 6's sequence (nothing new came).
            let frame: VoiceSpeakerFrame
            switch f {
            case 2, 5, 8: frame = VoiceSpeakerFrame(speakerId: 3, sequence: UInt16(f), packet: nil)
            case 4: frame = VoiceSpeakerFrame(speakerId: 3, sequence: 4, packet: [0x03])
            case 7: frame = VoiceSpeakerFrame(speakerId: 3, sequence: 6, packet: packets[6])
            default: frame = VoiceSpeakerFrame(speakerId: 3, sequence: UInt16(f), packet: packets[f])
            }
            let decoded = try stage.decode([frame, frame])  // listed twice: decoded once
            #expect(decoded.count == 1 && decoded.samples(of: 3)?.count == 960)
            let out = try mixer.mix(source, from: decoded)
            #expect(!out.packet.isEmpty && out.mixedSources == 1)
            // Concealment carries the tone on through the lost frames.
            #expect(out.level & 0x80 != 0, "frame \(f)")
        }
        #expect(stage.decodeFailures == 1 && stage.decodedPackets == 5 && stage.concealedFrames == 5)
        #expect(stage.speakerCount == 1)
        // Nobody talking: silence, no voice activity; a speaker missing from the period is left out of the mix;
        // the idle decoder goes within two seconds.
        for _ in 0..<2 * VoiceDecodeStage.idleFramesBeforeEviction {
            let decoded = try stage.decode([])
            #expect(!decoded.contains(3) && decoded.samples(of: 3) == nil)
            let out = try mixer.mix(source, from: decoded)
            #expect(out.level & 0x80 == 0 && out.mixedSources == 0)
        }
        #expect(stage.speakerCount == 0)
        // A 40 ms packet feeds two periods: the second one, repeating its sequence, is not concealed.
        let encoder = try OpusVoiceEncoder()
        let long = try encoder.encode(Signal.sine(hz: 300, seconds: 0.04))
        let before = stage.concealedFrames
        _ = try stage.decode([VoiceSpeakerFrame(speakerId: 4, sequence: 100, packet: long)])
        let second = try stage.decode([VoiceSpeakerFrame(speakerId: 4, sequence: 100, packet: long)])
        #expect(stage.concealedFrames == before)
        let rms = (second.samples(of: 4)!.reduce(0) { $0 + Double($1 * $1) } / 960).squareRoot()
        #expect(rms > 0.1, "rms \(rms)")
    }

    /// The decode stage's work is shared: the frames one decode returns serve every listener's mixer, each
    /// with its own gains and pans, and a speaker is decoded once per period however many hear it.
    @Test func oneDecodeServesManyListeners() throws {
        let a = try Self.tonePackets(hz: 440, amplitude: 0.3, frames: 40)
        let stage = VoiceDecodeStage()
        let mixers = try (0..<3).map { _ in try VoiceMixer() }
        let decoders = try (0..<3).map { _ in try OpusVoiceDecoder(channels: 2) }
        let azimuths: [Float] = [.pi / 2, -.pi / 2, 0]
        var left = [[Int16]](repeating: [], count: 3), right = [[Int16]](repeating: [], count: 3)
        var bytes = 0
        for f in 0..<40 {
            let decoded = try stage.decode([VoiceSpeakerFrame(speakerId: 9, sequence: UInt16(f), packet: a[f])])
            for i in 0..<3 {
                let out = try mixers[i].mix([VoiceMixSource(speakerId: 9, gain: 1, azimuth: azimuths[i])], from: decoded)
                // The server encoding: stereo 20 ms packets of at most 48 kbit/s (120 bytes) on average.
                #expect(OpusPacketInfo.channelCount(out.packet) == 2 && out.packet.count <= 240)
                bytes += out.packet.count
                let pcm = try decoders[i].decode(out.packet)
                for k in stride(from: 0, to: pcm.count, by: 2) {
                    left[i].append(pcm[k])
                    right[i].append(pcm[k + 1])
                }
            }
        }
        #expect(stage.decodedPackets == 40)
        #expect(bytes <= 3 * 40 * 126, "\(bytes) bytes")
        let window = 9600..<(9600 + 28800)
        let amp = { (x: [Int16]) in Self.amplitude(x[window], hz: 440) }
        #expect(abs(Self.dB(amp(right[0])) - Self.dB(0.3)) < 1.5 && amp(left[0]) < 0.03)
        #expect(abs(Self.dB(amp(left[1])) - Self.dB(0.3)) < 1.5 && amp(right[1]) < 0.03)
        #expect(abs(Self.dB(amp(left[2])) - Self.dB(0.3 * 0.7071)) < 1.5)
        #expect(abs(Self.dB(amp(right[2])) - Self.dB(0.3 * 0.7071)) < 1.5)
    }

    /// Loud speakers summed past full scale are soft-clipped, never wrapped.
    @Test func loudSumsAreSoftClipped() throws {
        let frames = try (0..<8).map { k in
            try Self.tonePackets(hz: 400 + 50 * Double(k), amplitude: 0.9, frames: 10)
        }
        let out = try Self.mixAndDecode(frames: 10, (0..<8).map { k in
            Talker(id: UInt16(k + 1), packets: frames[k], gain: 1, azimuth: 0)
        })
        // The sum would reach ~5× full scale; clipped, it stays loud (no wrap-around to quiet or inverted).
        let peak = (out.left + out.right).map { abs(Int($0)) }.max() ?? 0
        #expect(peak > 20_000)
        let rms = (out.left[4800...].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(out.left.count - 4800)).squareRoot()
        #expect(rms > 10_000, "rms \(rms)")
    }
}
