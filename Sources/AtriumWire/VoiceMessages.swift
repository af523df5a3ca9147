// Voice messages (docs/PROTOCOL.md §17). Layouts, all byte aligned:
//
// client → server
//   0x10 VOICE         ch2  u16 sequence, u8 level, u16 opusLength (1…1275), opusLength bytes
//   0x11 VOICE_SETUP   ch0  u8 requestedMode
//   0x12 VOICE_CONTROL ch0  u8 action, u16 target
// server → client
//   0x90 VOICE_BUNDLE  ch2  u8 frameCount (1…255), frameCount × (u16 speakerId, u16 sequence, u8 level,
//                           u16 resumes (bit 15) | opusLength (bits 0–14, 1…1275), opusLength bytes)
//   0x91 VOICE_MODE    ch0  u8 mode, u8 reason
//
// The wire layer checks sizes and codes only. Whether the Opus bytes are a valid packet (RFC 6716 §3.4) is
// the server's check (`OpusPacketValidator` in AtriumVoice), before it forwards a frame.

extension WireLimits {
    /// Largest Opus packet in a VOICE or VOICE_BUNDLE frame: one maximal RFC 6716 frame. Voice packets are
    /// far smaller (about 60 bytes for 20 ms at 24 kbit/s).
    public static let maxVoicePacketBytes = 1275
    /// Target size of one VOICE_BUNDLE datagram (the whole message), as for SNAPSHOT parts.
    public static let voiceBundleDatagramBytes = 1200
    /// frameCount is a u8 and at least 1.
    public static let maxVoiceBundleFrames = 255
    /// In a VOICE_BUNDLE frame's u16 opusLength field: bit 15 is the `resumes` flag (PROTOCOL.md §17.3).
    public static let voiceResumesBit: UInt16 = 0x8000
}

/// An RFC 6464 audio level byte: bit 7 voice activity, bits 0–6 the level in −dBov (0 = loudest, 127 =
/// silence). The server ranks speakers by it without decoding their audio.
public struct VoiceLevel: RawRepresentable, Equatable, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `minusDBov` is clamped to 0…127.
    public init(voiceActivity: Bool, minusDBov: Int) {
        rawValue = (voiceActivity ? 0x80 : 0) | UInt8(Swift.min(127, Swift.max(0, minusDBov)))
    }

    /// No voice, −127 dBov.
    public static let silence = VoiceLevel(voiceActivity: false, minusDBov: 127)

    /// Bit 7: the sender's voice activity detector says this frame is speech.
    public var voiceActivity: Bool { rawValue & 0x80 != 0 }
    /// The level as a positive number of decibels below overload, 0…127.
    public var minusDBov: Int { Int(rawValue & 0x7F) }
    /// The level as a linear amplitude relative to overload, 10^(−dBov/20): 1 at 0 dBov.
    public var linearAmplitude: Float { Self.amplitudes[Int(rawValue & 0x7F)] }

    /// 10^(−k/20) for k = 0…127, as powers of 10^(−1/20) (the module has no libm).
    static let amplitudes: [Float] = {
        let step = 0.89125093813374556  // 10^(−1/20)
        var a = 1.0
        return (0..<128).map { _ in
            defer { a *= step }
            return Float(a)
        }
    }()
}

/// How a client hears others: every chosen speaker's own stream (relay) or one stream the server mixed.
public enum VoiceMode: UInt8, CaseIterable, Sendable {
    /// The server forwards each chosen speaker's Opus frames; the client decodes and spatialises them.
    case relay = 0
    /// The server decodes the chosen speakers, pans them for the listener's head and sends one stereo stream
    /// (speaker id `VoiceBundle.mixedSpeakerId`).
    case mix = 1

    public var name: String {
        switch self {
        case .relay: "relay"
        case .mix: "mix"
        }
    }
}

/// Why VOICE_MODE grants another mode than the client asked for.
public enum VoiceModeReason: UInt8, CaseIterable, Sendable {
    /// The mode asked for.
    case asRequested = 0
    /// Mix asked for, but the server's mixing capacity is used up: relay instead.
    case mixCapacityFull = 1
    /// Mix asked for, but this server (or world) does not mix.
    case mixUnavailable = 2

    public var name: String {
        switch self {
        case .asRequested: "as_requested"
        case .mixCapacityFull: "mix_capacity_full"
        case .mixUnavailable: "mix_unavailable"
        }
    }
}

/// Client → server, channel 2: one Opus packet of the client's microphone.
public struct VoiceFrame: Equatable, Sendable {
    /// Frame slot of the sender's clock: +1 per packet, and on through silences (wraps); PROTOCOL.md §17.1.
    public var sequence: UInt16
    public var level: VoiceLevel
    /// One Opus packet (RFC 6716), 1…1275 bytes; 20 ms by default, 10–60 ms allowed.
    public var opus: [UInt8]

    public init(sequence: UInt16, level: VoiceLevel, opus: [UInt8]) {
        self.sequence = sequence
        self.level = level
        self.opus = opus
    }

    /// A VOICE message read without copying its Opus bytes: what a relay needs to validate and forward it.
    public struct Header: Equatable, Sendable {
        public var sequence: UInt16
        public var level: VoiceLevel
        /// Where the Opus packet lies in the message.
        public var opus: Range<Int>
    }

    /// Decodes the fixed fields of a VOICE message (type byte included) with the same checks as
    /// `ClientMessage.decode`, leaving the Opus bytes in place.
    public static func header(_ bytes: [UInt8]) throws(WireError) -> Header {
        guard let type = bytes.first else { throw .truncated }
        guard type == MessageType.voice.rawValue else { throw .unknownMessageType(type) }
        guard bytes.count >= 6 else { throw .truncated }
        let sequence = UInt16(bytes[1]) | UInt16(bytes[2]) << 8
        let length = Int(bytes[4]) | Int(bytes[5]) << 8
        try VoiceFrame.checkLength(length)
        guard bytes.count - 6 >= length else { throw .truncated }
        guard bytes.count - 6 == length else { throw .trailingBytes(bytes.count - 6 - length) }
        return Header(sequence: sequence, level: VoiceLevel(rawValue: bytes[3]), opus: 6..<(6 + length))
    }

    static func checkLength(_ length: Int) throws(WireError) {
        guard length >= 1, length <= WireLimits.maxVoicePacketBytes else {
            throw .invalidField(field: "opusLength", value: UInt64(length))
        }
    }

    func write(to w: inout BitWriter) {
        precondition(
            !opus.isEmpty && opus.count <= WireLimits.maxVoicePacketBytes, "VOICE: an Opus packet is 1…1275 bytes")
        w.writeU8(MessageType.voice.rawValue)
        w.writeU16(sequence)
        w.writeU8(level.rawValue)
        w.writeU16(UInt16(opus.count))
        w.writeBytes(opus)
    }

    /// After the type byte.
    static func read(from r: inout BitReader) throws(WireError) -> VoiceFrame {
        let sequence = try r.readU16()
        let level = VoiceLevel(rawValue: try r.readU8())
        let opus = try r.readOpus()
        return VoiceFrame(sequence: sequence, level: level, opus: opus)
    }
}

/// Server → client, channel 2: every voice frame for this listener since the last flush, one message per
/// listener per flush (split into several when they do not fit 1200 bytes; see `VoiceBundleWriter`).
public struct VoiceBundle: Equatable, Sendable {
    /// Speaker id of the frames of the server's mix in mix mode; never an avatar id.
    public static let mixedSpeakerId: UInt16 = 0

    public struct Frame: Equatable, Sendable {
        /// The speaking avatar, or `VoiceBundle.mixedSpeakerId` for the mixed stream.
        public var speakerId: UInt16
        /// The speaker's VOICE sequence (the mixed stream's own sequence for the mix).
        public var sequence: UInt16
        public var level: VoiceLevel
        public var opus: [UInt8]
        /// The server did not forward this speaker's previous frame (as it received it) to this listener, or
        /// this is the first frame the listener gets from it: the stream resumes after the server chose not to
        /// route it, so a sequence gap before this frame is not loss (PROTOCOL.md §17.3).
        public var resumes: Bool

        public init(speakerId: UInt16, sequence: UInt16, level: VoiceLevel, opus: [UInt8], resumes: Bool = false) {
            self.speakerId = speakerId
            self.sequence = sequence
            self.level = level
            self.opus = opus
            self.resumes = resumes
        }
    }

    /// 1…255 frames, in the order the server received them.
    public var frames: [Frame]

    public init(frames: [Frame]) { self.frames = frames }

    /// Bytes one frame takes in a bundle: 7 bytes of fields plus the Opus packet.
    public static func frameBytes(opusLength: Int) -> Int { 7 + opusLength }

    func write(to w: inout BitWriter) {
        precondition(
            !frames.isEmpty && frames.count <= WireLimits.maxVoiceBundleFrames, "VOICE_BUNDLE holds 1…255 frames")
        w.writeU8(MessageType.voiceBundle.rawValue)
        w.writeU8(UInt8(frames.count))
        for f in frames {
            precondition(
                !f.opus.isEmpty && f.opus.count <= WireLimits.maxVoicePacketBytes,
                "VOICE_BUNDLE: an Opus packet is 1…1275 bytes")
            w.writeU16(f.speakerId)
            w.writeU16(f.sequence)
            w.writeU8(f.level.rawValue)
            w.writeU16(UInt16(f.opus.count) | (f.resumes ? WireLimits.voiceResumesBit : 0))
            w.writeBytes(f.opus)
        }
    }

    static func read(from r: inout BitReader) throws(WireError) -> VoiceBundle {
        let count = Int(try r.readU8())
        guard count >= 1 else { throw .invalidField(field: "frameCount", value: 0) }
        // Every frame takes at least 8 bytes: refuse a count the message cannot hold before allocating.
        guard count * 8 <= r.bitsRemaining >> 3 else { throw .truncated }
        var frames: [Frame] = []
        frames.reserveCapacity(count)
        for _ in 0..<count {
            let speaker = try r.readU16()
            let sequence = try r.readU16()
            let level = VoiceLevel(rawValue: try r.readU8())
            let field = try r.readU16()
            let length = Int(field & ~WireLimits.voiceResumesBit)
            try VoiceFrame.checkLength(length)
            frames.append(
                Frame(
                    speakerId: speaker, sequence: sequence, level: level, opus: try r.readBytes(count: length),
                    resumes: field & WireLimits.voiceResumesBit != 0))
        }
        return VoiceBundle(frames: frames)
    }
}

/// Builds VOICE_BUNDLE messages in a reused buffer, for the server's flush: append a listener's frames,
/// take the message, start the next. Appending copies the Opus bytes once, straight into the message.
///
///     writer.reset()
///     for frame in pending[listener] {
///         if !writer.append(speakerId: …, sequence: …, level: …, opus: bytes[range]) {
///             send(writer.finish()!)          // full: send what is there, then add the frame again
///             _ = writer.append(…)
///         }
///     }
///     if let message = writer.finish() { send(message) }
public struct VoiceBundleWriter: Sendable {
    /// The largest message this writer builds, in bytes (at least one maximal frame fits).
    public let maxBytes: Int
    @usableFromInline var buffer: [UInt8] = []
    public private(set) var frameCount = 0

    public init(maxBytes: Int = WireLimits.voiceBundleDatagramBytes) {
        self.maxBytes = Swift.max(maxBytes, 2 + VoiceBundle.frameBytes(opusLength: WireLimits.maxVoicePacketBytes))
        buffer.reserveCapacity(self.maxBytes)
        reset()
    }

    public var isEmpty: Bool { frameCount == 0 }
    /// Bytes of the message so far.
    public var byteCount: Int { buffer.count }

    /// Drops the frames appended so far.
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(MessageType.voiceBundle.rawValue)
        buffer.append(0)
        frameCount = 0
    }

    /// Adds one frame. False (and nothing added) when it does not fit into `maxBytes` or the 255-frame limit:
    /// take the message with `finish` and append again. An Opus packet outside 1…1275 bytes is never added
    /// (also false): a caller should have validated it. `resumes` sets the frame's resumes bit.
    @inlinable @discardableResult
    public mutating func append<Bytes: Collection<UInt8>>(
        speakerId: UInt16, sequence: UInt16, level: VoiceLevel, opus: Bytes, resumes: Bool = false
    ) -> Bool {
        // Inlinable so a relay's `[UInt8]` frames reach the byte copy below specialised: the generic form across
        // the module boundary went through witness calls per frame (a quarter of the relay's time).
        let added = opus.withContiguousStorageIfAvailable {
            append(speakerId: speakerId, sequence: sequence, level: level, opusBytes: UnsafeRawBufferPointer($0), resumes: resumes)
        }
        if let added { return added }
        return Array(opus).withUnsafeBytes {
            append(speakerId: speakerId, sequence: sequence, level: level, opusBytes: $0, resumes: resumes)
        }
    }

    @usableFromInline
    mutating func append(
        speakerId: UInt16, sequence: UInt16, level: VoiceLevel, opusBytes opus: UnsafeRawBufferPointer, resumes: Bool
    ) -> Bool {
        let length = opus.count
        guard length >= 1, length <= WireLimits.maxVoicePacketBytes else { return false }
        guard frameCount < WireLimits.maxVoiceBundleFrames,
            buffer.count + VoiceBundle.frameBytes(opusLength: length) <= maxBytes
        else { return false }
        let field = UInt16(length) | (resumes ? WireLimits.voiceResumesBit : 0)
        let header: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            UInt8(truncatingIfNeeded: speakerId), UInt8(truncatingIfNeeded: speakerId >> 8),
            UInt8(truncatingIfNeeded: sequence), UInt8(truncatingIfNeeded: sequence >> 8), level.rawValue,
            UInt8(truncatingIfNeeded: field), UInt8(truncatingIfNeeded: field >> 8)
        )
        withUnsafeBytes(of: header) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: opus)
        frameCount += 1
        return true
    }

    /// Hands the message to `use` (false, and `use` not called, when no frame was added), then starts afresh.
    /// Without allocating when `use` keeps no copy: the writer's buffer is lent, then reused for the next message.
    @discardableResult
    public mutating func finish(_ use: ([UInt8]) -> Void) -> Bool {
        guard frameCount > 0 else { return false }
        buffer[1] = UInt8(frameCount)
        use(buffer)
        reset()
        return true
    }

    /// The message (nil when no frame was added), and a fresh start for the next one.
    public mutating func finish() -> [UInt8]? {
        var message: [UInt8]?
        finish { message = $0 }
        return message
    }
}

/// Client → server, control channel, right after HELLO (and whenever the client changes its mind): how it
/// wants to hear others. Answered by VOICE_MODE.
public struct VoiceSetup: Equatable, Sendable {
    public var requestedMode: VoiceMode
    public init(requestedMode: VoiceMode) { self.requestedMode = requestedMode }
}

/// Server → client, control channel: the mode the client gets. Sent in answer to VOICE_SETUP, and again
/// whenever the server changes it.
public struct VoiceModeGrant: Equatable, Sendable {
    public var mode: VoiceMode
    public var reason: VoiceModeReason

    public init(mode: VoiceMode, reason: VoiceModeReason) {
        self.mode = mode
        self.reason = reason
    }
}

/// What VOICE_CONTROL asks for.
public enum VoiceControlAction: UInt8, CaseIterable, Sendable {
    /// Stop relaying my voice to anyone (target 0).
    case muteSelf = 0
    /// Undo `muteSelf` (target 0); a moderator mute stays.
    case unmuteSelf = 1
    /// Never send me the target's voice.
    case block = 2
    case unblock = 3
    /// A moderator silences the target for everyone (refused for other roles).
    case moderatorMute = 4
    case moderatorUnmute = 5

    /// The self actions carry target 0; the others an avatar id (never 0).
    public var hasTarget: Bool { self != .muteSelf && self != .unmuteSelf }

    public var name: String {
        switch self {
        case .muteSelf: "mute_self"
        case .unmuteSelf: "unmute_self"
        case .block: "block"
        case .unblock: "unblock"
        case .moderatorMute: "moderator_mute"
        case .moderatorUnmute: "moderator_unmute"
        }
    }
}

/// Client → server, control channel: mute, block and moderate.
public struct VoiceControl: Equatable, Sendable {
    public var action: VoiceControlAction
    /// 0 for `muteSelf`/`unmuteSelf`, otherwise the avatar concerned.
    public var target: UInt16

    public init(action: VoiceControlAction, target: UInt16 = 0) {
        self.action = action
        self.target = target
    }
}

extension BitReader {
    /// u16 length (1…1275), then the Opus bytes.
    mutating func readOpus() throws(WireError) -> [UInt8] {
        let length = Int(try readU16())
        try VoiceFrame.checkLength(length)
        return try readBytes(count: length)
    }

    mutating func readVoiceMode(field: String) throws(WireError) -> VoiceMode {
        let v = try readU8()
        guard let mode = VoiceMode(rawValue: v) else { throw .invalidField(field: field, value: UInt64(v)) }
        return mode
    }

    mutating func readVoiceControl() throws(WireError) -> VoiceControl {
        let a = try readU8()
        guard let action = VoiceControlAction(rawValue: a) else { throw .invalidField(field: "action", value: UInt64(a)) }
        let target = try readU16()
        guard (target != 0) == action.hasTarget else { throw .invalidField(field: "target", value: UInt64(target)) }
        return VoiceControl(action: action, target: target)
    }

    mutating func readVoiceModeGrant() throws(WireError) -> VoiceModeGrant {
        let mode = try readVoiceMode(field: "mode")
        let r = try readU8()
        guard let reason = VoiceModeReason(rawValue: r) else { throw .invalidField(field: "reason", value: UInt64(r)) }
        return VoiceModeGrant(mode: mode, reason: reason)
    }
}
