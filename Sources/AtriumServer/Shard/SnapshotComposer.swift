import AtriumSecurity
import AtriumTransport
import AtriumWire
import AtriumWorld

/// How snapshots are chosen and sized; from the node configuration.
public struct InterestSettings: Sendable, Equatable {
    public enum Mode: String, CaseIterable, Sendable {
        /// Relevance, priority, byte budget and deltas against each recipient's acknowledged baseline.
        case spatial
        /// Everyone gets everyone in full every tick (baseline 0, no budget): the yardstick.
        case naive
    }

    public var mode: Mode = .spatial
    /// Downstream budget per recipient, kbit/s, voice included: per tick it is this ÷ tick rate; relayed voice
    /// sent to the recipient since its last snapshot is charged first, state gets the rest (at least
    /// 1/`SnapshotComposer.stateFloorShare` of it, and at most one datagram).
    public var bandwidthKbps: Int = 256
    /// At most this many avatars updated per recipient per tick.
    public var maxFullRateAvatars: Int = 64
    /// An avatar leaves a recipient's set only this far beyond the interest radius.
    public var leaveMarginMetres: Float = 2
    /// "Spoke recently" (a priority boost) lasts this long after the speaking flag was last seen.
    public var speakingWindowMicros: UInt64 = 1_000_000
    /// Each recipient's relevant set is recomputed every this many ticks, recipients spread evenly over the
    /// ticks (priorities and deltas still run every tick). At walking speed two avatars close in by at most
    /// ~0.1 m in 3 ticks, well inside the leave margin, so sets come out the same a tick or two later; the
    /// relevance pass, the largest part of interest work, costs a third.
    public var relevanceIntervalTicks: Int = 3
    /// At most this many avatars relevant by distance per recipient (the nearest, in a crowd).
    public var maxRelevantAvatars: Int = 128
    /// Rate tiers: a changed avatar is sent once its priority accumulator reaches this (entering and own
    /// avatars at once), so the far crowd goes out every few ticks even with budget to spare; 0 sends every
    /// changed relevant avatar every tick the budget allows. See `PriorityWeights.defaultSendThreshold`.
    public var sendThreshold: Float = PriorityWeights.standard.defaultSendThreshold

    public init() {}
}

/// Per-recipient interest and delta state, and the per-tick composition of every recipient's snapshot:
/// relevance (grid, isolation, roles, hysteresis) → priority accumulators → byte budget → delta entries
/// against the recipient's acknowledged view → one datagram.
///
/// Runs for every recipient every tick, so the per-recipient work touches flat tables indexed by avatar id
/// (filled once per tick), compares revisions rather than states (`AvatarHistory`, `RecipientViews`), shares
/// entry bodies between recipients (`EntryBodyCache`) and reuses its buffers: nothing is allocated per
/// recipient once they have grown.
struct SnapshotComposer {
    struct Recipient {
        var relevance = RelevanceSet()
        /// False until the first relevance pass (a new recipient gets one at once).
        var hasRelevance = false
        var scheduler = PriorityScheduler()
        var views = RecipientViews()
    }

    let settings: InterestSettings
    let radius: Float
    let snapshotMaxBytes: Int
    let tickRate: Int
    /// By avatar id (a recipient is an avatar); `Recipient()` for none.
    private var recipients: [Recipient] = []
    private var grid: SpatialGrid
    private var table = InterestAvatarTable()
    /// This tick's interest view of every avatar (spatial mode; empty in naive mode), for voice routing.
    var interestTable: InterestAvatarTable { table }
    /// Every avatar's state by revision.
    private var history: AvatarHistory
    /// By avatar id, the newest snapshot sent to it (0 = none): acknowledgements beyond it are refused.
    private var lastSent: [UInt32] = []

    /// This tick, by avatar id: where its snapshot goes, what it acknowledged, its revision and entry sizes.
    private var peers: [PeerHandle] = []
    private var acknowledged: [UInt32] = []
    private var tickAvatars: [RecipientDelta.Avatar] = []
    /// By avatar id: its last poses, for the update size estimate.
    private var poses: [PoseHistory?] = []
    /// Shared by every recipient's selection: no allocation per recipient.
    private var selectionScratch = SelectionScratch()
    /// Entry bodies encoded once per tick and copied into every recipient's snapshot that needs them.
    private var bodies = EntryBodyCache()
    /// The per-recipient walk and writer, reused for every recipient.
    private var delta = RecipientDelta()
    /// Update entries written full because the state their recipient holds had left `history`.
    var historyFallbacks: Int { delta.historyFallbacks }

    init(
        world: WorldDefinition, settings: InterestSettings, snapshotMaxBytes: Int,
        historyCapacity: Int = AvatarHistory.defaultCapacity
    ) {
        self.settings = settings
        self.radius = world.interestRadius
        self.snapshotMaxBytes = snapshotMaxBytes
        self.tickRate = world.tickRate
        grid = SpatialGrid(world: world)
        history = AvatarHistory(capacity: historyCapacity)
    }

    mutating func forget(_ id: UInt16) {
        let slot = Int(id)
        grid.remove(id: id)
        history.remove(id)
        if slot < recipients.count {
            recipients[slot] = Recipient()
            poses[slot] = nil
            lastSent[slot] = 0
            tickAvatars[slot] = RecipientDelta.Avatar()
            // The peer slot goes back to ENet for a later connection: its account starts empty.
            let peerSlot = Int(peers[slot].slot)
            if peerSlot < spentBits.count { spentBits[peerSlot] = 0 }
        }
    }

    /// The newest snapshot sent to avatar `id`, 0 = none yet.
    func lastSnapshotSequence(of id: UInt16) -> UInt32 {
        Int(id) < lastSent.count ? lastSent[Int(id)] : 0
    }

    /// What a datagram costs on the wire beyond its message: the session envelope (sequence + tag), ENet's
    /// protocol header (4) and send command (8). Charged with every datagram, so the budget is what the
    /// client's socket receives.
    static let datagramOverheadBytes = SessionEnvelope.overhead + 12
    /// State keeps at least 1/this of a recipient's per-tick budget however much voice it hears: voice is
    /// bounded by the stream cap, and a recipient that hears eight speakers must still see the room move. With
    /// the defaults, eight 24 kbit/s streams take ~220 kbit/s on the wire, and an eighth (32 kbit/s, ~7 avatar
    /// updates a tick) keeps such a client within the budget.
    static let stateFloorShare = 8

    /// By peer slot: downstream bits already spent against the peer's next tick, voice sent since its last
    /// snapshot plus what earlier snapshots overran (entry sizes are estimates when selected; a token bucket
    /// that carries the overrun keeps the rate over time to the budget).
    private var spentBits: [Int] = []

    /// The recipient's whole downstream budget for one tick, in bits.
    var tickBudgetBits: Int { settings.bandwidthKbps * 1000 / max(1, tickRate) }

    /// Bits for entries in a snapshot after `spent` bits already went to the same recipient this tick.
    func stateBudgetBits(spent: Int) -> Int {
        let perTick = tickBudgetBits
        let state = max(perTick / Self.stateFloorShare, perTick - spent) - Self.datagramOverheadBytes * 8
        return max(0, min(state, snapshotMaxBytes * 8) - DeltaSnapshot.headerBits)
    }

    /// Records a voice datagram of `bytes` (its message) sent to `peer`, charged against its next snapshot.
    mutating func chargeVoice(_ bytes: Int, to peer: PeerHandle) {
        spentBits[account(of: peer)] += (bytes + Self.datagramOverheadBytes) * 8
    }

    /// The index of `peer`'s account in `spentBits`, grown to hold it.
    private mutating func account(of peer: PeerHandle) -> Int {
        let slot = Int(peer.slot)
        if slot >= spentBits.count { spentBits.append(contentsOf: repeatElement(0, count: slot + 1 - spentBits.count)) }
        return slot
    }

    private func spent(by peer: PeerHandle) -> Int {
        Int(peer.slot) < spentBits.count ? spentBits[Int(peer.slot)] : 0
    }

    /// Closes the peer's tick: what it was sent beyond its budget (at most one tick's worth) is carried.
    private mutating func settle(_ peer: PeerHandle, spent: Int, snapshotBytes: Int) {
        let perTick = tickBudgetBits
        let total = spent + (snapshotBytes + Self.datagramOverheadBytes) * 8
        spentBits[account(of: peer)] = min(perTick, max(0, total - perTick))
    }

    mutating func compose(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], codec: PoseCodec,
        context: InterestContext, counters: inout ShardCounters, send: (PeerHandle, [UInt8]) -> Void
    ) {
        reserve(upTo: Int(order.max() ?? 0))
        switch settings.mode {
        case .naive: composeNaive(sequence: sequence, nowMicros: nowMicros, order: order, avatars: avatars, codec: codec,
                                  counters: &counters, send: send)
        case .spatial: composeSpatial(sequence: sequence, nowMicros: nowMicros, order: order, avatars: avatars,
                                      codec: codec, context: context, counters: &counters, send: send)
        }
    }

    /// Makes every id-indexed table hold ids up to `maxId`.
    private mutating func reserve(upTo maxId: Int) {
        history.reserve(upTo: maxId)
        guard recipients.count <= maxId else { return }
        let n = maxId + 1 - recipients.count
        recipients.append(contentsOf: repeatElement(Recipient(), count: n))
        lastSent.append(contentsOf: repeatElement(0, count: n))
        peers.append(contentsOf: repeatElement(PeerHandle(slot: 0, connectID: 0), count: n))
        acknowledged.append(contentsOf: repeatElement(0, count: n))
        tickAvatars.append(contentsOf: repeatElement(RecipientDelta.Avatar(), count: n))
        poses.append(contentsOf: repeatElement(nil, count: n))
        delta.reserve(upTo: maxId)
    }

    // MARK: naive

    /// Everyone in full against baseline 0, split into datagram-sized parts; identical for every recipient,
    /// so encoded once.
    private mutating func composeNaive(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], codec: PoseCodec,
        counters: inout ShardCounters, send: (PeerHandle, [UInt8]) -> Void
    ) {
        let all = order.sorted().compactMap { avatars[$0].map { SnapshotEntry.full($0.viewEntry) } }
        let encoded = SnapshotPacker.pack(
            sequence: sequence, serverTimeMicros: nowMicros, baseline: .empty, entries: all, codec: codec,
            maxBytes: snapshotMaxBytes
        ).parts
        for id in order {
            guard let avatar = avatars[id] else { continue }
            for bytes in encoded {
                send(avatar.peer, bytes)
                counters.snapshotBytes += UInt64(bytes.count)
            }
            counters.snapshotDatagrams += UInt64(encoded.count)
            counters.snapshotsSent += 1
            counters.fullEntries += UInt64(all.count)
            lastSent[Int(id)] = sequence
        }
    }

    // MARK: spatial

    /// Rebuilds this tick's per-avatar tables: interest view, grid, states and revisions, size estimates, and
    /// what each recipient needs from its `Avatar` (read here once, not per recipient).
    private mutating func prepareTick(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], codec: PoseCodec,
        context: InterestContext
    ) {
        table.removeAll()
        for id in order {
            guard let a = avatars[id] else { continue }
            let speaking = a.lastSpokeMicros != 0 && nowMicros &- a.lastSpokeMicros < settings.speakingWindowMicros
            table.insert(
                context.avatar(
                    id: id, position: a.pose.headPosition, rotation: a.pose.headRotation, role: a.role,
                    speakingRecently: speaking))
            grid.update(id: id, position: a.pose.headPosition)
            let slot = Int(id)
            let state = a.viewEntry
            history.record(state, at: sequence)
            bodies.setState(state, codec: codec)
            peers[slot] = a.peer
            acknowledged[slot] = a.ackedSnapshot
            // Sizes are estimated once per avatar per tick, not per recipient: a full entry exactly, an update
            // as the delta from this avatar's pose a few ticks ago (acknowledged baselines are typically
            // two to four ticks old) plus kind and sequence bits. The id gap is added per recipient.
            let fullCost = 2 + 32 + codec.fullBits(state.pose)
            var ring = poses[slot] ?? PoseHistory(filledWith: state.pose)
            let updateCost = min(2 + 5 + codec.deltaBits(from: ring.oldest, to: state.pose), fullCost)
            ring.push(state.pose)
            poses[slot] = ring
            tickAvatars[slot] = RecipientDelta.Avatar(
                revision: history.revisions[slot], fullCost: Int32(fullCost), updateCost: Int32(updateCost))
        }
    }

    private mutating func composeSpatial(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], codec: PoseCodec,
        context: InterestContext, counters: inout ShardCounters, send: (PeerHandle, [UInt8]) -> Void
    ) {
        bodies.beginTick()
        prepareTick(sequence: sequence, nowMicros: nowMicros, order: order, avatars: avatars, codec: codec, context: context)
        let interval = UInt32(max(1, settings.relevanceIntervalTicks))
        // The per-recipient state is moved into locals for the loop: locals are what the hot loops are fastest on
        // (no exclusivity or uniqueness checks through `self`).
        var delta = self.delta
        var scratch = selectionScratch
        self.delta = RecipientDelta()
        defer {
            self.delta = delta
            selectionScratch = scratch
        }
        // Local copies: the interest calls read these for every pair, cheaper than through `self`.
        let table = self.table
        let grid = self.grid
        let history = self.history
        let tickAvatars = self.tickAvatars

        for id in order {
            let slot = Int(id)
            guard let me = table[id] else { continue }
            var recipient = Recipient()
            swap(&recipient, &recipients[slot])
            // Set here rather than in every `Recipient()`: a blank recipient is also the swap placeholder.
            recipient.scheduler.sendThreshold = settings.sendThreshold
            if !recipient.hasRelevance || (sequence &+ UInt32(id)) % interval == 0 {
                recipient.relevance.limit = settings.maxRelevantAvatars
                recipient.relevance.update(
                    recipient: me, grid: grid, table: table, enterRadius: radius, leaveMargin: settings.leaveMarginMetres)
                recipient.hasRelevance = true
            }
            let relevant = recipient.relevance.relevant
            recipient.scheduler.accumulate(recipient: me, relevant: relevant, table: table, radius: radius)
            let baseline = recipient.views.baseline(acknowledged: acknowledged[slot], for: sequence)
            if baseline.sequence != 0 { counters.snapshotsFromBaseline += 1 }

            delta.diff(relevant: relevant, known: baseline.avatars, avatars: tickAvatars) { recipient.scheduler.markFresh($0) }
            let spent = spent(by: peers[slot])
            let budget = stateBudgetBits(spent: spent)
            let leaveBits = delta.leaves.count * (2 + 9)
            let (selected, deferred, deferredByRate) = recipient.scheduler.select(
                candidates: delta.candidates, costs: delta.costs,
                budgetBits: budget - leaveBits, maxAvatars: settings.maxFullRateAvatars, scratch: &scratch)
            counters.deferredByBudget += UInt64(deferred)
            counters.deferredByRate += UInt64(deferredByRate)
            counters.leaveEntries += UInt64(delta.leaves.count)

            let bytes = delta.write(
                sequence: sequence, nowMicros: nowMicros, baseline: baseline.sequence, known: baseline.avatars,
                selected: selected, history: history, codec: codec, bodies: &bodies, counters: &counters)
            recipient.views.store(&delta.view, sequence: sequence)
            swap(&recipient, &recipients[slot])
            lastSent[slot] = sequence
            settle(peers[slot], spent: spent, snapshotBytes: bytes.count)
            send(peers[slot], bytes)
            counters.snapshotBytes += UInt64(bytes.count)
            counters.snapshotDatagrams += 1
            counters.snapshotsSent += 1
        }
    }
}

/// The last few quantized poses of one avatar, for estimating update sizes.
struct PoseHistory {
    private var poses: (QuantizedPose, QuantizedPose, QuantizedPose)
    private var next = 0

    init(filledWith pose: QuantizedPose) { poses = (pose, pose, pose) }

    /// The pose three pushes ago.
    var oldest: QuantizedPose {
        switch next {
        case 0: return poses.0
        case 1: return poses.1
        default: return poses.2
        }
    }

    mutating func push(_ pose: QuantizedPose) {
        switch next {
        case 0: poses.0 = pose
        case 1: poses.1 = pose
        default: poses.2 = pose
        }
        next = (next + 1) % 3
    }
}
