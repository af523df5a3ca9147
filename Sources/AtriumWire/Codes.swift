/// Protocol versions. The client offers [minVersion, maxVersion] in HELLO; the server picks the highest
/// version both support or answers DENY(version_mismatch) carrying its own range.
public enum ProtocolVersion {
    /// Version 5: arrivals and departures are announced in ROSTER and DEPARTED messages, many avatars per
    /// message, instead of one AVATAR_JOINED / AVATAR_LEFT each (PROTOCOL.md §11.1 has the history). A v4
    /// client would not know them, so v4 is refused.
    public static let current: UInt16 = 5
    public static let supported: ClosedRange<UInt16> = 5...5

    /// The highest version in both the client's range and `supported`; nil if there is none
    /// (including an empty client range, clientMin > clientMax).
    public static func negotiate(clientMin: UInt16, clientMax: UInt16) -> UInt16? {
        guard clientMin <= clientMax else { return nil }
        let low = Swift.max(clientMin, supported.lowerBound)
        let high = Swift.min(clientMax, supported.upperBound)
        return low <= high ? high : nil
    }
}

/// ENet channels; the host is created with `Channel.count` channels.
public enum Channel: UInt8, Sendable, CaseIterable {
    /// Reliable, ordered: handshake, membership events, chat, closing.
    case control = 0
    /// Unreliable, sequenced (ENet drops packets older than the newest received): poses, snapshots, ping/pong.
    case state = 1
    /// Unreliable, unsequenced: VOICE and VOICE_BUNDLE (PROTOCOL.md §17).
    case voice = 2

    public static let count = 3
}

/// Size limits of v2. Strings are measured in UTF-8 bytes.
public enum WireLimits {
    public static let maxDisplayNameBytes = 32
    public static let maxWorldIdBytes = 64
    public static let maxChatBytes = 500
    public static let maxDetailBytes = 200
    /// Target size of one SNAPSHOT datagram (payload handed to ENet).
    public static let snapshotDatagramBytes = 1200
    /// partCount is a u8 and at least 1.
    public static let maxSnapshotParts = 255

    /// 1...32 bytes of UTF-8 without control characters (U+0000–U+001F, U+007F–U+009F).
    public static func isValidDisplayName(_ s: String) -> Bool {
        let n = s.utf8.count
        return n >= 1 && n <= maxDisplayNameBytes && !s.unicodeScalars.contains(where: isControl)
    }

    /// 1...64 bytes of [a-z0-9-].
    public static func isValidWorldId(_ s: String) -> Bool {
        isValidWorldId(utf8: s.utf8)
    }

    /// 1...500 bytes of UTF-8.
    public static func isValidChatText(_ s: String) -> Bool {
        let n = s.utf8.count
        return n >= 1 && n <= maxChatBytes
    }

    /// 0...200 bytes of UTF-8.
    public static func isValidDetail(_ s: String) -> Bool {
        s.utf8.count <= maxDetailBytes
    }

    static func isValidWorldId(utf8: some Collection<UInt8>) -> Bool {
        let n = utf8.count
        guard n >= 1 && n <= maxWorldIdBytes else { return false }
        for b in utf8 {
            let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D
            if !ok { return false }
        }
        return true
    }

    /// C0 controls, DEL and C1 controls (Unicode general category Cc).
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (u.value >= 0x7F && u.value <= 0x9F)
    }
}

/// A participant's role (u8 on the wire). Unknown codes are a decode error.
public enum Role: UInt8, CaseIterable, Sendable {
    case visitor = 0
    case exhibitor = 1
    case presenter = 2
    case moderator = 3
    case teacher = 4
    case student = 5
    case villager = 6
    case villageHead = 7

    /// snake_case name, as used in configuration and logs.
    public var name: String {
        switch self {
        case .visitor: "visitor"
        case .exhibitor: "exhibitor"
        case .presenter: "presenter"
        case .moderator: "moderator"
        case .teacher: "teacher"
        case .student: "student"
        case .villager: "villager"
        case .villageHead: "village_head"
        }
    }

    public init?(name: String) {
        guard let r = Role.allCases.first(where: { $0.name == name }) else { return nil }
        self = r
    }
}

/// Why a session ended or a request was refused. One table for DENY, CLOSING, DEPARTED (AVATAR_LEFT in v4) and
/// ENet's 32-bit disconnect data. Unknown codes in a message are a decode error.
public enum ReasonCode: UInt8, CaseIterable, Sendable, Error {
    case none = 0
    case serverClosing = 1
    case versionMismatch = 2
    case unknownWorld = 3
    case worldFull = 4
    case invalidName = 5
    case roleNotAllowed = 6
    case malformedMessage = 7
    case unexpectedMessage = 8
    case helloTimeout = 9
    case timeout = 10
    case kicked = 11
    case rateLimited = 12
    case serverFull = 13
    /// The first packet was not a connect token the server accepts (malformed, forged, expired, unknown key,
    /// or already used from another address); only ever ENet disconnect data.
    case invalidToken = 14
    /// No connect token within the server's deadline after connecting; ENet disconnect data.
    case tokenTimeout = 15

    /// snake_case name.
    public var name: String {
        switch self {
        case .none: "none"
        case .serverClosing: "server_closing"
        case .versionMismatch: "version_mismatch"
        case .unknownWorld: "unknown_world"
        case .worldFull: "world_full"
        case .invalidName: "invalid_name"
        case .roleNotAllowed: "role_not_allowed"
        case .malformedMessage: "malformed_message"
        case .unexpectedMessage: "unexpected_message"
        case .helloTimeout: "hello_timeout"
        case .timeout: "timeout"
        case .kicked: "kicked"
        case .rateLimited: "rate_limited"
        case .serverFull: "server_full"
        case .invalidToken: "invalid_token"
        case .tokenTimeout: "token_timeout"
        }
    }

    public init?(name: String) {
        guard let r = ReasonCode.allCases.first(where: { $0.name == name }) else { return nil }
        self = r
    }

    /// The value to pass as ENet disconnect data.
    public var disconnectData: UInt32 { UInt32(rawValue) }

    /// The reason carried by ENet disconnect data; nil for values outside the table.
    public init?(disconnectData: UInt32) {
        guard disconnectData <= UInt32(UInt8.max), let r = ReasonCode(rawValue: UInt8(disconnectData)) else { return nil }
        self = r
    }
}

/// The first byte of every message.
public enum MessageType: UInt8, CaseIterable, Sendable {
    // client → server
    case hello = 0x01
    case pose = 0x02
    case chat = 0x03
    case ping = 0x04
    // client → server, voice (VoiceMessages.swift)
    case voice = 0x10
    case voiceSetup = 0x11
    case voiceControl = 0x12
    // server → client
    case welcome = 0x81
    case deny = 0x82
    case snapshot = 0x83
    case avatarJoined = 0x84
    case avatarLeft = 0x85
    case chatRelay = 0x86
    case pong = 0x87
    case closing = 0x88
    case roster = 0x89
    case departed = 0x8A
    // server → client, voice
    case voiceBundle = 0x90
    case voiceMode = 0x91
}
