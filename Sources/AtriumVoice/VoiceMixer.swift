#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RFC 6464 audio levels from PCM (the byte VOICE carries: bit 7 voice activity, bits 0–6 −dBov).
public enum VoiceAudioLevel {
    /// −dBov of 16-bit samples, 0…127: 0 dBov is the RMS of a full-scale square wave (32767), so a
    /// full-scale sine is 3; digital silence is 127.
    public static func minusDBov<C: Collection<Int16>>(_ samples: C) -> Int {
        guard !samples.isEmpty else { return 127 }
        var sum = 0.0
        for s in samples { sum += Double(s) * Double(s) }
        return minusDBov(rms: (sum / Double(samples.count)).squareRoot() / 32767)
    }

    /// −dBov of an RMS relative to full scale (1 = 0 dBov), rounded and clamped to 0…127.
    public static func minusDBov(rms: Double) -> Int {
        guard rms > 0 else { return 127 }
        let db = -20 * log10(rms)
        return Int(min(127, max(0, db.rounded())))
    }

    /// The RFC 6464 byte.
    public static func rfc6464(minusDBov: Int, voiceActivity: Bool) -> UInt8 {
        (voiceActivity ? 0x80 : 0) | UInt8(min(127, max(0, minusDBov)))
    }
}

/// One speaker in a listener's mix: who, at what distance gain, and from which direction.
public struct VoiceMixSource: Sendable, Equatable {
    public var speakerId: UInt16
    /// Distance gain (`VoiceRoute.gain`).
    public var gain: Float
    /// Where the speaker is around the listener's head, radians: 0 ahead, +π/2 right, −π/2 left, ±π behind
    /// (`VoiceMixer.azimuth`).
    public var azimuth: Float

    public init(speakerId: UInt16, gain: Float, azimuth: Float) {
        self.speakerId = speakerId
        self.gain = gain
        self.azimuth = azimuth
    }
}

/// One mixed frame: a 20 ms stereo Opus packet, its RFC 6464 level, and the mixed stream's own sequence
/// (the `sequence` of its VOICE_BUNDLE frame with speaker id 0).
public struct VoiceMixOutput: Equatable, Sendable {
    public var packet: [UInt8]
    public var level: UInt8
    public var sequence: UInt16
    /// Sources that were mixed (those found in the period's decoded frames).
    public var mixedSources: Int
}

/// How a mixer encodes its listener's stream (stereo, 48 kHz, 20 ms frames).
///
/// The encoder is most of a mixed listener's cost, and the application matters far more than the
/// complexity: `.voip` codes speech with SILK (hybrid at these rates), whose stereo encoder costs ~160 µs
/// per 20 ms frame even at complexity 1 (~280 µs at 5), where `.restrictedLowDelay` (CELT only) costs
/// ~45–65 µs at 48 kbit/s, and delays the audio by 2.5 ms of lookahead instead of 6.5 ms plus SILK's 5.
/// Benchmarks/README.md (Voice) has the figures.
public struct VoiceMixEncoding: Sendable, Equatable {
    /// Stereo output, bits per second.
    public var bitrate: Int32
    /// Opus encoder complexity 0…10. For CELT, 5 and up turns on the pitch pre-filter (voiced speech).
    public var complexity: Int32
    public var application: OpusApplication

    public init(bitrate: Int32 = 48_000, complexity: Int32 = 5, application: OpusApplication = .restrictedLowDelay) {
        self.bitrate = bitrate
        self.complexity = complexity
        self.application = application
    }

    /// What the server uses: 48 kbit/s stereo CELT (restricted low delay), complexity 5.
    public static let server = VoiceMixEncoding()
}

/// Server mix mode for one listener, second half: takes the period's `VoiceDecodedFrames` (decoded once for
/// every listener by `VoiceDecodeStage`), applies each chosen speaker's distance gain and a constant-power
/// stereo pan from its azimuth relative to the listener's head, sums, soft-clips and encodes one stereo Opus
/// stream of 20 ms frames. Call `mix` once per 20 ms.
///
/// Not thread-safe (it owns an Opus encoder): one mixer per listener, used from one thread at a time;
/// different listeners' mixers may run on different threads over the same `VoiceDecodedFrames`.
public final class VoiceMixer {
    /// 20 ms at 48 kHz.
    public static let frameSamples = VoiceDecodeStage.frameSamples

    private let encoder: OpusVoiceEncoder
    private var sum: [Float]
    private var interleaved: [Int16]
    private var packet: [UInt8]
    private var sequence: UInt16 = 0

    public let encoding: VoiceMixEncoding

    public init(encoding: VoiceMixEncoding = .server) throws(OpusError) {
        self.encoding = encoding
        encoder = try OpusVoiceEncoder(channels: 2, bitrate: encoding.bitrate, application: encoding.application)
        try encoder.setComplexity(encoding.complexity)
        sum = Array(repeating: 0, count: 2 * Self.frameSamples)
        interleaved = Array(repeating: 0, count: 2 * Self.frameSamples)
        packet = Array(repeating: 0, count: 1275)
    }

    /// Mixes one 20 ms frame of `sources` (a speaker at most once; speakers absent from `frames` are left
    /// out) into one stereo Opus packet. With nothing to mix it encodes silence (level without voice
    /// activity), which keeps the listener's decoder and the stream's sequence going.
    public func mix(_ sources: [VoiceMixSource], from frames: VoiceDecodedFrames) throws(OpusError) -> VoiceMixOutput {
        let n = Self.frameSamples
        var mixed = 0
        sum.withUnsafeMutableBufferPointer { sum in
            for k in 0..<2 * n { sum[k] = 0 }
            frames.samples.withUnsafeBufferPointer { all in
                for source in sources {
                    guard let slot = frames.slots[source.speakerId] else { continue }
                    mixed += 1
                    let (gl, gr) = Self.pan(azimuth: source.azimuth)
                    let l = gl * source.gain, r = gr * source.gain
                    let base = slot * n
                    for k in 0..<n {
                        let v = all[base + k]
                        sum[2 * k] += v * l
                        sum[2 * k + 1] += v * r
                    }
                }
            }
        }
        var energy: Float = 0
        sum.withUnsafeBufferPointer { sum in
            interleaved.withUnsafeMutableBufferPointer { out in
                for k in 0..<2 * n {
                    let v = Self.softClip(sum[k])
                    out[k] = Int16(v * 32767)
                    energy += v * v
                }
            }
        }
        let encoder = self.encoder
        let length = try interleaved.withUnsafeBufferPointer { (pcm) throws(OpusError) -> Int in
            try packet.withUnsafeMutableBufferPointer { (out) throws(OpusError) -> Int in
                try encoder.encode(pcm, frameSamples: n, into: out)
            }
        }
        let dBov = VoiceAudioLevel.minusDBov(rms: Double(energy / Float(2 * n)).squareRoot())
        defer { sequence &+= 1 }
        return VoiceMixOutput(
            packet: Array(packet[0..<length]),
            level: VoiceAudioLevel.rfc6464(minusDBov: dBov, voiceActivity: mixed > 0 && dBov < 127),
            sequence: sequence, mixedSources: mixed)
    }

    /// Constant-power pan: left and right gains for `azimuth` (radians, +π/2 = right), with
    /// left² + right² = 1. Front and back share a position (sin of the azimuth).
    public static func pan(azimuth: Float) -> (left: Float, right: Float) {
        let p = sin(azimuth)  // −1 left … 1 right
        let angle = (p + 1) * Float.pi / 4
        return (cos(angle), sin(angle))
    }

    /// The azimuth of a speaker `dx`, `dz` metres away (speaker − listener, world x and z) for a listener
    /// facing `forwardX`, `forwardZ` (its head's forward vector projected on the floor; x east, z south,
    /// forward −z at yaw 0): 0 ahead, +π/2 to its right.
    public static func azimuth(forwardX fx: Float, forwardZ fz: Float, dx: Float, dz: Float) -> Float {
        // Right of forward (fx, fz) on the floor, with y up: (−fz, fx).
        let ahead = dx * fx + dz * fz
        let side = dx * -fz + dz * fx
        if ahead == 0 && side == 0 { return 0 }
        return atan2(side, ahead)
    }

    /// Linear up to 0.9 of full scale, then a tanh knee that never exceeds 1.
    @inline(__always)
    static func softClip(_ x: Float) -> Float {
        let t: Float = 0.9
        let a = abs(x)
        guard a > t else { return x }
        let y = t + (1 - t) * tanh((a - t) / (1 - t))
        return x < 0 ? -y : y
    }
}

@available(*, unavailable, message: "a mixer holds Opus state; confine it to one thread or task")
extension VoiceMixer: Sendable {}
