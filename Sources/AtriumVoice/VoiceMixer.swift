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

/// One speaker's contribution to a mixed frame.
public struct VoiceMixInput {
    public var speakerId: UInt16
    /// The speaker's Opus packet for this frame, or nil when it did not arrive (concealed, or taken from
    /// what a longer earlier packet left over).
    public var packet: [UInt8]?
    /// Distance gain (`VoiceRoute.gain`).
    public var gain: Float
    /// Where the speaker is around the listener's head, radians: 0 ahead, +π/2 right, −π/2 left, ±π behind
    /// (`VoiceMixer.azimuth`).
    public var azimuth: Float

    public init(speakerId: UInt16, packet: [UInt8]?, gain: Float, azimuth: Float) {
        self.speakerId = speakerId
        self.packet = packet
        self.gain = gain
        self.azimuth = azimuth
    }
}

/// One mixed frame: a 20 ms stereo Opus packet and its RFC 6464 level.
public struct VoiceMixOutput: Equatable, Sendable {
    public var packet: [UInt8]
    public var level: UInt8
}

/// Server mix mode for one listener: decodes the chosen speakers (48 kHz mono, one decoder per speaker,
/// kept from frame to frame), applies each one's distance gain and a constant-power stereo pan from its
/// azimuth relative to the listener's head, sums, soft-clips and encodes one stereo Opus stream of 20 ms
/// frames. Call `mix` once per 20 ms with the frames the router chose for this listener.
///
/// Not thread-safe (it owns Opus state): one mixer per listener, used from one thread at a time.
public final class VoiceMixer {
    /// 20 ms at 48 kHz.
    public static let frameSamples = 960
    /// Decoders of speakers absent from this many consecutive mixes are dropped (1 s).
    public static let idleFramesBeforeEviction = 50

    final class Speaker {
        let decoder: OpusVoiceDecoder
        /// Decoded samples not mixed yet (a 40 or 60 ms packet leaves some for the next frames).
        var pending: [Int16] = []
        var lastUsed = 0
        init(_ decoder: OpusVoiceDecoder) { self.decoder = decoder }
    }

    private let encoder: OpusVoiceEncoder
    private var speakers: [UInt16: Speaker] = [:]
    private var frame = 0
    private var left: [Float]
    private var right: [Float]
    private var decoded: [Int16]
    private var interleaved: [Int16]
    private var packet: [UInt8]

    /// Packets that failed to decode (they are concealed instead).
    public private(set) var decodeFailures = 0

    /// - Parameters:
    ///   - bitrate: of the stereo output stream, bits per second.
    ///   - complexity: Opus encoder complexity 0…10; lower is cheaper for the server.
    public init(bitrate: Int32 = 48_000, complexity: Int32 = 5) throws(OpusError) {
        encoder = try OpusVoiceEncoder(channels: 2, bitrate: bitrate, application: .voip)
        try encoder.setComplexity(complexity)
        left = Array(repeating: 0, count: Self.frameSamples)
        right = Array(repeating: 0, count: Self.frameSamples)
        decoded = Array(repeating: 0, count: 5760)  // up to 120 ms mono
        interleaved = Array(repeating: 0, count: 2 * Self.frameSamples)
        packet = Array(repeating: 0, count: 1275)
    }

    /// Speakers whose decoders this mixer holds.
    public var speakerCount: Int { speakers.count }

    /// Drops a speaker's decoder (it left, or stopped being chosen); a later frame starts a fresh one.
    public func removeSpeaker(_ id: UInt16) { speakers[id] = nil }

    /// Mixes one 20 ms frame of `inputs` (a speaker at most once) into one stereo Opus packet.
    public func mix(_ inputs: [VoiceMixInput]) throws(OpusError) -> VoiceMixOutput {
        frame += 1
        let n = Self.frameSamples
        for k in 0..<n {
            left[k] = 0
            right[k] = 0
        }
        for input in inputs {
            let speaker: Speaker
            if let known = speakers[input.speakerId] {
                speaker = known
            } else {
                speaker = Speaker(try OpusVoiceDecoder(channels: 1))
                speakers[input.speakerId] = speaker
            }
            speaker.lastUsed = frame
            try fill(speaker, with: input.packet)
            let (gl, gr) = Self.pan(azimuth: input.azimuth)
            let l = gl * input.gain / 32768, r = gr * input.gain / 32768
            left.withUnsafeMutableBufferPointer { left in
                right.withUnsafeMutableBufferPointer { right in
                    speaker.pending.withUnsafeBufferPointer { pcm in
                        for k in 0..<n {
                            let v = Float(pcm[k])
                            left[k] += v * l
                            right[k] += v * r
                        }
                    }
                }
            }
            speaker.pending.removeFirst(n)
        }
        // Forget speakers that have not been mixed for a while.
        if frame % Self.idleFramesBeforeEviction == 0 {
            speakers = speakers.filter { frame - $0.value.lastUsed < Self.idleFramesBeforeEviction }
        }
        var sum = 0.0
        for k in 0..<n {
            let l = Self.softClip(left[k]), r = Self.softClip(right[k])
            interleaved[2 * k] = Int16(l * 32767)
            interleaved[2 * k + 1] = Int16(r * 32767)
            sum += Double(l * l + r * r)
        }
        let encoder = self.encoder
        let length = try interleaved.withUnsafeBufferPointer { (pcm) throws(OpusError) -> Int in
            try packet.withUnsafeMutableBufferPointer { (out) throws(OpusError) -> Int in
                try encoder.encode(pcm, frameSamples: n, into: out)
            }
        }
        let dBov = VoiceAudioLevel.minusDBov(rms: (sum / Double(2 * n)).squareRoot())
        return VoiceMixOutput(
            packet: Array(packet[0..<length]),
            level: VoiceAudioLevel.rfc6464(minusDBov: dBov, voiceActivity: !inputs.isEmpty && dBov < 127))
    }

    /// Makes sure `speaker.pending` holds at least one frame: decodes `packet`, or conceals a lost one.
    private func fill(_ speaker: Speaker, with packet: [UInt8]?) throws(OpusError) {
        let n = Self.frameSamples
        let decoder = speaker.decoder
        if let packet, !packet.isEmpty {
            do {
                let count = try packet.withUnsafeBufferPointer { (p) throws(OpusError) -> Int in
                    try decoded.withUnsafeMutableBufferPointer { (out) throws(OpusError) -> Int in
                        try decoder.decode(p, frameSamples: 5760, into: out)
                    }
                }
                speaker.pending.append(contentsOf: decoded[0..<count])
            } catch {
                decodeFailures += 1
            }
        }
        while speaker.pending.count < n {
            // Lost (or undecodable): Opus concealment continues the speaker's last sound and fades it.
            let count = try decoded.withUnsafeMutableBufferPointer { (out) throws(OpusError) -> Int in
                try decoder.decode(nil, frameSamples: n, into: out)
            }
            speaker.pending.append(contentsOf: decoded[0..<count])
            if count == 0 { speaker.pending.append(contentsOf: repeatElement(0, count: n - speaker.pending.count)) }
        }
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
