/// The message kinds a session is rate limited on.
public enum RateLimitedKind: Int, Sendable, CaseIterable, CustomStringConvertible {
    case pose
    /// One voice frame; its payload bytes also count against the voice bit rate.
    case voiceFrame
    case chat

    /// Stable name for logs and counters.
    public var description: String {
        switch self {
        case .pose: "pose"
        case .voiceFrame: "voice_frame"
        case .chat: "chat"
        }
    }
}
