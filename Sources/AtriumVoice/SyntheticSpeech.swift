#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speech-like audio for load bots, deterministic from a seed: a glottal pulse train with a wandering
/// pitch (100–220 Hz) through three formant resonators whose vowel targets change per syllable, syllables
/// at about 4–5 per second grouped into phrases, and pauses between phrases. It has speech's spectrum,
/// rhythm and level changes, so Opus spends on it what it spends on a voice (and its VAD sees silence in
/// the pauses).
public enum SyntheticSpeech {
    public static let sampleRate = 48_000

    /// Mono 48 kHz samples and, per sample, whether a syllable is sounding (false in pauses and the gaps
    /// between syllables).
    public struct Audio: Sendable {
        public var samples: [Int16]
        public var voiced: [Bool]
    }

    /// (F1, F2, F3) of a few vowels, Hz.
    static let vowels: [(Double, Double, Double)] = [
        (730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410), (440, 1020, 2240),
    ]

    public static func render(seed: UInt64, seconds: Double) -> Audio {
        let count = max(0, Int(seconds * Double(sampleRate)))
        var rng = Generator(seed: seed)
        let fs = Double(sampleRate)
        var out = [Double](repeating: 0, count: count)
        var voiced = [Bool](repeating: false, count: count)

        // Per speaker: its pitch and how fast it talks.
        let basePitch = 100 + 120 * rng.unit()
        let syllableRate = 4 + rng.unit()  // per second
        var formants = vowels[0]
        var target = vowels[Int(rng.next() % UInt64(vowels.count))]
        var resonators = (Resonator(), Resonator(), Resonator())
        var phase = 0.0
        var previousFlow = 0.0
        var wander = 0.0  // slow random walk of the pitch, in octaves

        var n = 0
        var inPhrase = rng.unit() < 0.8
        while n < count {
            if !inPhrase {
                // A pause of 0.3–0.9 s: nothing sounds.
                n += Int((0.3 + 0.6 * rng.unit()) * fs)
                inPhrase = true
                continue
            }
            // A phrase of 3–12 syllables; pitch falls a little across it.
            let syllables = 3 + Int(rng.next() % 10)
            for k in 0..<syllables where n < count {
                let length = Int(fs / syllableRate * (0.8 + 0.4 * rng.unit()))
                let amplitude = 0.6 + 0.4 * rng.unit()
                target = vowels[Int(rng.next() % UInt64(vowels.count))]
                let declination = 1 - 0.12 * Double(k) / Double(syllables)
                for i in 0..<length where n < count {
                    let t = Double(i) / Double(length)
                    // Onset, nucleus and decay: a raised sine, sharper than a Hann window.
                    let envelope = amplitude * pow(sin(Double.pi * t), 1.5)
                    wander += 0.00002 * (rng.unit() - 0.5) - wander * 0.00001
                    let vibrato = 0.04 * sin(2 * .pi * 0.7 * Double(n) / fs)
                    let pitch = min(220, max(100, basePitch * declination * exp2(vibrato + wander)))
                    // Formants glide towards this syllable's vowel (about 30 ms time constant).
                    formants.0 += (target.0 - formants.0) * 0.0007
                    formants.1 += (target.1 - formants.1) * 0.0007
                    formants.2 += (target.2 - formants.2) * 0.0007
                    if n % 48 == 0 {
                        resonators.0.tune(frequency: formants.0, bandwidth: 80, sampleRate: fs)
                        resonators.1.tune(frequency: formants.1, bandwidth: 100, sampleRate: fs)
                        resonators.2.tune(frequency: formants.2, bandwidth: 140, sampleRate: fs)
                    }
                    // Rosenberg glottal flow; its derivative excites the vocal tract.
                    phase += pitch / fs
                    if phase >= 1 { phase -= 1 }
                    let flow = phase < 0.6 ? 0.5 * (1 - cos(.pi * phase / 0.6)) : max(0, cos(.pi * (phase - 0.6) / 0.8))
                    let excitation = (flow - previousFlow) * 40 + 0.02 * (rng.unit() - 0.5)
                    previousFlow = flow
                    let y = resonators.2.step(resonators.1.step(resonators.0.step(excitation * envelope)))
                    out[n] = y
                    voiced[n] = envelope > 0.2
                    n += 1
                }
            }
            inPhrase = rng.unit() < 0.25  // sometimes phrases follow each other without a pause
        }
        // Peaks at half of full scale (−6 dBFS).
        let peak = out.reduce(0) { max($0, abs($1)) }
        let scale = peak > 0 ? 0.5 * 32767 / peak : 0
        return Audio(samples: out.map { Int16(($0 * scale).rounded()) }, voiced: voiced)
    }

    /// A two-pole resonator with unity gain at its centre frequency.
    struct Resonator {
        var a1 = 0.0, a2 = 0.0, gain = 1.0
        var y1 = 0.0, y2 = 0.0

        mutating func tune(frequency: Double, bandwidth: Double, sampleRate: Double) {
            let r = exp(-Double.pi * bandwidth / sampleRate)
            a1 = 2 * r * cos(2 * .pi * frequency / sampleRate)
            a2 = -r * r
            gain = 1 - r
        }

        mutating func step(_ x: Double) -> Double {
            let y = gain * x + a1 * y1 + a2 * y2
            y2 = y1
            y1 = y
            return y
        }
    }

    /// SplitMix64 (the standard library's generator is seeded randomly).
    struct Generator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        /// Uniform in [0, 1).
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }
}

/// Synthetic speech encoded once into Opus frames, for bots to loop: frame k of an endless stream is
/// `loop[k]`. Each frame carries its RFC 6464 level (voice activity from the synthesis, −dBov from the PCM).
public struct VoiceLoop: Sendable {
    public struct Frame: Sendable, Equatable {
        /// One Opus packet of `frameMilliseconds`.
        public var opus: [UInt8]
        /// RFC 6464 byte: bit 7 voice activity, bits 0–6 −dBov.
        public var level: UInt8
        /// Whether the frame is speech (bit 7 of `level`); a bot may stay quiet in the others.
        public var voiced: Bool { level & 0x80 != 0 }
    }

    public let frames: [Frame]
    public let frameMilliseconds: Int

    /// Renders `seconds` of `SyntheticSpeech` for `seed` and encodes it in frames of `frameMilliseconds`
    /// (10, 20, 40 or 60) at `bitrate`, mono 48 kHz, the VoIP application.
    public init(seed: UInt64 = 1, seconds: Double = 10, frameMilliseconds: Int = 20, bitrate: Int32 = 24_000) throws(OpusError) {
        guard [10, 20, 40, 60].contains(frameMilliseconds) else {
            throw .badArgument("frame of \(frameMilliseconds) ms (10, 20, 40 or 60)")
        }
        let frameSamples = SyntheticSpeech.sampleRate / 1000 * frameMilliseconds
        let audio = SyntheticSpeech.render(seed: seed, seconds: max(seconds, Double(frameMilliseconds) / 1000))
        let encoder = try OpusVoiceEncoder(bitrate: bitrate)
        var frames: [Frame] = []
        var start = 0
        while start + frameSamples <= audio.samples.count {
            let pcm = Array(audio.samples[start..<(start + frameSamples)])
            let voicedSamples = audio.voiced[start..<(start + frameSamples)].reduce(0) { $0 + ($1 ? 1 : 0) }
            let level = VoiceAudioLevel.rfc6464(
                minusDBov: VoiceAudioLevel.minusDBov(pcm), voiceActivity: 2 * voicedSamples >= frameSamples)
            frames.append(Frame(opus: try encoder.encode(pcm), level: level))
            start += frameSamples
        }
        self.frames = frames
        self.frameMilliseconds = frameMilliseconds
    }

    public var count: Int { frames.count }

    /// Frame `index` of the endless loop (any index, e.g. a bot's running frame counter).
    public subscript(index: Int) -> Frame {
        let c = frames.count
        return frames[((index % c) + c) % c]
    }
}
