/// One speaker's newest frame for a frame period, as the server holds it.
public struct VoiceSpeakerFrame: Sendable, Equatable {
    public var speakerId: UInt16
    /// The VOICE sequence of `packet`. The same sequence as the one this speaker's last decoded packet had
    /// means nothing new arrived: the frame is concealed (or taken from what a longer packet left over).
    public var sequence: UInt16
    /// The speaker's Opus packet (as validated by `OpusPacketValidator`), or nil when none arrived.
    public var packet: [UInt8]?

    public init(speakerId: UInt16, sequence: UInt16, packet: [UInt8]?) {
        self.speakerId = speakerId
        self.sequence = sequence
        self.packet = packet
    }
}

/// The decoded speakers of one frame period: 20 ms of 48 kHz mono PCM per speaker, as floats scaled so that
/// full scale is ±1. A value (copy-on-write): read it from as many mixers, on as many threads, as needed.
public struct VoiceDecodedFrames: Sendable {
    /// Slot k holds samples k × frameSamples ..< (k + 1) × frameSamples.
    var samples: [Float] = []
    var slots: [UInt16: Int] = [:]

    public init() {}

    /// Speakers decoded (or concealed) this period.
    public var count: Int { slots.count }

    public func contains(_ speakerId: UInt16) -> Bool { slots[speakerId] != nil }

    /// A speaker's 960 samples this period (full scale ±1), or nil when it was not decoded.
    public func samples(of speakerId: UInt16) -> ArraySlice<Float>? {
        guard let slot = slots[speakerId] else { return nil }
        let n = VoiceDecodeStage.frameSamples
        return samples[slot * n..<(slot + 1) * n]
    }
}

/// Mix mode's shared first half: decodes each speaker's frame ONCE per 20 ms frame period, whatever the number
/// of mixed listeners hearing it, with one Opus decoder per speaker kept from period to period (Opus decoding
/// depends on the previous frames). A speaker whose frame is missing this period is concealed by Opus
/// packet-loss concealment (which continues its last sound and fades it out). Each listener's `VoiceMixer`
/// then only pans, sums, soft-clips and encodes from the `VoiceDecodedFrames` this returns.
///
///     every 20 ms:
///         let frames = try stage.decode(speakersHeardByAnyMixedListener)   // once
///         for each mixed listener: try listener.mixer.mix(listener.sources, from: frames)
///
/// Not thread-safe (it owns Opus state): one stage per world instance, used from one thread at a time. The
/// frames it returns are a Sendable value that mixers on other threads may read.
public final class VoiceDecodeStage {
    /// 20 ms at 48 kHz.
    public static let frameSamples = 960
    /// Decoders of speakers absent from this many consecutive periods are dropped (1 s).
    public static let idleFramesBeforeEviction = 50
    /// Decoded samples a speaker may hold ahead (a 120 ms packet's worth): anything beyond is the oldest
    /// audio and is dropped, so latency stays bounded when packets bunch up.
    static let maximumPendingSamples = 5760

    final class Speaker {
        let decoder: OpusVoiceDecoder
        /// Decoded samples not used yet (a 40 or 60 ms packet leaves some for the next periods).
        var pending: [Int16] = []
        var lastSequence: UInt16?
        var lastPeriod = 0
        init(_ decoder: OpusVoiceDecoder) { self.decoder = decoder }
    }

    private var speakers: [UInt16: Speaker] = [:]
    private var period = 0
    private var decoded: [Int16]
    private var frames = VoiceDecodedFrames()

    /// Packets that failed to decode (they were concealed instead).
    public private(set) var decodeFailures = 0
    /// Speaker frames produced by concealment (missing, repeated or undecodable packets).
    public private(set) var concealedFrames = 0
    /// Packets decoded.
    public private(set) var decodedPackets = 0

    public init() {
        decoded = Array(repeating: 0, count: Self.maximumPendingSamples)  // up to 120 ms mono
    }

    /// Speakers whose decoders this stage holds.
    public var speakerCount: Int { speakers.count }

    /// Drops a speaker's decoder (it left); a later frame starts a fresh one.
    public func removeSpeaker(_ id: UInt16) { speakers[id] = nil }

    /// Decodes one frame period: every speaker in `frames` (a speaker listed twice counts once, the first
    /// time), its packet decoded, or concealed when it is nil, repeats the last sequence, or does not decode.
    /// Pass the speakers that at least one mixed listener hears this period; the others are not decoded.
    ///
    /// Throws only when libopus cannot create a decoder or conceal (out of memory); a bad packet is counted
    /// in `decodeFailures` and concealed.
    public func decode(_ frames: [VoiceSpeakerFrame]) throws(OpusError) -> VoiceDecodedFrames {
        period += 1
        let n = Self.frameSamples
        // Reuses the previous period's storage when no mixer holds on to it (copy-on-write).
        self.frames.slots.removeAll(keepingCapacity: true)
        self.frames.samples.removeAll(keepingCapacity: true)
        for frame in frames where self.frames.slots[frame.speakerId] == nil {
            let speaker: Speaker
            if let known = speakers[frame.speakerId] {
                speaker = known
            } else {
                speaker = Speaker(try OpusVoiceDecoder(channels: 1))
                speakers[frame.speakerId] = speaker
            }
            speaker.lastPeriod = period
            try fill(speaker, with: frame)
            let slot = self.frames.slots.count
            self.frames.slots[frame.speakerId] = slot
            let scale: Float = 1.0 / 32768
            speaker.pending.withUnsafeBufferPointer { pcm in
                for k in 0..<n { self.frames.samples.append(Float(pcm[k]) * scale) }
            }
            speaker.pending.removeFirst(n)
        }
        if period % Self.idleFramesBeforeEviction == 0 {
            speakers = speakers.filter { period - $0.value.lastPeriod < Self.idleFramesBeforeEviction }
        }
        return self.frames
    }

    /// Makes sure `speaker.pending` holds at least one frame: decodes the packet if it is new, conceals
    /// the rest.
    private func fill(_ speaker: Speaker, with frame: VoiceSpeakerFrame) throws(OpusError) {
        let n = Self.frameSamples
        let decoder = speaker.decoder
        if let packet = frame.packet, !packet.isEmpty, frame.sequence != speaker.lastSequence {
            speaker.lastSequence = frame.sequence
            do {
                let count = try packet.withUnsafeBufferPointer { (p) throws(OpusError) -> Int in
                    try decoded.withUnsafeMutableBufferPointer { (out) throws(OpusError) -> Int in
                        try decoder.decode(p, frameSamples: Self.maximumPendingSamples, into: out)
                    }
                }
                decodedPackets += 1
                speaker.pending.append(contentsOf: decoded[0..<count])
                if speaker.pending.count > Self.maximumPendingSamples {
                    speaker.pending.removeFirst(speaker.pending.count - Self.maximumPendingSamples)
                }
            } catch {
                decodeFailures += 1
            }
        }
        if speaker.pending.count < n { concealedFrames += 1 }
        while speaker.pending.count < n {
            // Missing or undecodable: Opus concealment continues the speaker's last sound and fades it.
            let count = try decoded.withUnsafeMutableBufferPointer { (out) throws(OpusError) -> Int in
                try decoder.decode(nil, frameSamples: n, into: out)
            }
            speaker.pending.append(contentsOf: decoded[0..<count])
            if count == 0 { speaker.pending.append(contentsOf: repeatElement(0, count: n - speaker.pending.count)) }
        }
    }
}

@available(*, unavailable, message: "a decode stage holds Opus state; confine it to one thread or task")
extension VoiceDecodeStage: Sendable {}
