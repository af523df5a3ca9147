import AtriumTransport
import AtriumWire
import AtriumWorld

/// Where a shard's messages go. The worker binds it to its ENet host; tests bind it to an array.
public struct Outbox {
    let deliver: (PeerHandle, [UInt8], Channel) -> Void

    public init(_ deliver: @escaping (PeerHandle, [UInt8], Channel) -> Void) {
        self.deliver = deliver
    }

    func send(_ message: ServerMessage, to peer: PeerHandle) {
        deliver(peer, message.encode(codec: nil), message.channel)
    }
}

/// Counters a shard keeps; read by the stats publisher once per interval.
public struct ShardCounters: Sendable, Equatable {
    public var inputsApplied: UInt64 = 0
    public var inputsStale: UInt64 = 0
    public var inputsRubberBanded: UInt64 = 0
    public var inputsOutOfReach: UInt64 = 0
    public var snapshotsSent: UInt64 = 0
    public var snapshotDatagrams: UInt64 = 0
    public var snapshotBytes: UInt64 = 0
    public var chatRelayed: UInt64 = 0
    /// Avatars with something to send that the byte budget or the full-rate cap left for a later tick.
    public var deferredByBudget: UInt64 = 0
    /// Avatars with something to send that were not yet due under the send threshold (rate tiers).
    public var deferredByRate: UInt64 = 0
    /// Entries sent, by kind, and the bits of the pose part of update entries.
    public var fullEntries: UInt64 = 0
    public var updateEntries: UInt64 = 0
    public var leaveEntries: UInt64 = 0
    public var snapshotsFromBaseline: UInt64 = 0
}

/// A live avatar and everything the shard tracks about the session that drives it.
@_spi(Benchmarks) public struct Avatar {
    @_spi(Benchmarks) public let id: UInt16
    let peer: PeerHandle
    let displayName: String
    let role: Role
    /// Admission order across the shard's life: who was told about whom (ROSTER) follows from it.
    let serial: UInt64
    var pose: AvatarPose
    var lastInputSequence: UInt32 = 0
    /// Server time the current pose was accepted; movement limits are judged from it.
    var poseTimeMicros: UInt64
    /// Latest-wins inbox: the newest pose input received since the last tick.
    var pendingInput: PoseInput?
    var pendingReceivedMicros: UInt64 = 0
    /// The pose as integers (what snapshots carry), refreshed whenever `pose` changes.
    var quantized: QuantizedPose
    /// Server time the avatar last had the speaking flag set.
    var lastSpokeMicros: UInt64 = 0
    /// Newest snapshot this avatar's client acknowledged; 0 = none.
    var ackedSnapshot: UInt32 = 0

    var viewEntry: ViewEntry { ViewEntry(id: id, lastInputSequence: lastInputSequence, pose: quantized) }
    var announcement: AvatarJoined { AvatarJoined(avatarId: id, role: role, displayName: displayName) }
}

/// Why an input was not applied as sent; the session logs each kind once.
public enum InputRejection: String, Sendable {
    case stale = "stale input sequence"
    case tooFast = "moved faster than the speed limit (rubber-banded)"
    case teleport = "teleported (rubber-banded)"
    case outOfReach = "hand beyond arm's reach"
    case nonFinite = "non-finite position"
    case outOfBounds = "outside the world bounds"
    case notAModerator = "moderator voice control from a role that does not moderate"
}

/// One running instance of a world: the authoritative avatars and the per-tick pipeline
/// (ingest → rules → relevance → encode → send). Owned by one worker thread; not thread-safe by design.
///
/// `@_spi(Benchmarks)`: the Compose benchmark (Benchmarks/) drives a shard without a node: admit, submit, and the
/// tick's stages one by one.
@_spi(Benchmarks) public final class Shard {
    let world: LoadedWorld
    let codec: PoseCodec
    let validator: MovementValidator
    let maxReach: Float
    let snapshotMaxBytes: Int
    private(set) var avatars: [UInt16: Avatar] = [:]
    /// Join order; snapshots list avatars in this order so parts are stable.
    private(set) var order: [UInt16] = []
    private var nextId: UInt16 = 1
    private var nextSerial: UInt64 = 0
    /// Admitted since the last announcement, in admission order: told to everyone else in one ROSTER per
    /// client at the next tick, not one AVATAR_JOINED per joiner per client.
    private var pendingJoins: [Avatar] = []
    /// Removed since the last announcement, each with the serial the next joiner would have had: told in one
    /// DEPARTED to those admitted before (the others never heard of it).
    private var pendingLeaves: [(left: AvatarLeft, before: UInt64)] = []
    private var spawnCursor = 0
    private var sequence: UInt32 = 0
    @_spi(Benchmarks) public internal(set) var counters = ShardCounters()

    /// 1-based instance number among the shards of the same world.
    let instance: Int

    let interestContext: InterestContext
    var composer: SnapshotComposer
    let voice: VoiceRelay

    /// A shard in the default spatial interest mode, for benchmarks.
    @_spi(Benchmarks) public convenience init(world: LoadedWorld, limits: MovementLimits, snapshotMaxBytes: Int) {
        self.init(world: world, limits: limits, snapshotMaxBytes: snapshotMaxBytes, interest: InterestSettings())
    }

    /// `historyCapacity`: states kept per avatar for delta bases (`AvatarHistory`); tests make it small.
    init(
        world: LoadedWorld, instance: Int = 1, limits: MovementLimits, snapshotMaxBytes: Int,
        interest: InterestSettings = InterestSettings(), voice: VoiceRoutingSettings = VoiceRoutingSettings(),
        mixCapacity: Int = 0, historyCapacity: Int = AvatarHistory.defaultCapacity
    ) {
        self.world = world
        self.voice = VoiceRelay(
            settings: Self.voiceSettings(voice, world: world.definition), mixCapacity: mixCapacity)
        self.instance = instance
        self.interestContext = InterestContext(world: world.definition)
        self.composer = SnapshotComposer(
            world: world.definition, settings: interest, snapshotMaxBytes: snapshotMaxBytes,
            historyCapacity: historyCapacity)
        self.codec = PoseCodec(bounds: world.definition.bounds)
        self.validator = MovementValidator(bounds: world.definition.bounds, limits: limits)
        self.maxReach = limits.maxReach
        self.snapshotMaxBytes = snapshotMaxBytes
    }

    /// Voice carries as far as sight: the world's interest radius is the hearing radius.
    static func voiceSettings(_ base: VoiceRoutingSettings, world: WorldDefinition) -> VoiceRoutingSettings {
        var settings = base
        settings.hearingRadius = world.interestRadius
        return settings
    }

    var id: String { world.definition.id }
    /// `classroom#3`: the world and the instance, for logs.
    var label: String { "\(id)#\(instance)" }
    var population: Int { avatars.count }
    var isFull: Bool { avatars.count >= world.definition.capacity }

    // MARK: join and leave

    /// Admits a joiner: allocates an avatar at the next spawn point, sends WELCOME and the current roster
    /// (ROSTER messages) to it, and queues it for the next announcement to everyone else (`announceJoins`; the
    /// joiner knows itself from WELCOME).
    @_spi(Benchmarks) public func admit(
        peer: PeerHandle, displayName: String, role: Role, version: UInt16, nowMicros: UInt64, outbox: Outbox
    ) -> Avatar? {
        guard !isFull, let id = allocateId() else { return nil }
        let definition = world.definition
        let spawn = definition.spawnPoints[spawnCursor % definition.spawnPoints.count]
        spawnCursor += 1
        let pose = codec.roundTrip(
            AvatarPose(
                headPosition: spawn.position + Vec3(0, 1.6, 0), headRotation: Quat.yaw(spawn.yaw),
                leftHand: nil, rightHand: nil))
        let avatar = Avatar(
            id: id, peer: peer, displayName: displayName, role: role, serial: nextSerial, pose: pose,
            poseTimeMicros: nowMicros, quantized: codec.quantize(pose))
        nextSerial += 1

        outbox.send(
            .welcome(
                Welcome(
                    version: version, clientId: id, role: role, tickRateHz: UInt16(definition.tickRate),
                    serverTimeMicros: nowMicros, worldId: definition.id, worldContentHash: world.contentHash,
                    bounds: definition.bounds, capacity: UInt16(clamping: definition.capacity))),
            to: peer)
        let present = order.compactMap { avatars[$0]?.announcement }
        for message in Roster.messages(present) { outbox.deliver(peer, message, .control) }
        avatars[id] = avatar
        order.append(id)
        pendingJoins.append(avatar)
        return avatar
    }

    /// Tells every avatar about those admitted after it since the last announcement: one ROSTER per client
    /// (more only past 255 avatars or a datagram's size).
    private func announceJoins(outbox: Outbox) {
        guard let first = pendingJoins.first?.serial else { return }
        let joins = pendingJoins
        pendingJoins.removeAll(keepingCapacity: true)
        // Clients there before the first joiner get all of it, each joiner those admitted after it.
        deliverSuffixes(
            outbox: outbox,
            start: { avatar in
                avatar.serial < first ? 0 : joins.firstIndex { $0.serial > avatar.serial } ?? joins.count
            },
            count: joins.count
        ) { Roster.messages(joins[$0...].lazy.map(\.announcement)) }
    }

    /// Removes an avatar at once; the others hear of it at the next tick (`announce`).
    func remove(_ id: UInt16, reason: ReasonCode) {
        guard avatars.removeValue(forKey: id) != nil else { return }
        composer.forget(id)
        voice.remove(id)
        order.removeAll { $0 == id }
        pendingLeaves.append((AvatarLeft(avatarId: id, reason: reason), nextSerial))
    }

    /// Arrivals, then departures, since the last announcement: every client hears of an avatar's arrival
    /// before its departure, even when both fell between two ticks.
    func announce(outbox: Outbox) {
        announceJoins(outbox: outbox)
        announceLeaves(outbox: outbox)
    }

    /// Tells every avatar about the departures of those it was told about: one DEPARTED per client (more only
    /// past 255).
    private func announceLeaves(outbox: Outbox) {
        guard !pendingLeaves.isEmpty else { return }
        let leaves = pendingLeaves
        pendingLeaves.removeAll(keepingCapacity: true)
        // Leaves are in removal order, so those a client heard of are the ones removed after it arrived: a suffix.
        deliverSuffixes(
            outbox: outbox, start: { avatar in leaves.firstIndex { avatar.serial < $0.before } ?? leaves.count },
            count: leaves.count
        ) { Departed.messages(leaves[$0...].lazy.map(\.left)) }
    }

    /// Sends every avatar the messages for its suffix (from `start(avatar)` of `count` items; nothing when
    /// empty), encoding each distinct suffix once: most clients get the same list.
    private func deliverSuffixes(
        outbox: Outbox, start: (Avatar) -> Int, count: Int, messages: (Int) -> [[UInt8]]
    ) {
        var encoded: [Int: [[UInt8]]] = [:]
        for id in order {
            guard let avatar = avatars[id] else { continue }
            let from = start(avatar)
            guard from < count else { continue }
            let bytes = encoded[from] ?? messages(from)
            encoded[from] = bytes
            for message in bytes { outbox.deliver(avatar.peer, message, .control) }
        }
    }

    private func allocateId() -> UInt16? {
        // Ids are reused only after wrapping, so a late packet naming a departed avatar rarely aliases a new one.
        for _ in 0..<Int(UInt16.max) {
            let candidate = nextId
            nextId = nextId == UInt16.max ? 1 : nextId + 1
            if avatars[candidate] == nil { return candidate }
        }
        return nil
    }

    // MARK: input

    /// Stores the newest input for the next tick (latest wins). Returns a rejection for inputs that are
    /// older than one already seen.
    @_spi(Benchmarks) public func submit(_ input: PoseInput, from id: UInt16, receivedMicros: UInt64) -> InputRejection? {
        guard var avatar = avatars[id] else { return nil }
        let newest = avatar.pendingInput?.inputSequence ?? avatar.lastInputSequence
        // Sequence comparison tolerates wrap-around (serial number arithmetic).
        if avatar.lastInputSequence != 0 || avatar.pendingInput != nil {
            guard Int32(bitPattern: input.inputSequence &- newest) > 0 else {
                counters.inputsStale += 1
                return .stale
            }
        }
        avatar.pendingInput = input
        avatar.pendingReceivedMicros = receivedMicros
        // Acknowledgements only move forward and never past what was sent.
        if input.ackSnapshot != 0,
            avatar.ackedSnapshot == 0 || Int32(bitPattern: input.ackSnapshot &- avatar.ackedSnapshot) > 0,
            Int32(bitPattern: composer.lastSnapshotSequence(of: id) &- input.ackSnapshot) >= 0
        {
            avatar.ackedSnapshot = input.ackSnapshot
        }
        avatars[id] = avatar
        return nil
    }

    // MARK: tick

    /// Runs one tick. `rejected` is told about each input that was not applied as sent.
    func tick(nowMicros: UInt64, outbox: Outbox, rejected: (PeerHandle, InputRejection) -> Void) {
        // Arrivals and departures are announced before the tick's snapshots, so they leave in the same flush
        // as the first snapshot that may show them.
        announce(outbox: outbox)
        ingest(rejected: rejected)
        sendSnapshots(nowMicros: nowMicros, outbox: outbox)
        // Relayed voice leaves with the same flush as state (one ENet datagram per client when it fits); the
        // caller flushes, then runs `mixVoice`.
        routeVoice(nowMicros: nowMicros, outbox: outbox)
    }

    /// The tick's voice: routing and the relay listeners' bundles (VoiceRelay.flush), after the snapshots
    /// (it reads the interest table they built).
    @_spi(Benchmarks) public func routeVoice(nowMicros: UInt64, outbox: Outbox) {
        voice.flush(
            nowMicros: nowMicros, order: order, avatars: avatars, interest: composer.interestTable, context: interestContext
        ) { peer, bytes in
            deliverVoice(bytes, to: peer, outbox: outbox)
        }
    }

    /// The tick's mix, once its flush is out (VoiceRelay.mix). True when anything was sent.
    @_spi(Benchmarks) @discardableResult
    public func mixVoice(nowMicros: UInt64, outbox: Outbox) -> Bool {
        voice.mix(nowMicros: nowMicros, avatars: avatars) { peer, bytes in deliverVoice(bytes, to: peer, outbox: outbox) }
    }

    /// A voice flush point between ticks (PROTOCOL.md §17.3): frames that arrived since the last flush go out
    /// along the last tick's routes. True when anything was sent.
    @_spi(Benchmarks) @discardableResult
    public func forwardVoice(outbox: Outbox) -> Bool {
        voice.forward(avatars: avatars) { peer, bytes in deliverVoice(bytes, to: peer, outbox: outbox) }
    }

    /// Voice out to a listener, charged against its next snapshot's budget (one downstream budget per client).
    private func deliverVoice(_ bytes: [UInt8], to peer: PeerHandle, outbox: Outbox) {
        composer.chargeVoice(bytes.count, to: peer)
        outbox.deliver(peer, bytes, .voice)
    }

    /// A VOICE from avatar `id`, as the worker hands it over (VoiceRelay.receive). False when dropped.
    @_spi(Benchmarks) @discardableResult
    public func receiveVoice(_ frame: VoiceFrame, from id: UInt16, nowMicros: UInt64) -> Bool {
        voice.receive(frame, from: id, nowMicros: nowMicros)
    }

    @_spi(Benchmarks) public var voiceCounters: VoiceCounters { voice.counters }

    /// The avatar's role, for permission checks (moderator mutes).
    func role(of id: UInt16) -> Role? { avatars[id]?.role }

    @_spi(Benchmarks) public func ingest(rejected: (PeerHandle, InputRejection) -> Void) {
        for id in order {
            guard var avatar = avatars[id], let input = avatar.pendingInput else { continue }
            avatar.pendingInput = nil
            avatar.lastInputSequence = input.inputSequence
            if let verdict = validate(input.pose, for: avatar, at: avatar.pendingReceivedMicros) {
                rejected(avatar.peer, verdict)
            } else {
                avatar.pose = input.pose
                avatar.quantized = codec.quantize(input.pose)
                avatar.poseTimeMicros = avatar.pendingReceivedMicros
                if input.pose.speaking { avatar.lastSpokeMicros = avatar.pendingReceivedMicros }
                counters.inputsApplied += 1
            }
            avatars[id] = avatar
        }
    }

    /// nil when the pose is acceptable.
    private func validate(_ pose: AvatarPose, for avatar: Avatar, at time: UInt64) -> InputRejection? {
        switch validator.check(
            previous: avatar.pose.headPosition, previousTimeMicros: avatar.poseTimeMicros,
            proposed: pose.headPosition, timeMicros: time)
        {
        case .accepted: break
        case .rejectedNonFinite: return .nonFinite
        case .rejectedOutOfBounds: return .outOfBounds
        case .rubberBand(let violation):
            counters.inputsRubberBanded += 1
            return violation == .teleport ? .teleport : .tooFast
        }
        for hand in [pose.leftHand, pose.rightHand] {
            if let hand, !validator.handWithinReach(head: pose.headPosition, hand: hand.position) {
                counters.inputsOutOfReach += 1
                return .outOfReach
            }
        }
        return nil
    }

    @_spi(Benchmarks) public func sendSnapshots(nowMicros: UInt64, outbox: Outbox) {
        guard !order.isEmpty else { return }
        sequence = sequence == UInt32.max ? 1 : sequence + 1
        composer.compose(
            sequence: sequence, nowMicros: nowMicros, order: order, avatars: avatars, codec: codec,
            context: interestContext, counters: &counters
        ) { peer, bytes in
            outbox.deliver(peer, bytes, .state)
        }
    }

    // MARK: chat

    func relayChat(_ text: String, from id: UInt16, outbox: Outbox) {
        let message = ServerMessage.chat(ChatRelay(fromAvatarId: id, text: text))
        let bytes = message.encode(codec: nil)
        for otherId in order {
            guard let other = avatars[otherId] else { continue }
            outbox.deliver(other.peer, bytes, message.channel)
        }
        counters.chatRelayed += 1
    }
}
