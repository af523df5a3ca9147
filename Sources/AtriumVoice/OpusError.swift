import COpus

/// A libopus failure: the negative `OPUS_*` code and `opus_strerror`'s text.
public struct OpusError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    /// Builds the error from a libopus return code, with its `opus_strerror` text and context.
    init(code: Int32, context: String) {
        // C call: opus_strerror returns a pointer to a static, NUL-terminated string for any code.
        let text = opus_strerror(code).map { String(cString: $0) } ?? "unknown error"
        self.init(code: code, message: "\(context): \(text)")
    }

    public var description: String { "OpusError(\(code)): \(message)" }

    static func badArgument(_ context: String) -> OpusError { OpusError(code: OPUS_BAD_ARG, context: context) }
}

/// `OPUS_APPLICATION_*`.
public enum OpusApplication: Sendable {
    /// Speech-optimised (SILK/hybrid preferred); the right choice for voice chat.
    case voip
    /// General audio / music.
    case audio
    /// Lowest delay, CELT only.
    case restrictedLowDelay

    var rawValue: Int32 {
        switch self {
        case .voip: OPUS_APPLICATION_VOIP
        case .audio: OPUS_APPLICATION_AUDIO
        case .restrictedLowDelay: OPUS_APPLICATION_RESTRICTED_LOWDELAY
        }
    }
}

/// Shared validation of the formats libopus accepts.
enum OpusFormat {
    static let sampleRates: Set<Int32> = [8000, 12000, 16000, 24000, 48000]

    static func validate(sampleRate: Int32, channels: Int) throws(OpusError) {
        guard sampleRates.contains(sampleRate) else {
            throw .badArgument("sample rate \(sampleRate) is not one of 8000/12000/16000/24000/48000")
        }
        guard channels == 1 || channels == 2 else { throw .badArgument("channel count \(channels) is not 1 or 2") }
    }

    /// Samples per channel in 2.5 ms.
    static func quantum(_ sampleRate: Int32) -> Int { Int(sampleRate) / 400 }

    /// The frame sizes opus_encode accepts: 2.5, 5, 10, 20, 40 or 60 ms.
    static func isEncodableFrame(_ samples: Int, sampleRate: Int32) -> Bool {
        [1, 2, 4, 8, 16, 24].contains { $0 * quantum(sampleRate) == samples }
    }

    /// The largest frame a packet can decode to: 120 ms.
    static func maximumFrame(_ sampleRate: Int32) -> Int { Int(sampleRate) * 120 / 1000 }
}
