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

    /// Mixes `frames` frames and decodes the stream: left and right channels.
    static func mixAndDecode(frames: Int, _ inputs: (Int) -> [VoiceMixInput]) throws -> (left: [Int16], right: [Int16]) {
        let mixer = try VoiceMixer()
        let decoder = try OpusVoiceDecoder(channels: 2)
        var left: [Int16] = [], right: [Int16] = []
        for f in 0..<frames {
            let out = try mixer.mix(inputs(f))
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
        let out = try Self.mixAndDecode(frames: 60) { f in
            [VoiceMixInput(speakerId: 7, packet: packets[f], gain: 0.5, azimuth: .pi / 2)]
        }
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
        let split = try Self.mixAndDecode(frames: 60) { f in
            [VoiceMixInput(speakerId: 1, packet: a[f], gain: 0.5, azimuth: .pi / 2),
             VoiceMixInput(speakerId: 2, packet: b[f], gain: 0.8, azimuth: -.pi / 2)]
        }
        #expect(abs(Self.dB(Self.amplitude(split.right[window], hz: 440)) - Self.dB(0.15)) < 1.5)
        #expect(abs(Self.dB(Self.amplitude(split.left[window], hz: 660)) - Self.dB(0.2)) < 1.5)
        #expect(Self.amplitude(split.left[window], hz: 440) < 0.015 && Self.amplitude(split.right[window], hz: 660) < 0.02)
        let ahead = try Self.mixAndDecode(frames: 60) { f in
            [VoiceMixInput(speakerId: 1, packet: a[f], gain: 0.5, azimuth: 0),
             VoiceMixInput(speakerId: 2, packet: b[f], gain: 0.8, azimuth: 0)]
        }
        for channel in [ahead.left, ahead.right] {
            #expect(abs(Self.dB(Self.amplitude(channel[window], hz: 440)) - Self.dB(0.15 * 0.7071)) < 1.5)
            #expect(abs(Self.dB(Self.amplitude(channel[window], hz: 660)) - Self.dB(0.2 * 0.7071)) < 1.5)
        }
    }

    @Test func lostAndBadPacketsAreConcealedAndIdleSpeakersForgotten() throws {
        let packets = try Self.tonePackets(hz: 440, amplitude: 0.3, frames: 10)
        let mixer = try VoiceMixer()
        for f in 0..<10 {
            // Every third frame lost, one garbage packet.
            let packet: [UInt8]? = f % 3 == 2 ? nil : (f == 4 ? [0x03] : packets[f])
            let out = try mixer.mix([VoiceMixInput(speakerId: 3, packet: packet, gain: 1, azimuth: 0)])
            #expect(!out.packet.isEmpty)
        }
        #expect(mixer.decodeFailures == 1 && mixer.speakerCount == 1)
        // Nobody talking: silence, no voice activity; the idle decoder goes within two seconds.
        for _ in 0..<2 * VoiceMixer.idleFramesBeforeEviction {
            let out = try mixer.mix([])
            #expect(out.level & 0x80 == 0)
        }
        #expect(mixer.speakerCount == 0)
        // A 40 ms packet feeds two frames.
        let encoder = try OpusVoiceEncoder()
        let long = try encoder.encode(Signal.sine(hz: 300, seconds: 0.04))
        _ = try mixer.mix([VoiceMixInput(speakerId: 4, packet: long, gain: 1, azimuth: 0)])
        let second = try mixer.mix([VoiceMixInput(speakerId: 4, packet: nil, gain: 1, azimuth: 0)])
        #expect(second.level & 0x80 != 0)
    }
}
