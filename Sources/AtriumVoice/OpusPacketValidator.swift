/// The framing of an Opus packet that passed RFC 6716 §3.4 (see ``OpusPacketValidator``).
public struct OpusPacketLayout: Sendable, Equatable {
    /// TOC `config` (0…31): mode, bandwidth and frame duration.
    public var config: UInt8
    /// TOC `s` bit: the frames are coded in stereo.
    public var stereo: Bool
    /// TOC `c`: 0 one frame, 1 two equal frames, 2 two frames of different sizes, 3 an arbitrary number.
    public var code: UInt8
    /// Frames in the packet (1…48).
    public var frameCount: Int
    /// Samples per channel in each frame at 48 kHz (120, 240, 480, 960, 1920 or 2880).
    public var samplesPerFrame: Int
    /// Code 3 only: variable frame sizes.
    public var variableBitrate: Bool
    /// Code 3 only: padding bytes, counting the padding-length bytes themselves.
    public var paddingBytes: Int

    /// Samples per channel of the whole packet at 48 kHz (at most 5760 = 120 ms).
    public var samples48k: Int { frameCount * samplesPerFrame }
    /// Duration of the packet in microseconds.
    public var durationMicros: Int { samples48k * 1000 / 48 }
}

/// Why a packet breaks RFC 6716 §3.4. `rule` names the requirement (R1…R7).
public enum OpusPacketViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// R1: a packet is at least one byte.
    case empty
    /// R2: a frame is longer than 1275 bytes (`frame` is its index in the packet).
    case frameTooLong(frame: Int, bytes: Int)
    /// R3: a code 1 packet has an even total length (its two frames cannot be equal).
    case code1OddPayload(bytes: Int)
    /// R4: a code 2 packet has no room for its first frame's length, or that length exceeds what remains.
    case code2FrameLengthOverrun
    /// R5: a code 3 packet declares 0 frames.
    case code3NoFrames
    /// R5: a code 3 packet holds more than 120 ms.
    case code3TooLong(micros: Int)
    /// R6: a CBR code 3 packet lacks its frame-count byte or padding, or its payload does not split into M equal frames.
    case code3CBRLayout
    /// R7: a VBR code 3 packet is too short for its header, frame lengths, first M − 1 frames and padding.
    case code3VBRLayout

    /// The RFC 6716 §3.4 requirement this breaks.
    public var rule: String {
        switch self {
        case .empty: "R1"
        case .frameTooLong: "R2"
        case .code1OddPayload: "R3"
        case .code2FrameLengthOverrun: "R4"
        case .code3NoFrames, .code3TooLong: "R5"
        case .code3CBRLayout: "R6"
        case .code3VBRLayout: "R7"
        }
    }

    public var description: String {
        switch self {
        case .empty: "R1: empty packet"
        case .frameTooLong(let frame, let bytes): "R2: frame \(frame) is \(bytes) bytes (> 1275)"
        case .code1OddPayload(let bytes): "R3: code 1 payload of \(bytes) bytes is not two equal frames"
        case .code2FrameLengthOverrun: "R4: code 2 first frame length missing or beyond the packet"
        case .code3NoFrames: "R5: code 3 packet with 0 frames"
        case .code3TooLong(let micros): "R5: code 3 packet of \(micros) µs (> 120 ms)"
        case .code3CBRLayout: "R6: CBR code 3 packet does not split into equal frames"
        case .code3VBRLayout: "R7: VBR code 3 packet too short for its header, lengths, frames and padding"
        }
    }
}

/// Checks an Opus packet's framing against RFC 6716 §3.4 (requirements R1–R7) in pure Swift, without
/// libopus: what a relay does before forwarding a packet it never decodes. It reads the TOC byte, the
/// frame count and the frame lengths (one or two bytes each, §3.2.1), code 3 padding; it does not look
/// inside the frames.
public enum OpusPacketValidator {
    /// RFC 6716: no frame is longer than this.
    public static let maxFrameBytes = 1275
    /// RFC 6716: no packet holds more than 120 ms (5760 samples per channel at 48 kHz).
    public static let maxPacketSamples48k = 5760

    /// Samples per channel at 48 kHz of one frame of TOC `config` (RFC 6716 table 2).
    public static func samplesPerFrame(config: UInt8) -> Int {
        let c = Int(config & 31)
        if c < 12 { return [480, 960, 1920, 2880][c & 3] }  // SILK-only: 10, 20, 40, 60 ms
        if c < 16 { return [480, 960][c & 1] }  // hybrid: 10, 20 ms
        return [120, 240, 480, 960][c & 3]  // CELT-only: 2.5, 5, 10, 20 ms
    }

    public static func validate(_ packet: [UInt8]) throws(OpusPacketViolation) -> OpusPacketLayout {
        try packet.withUnsafeBufferPointer { (p) throws(OpusPacketViolation) in try validate(p) }
    }

    public static func validate(_ packet: ArraySlice<UInt8>) throws(OpusPacketViolation) -> OpusPacketLayout {
        try packet.withUnsafeBufferPointer { (p) throws(OpusPacketViolation) in try validate(p) }
    }

    /// Every index below is checked against `p.count` before it is read.
    public static func validate(_ p: UnsafeBufferPointer<UInt8>) throws(OpusPacketViolation) -> OpusPacketLayout {
        let n = p.count
        guard n >= 1 else { throw .empty }
        let toc = p[0]
        var layout = OpusPacketLayout(
            config: toc >> 3, stereo: toc & 4 != 0, code: toc & 3, frameCount: 1,
            samplesPerFrame: samplesPerFrame(config: toc >> 3), variableBitrate: false, paddingBytes: 0)
        switch toc & 3 {
        case 0:
            if n - 1 > maxFrameBytes { throw .frameTooLong(frame: 0, bytes: n - 1) }
        case 1:
            layout.frameCount = 2
            guard (n - 1) & 1 == 0 else { throw .code1OddPayload(bytes: n - 1) }
            if (n - 1) / 2 > maxFrameBytes { throw .frameTooLong(frame: 0, bytes: (n - 1) / 2) }
        case 2:
            layout.frameCount = 2
            var at = 1
            guard let first = frameLength(p, at: &at), first <= n - at else { throw .code2FrameLengthOverrun }
            let second = n - at - first
            if second > maxFrameBytes { throw .frameTooLong(frame: 1, bytes: second) }
        default:
            guard n >= 2 else { throw .code3CBRLayout }  // R6/R7: the frame-count byte is missing
            let countByte = p[1]
            let vbr = countByte & 0x80 != 0
            let padded = countByte & 0x40 != 0
            let m = Int(countByte & 0x3F)
            layout.frameCount = m
            layout.variableBitrate = vbr
            guard m >= 1 else { throw .code3NoFrames }
            let samples = m * layout.samplesPerFrame
            guard samples <= maxPacketSamples48k else { throw .code3TooLong(micros: samples * 1000 / 48) }
            let layoutError: OpusPacketViolation = vbr ? .code3VBRLayout : .code3CBRLayout
            var at = 2
            // Padding length (§3.2.5): bytes of 255 add 254 and continue; the last byte (0…254) ends it.
            var padding = 0
            if padded {
                while true {
                    guard at < n else { throw layoutError }
                    let b = Int(p[at])
                    at += 1
                    padding += b == 255 ? 255 : b + 1  // the length byte itself plus the bytes it announces
                    if b != 255 { break }
                }
            }
            layout.paddingBytes = padding
            // Bytes the padding announces (excluding the length bytes, already consumed).
            let trailing = padding - (at - 2)
            if vbr {
                var total = 0
                for k in 0..<(m - 1) {
                    guard let length = frameLength(p, at: &at) else { throw .code3VBRLayout }
                    if length > maxFrameBytes { throw .frameTooLong(frame: k, bytes: length) }
                    total += length
                }
                let last = n - at - total - trailing
                guard last >= 0 else { throw .code3VBRLayout }
                if last > maxFrameBytes { throw .frameTooLong(frame: m - 1, bytes: last) }
            } else {
                let payload = n - at - trailing
                guard payload >= 0, payload % m == 0 else { throw .code3CBRLayout }
                if payload / m > maxFrameBytes { throw .frameTooLong(frame: 0, bytes: payload / m) }
            }
        }
        return layout
    }

    /// One frame length (§3.2.1): 0…251 in one byte, 252…1275 in two (second × 4 + first). Nil when the
    /// bytes run out.
    @inline(__always)
    static func frameLength(_ p: UnsafeBufferPointer<UInt8>, at i: inout Int) -> Int? {
        guard i < p.count else { return nil }
        let first = Int(p[i])
        i += 1
        if first < 252 { return first }
        guard i < p.count else { return nil }
        let second = Int(p[i])
        i += 1
        return second * 4 + first
    }
}
