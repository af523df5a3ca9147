import AtriumWire

/// What a received message meant to the client.
public enum ClientEvent: Equatable, Sendable {
    case welcomed(Welcome)
    case denied(Deny)
    case avatarJoined(AvatarJoined)
    /// A ROSTER: these avatars are present (after WELCOME, everyone already there; then each tick's newcomers).
    case avatarsJoined([AvatarJoined])
    case avatarLeft(AvatarLeft)
    /// A DEPARTED: these avatars are gone.
    case avatarsLeft([AvatarLeft])
    /// One snapshot part was decoded against its baseline and applied.
    case snapshot(SnapshotUpdate)
    /// A snapshot part whose baseline view this client no longer holds: dropped (the server falls back).
    case snapshotWithoutBaseline(SnapshotHeader)
    /// A snapshot part acknowledged from its header alone (`receiveHeaderOnly`).
    case snapshotHeader(sequence: UInt32, partIndex: UInt8)
    case chat(ChatRelay)
    /// A PONG; the round trip it measured.
    case pong(roundTripMicros: UInt64)
    case closing(Closing)
    /// Voice frames for this client (relay mode: one per chosen speaker; mix mode: the mixed stream).
    case voiceBundle(VoiceBundle)
    /// The voice mode the server granted (answer to VOICE_SETUP, or a change).
    case voiceMode(VoiceModeGrant)
    /// The server sent something this client cannot decode (it is ignored).
    case undecodable(WireError)
}

/// One applied SNAPSHOT part: its header, its explicit entries (resolved to absolute states) and the view
/// they were encoded against.
public struct SnapshotUpdate: Equatable, Sendable {
    public var header: SnapshotHeader
    public var entries: [SnapshotEntry]
    /// The baseline view the entries were encoded against (`.empty` for baseline 0).
    public var baseline: SnapshotView
}

/// An avatar as this client knows it: identity from ROSTER, motion from snapshots.
///
/// Each avatar is interpolated between its own samples. The server sends an avatar only when it changed, and
/// the far crowd only every second to fourth tick (rate tiers) or later when the byte budget is short, so an
/// avatar's samples may be several ticks apart: it is then drawn further behind the session's render time
/// (`extraDelay`), by its recent sample spacing less one tick, so that the drawn time stays between two of
/// its samples instead of holding the newest half the time. When the drawn time does pass the newest sample
/// (the avatar stopped, or a sample is late) the pose holds: silence also means "stopped", so extrapolating
/// would overshoot and then have to come back.
public struct RemoteAvatar: Sendable {
    public let id: UInt16
    public var displayName: String
    public var role: Role
    public var lastInputSequence: UInt32 = 0
    /// Recent (server time µs, pose) samples, oldest first; interpolation reads between them.
    public var samples: [(time: UInt64, pose: AvatarPose)] { (0..<sampleCount).map { sample($0) } }
    static let sampleCapacity = 16
    /// The samples as a ring (a full one overwrites its oldest in place rather than shifting the rest down for
    /// every new sample): the oldest is at `oldest`.
    private var ring: [(time: UInt64, pose: AvatarPose)] = []
    private var oldest = 0
    private var sampleCount: Int { ring.count }

    /// Sample `k`, 0 being the oldest.
    @inline(__always) private func sample(_ k: Int) -> (time: UInt64, pose: AvatarPose) {
        let i = oldest + k
        return ring[i < ring.count ? i : i - ring.count]
    }

    /// Where the newest sample is (the ring must not be empty).
    private var newest: Int {
        let i = oldest + ring.count - 1
        return i < ring.count ? i : i - ring.count
    }
    /// Sample gaps longer than this many ticks are pauses (an unchanged avatar is not sent), not a rate.
    static let pauseTicks: UInt64 = 8
    /// The extra delay follows the longest of this many recent gaps (rates jitter under the byte budget).
    static let rateWindow = 4
    /// The server's tick length: the sample spacing of an avatar sent every tick.
    let tickMicros: UInt64
    private var lag = DelayGlide()

    public var latestPose: AvatarPose? { ring.isEmpty ? nil : ring[newest].pose }
    /// False once the server took it out of this client's interest set (it is still in the world).
    public internal(set) var inView = false

    init(id: UInt16, displayName: String, role: Role, tickMicros: UInt64) {
        self.id = id
        self.displayName = displayName
        self.role = role
        self.tickMicros = max(1, tickMicros)
    }

    /// A snapshot entry for this avatar: its input sequence, in view, and a sample.
    mutating func update(lastInputSequence: UInt32, pose: AvatarPose, at time: UInt64, renderTime: UInt64?) {
        self.lastInputSequence = lastInputSequence
        inView = true
        add(pose, at: time, renderTime: renderTime)
    }

    /// Adds a sample; `renderTime` (the session's, when known) lets the extra delay follow the sample spacing.
    mutating func add(_ pose: AvatarPose, at time: UInt64, renderTime: UInt64?) {
        var held: UInt64?
        if !ring.isEmpty {
            let last = newest
            let lastTime = ring[last].time
            if time <= lastTime {
                if time == lastTime { ring[last].pose = pose }
                return  // older than what we have: ignore
            }
            held = lastTime
        }
        if ring.count < Self.sampleCapacity {
            if ring.isEmpty { ring.reserveCapacity(Self.sampleCapacity) }
            ring.append((time, pose))
        } else {
            ring[oldest] = (time, pose)
            oldest = oldest + 1 == ring.count ? 0 : oldest + 1
        }
        guard let renderTime else { return }
        let target = neededDelay
        var current = lag.value(at: renderTime)
        // The drawn time had passed the previous newest sample, so that pose is on screen: drawing that
        // sample's time now shows the same pose, so the delay may grow that far at once; the rest glides.
        if target > current, let held, renderTime >= held, renderTime - held >= current {
            current = min(target, renderTime - held)
        }
        lag = DelayGlide(from: current, to: target, start: renderTime)
    }

    /// The extra delay the recent sample spacing calls for: the longest recent gap (pauses aside) less one
    /// tick, which the session's own delay (two ticks) already covers together with a tick of jitter.
    var neededDelay: UInt64 {
        var longest: UInt64 = 0
        var i = sampleCount - 1
        while i > 0 && i >= sampleCount - Self.rateWindow {
            let gap = sample(i).time - sample(i - 1).time
            if gap <= Self.pauseTicks * tickMicros { longest = max(longest, gap) }
            i -= 1
        }
        return longest > tickMicros ? longest - tickMicros : 0
    }

    /// How much further behind the session's render time `renderTime` this avatar is drawn.
    public func extraDelay(at renderTime: UInt64) -> UInt64 { lag.value(at: renderTime) }

    /// The pose to draw at the session's render time: `pose(at:)` at `renderTime − extraDelay(at: renderTime)`.
    public func drawnPose(at renderTime: UInt64) -> AvatarPose? {
        pose(at: renderTime - min(renderTime, lag.value(at: renderTime)))
    }

    /// The pose at `time` (server clock), interpolated between the samples around it; the newest sample
    /// when `time` is past them (no extrapolation), the oldest when before them.
    public func pose(at time: UInt64) -> AvatarPose? {
        guard !ring.isEmpty else { return nil }
        let first = ring[oldest]
        if time <= first.time { return first.pose }
        let last = ring[newest]
        if time >= last.time { return last.pose }
        var upper = sampleCount - 1
        while upper > 0 && sample(upper - 1).time > time { upper -= 1 }
        let a = sample(upper - 1)
        let b = sample(upper)
        let t = Float(Double(time - a.time) / Double(b.time - a.time))
        return AvatarPose.interpolate(a.pose, b.pose, t)
    }
}

/// A delay that moves from `from` towards `to` at a quarter of the speed of render time from `start` on, so
/// the time an avatar is drawn at keeps running forwards (at 75 % to 125 % speed) while its delay changes.
struct DelayGlide: Sendable {
    var from: UInt64 = 0
    var to: UInt64 = 0
    var start: UInt64 = 0

    func value(at time: UInt64) -> UInt64 {
        guard time > start else { return from }
        let moved = (time - start) / 4
        return from <= to ? min(to, from + moved) : from - min(from - to, moved)
    }
}

extension AvatarPose {
    /// Position lerp and rotation nlerp; a hand present on only one side snaps.
    public static func interpolate(_ a: AvatarPose, _ b: AvatarPose, _ t: Float) -> AvatarPose {
        func hand(_ x: HandPose?, _ y: HandPose?) -> HandPose? {
            guard let x, let y else { return t < 0.5 ? x : y }
            return HandPose(position: Vec3.lerp(x.position, y.position, t), rotation: Quat.nlerp(x.rotation, y.rotation, t))
        }
        return AvatarPose(
            headPosition: Vec3.lerp(a.headPosition, b.headPosition, t),
            headRotation: Quat.nlerp(a.headRotation, b.headRotation, t),
            leftHand: hand(a.leftHand, b.leftHand), rightHand: hand(a.rightHand, b.rightHand),
            handRaised: t < 0.5 ? a.handRaised : b.handRaised, speaking: t < 0.5 ? a.speaking : b.speaking)
    }
}

/// Estimates the server clock from PING/PONG: offset = serverTime − (sent + rtt/2), keeping the sample
/// with the smallest round trip among recent ones (least queueing, most accurate).
public struct ClockSync: Sendable {
    public private(set) var offsetMicros: Int64?
    public private(set) var lastRoundTripMicros: UInt64?
    private var best: (rtt: UInt64, offset: Int64, age: Int)?

    public init() {}

    mutating func add(sentMicros: UInt64, receivedMicros: UInt64, serverMicros: UInt64) {
        let rtt = receivedMicros &- sentMicros
        lastRoundTripMicros = rtt
        let offset = Int64(bitPattern: serverMicros &- (sentMicros &+ rtt / 2))
        if var current = best {
            current.age += 1
            // Prefer a tighter sample; let the best one expire after 16 newer samples so drift is followed.
            best = (rtt <= current.rtt || current.age > 16) ? (rtt, offset, 0) : current
        } else {
            best = (rtt, offset, 0)
        }
        offsetMicros = best?.offset
    }

    /// Rough estimate from the WELCOME alone (no RTT correction) until a PONG arrives.
    mutating func seed(serverMicros: UInt64, at localMicros: UInt64) {
        if offsetMicros == nil { offsetMicros = Int64(bitPattern: serverMicros &- localMicros) }
    }

    public func serverTime(atLocal localMicros: UInt64) -> UInt64? {
        offsetMicros.map { UInt64(bitPattern: Int64(bitPattern: localMicros) &+ $0) }
    }
}

/// The client side of one session, with no I/O: it makes the bytes to send and digests the bytes received.
/// `AtriumConnection` drives one over its own ENet host; the bot runner drives thousands over a shared one.
public struct ClientSession: Sendable {
    public enum Phase: Equatable, Sendable {
        case awaitingWelcome
        case joined
        case ended(ReasonCode)
    }

    public private(set) var phase: Phase = .awaitingWelcome
    public private(set) var welcome: Welcome?
    public private(set) var codec: PoseCodec?
    public private(set) var avatars: [UInt16: RemoteAvatar] = [:]
    /// Acknowledged in every POSE: the newest complete snapshot (the baseline the server may encode against).
    public private(set) var newestSnapshot: UInt32 = 0
    /// Snapshot views and part assembly (PROTOCOL.md, delta snapshots).
    public private(set) var receiver = SnapshotReceiver()
    /// Snapshot parts dropped because their baseline was no longer held.
    public private(set) var snapshotsWithoutBaseline: UInt64 = 0
    public private(set) var inputSequence: UInt32 = 0
    public private(set) var clock = ClockSync()
    public private(set) var snapshotsReceived: UInt64 = 0
    /// How far behind the estimated server clock avatars are rendered; two ticks by default. Avatars whose
    /// samples come further apart are drawn further behind still (`RemoteAvatar.extraDelay`).
    public var interpolationDelayMicros: UInt64 = 66_666
    /// The server's tick length, from WELCOME.
    public private(set) var tickMicros: UInt64 = 33_333
    /// False: snapshots are still decoded, stored as views, acknowledged and returned, but the avatars are not
    /// updated from them (no dequantizing, no interpolation samples, input sequence or in-view flag): for load
    /// bots, which read the decoded entries and never draw anyone.
    public var tracksAvatarMotion = true

    public init() {}

    public var avatarId: UInt16? { welcome?.clientId }

    // MARK: outgoing

    /// The name and role this client asked for; its own avatar carries them (the server announces only others).
    public private(set) var ownName = ""

    public mutating func hello(worldId: String, displayName: String, role: Role) -> [UInt8] {
        ownName = displayName
        return ClientMessage.hello(
            Hello(
                minVersion: ProtocolVersion.supported.lowerBound, maxVersion: ProtocolVersion.supported.upperBound,
                requestedRole: role, worldId: worldId, displayName: displayName)
        ).encode(codec: nil)
    }

    /// The next POSE, or nil before WELCOME (positions are quantized in the world's bounds).
    public mutating func pose(_ pose: AvatarPose, clientTimeMs: UInt32) -> [UInt8]? {
        guard let codec, phase == .joined else { return nil }
        inputSequence = inputSequence == UInt32.max ? 1 : inputSequence + 1
        return ClientMessage.pose(
            PoseInput(inputSequence: inputSequence, clientTimeMs: clientTimeMs, ackSnapshot: newestSnapshot, pose: pose)
        ).encode(codec: codec)
    }

    public func ping(nowMicros: UInt64) -> [UInt8] {
        ClientMessage.ping(Ping(clientTimeMicros: nowMicros)).encode(codec: nil)
    }

    public func chat(_ text: String) -> [UInt8] {
        ClientMessage.chat(ChatSend(text: text)).encode(codec: nil)
    }

    // MARK: incoming

    public mutating func receive(_ payload: [UInt8], nowMicros: UInt64) -> ClientEvent {
        let message: ServerMessage
        do {
            message = try ServerMessage.decode(payload, codec: codec)
        } catch {
            return .undecodable(error)
        }
        switch message {
        case .welcome(let welcome):
            self.welcome = welcome
            codec = PoseCodec(bounds: welcome.bounds)
            phase = .joined
            tickMicros = 1_000_000 / UInt64(max(1, welcome.tickRateHz))
            interpolationDelayMicros = 2 * tickMicros
            clock.seed(serverMicros: welcome.serverTimeMicros, at: nowMicros)
            avatars[welcome.clientId] = RemoteAvatar(
                id: welcome.clientId, displayName: ownName, role: welcome.role, tickMicros: tickMicros)
            return .welcomed(welcome)
        case .deny(let deny):
            phase = .ended(deny.reason)
            return .denied(deny)
        case .avatarJoined(let joined):
            avatars[joined.avatarId] = RemoteAvatar(
                id: joined.avatarId, displayName: joined.displayName, role: joined.role, tickMicros: tickMicros)
            return .avatarJoined(joined)
        case .roster(let entries):
            for joined in entries {
                avatars[joined.avatarId] = RemoteAvatar(
                    id: joined.avatarId, displayName: joined.displayName, role: joined.role, tickMicros: tickMicros)
            }
            return .avatarsJoined(entries)
        case .avatarLeft(let left):
            avatars.removeValue(forKey: left.avatarId)
            return .avatarLeft(left)
        case .departed(let entries):
            for left in entries { avatars.removeValue(forKey: left.avatarId) }
            return .avatarsLeft(entries)
        case .snapshot(let snapshot):
            return apply(snapshot, nowMicros: nowMicros)
        case .chat(let chat):
            return .chat(chat)
        case .pong(let pong):
            clock.add(sentMicros: pong.clientTimeMicros, receivedMicros: nowMicros, serverMicros: pong.serverTimeMicros)
            return .pong(roundTripMicros: nowMicros &- pong.clientTimeMicros)
        case .closing(let closing):
            phase = .ended(closing.reason)
            return .closing(closing)
        case .voiceBundle(let bundle):
            return .voiceBundle(bundle)
        case .voiceMode(let grant):
            return .voiceMode(grant)
        }
    }

    /// For load bots that do not need the world state: snapshots are acknowledged from their header alone
    /// (the server cannot tell the difference), everything else is decoded as usual.
    public mutating func receiveHeaderOnly(_ payload: [UInt8], nowMicros: UInt64) -> ClientEvent {
        guard phase == .joined, payload.first == MessageType.snapshot.rawValue else {
            return receive(payload, nowMicros: nowMicros)
        }
        do {
            let header = try DeltaSnapshot.decodeHeader(payload)
            if header.partCount == 1 { noteSnapshot(header.sequence) } else if header.partIndex == 0 { snapshotsReceived += 1 }
            return .snapshotHeader(sequence: header.sequence, partIndex: header.partIndex)
        } catch {
            return .undecodable(error)
        }
    }

    /// Header-only acknowledgement: a single-part snapshot is complete on arrival.
    private mutating func noteSnapshot(_ sequence: UInt32) {
        snapshotsReceived += 1
        if newestSnapshot == 0 || Int32(bitPattern: sequence &- newestSnapshot) > 0 { newestSnapshot = sequence }
    }

    private mutating func apply(_ snapshot: Snapshot, nowMicros: UInt64) -> ClientEvent {
        guard let codec else { return .undecodable(.missingWorldContext) }
        let baseline = receiver.view(snapshot.baseline) ?? .empty
        let outcome: SnapshotReceiver.Outcome
        do {
            outcome = try receiver.receive(snapshot, codec: codec)
        } catch {
            return .undecodable(error)
        }
        switch outcome {
        case .duplicate(let header):
            return .snapshotHeader(sequence: header.sequence, partIndex: header.partIndex)
        case .baselineUnavailable(let header):
            snapshotsWithoutBaseline += 1
            return .snapshotWithoutBaseline(header)
        case .applied(let part):
            snapshotsReceived += 1
            newestSnapshot = receiver.acknowledgement
            guard tracksAvatarMotion else {
                return .snapshot(SnapshotUpdate(header: part.header, entries: part.entries, baseline: baseline))
            }
            let renderNow = renderTime(atLocal: nowMicros)
            for entry in part.entries {
                switch entry {
                case .full(let state), .update(let state):
                    // Control and state are separate streams: an entry may precede its ROSTER entry or
                    // follow its DEPARTED entry; either way it is not a known avatar and is not drawn.
                    // Updated in place: a copy taken out of the dictionary would share its sample array, and
                    // the append would then copy the whole array for every entry of every snapshot.
                    avatars[state.id]?.update(
                        lastInputSequence: state.lastInputSequence, pose: codec.dequantize(state.pose),
                        at: part.header.serverTimeMicros, renderTime: renderNow)
                case .leave(let id):
                    avatars[id]?.inView = false
                }
            }
            return .snapshot(SnapshotUpdate(header: part.header, entries: part.entries, baseline: baseline))
        }
    }

    /// Where to draw avatars now: the estimated server time minus the interpolation delay.
    public func renderTime(atLocal localMicros: UInt64) -> UInt64? {
        clock.serverTime(atLocal: localMicros).map { $0 &- min($0, interpolationDelayMicros) }
    }

    /// An avatar's pose for drawing at `localMicros`, interpolated between its own samples (further behind
    /// for an avatar that arrives less often than every tick: `RemoteAvatar.drawnPose(at:)`).
    public func interpolatedPose(of id: UInt16, atLocal localMicros: UInt64) -> AvatarPose? {
        guard let avatar = avatars[id], let time = renderTime(atLocal: localMicros) else { return avatars[id]?.latestPose }
        return avatar.drawnPose(at: time)
    }
}
