import COpus
import CAtriumShim

/// One libopus encoder (`OpusEncoder`). Not thread-safe: use from one thread or task at a time.
public final class OpusVoiceEncoder {
    /// Owned encoder state: created in init, destroyed in deinit, never shared.
    private let encoder: OpaquePointer
    public let sampleRate: Int32
    public let channels: Int

    /// Recommended upper bound for one Opus packet (RFC 6716 allows up to 1275 bytes per frame).
    static let maximumPacketBytes = 4000

    public init(sampleRate: Int32 = 48000, channels: Int = 1, bitrate: Int32 = 24000, application: OpusApplication = .voip) throws(OpusError) {
        try OpusFormat.validate(sampleRate: sampleRate, channels: channels)
        var status: Int32 = OPUS_OK
        // C call: validated arguments; opus writes the status into our local and returns
        // a heap encoder (or NULL) that we own from here on.
        guard let encoder = opus_encoder_create(sampleRate, Int32(channels), application.rawValue, &status), status == OPUS_OK else {
            throw OpusError(code: status == OPUS_OK ? OPUS_ALLOC_FAIL : status, context: "opus_encoder_create")
        }
        self.encoder = encoder
        self.sampleRate = sampleRate
        self.channels = channels
        try setBitrate(bitrate)
        if application == .voip {
            // C call (shim): a typed wrapper over opus_encoder_ctl on our live encoder.
            let rc = atrium_opus_encoder_set_signal_voice(encoder)
            guard rc == OPUS_OK else { throw OpusError(code: rc, context: "OPUS_SET_SIGNAL") }
        }
    }

    deinit {
        // C call: frees the encoder created in init, exactly once.
        opus_encoder_destroy(encoder)
    }

    /// Target bitrate in bits per second (500…512 000; libopus clamps within that range).
    public func setBitrate(_ bitsPerSecond: Int32) throws(OpusError) {
        guard bitsPerSecond > 0 else { throw .badArgument("bitrate \(bitsPerSecond)") }
        // C call (shim): typed wrapper over opus_encoder_ctl(OPUS_SET_BITRATE) on our live encoder.
        let rc = atrium_opus_encoder_set_bitrate(encoder, bitsPerSecond)
        guard rc == OPUS_OK else { throw OpusError(code: rc, context: "OPUS_SET_BITRATE(\(bitsPerSecond))") }
    }

    /// Encoder complexity 0…10.
    public func setComplexity(_ complexity: Int32) throws(OpusError) {
        // C call (shim): typed wrapper over opus_encoder_ctl(OPUS_SET_COMPLEXITY) on our live encoder.
        let rc = atrium_opus_encoder_set_complexity(encoder, complexity)
        guard rc == OPUS_OK else { throw OpusError(code: rc, context: "OPUS_SET_COMPLEXITY(\(complexity))") }
    }

    /// In-band forward error correction and the loss rate it should plan for.
    public func setInbandFEC(_ enabled: Bool, expectedLossPercent: Int32) throws(OpusError) {
        // C calls (shim): typed wrappers over opus_encoder_ctl on our live encoder.
        var rc = atrium_opus_encoder_set_inband_fec(encoder, enabled ? 1 : 0)
        guard rc == OPUS_OK else { throw OpusError(code: rc, context: "OPUS_SET_INBAND_FEC") }
        rc = atrium_opus_encoder_set_packet_loss_perc(encoder, expectedLossPercent)
        guard rc == OPUS_OK else { throw OpusError(code: rc, context: "OPUS_SET_PACKET_LOSS_PERC(\(expectedLossPercent))") }
    }

    /// Discontinuous transmission: near-silent frames shrink to 1–2 bytes.
    public func setDTX(_ enabled: Bool) throws(OpusError) {
        // C call (shim): typed wrapper over opus_encoder_ctl(OPUS_SET_DTX) on our live encoder.
        let rc = atrium_opus_encoder_set_dtx(encoder, enabled ? 1 : 0)
        guard rc == OPUS_OK else { throw OpusError(code: rc, context: "OPUS_SET_DTX") }
    }

    /// Samples (per channel) the encoder delays its output by (`OPUS_GET_LOOKAHEAD`).
    public var lookaheadSamples: Int {
        var samples: Int32 = 0
        // C call (shim): writes one opus_int32 into our local.
        let rc = atrium_opus_encoder_get_lookahead(encoder, &samples)
        return rc == OPUS_OK ? Int(samples) : 0
    }

    /// Encodes one frame of `frameSamples` samples per channel from `pcm` into `packet`; returns the packet's
    /// length. No allocation: the mixer's path.
    func encode(
        _ pcm: UnsafeBufferPointer<Int16>, frameSamples: Int, into packet: UnsafeMutableBufferPointer<UInt8>
    ) throws(OpusError) -> Int {
        guard OpusFormat.isEncodableFrame(frameSamples, sampleRate: sampleRate), pcm.count >= frameSamples * channels,
            let input = pcm.baseAddress, let output = packet.baseAddress, !packet.isEmpty
        else { throw .badArgument("\(pcm.count) samples is not a \(frameSamples)-sample frame for \(channels) channel(s)") }
        // C call: opus reads frameSamples × channels samples (checked above) and writes at most packet.count
        // bytes; both pointers are valid for this call.
        let length = opus_encode(encoder, input, Int32(frameSamples), output, Int32(Swift.min(packet.count, Int(Int32.max))))
        guard length > 0 else { throw OpusError(code: length, context: "opus_encode") }
        return Int(length)
    }

    /// Encodes exactly one frame. `pcm` holds `channels × frameSize` interleaved
    /// samples, where frameSize is 2.5, 5, 10, 20, 40 or 60 ms at ``sampleRate``.
    public func encode(_ pcm: [Int16]) throws(OpusError) -> [UInt8] {
        guard pcm.count % channels == 0, OpusFormat.isEncodableFrame(pcm.count / channels, sampleRate: sampleRate) else {
            throw .badArgument("\(pcm.count) samples for \(channels) channel(s) is not a 2.5/5/10/20/40/60 ms frame at \(sampleRate) Hz")
        }
        let frameSize = Int32(pcm.count / channels)
        var packet = [UInt8](repeating: 0, count: Self.maximumPacketBytes)
        // C call: opus reads frameSize × channels samples (exactly pcm.count) and writes at most
        // packet.count bytes; both pointers are valid for the duration of the closures and non-nil
        // (a valid frame has at least 20 samples; the packet buffer holds 4000 bytes).
        let length = pcm.withUnsafeBufferPointer { input in
            packet.withUnsafeMutableBufferPointer { output in
                opus_encode(encoder, input.baseAddress!, frameSize, output.baseAddress!, Int32(output.count))
            }
        }
        guard length > 0 else { throw OpusError(code: length, context: "opus_encode") }
        packet.removeSubrange(Int(length)...)
        return packet
    }
}

@available(*, unavailable, message: "an Opus encoder holds mutable C state; confine it to one thread or task")
extension OpusVoiceEncoder: Sendable {}
