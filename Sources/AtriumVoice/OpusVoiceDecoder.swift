import COpus
import CAtriumShim

/// One libopus decoder (`OpusDecoder`). Not thread-safe: use from one thread or task at a time.
public final class OpusVoiceDecoder {
    /// Owned decoder state: created in init, destroyed in deinit, never shared.
    private let decoder: OpaquePointer
    public let sampleRate: Int32
    public let channels: Int

    public init(sampleRate: Int32 = 48000, channels: Int = 1) throws(OpusError) {
        try OpusFormat.validate(sampleRate: sampleRate, channels: channels)
        var status: Int32 = OPUS_OK
        // C call: validated arguments; returns a heap decoder (or NULL) that we own from here on.
        guard let decoder = opus_decoder_create(sampleRate, Int32(channels), &status), status == OPUS_OK else {
            throw OpusError(code: status == OPUS_OK ? OPUS_ALLOC_FAIL : status, context: "opus_decoder_create")
        }
        self.decoder = decoder
        self.sampleRate = sampleRate
        self.channels = channels
    }

    deinit {
        // C call: frees the decoder created in init, exactly once.
        opus_decoder_destroy(decoder)
    }

    /// Decodes one packet into interleaved samples (`channels ×` the packet's duration).
    /// Malformed packets throw (`OPUS_INVALID_PACKET`); an empty packet throws too —
    /// use ``decodeLoss(frameSamples:)`` for a missing packet.
    public func decode(_ packet: [UInt8]) throws(OpusError) -> [Int16] {
        guard !packet.isEmpty else { throw .badArgument("empty packet (use decodeLoss for a lost packet)") }
        return try run(packet, frameSamples: OpusFormat.maximumFrame(sampleRate), fec: false, context: "opus_decode")
    }

    /// Packet-loss concealment for one missing frame of `frameSamples` samples per channel
    /// (a multiple of 2.5 ms, at most 120 ms).
    public func decodeLoss(frameSamples: Int) throws(OpusError) -> [Int16] {
        try validateConcealment(frameSamples)
        return try run(nil, frameSamples: frameSamples, fec: false, context: "opus_decode(PLC)")
    }

    /// Recovers the frame *before* `nextPacket` from its in-band FEC data (falls back to
    /// concealment when the packet carries none). `frameSamples` is the lost frame's length.
    public func decodeFEC(from nextPacket: [UInt8], frameSamples: Int) throws(OpusError) -> [Int16] {
        guard !nextPacket.isEmpty else { throw .badArgument("empty packet") }
        try validateConcealment(frameSamples)
        return try run(nextPacket, frameSamples: frameSamples, fec: true, context: "opus_decode(FEC)")
    }

    /// Decodes `packet` (nil: conceal `frameSamples` of loss) into `output`, which must hold
    /// `frameSamples × channels` samples; returns the samples per channel written. No allocation: the
    /// mixer's path. `frameSamples` bounds what a packet may decode to (at most 120 ms).
    func decode(
        _ packet: UnsafeBufferPointer<UInt8>?, frameSamples: Int, into output: UnsafeMutableBufferPointer<Int16>
    ) throws(OpusError) -> Int {
        guard frameSamples > 0, output.count >= frameSamples * channels, let out = output.baseAddress else {
            throw .badArgument("output buffer smaller than \(frameSamples) × \(channels) samples")
        }
        let decoded: Int32
        if let packet, let input = packet.baseAddress, !packet.isEmpty {
            guard packet.count <= Int(Int32.max) else { throw .badArgument("packet too large") }
            // C call: opus reads packet.count bytes and writes at most frameSamples × channels samples,
            // which output holds (checked above); both pointers are valid for this call.
            decoded = opus_decode(decoder, input, Int32(packet.count), out, Int32(frameSamples), 0)
        } else {
            try validateConcealment(frameSamples)
            // C call: NULL/0 asks for concealment of frameSamples samples into output (large enough).
            decoded = opus_decode(decoder, nil, 0, out, Int32(frameSamples), 0)
        }
        guard decoded >= 0 else { throw OpusError(code: decoded, context: "opus_decode") }
        return Int(decoded)
    }

    /// Duration in samples per channel of the last decoded or concealed frame.
    public var lastPacketDurationSamples: Int {
        var samples: Int32 = 0
        // C call (shim): writes one opus_int32 into our local.
        let rc = atrium_opus_decoder_get_last_packet_duration(decoder, &samples)
        return rc == OPUS_OK ? Int(samples) : 0
    }

    private func validateConcealment(_ frameSamples: Int) throws(OpusError) {
        let quantum = OpusFormat.quantum(sampleRate)
        guard frameSamples > 0, frameSamples % quantum == 0, frameSamples <= OpusFormat.maximumFrame(sampleRate) else {
            throw .badArgument("frame of \(frameSamples) samples is not a multiple of 2.5 ms up to 120 ms at \(sampleRate) Hz")
        }
    }

    private func run(_ packet: [UInt8]?, frameSamples: Int, fec: Bool, context: String) throws(OpusError) -> [Int16] {
        if let packet, packet.count > Int(Int32.max) { throw .badArgument("packet too large") }
        var pcm = [Int16](repeating: 0, count: frameSamples * channels)
        // C call: opus reads `length` bytes of the packet (or none for PLC, NULL/0) and writes at
        // most frameSamples × channels samples, exactly pcm's capacity; pointers live in the closures.
        // Both buffers are non-empty (frameSamples > 0 is validated; callers reject empty packets),
        // so their base addresses are non-nil.
        let decoded: Int32 = pcm.withUnsafeMutableBufferPointer { output in
            guard let packet else {
                return opus_decode(decoder, nil, 0, output.baseAddress!, Int32(frameSamples), 0)
            }
            return packet.withUnsafeBufferPointer { input in
                opus_decode(decoder, input.baseAddress!, Int32(input.count), output.baseAddress!, Int32(frameSamples), fec ? 1 : 0)
            }
        }
        guard decoded >= 0 else { throw OpusError(code: decoded, context: context) }
        pcm.removeSubrange((Int(decoded) * channels)...)
        return pcm
    }
}

@available(*, unavailable, message: "an Opus decoder holds mutable C state; confine it to one thread or task")
extension OpusVoiceDecoder: Sendable {}

/// Header facts about an Opus packet, read by libopus without decoding it.
/// All return nil for an empty or malformed packet.
public enum OpusPacketInfo {
    /// Number of frames in the packet (`opus_packet_get_nb_frames`).
    public static func frameCount(_ packet: [UInt8]) -> Int? {
        guard !packet.isEmpty, packet.count <= Int(Int32.max) else { return nil }
        // C call: reads at most packet.count bytes from a pointer valid in the closure
        // (non-nil: the packet is non-empty).
        let n = packet.withUnsafeBufferPointer { opus_packet_get_nb_frames($0.baseAddress!, Int32($0.count)) }
        return n >= 0 ? Int(n) : nil
    }

    /// Samples per channel in each frame at `sampleRate` (`opus_packet_get_samples_per_frame`).
    public static func samplesPerFrame(_ packet: [UInt8], sampleRate: Int32 = 48000) -> Int? {
        guard !packet.isEmpty, OpusFormat.sampleRates.contains(sampleRate) else { return nil }
        // C call: reads only the first (TOC) byte, which exists (packet is non-empty).
        let n = packet.withUnsafeBufferPointer { opus_packet_get_samples_per_frame($0.baseAddress!, sampleRate) }
        return n > 0 ? Int(n) : nil
    }

    /// Total samples per channel in the packet (`opus_packet_get_nb_samples`).
    public static func sampleCount(_ packet: [UInt8], sampleRate: Int32 = 48000) -> Int? {
        guard !packet.isEmpty, packet.count <= Int(Int32.max), OpusFormat.sampleRates.contains(sampleRate) else { return nil }
        // C call: reads at most packet.count bytes from a pointer valid in the closure
        // (non-nil: the packet is non-empty).
        let n = packet.withUnsafeBufferPointer { opus_packet_get_nb_samples($0.baseAddress!, Int32($0.count), sampleRate) }
        return n > 0 ? Int(n) : nil
    }

    /// Channels coded in the packet, 1 or 2 (`opus_packet_get_nb_channels`).
    public static func channelCount(_ packet: [UInt8]) -> Int? {
        guard !packet.isEmpty else { return nil }
        // C call: reads only the first (TOC) byte, which exists.
        let n = packet.withUnsafeBufferPointer { opus_packet_get_nb_channels($0.baseAddress!) }
        return n > 0 ? Int(n) : nil
    }
}
