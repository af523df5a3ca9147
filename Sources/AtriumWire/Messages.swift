// Every message of the protocol (v5). Layouts (all fields in stream order; see docs/PROTOCOL.md):
//
// client → server
//   0x01 HELLO   ch0  u16 minVersion, u16 maxVersion, u8 requestedRole, string8 worldId, string8 displayName
//   0x02 POSE    ch1  u32 inputSequence, u32 clientTimeMs, u32 ackSnapshot, PoseBits
//   0x03 CHAT    ch0  string16 text
//   0x04 PING    ch1  u64 clientTimeMicros
// server → client
//   0x81 WELCOME ch0  u16 version, u16 clientId, u8 role, u16 tickRateHz, u64 serverTimeMicros,
//                     string8 worldId, 32 bytes worldContentHash, 6 × f32 bounds (min xyz, max xyz), u16 capacity
//   0x82 DENY    ch0  u8 reason, u16 serverMinVersion, u16 serverMaxVersion, string8 detail
//   0x83 SNAPSHOT ch1 u32 sequence, u64 serverTimeMicros, u32 baseline, u8 partIndex, u8 partCount,
//                     u16 entryCount, entryCount × entry (DeltaSnapshot.swift)
//   0x84 AVATAR_JOINED ch0  u16 avatarId, u8 role, string8 displayName
//   0x85 AVATAR_LEFT   ch0  u16 avatarId, u8 reason
//   0x86 CHAT_RELAY    ch0  u16 fromAvatarId, string16 text
//   0x87 PONG    ch1  u64 clientTimeMicros, u64 serverTimeMicros
//   0x88 CLOSING ch0  u8 reason, string8 detail
//   0x89 ROSTER  ch0  u8 count (1…255), count × (u16 avatarId, u8 role, string8 displayName)
//   0x8A DEPARTED ch0 u8 count (1…255), count × (u16 avatarId, u8 reason)
// voice: VOICE 0x10, VOICE_SETUP 0x11, VOICE_CONTROL 0x12, VOICE_BUNDLE 0x90, VOICE_MODE 0x91 (VoiceMessages.swift)
//
// Encoders cut strings that are longer than their field's limit at a scalar boundary, and otherwise write
// what they are given; validate user input with `WireLimits.isValid…` first. Decoders check everything.

/// Client → server, first message: the versions the client speaks, the world and the name it wants.
public struct Hello: Equatable, Sendable {
    public var minVersion: UInt16
    public var maxVersion: UInt16
    public var requestedRole: Role
    /// 1...64 bytes of [a-z0-9-].
    public var worldId: String
    /// 1...32 bytes of UTF-8, no control characters.
    public var displayName: String

    public init(minVersion: UInt16, maxVersion: UInt16, requestedRole: Role, worldId: String, displayName: String) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.requestedRole = requestedRole
        self.worldId = worldId
        self.displayName = displayName
    }

    /// Reads only the version range of a HELLO (type byte and the two u16 that follow), which keeps that
    /// layout in every protocol version. A server checks it before decoding the rest, so that a client
    /// of a newer version gets DENY(version_mismatch) rather than CLOSING(malformed_message).
    public static func peekVersionRange(_ bytes: [UInt8]) -> (min: UInt16, max: UInt16)? {
        guard bytes.count >= 5, bytes[0] == MessageType.hello.rawValue else { return nil }
        return (UInt16(bytes[1]) | UInt16(bytes[2]) << 8, UInt16(bytes[3]) | UInt16(bytes[4]) << 8)
    }
}

/// Client → server, at the client's rate: its newest pose.
public struct PoseInput: Equatable, Sendable {
    /// Increases by one per POSE sent.
    public var inputSequence: UInt32
    /// The client's monotonic clock in milliseconds (wraps).
    public var clientTimeMs: UInt32
    /// Newest snapshot sequence received; 0 = none yet.
    public var ackSnapshot: UInt32
    public var pose: AvatarPose

    public init(inputSequence: UInt32, clientTimeMs: UInt32, ackSnapshot: UInt32, pose: AvatarPose) {
        self.inputSequence = inputSequence
        self.clientTimeMs = clientTimeMs
        self.ackSnapshot = ackSnapshot
        self.pose = pose
    }
}

/// Client → server: a chat line (1...500 bytes of UTF-8).
public struct ChatSend: Equatable, Sendable {
    public var text: String
    public init(text: String) { self.text = text }
}

/// Client → server: clock probe, answered by PONG.
public struct Ping: Equatable, Sendable {
    public var clientTimeMicros: UInt64
    public init(clientTimeMicros: UInt64) { self.clientTimeMicros = clientTimeMicros }
}

/// Server → client: the join succeeded.
public struct Welcome: Equatable, Sendable {
    /// The negotiated protocol version.
    public var version: UInt16
    /// The joiner's own avatar id; never 0.
    public var clientId: UInt16
    public var role: Role
    public var tickRateHz: UInt16
    /// The server's monotonic clock, microseconds (arbitrary epoch).
    public var serverTimeMicros: UInt64
    public var worldId: String
    /// SHA-256 of the world file: exactly 32 bytes.
    public var worldContentHash: [UInt8]
    /// The bounds every pose of this world is quantized in; build a `PoseCodec` from them.
    public var bounds: WorldBounds
    public var capacity: UInt16

    public init(
        version: UInt16, clientId: UInt16, role: Role, tickRateHz: UInt16, serverTimeMicros: UInt64, worldId: String,
        worldContentHash: [UInt8], bounds: WorldBounds, capacity: UInt16
    ) {
        self.version = version
        self.clientId = clientId
        self.role = role
        self.tickRateHz = tickRateHz
        self.serverTimeMicros = serverTimeMicros
        self.worldId = worldId
        self.worldContentHash = worldContentHash
        self.bounds = bounds
        self.capacity = capacity
    }

    public static let contentHashBytes = 32
}

/// Server → client: the join was refused; the server disconnects after sending it.
public struct Deny: Equatable, Sendable {
    public var reason: ReasonCode
    public var serverMinVersion: UInt16
    public var serverMaxVersion: UInt16
    /// 0...200 bytes of UTF-8, for humans.
    public var detail: String

    public init(reason: ReasonCode, serverMinVersion: UInt16, serverMaxVersion: UInt16, detail: String) {
        self.reason = reason
        self.serverMinVersion = serverMinVersion
        self.serverMaxVersion = serverMaxVersion
        self.detail = detail
    }
}

/// Server → client: one received SNAPSHOT part (protocol v2), header decoded, entries still encoded.
///
/// Entries are deltas against the baseline view the header names, so they can only be decoded with it:
/// look the view up by `baseline` (`SnapshotViewRing.view(_:)`), then call `entries(baseline:codec:)` (or
/// let a `SnapshotReceiver` do all of it). `ServerMessage.decode` checks the header only.
public struct Snapshot: Equatable, Sendable {
    public let header: SnapshotHeader
    /// The whole message, type byte included.
    public let bytes: [UInt8]

    /// Checks the header (`DeltaSnapshot.decodeHeader`) and keeps the bytes.
    public init(_ bytes: [UInt8]) throws(WireError) {
        header = try DeltaSnapshot.decodeHeader(bytes)
        self.bytes = bytes
    }

    /// `header` already read from `bytes`.
    init(header: SnapshotHeader, bytes: [UInt8]) {
        self.header = header
        self.bytes = bytes
    }

    public var sequence: UInt32 { header.sequence }
    public var serverTimeMicros: UInt64 { header.serverTimeMicros }
    public var baseline: UInt32 { header.baseline }
    public var partIndex: UInt8 { header.partIndex }
    public var partCount: UInt8 { header.partCount }

    /// The entries, decoded against `baseline` (the view named by `header.baseline`).
    public func entries(baseline: SnapshotView, codec: PoseCodec) throws(WireError) -> [SnapshotEntry] {
        try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec).entries
    }
}

/// Server → client: an avatar is present. Servers since v5 send these in ROSTER messages (`Roster`), not
/// one AVATAR_JOINED each.
public struct AvatarJoined: Equatable, Sendable {
    public var avatarId: UInt16
    public var role: Role
    public var displayName: String

    public init(avatarId: UInt16, role: Role, displayName: String) {
        self.avatarId = avatarId
        self.role = role
        self.displayName = displayName
    }
}

/// Server → client: an avatar is gone. Servers since v5 send these in DEPARTED messages (`Departed`), not
/// one AVATAR_LEFT each.
public struct AvatarLeft: Equatable, Sendable {
    public var avatarId: UInt16
    public var reason: ReasonCode

    public init(avatarId: UInt16, reason: ReasonCode) {
        self.avatarId = avatarId
        self.reason = reason
    }
}

/// Server → client: a chat line from an avatar.
public struct ChatRelay: Equatable, Sendable {
    public var fromAvatarId: UInt16
    public var text: String

    public init(fromAvatarId: UInt16, text: String) {
        self.fromAvatarId = fromAvatarId
        self.text = text
    }
}

/// Server → client: answer to PING.
public struct Pong: Equatable, Sendable {
    /// Echoed from PING.
    public var clientTimeMicros: UInt64
    /// The server's clock when it answered.
    public var serverTimeMicros: UInt64

    public init(clientTimeMicros: UInt64, serverTimeMicros: UInt64) {
        self.clientTimeMicros = clientTimeMicros
        self.serverTimeMicros = serverTimeMicros
    }
}

/// Server → client: sent reliably just before the server disconnects the peer.
public struct Closing: Equatable, Sendable {
    public var reason: ReasonCode
    public var detail: String

    public init(reason: ReasonCode, detail: String) {
        self.reason = reason
        self.detail = detail
    }
}

// MARK: - Field helpers

extension BitReader {
    mutating func readRole(field: String) throws(WireError) -> Role {
        let v = try readU8()
        guard let role = Role(rawValue: v) else { throw .invalidField(field: field, value: UInt64(v)) }
        return role
    }

    mutating func readReason() throws(WireError) -> ReasonCode {
        let v = try readU8()
        guard let reason = ReasonCode(rawValue: v) else { throw .invalidField(field: "reason", value: UInt64(v)) }
        return reason
    }

    mutating func readWorldId() throws(WireError) -> String {
        let raw = try readString8Bytes(field: "worldId", limit: WireLimits.maxWorldIdBytes)
        // [a-z0-9-] is ASCII, hence valid UTF-8.
        guard WireLimits.isValidWorldId(utf8: raw) else { throw .invalidString(field: "worldId") }
        return String(decoding: raw, as: UTF8.self)
    }

    mutating func readDisplayName() throws(WireError) -> String {
        let s = try readString8(field: "displayName", limit: WireLimits.maxDisplayNameBytes)
        guard !s.isEmpty, !s.unicodeScalars.contains(where: WireLimits.isControl) else {
            throw .invalidString(field: "displayName")
        }
        return s
    }

    mutating func readChatText() throws(WireError) -> String {
        let s = try readString16(field: "text", limit: WireLimits.maxChatBytes)
        guard !s.isEmpty else { throw .invalidString(field: "text") }
        return s
    }

    mutating func readDetail() throws(WireError) -> String {
        try readString8(field: "detail", limit: WireLimits.maxDetailBytes)
    }

    mutating func readBounds() throws(WireError) -> WorldBounds {
        let b = WorldBounds(
            min: Vec3(try readF32(), try readF32(), try readF32()),
            max: Vec3(try readF32(), try readF32(), try readF32()))
        for (lo, hi, axis) in [(b.min.x, b.max.x, "x"), (b.min.y, b.max.y, "y"), (b.min.z, b.max.z, "z")] {
            if !lo.isFinite { throw .invalidField(field: "bounds.min.\(axis)", value: UInt64(lo.bitPattern)) }
            if !hi.isFinite { throw .invalidField(field: "bounds.max.\(axis)", value: UInt64(hi.bitPattern)) }
            if WorldBounds.axisExtent(lo, hi) == nil {
                throw .invalidField(field: "bounds.max.\(axis)", value: UInt64(hi.bitPattern))
            }
        }
        return b
    }
}

extension BitWriter {
    mutating func writeBounds(_ b: WorldBounds) {
        writeF32(b.min.x); writeF32(b.min.y); writeF32(b.min.z)
        writeF32(b.max.x); writeF32(b.max.y); writeF32(b.max.z)
    }
}

// MARK: - Client messages

/// Everything a client sends.
public enum ClientMessage: Equatable, Sendable {
    case hello(Hello)
    case pose(PoseInput)
    case chat(ChatSend)
    case ping(Ping)
    case voice(VoiceFrame)
    case voiceSetup(VoiceSetup)
    case voiceControl(VoiceControl)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .pose: .pose
        case .chat: .chat
        case .ping: .ping
        case .voice: .voice
        case .voiceSetup: .voiceSetup
        case .voiceControl: .voiceControl
        }
    }

    public var channel: Channel {
        switch self {
        case .hello, .chat, .voiceSetup, .voiceControl: .control
        case .pose, .ping: .state
        case .voice: .voice
        }
    }

    /// Reliable messages go on the control channel; the others are unreliable (sequenced).
    public var isReliable: Bool { channel == .control }

    /// One ENet packet. `codec` is required for `.pose` (precondition).
    public func encode(codec: PoseCodec?) -> [UInt8] {
        var w: BitWriter
        switch self {
        case .hello(let m):
            w = BitWriter(capacity: 8 + WireLimits.maxWorldIdBytes + WireLimits.maxDisplayNameBytes)
            w.writeU8(MessageType.hello.rawValue)
            w.writeU16(m.minVersion)
            w.writeU16(m.maxVersion)
            w.writeU8(m.requestedRole.rawValue)
            w.writeString8(m.worldId, limit: WireLimits.maxWorldIdBytes)
            w.writeString8(m.displayName, limit: WireLimits.maxDisplayNameBytes)
        case .pose(let m):
            guard let codec else { preconditionFailure("ClientMessage.encode: a POSE needs the world's PoseCodec") }
            w = BitWriter(capacity: 13 + (codec.maxBitCount + 7) / 8 + 8)
            w.writeU8(MessageType.pose.rawValue)
            w.writeU32(m.inputSequence)
            w.writeU32(m.clientTimeMs)
            w.writeU32(m.ackSnapshot)
            codec.encode(m.pose, into: &w)
        case .chat(let m):
            w = BitWriter(capacity: 3 + WireLimits.maxChatBytes)
            w.writeU8(MessageType.chat.rawValue)
            w.writeString16(m.text, limit: WireLimits.maxChatBytes)
        case .ping(let m):
            w = BitWriter(capacity: 16)
            w.writeU8(MessageType.ping.rawValue)
            w.writeU64(m.clientTimeMicros)
        case .voice(let m):
            w = BitWriter(capacity: 8 + m.opus.count)
            m.write(to: &w)
        case .voiceSetup(let m):
            w = BitWriter(capacity: 8)
            w.writeU8(MessageType.voiceSetup.rawValue)
            w.writeU8(m.requestedMode.rawValue)
        case .voiceControl(let m):
            w = BitWriter(capacity: 8)
            w.writeU8(MessageType.voiceControl.rawValue)
            w.writeU8(m.action.rawValue)
            w.writeU16(m.target)
        }
        return w.finish()
    }

    /// Decodes one ENet packet. `codec` is needed for POSE (`missingWorldContext` without it).
    public static func decode(_ bytes: [UInt8], codec: PoseCodec?) throws(WireError) -> ClientMessage {
        var r = BitReader(bytes)
        let t = try r.readU8()
        let message: ClientMessage
        switch MessageType(rawValue: t) {
        case .hello:
            let minVersion = try r.readU16()
            let maxVersion = try r.readU16()
            let role = try r.readRole(field: "requestedRole")
            let worldId = try r.readWorldId()
            let name = try r.readDisplayName()
            message = .hello(Hello(minVersion: minVersion, maxVersion: maxVersion, requestedRole: role, worldId: worldId, displayName: name))
        case .pose:
            guard let codec else { throw .missingWorldContext }
            let sequence = try r.readU32()
            let time = try r.readU32()
            let ack = try r.readU32()
            let pose = try codec.decode(from: &r)
            message = .pose(PoseInput(inputSequence: sequence, clientTimeMs: time, ackSnapshot: ack, pose: pose))
        case .chat:
            message = .chat(ChatSend(text: try r.readChatText()))
        case .ping:
            message = .ping(Ping(clientTimeMicros: try r.readU64()))
        case .voice:
            message = .voice(try VoiceFrame.read(from: &r))
        case .voiceSetup:
            message = .voiceSetup(VoiceSetup(requestedMode: try r.readVoiceMode(field: "requestedMode")))
        case .voiceControl:
            message = .voiceControl(try r.readVoiceControl())
        default:
            throw .unknownMessageType(t)
        }
        try r.finish()
        return message
    }
}

// MARK: - Server messages

/// Everything a server sends.
public enum ServerMessage: Equatable, Sendable {
    case welcome(Welcome)
    case deny(Deny)
    case snapshot(Snapshot)
    case avatarJoined(AvatarJoined)
    case avatarLeft(AvatarLeft)
    case chat(ChatRelay)
    case pong(Pong)
    case closing(Closing)
    /// Avatars present: after WELCOME every one already there, then each tick's newcomers (`Roster`).
    case roster([AvatarJoined])
    /// Avatars gone since the last tick (`Departed`).
    case departed([AvatarLeft])
    case voiceBundle(VoiceBundle)
    case voiceMode(VoiceModeGrant)

    public var type: MessageType {
        switch self {
        case .welcome: .welcome
        case .deny: .deny
        case .snapshot: .snapshot
        case .avatarJoined: .avatarJoined
        case .avatarLeft: .avatarLeft
        case .chat: .chatRelay
        case .pong: .pong
        case .closing: .closing
        case .roster: .roster
        case .departed: .departed
        case .voiceBundle: .voiceBundle
        case .voiceMode: .voiceMode
        }
    }

    public var channel: Channel {
        switch self {
        case .snapshot, .pong: .state
        case .voiceBundle: .voice
        default: .control
        }
    }

    /// Reliable messages go on the control channel; the others are unreliable (sequenced).
    public var isReliable: Bool { channel == .control }

    /// One ENet packet. `worldContentHash` must be 32 bytes (precondition). A `.snapshot` is its bytes as
    /// `DeltaSnapshot.encode` wrote them (`codec` is not used).
    public func encode(codec: PoseCodec?) -> [UInt8] {
        var w: BitWriter
        switch self {
        case .welcome(let m):
            precondition(m.worldContentHash.count == Welcome.contentHashBytes, "Welcome.worldContentHash must be 32 bytes")
            w = BitWriter(capacity: 80 + WireLimits.maxWorldIdBytes)
            w.writeU8(MessageType.welcome.rawValue)
            w.writeU16(m.version)
            w.writeU16(m.clientId)
            w.writeU8(m.role.rawValue)
            w.writeU16(m.tickRateHz)
            w.writeU64(m.serverTimeMicros)
            w.writeString8(m.worldId, limit: WireLimits.maxWorldIdBytes)
            w.writeBytes(m.worldContentHash)
            w.writeBounds(m.bounds)
            w.writeU16(m.capacity)
        case .deny(let m):
            w = BitWriter(capacity: 8 + WireLimits.maxDetailBytes)
            w.writeU8(MessageType.deny.rawValue)
            w.writeU8(m.reason.rawValue)
            w.writeU16(m.serverMinVersion)
            w.writeU16(m.serverMaxVersion)
            w.writeString8(m.detail, limit: WireLimits.maxDetailBytes)
        case .snapshot(let m):
            // Encoded by DeltaSnapshot.encode / SnapshotPacker.pack, which need the baseline view.
            return m.bytes
        case .avatarJoined(let m):
            w = BitWriter(capacity: 8 + WireLimits.maxDisplayNameBytes)
            w.writeU8(MessageType.avatarJoined.rawValue)
            w.writeU16(m.avatarId)
            w.writeU8(m.role.rawValue)
            w.writeString8(m.displayName, limit: WireLimits.maxDisplayNameBytes)
        case .avatarLeft(let m):
            w = BitWriter(capacity: 8)
            w.writeU8(MessageType.avatarLeft.rawValue)
            w.writeU16(m.avatarId)
            w.writeU8(m.reason.rawValue)
        case .chat(let m):
            w = BitWriter(capacity: 8 + WireLimits.maxChatBytes)
            w.writeU8(MessageType.chatRelay.rawValue)
            w.writeU16(m.fromAvatarId)
            w.writeString16(m.text, limit: WireLimits.maxChatBytes)
        case .pong(let m):
            w = BitWriter(capacity: 24)
            w.writeU8(MessageType.pong.rawValue)
            w.writeU64(m.clientTimeMicros)
            w.writeU64(m.serverTimeMicros)
        case .closing(let m):
            w = BitWriter(capacity: 8 + WireLimits.maxDetailBytes)
            w.writeU8(MessageType.closing.rawValue)
            w.writeU8(m.reason.rawValue)
            w.writeString8(m.detail, limit: WireLimits.maxDetailBytes)
        case .roster(let entries):
            precondition((1...Roster.maxEntries).contains(entries.count), "a ROSTER holds 1…255 avatars")
            w = BitWriter(capacity: 2 + entries.count * (4 + WireLimits.maxDisplayNameBytes))
            w.writeU8(MessageType.roster.rawValue)
            w.writeU8(UInt8(entries.count))
            for m in entries {
                w.writeU16(m.avatarId)
                w.writeU8(m.role.rawValue)
                w.writeString8(m.displayName, limit: WireLimits.maxDisplayNameBytes)
            }
        case .departed(let entries):
            precondition((1...Departed.maxEntries).contains(entries.count), "a DEPARTED holds 1…255 avatars")
            w = BitWriter(capacity: 2 + entries.count * 3)
            w.writeU8(MessageType.departed.rawValue)
            w.writeU8(UInt8(entries.count))
            for m in entries {
                w.writeU16(m.avatarId)
                w.writeU8(m.reason.rawValue)
            }
        case .voiceBundle(let m):
            w = BitWriter(capacity: 2 + m.frames.reduce(0) { $0 + VoiceBundle.frameBytes(opusLength: $1.opus.count) })
            m.write(to: &w)
        case .voiceMode(let m):
            w = BitWriter(capacity: 8)
            w.writeU8(MessageType.voiceMode.rawValue)
            w.writeU8(m.mode.rawValue)
            w.writeU8(m.reason.rawValue)
        }
        return w.finish()
    }

    /// Decodes one ENet packet. A SNAPSHOT is decoded up to its header (`Snapshot`); its entries need the
    /// baseline view (`Snapshot.entries(baseline:codec:)`, `SnapshotReceiver`). Whole bytes after the header
    /// are not checked here but by the entry decoder. `codec` is not used (no server message needs the world).
    public static func decode(_ bytes: [UInt8], codec: PoseCodec?) throws(WireError) -> ServerMessage {
        var r = BitReader(bytes)
        let t = try r.readU8()
        let message: ServerMessage
        switch MessageType(rawValue: t) {
        case .welcome:
            let version = try r.readU16()
            let clientId = try r.readU16()
            guard clientId != 0 else { throw .invalidField(field: "clientId", value: 0) }
            let role = try r.readRole(field: "role")
            let tick = try r.readU16()
            let time = try r.readU64()
            let worldId = try r.readWorldId()
            let hash = try r.readBytes(count: Welcome.contentHashBytes)
            let bounds = try r.readBounds()
            let capacity = try r.readU16()
            message = .welcome(Welcome(
                version: version, clientId: clientId, role: role, tickRateHz: tick, serverTimeMicros: time,
                worldId: worldId, worldContentHash: hash, bounds: bounds, capacity: capacity))
        case .deny:
            let reason = try r.readReason()
            let lo = try r.readU16()
            let hi = try r.readU16()
            let detail = try r.readDetail()
            message = .deny(Deny(reason: reason, serverMinVersion: lo, serverMaxVersion: hi, detail: detail))
        case .snapshot:
            // The header only: entries are deltas against a baseline view this function does not have.
            return .snapshot(Snapshot(header: try DeltaSnapshot.readHeader(from: &r), bytes: bytes))
        case .avatarJoined:
            let id = try r.readU16()
            let role = try r.readRole(field: "role")
            let name = try r.readDisplayName()
            message = .avatarJoined(AvatarJoined(avatarId: id, role: role, displayName: name))
        case .avatarLeft:
            let id = try r.readU16()
            let reason = try r.readReason()
            message = .avatarLeft(AvatarLeft(avatarId: id, reason: reason))
        case .chatRelay:
            let id = try r.readU16()
            let text = try r.readChatText()
            message = .chat(ChatRelay(fromAvatarId: id, text: text))
        case .pong:
            let client = try r.readU64()
            let server = try r.readU64()
            message = .pong(Pong(clientTimeMicros: client, serverTimeMicros: server))
        case .closing:
            let reason = try r.readReason()
            let detail = try r.readDetail()
            message = .closing(Closing(reason: reason, detail: detail))
        case .roster:
            let count = try r.readU8()
            guard count >= 1 else { throw .invalidField(field: "count", value: 0) }
            var entries: [AvatarJoined] = []
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                let id = try r.readU16()
                let role = try r.readRole(field: "role")
                let name = try r.readDisplayName()
                entries.append(AvatarJoined(avatarId: id, role: role, displayName: name))
            }
            message = .roster(entries)
        case .departed:
            let count = try r.readU8()
            guard count >= 1 else { throw .invalidField(field: "count", value: 0) }
            var entries: [AvatarLeft] = []
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                let id = try r.readU16()
                let reason = try r.readReason()
                entries.append(AvatarLeft(avatarId: id, reason: reason))
            }
            message = .departed(entries)
        case .voiceBundle:
            message = .voiceBundle(try VoiceBundle.read(from: &r))
        case .voiceMode:
            message = .voiceMode(try r.readVoiceModeGrant())
        default:
            throw .unknownMessageType(t)
        }
        try r.finish()
        return message
    }
}

/// ROSTER messages (PROTOCOL.md §10.9): a list of avatars split into messages that each fit one datagram.
/// One message for many avatars is what keeps a crowd's arrival cheap: one AVATAR_JOINED per avatar per
/// client made a ramp of 100 joins a second into 1,000 present some 100,000 reliable messages a second.
public enum Roster {
    /// The count is a u8.
    public static let maxEntries = 255
    /// Each message stays within a SNAPSHOT datagram's size, so ENet never fragments it.
    public static let maxMessageBytes = WireLimits.snapshotDatagramBytes

    /// The bytes `entry` takes in a ROSTER (its name cut to the field's limit, as the encoder does).
    public static func entryBytes(_ entry: AvatarJoined) -> Int {
        4 + min(entry.displayName.utf8.count, WireLimits.maxDisplayNameBytes)
    }

    /// `entries` in order, as ROSTER messages of at most `maxEntries` avatars and `maxMessageBytes` bytes;
    /// none for no entries.
    public static func messages<C: Collection>(_ entries: C) -> [[UInt8]] where C.Element == AvatarJoined {
        batches(entries, maxEntries: maxEntries, maxBytes: maxMessageBytes, entryBytes: entryBytes) {
            ServerMessage.roster($0).encode(codec: nil)
        }
    }
}

/// `entries` in order, cut into batches of at most `maxEntries` that take at most `maxBytes` with a 2-byte
/// header (a batch always holds at least one entry), each encoded by `encode`. ROSTER and DEPARTED.
func batches<C: Collection>(
    _ entries: C, maxEntries: Int, maxBytes: Int, entryBytes: (C.Element) -> Int, encode: ([C.Element]) -> [UInt8]
) -> [[UInt8]] {
    var messages: [[UInt8]] = []
    var batch: [C.Element] = []
    var bytes = 2
    for entry in entries {
        let size = entryBytes(entry)
        if !batch.isEmpty, batch.count == maxEntries || bytes + size > maxBytes {
            messages.append(encode(batch))
            batch.removeAll(keepingCapacity: true)
            bytes = 2
        }
        batch.append(entry)
        bytes += size
    }
    if !batch.isEmpty { messages.append(encode(batch)) }
    return messages
}

/// DEPARTED messages (PROTOCOL.md §10.10): avatars gone, up to 255 a message (3 bytes each, so always within a
/// datagram). The counterpart of `Roster` for a crowd leaving at once.
public enum Departed {
    /// The count is a u8.
    public static let maxEntries = 255

    /// `entries` in order, as DEPARTED messages of at most `maxEntries` avatars; none for no entries.
    public static func messages<C: Collection>(_ entries: C) -> [[UInt8]] where C.Element == AvatarLeft {
        batches(entries, maxEntries: maxEntries, maxBytes: .max, entryBytes: { _ in 3 }) {
            ServerMessage.departed($0).encode(codec: nil)
        }
    }
}
