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
    /// Downstream budget per recipient, kbit/s; per tick it is this ÷ tick rate, at most one datagram.
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
struct SnapshotComposer {
    struct Recipient {
        var relevance = RelevanceSet()
        /// False until the first relevance pass (a new recipient gets one at once).
        var hasRelevance = false
        var scheduler = PriorityScheduler()
        var views = SnapshotViewRing()
    }

    let settings: InterestSettings
    let radius: Float
    let snapshotMaxBytes: Int
    let tickRate: Int
    private var recipients: [UInt16: Recipient] = [:]
    private var grid: SpatialGrid
    private var table = InterestAvatarTable()
    /// This tick's interest view of every avatar (spatial mode; empty in naive mode), for voice routing.
    var interestTable: InterestAvatarTable { table }
    /// Reused per recipient: where each candidate's entry is in `pending`, indexed by avatar id.
    private var pendingIndex: [Int32] = []
    /// This tick, by avatar id: current state and estimated entry sizes (bits).
    private var current: [ViewEntry?] = []
    private var fullCost: [Int32] = []
    private var updateCost: [Int32] = []
    private var history: [PoseHistory?] = []
    private var pending: [SnapshotEntry] = []
    private var candidates: [UInt16] = []
    private var entries: [SnapshotEntry] = []
    /// Shared by every recipient's selection: no allocation per recipient.
    private var selectionScratch = SelectionScratch()
    /// Entry bodies encoded once per tick and copied into every recipient's snapshot that needs them.
    private var bodies = EntryBodyCache()

    init(world: WorldDefinition, settings: InterestSettings, snapshotMaxBytes: Int) {
        self.settings = settings
        self.radius = world.interestRadius
        self.snapshotMaxBytes = snapshotMaxBytes
        self.tickRate = world.tickRate
        grid = SpatialGrid(world: world)
    }

    mutating func forget(_ id: UInt16) {
        recipients.removeValue(forKey: id)
        grid.remove(id: id)
        if Int(id) < current.count {
            current[Int(id)] = nil
            history[Int(id)] = nil
        }
    }

    /// Bits available for entries in one recipient's snapshot this tick.
    var budgetBits: Int {
        let perTick = settings.bandwidthKbps * 1000 / max(1, tickRate)
        return min(perTick, snapshotMaxBytes * 8) - DeltaSnapshot.headerBits
    }

    mutating func compose(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: inout [UInt16: Avatar], codec: PoseCodec,
        context: InterestContext, counters: inout ShardCounters, send: (PeerHandle, [UInt8]) -> Void
    ) {
        switch settings.mode {
        case .naive: composeNaive(sequence: sequence, nowMicros: nowMicros, order: order, avatars: &avatars, codec: codec,
                                  counters: &counters, send: send)
        case .spatial: composeSpatial(sequence: sequence, nowMicros: nowMicros, order: order, avatars: &avatars,
                                      codec: codec, context: context, counters: &counters, send: send)
        }
    }

    // MARK: naive

    /// Everyone in full against baseline 0, split into datagram-sized parts; identical for every recipient,
    /// so encoded once.
    private mutating func composeNaive(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: inout [UInt16: Avatar], codec: PoseCodec,
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
        }
        for id in order { avatars[id]?.lastSnapshotSequence = sequence }
    }

    // MARK: spatial

    /// Rebuilds this tick's flat per-avatar tables: interest view, grid, current state and size estimates.
    private mutating func prepareTick(
        nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], codec: PoseCodec, context: InterestContext
    ) {
        table.removeAll()
        let maxId = Int(order.max() ?? 0)
        if current.count <= maxId {
            current.append(contentsOf: repeatElement(nil, count: maxId + 1 - current.count))
            fullCost.append(contentsOf: repeatElement(0, count: maxId + 1 - fullCost.count))
            updateCost.append(contentsOf: repeatElement(0, count: maxId + 1 - updateCost.count))
            history.append(contentsOf: repeatElement(nil, count: maxId + 1 - history.count))
            pendingIndex.append(contentsOf: repeatElement(-1, count: maxId + 1 - pendingIndex.count))
        }
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
            current[slot] = state
            // Sizes are estimated once per avatar per tick, not per recipient: a full entry exactly, an update
            // as the delta from this avatar's pose a few ticks ago (acknowledged baselines are typically
            // two to four ticks old) plus kind and sequence bits. The id gap is added per recipient.
            fullCost[slot] = Int32(2 + 32 + codec.fullBits(state.pose))
            var ring = history[slot] ?? PoseHistory(filledWith: state.pose)
            updateCost[slot] = Int32(min(2 + 5 + codec.deltaBits(from: ring.oldest, to: state.pose), Int(fullCost[slot])))
            ring.push(state.pose)
            history[slot] = ring
        }
    }

    private mutating func composeSpatial(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: inout [UInt16: Avatar], codec: PoseCodec,
        context: InterestContext, counters: inout ShardCounters, send: (PeerHandle, [UInt8]) -> Void
    ) {
        prepareTick(nowMicros: nowMicros, order: order, avatars: avatars, codec: codec, context: context)
        bodies.beginTick()
        let budget = budgetBits
        // Work arrays are moved into locals for the loop: the cost closure captures them by reference, so
        // resetting them per recipient never copies (a `let` copy captured there would make each reset a
        // copy-on-write of the whole id-indexed array).
        var index = pendingIndex
        var pending = self.pending
        var scratch = selectionScratch
        pendingIndex = []
        self.pending = []
        defer {
            pendingIndex = index
            self.pending = pending
            selectionScratch = scratch
        }
        // Local copies: the interest calls read these for every pair, cheaper than through `self`.
        let table = self.table
        let grid = self.grid

        for id in order {
            guard let me = table[id], let avatar = avatars[id] else { continue }
            var recipient = recipients.removeValue(forKey: id)
                ?? Recipient(scheduler: PriorityScheduler(sendThreshold: settings.sendThreshold))
            let interval = UInt32(max(1, settings.relevanceIntervalTicks))
            if !recipient.hasRelevance || (sequence &+ UInt32(id)) % interval == 0 {
                recipient.relevance.limit = settings.maxRelevantAvatars
                recipient.relevance.update(
                    recipient: me, grid: grid, table: table, enterRadius: radius, leaveMargin: settings.leaveMarginMetres)
                recipient.hasRelevance = true
            }
            let relevant = recipient.relevance.relevant
            recipient.scheduler.accumulate(recipient: me, relevant: relevant, table: table, radius: radius)
            let baseline = recipient.views.baseline(acknowledged: avatar.ackedSnapshot, for: sequence)
            if baseline.sequence != 0 { counters.snapshotsFromBaseline += 1 }

            // Walk the relevant ids and the baseline together (both ascending): unchanged avatars send nothing,
            // changed ones are update candidates, unknown ones enter, known ones no longer relevant leave.
            pending.removeAll(keepingCapacity: true)
            candidates.removeAll(keepingCapacity: true)
            entries.removeAll(keepingCapacity: true)
            var leaveBits = 0
            let known = baseline.avatars
            var k = 0
            for other in relevant {
                while k < known.count && known[k].id < other {
                    entries.append(.leave(known[k].id))
                    leaveBits += 2 + 9
                    k += 1
                }
                guard let state = current[Int(other)] else { continue }
                if k < known.count && known[k].id == other {
                    defer { k += 1 }
                    if known[k] == state {
                        recipient.scheduler.markFresh(other)
                        continue
                    }
                    index[Int(other)] = Int32(pending.count)
                    pending.append(.update(state))
                } else {
                    index[Int(other)] = Int32(pending.count)
                    pending.append(.full(state))
                }
                candidates.append(other)
            }
            while k < known.count {
                entries.append(.leave(known[k].id))
                leaveBits += 2 + 9
                k += 1
            }
            let full = fullCost
            let update = updateCost
            let (selected, deferred, deferredByRate) = recipient.scheduler.select(
                candidates: candidates,
                cost: { other in
                    let slot = Int(other)
                    let isUpdate: Bool
                    if case .update = pending[Int(index[slot])] { isUpdate = true } else { isUpdate = false }
                    return Int(isUpdate ? update[slot] : full[slot]) + 9
                },
                budgetBits: budget - leaveBits, maxAvatars: settings.maxFullRateAvatars, scratch: &scratch)
            counters.deferredByBudget += UInt64(deferred)
            counters.deferredByRate += UInt64(deferredByRate)
            for other in selected {
                let entry = pending[Int(index[Int(other)])]
                if case .full = entry { counters.fullEntries += 1 } else { counters.updateEntries += 1 }
                entries.append(entry)
            }
            for other in candidates { index[Int(other)] = -1 }
            counters.leaveEntries += UInt64(entries.count - selected.count)
            entries.sort { $0.id < $1.id }

            let (bytes, view) = DeltaSnapshot.encode(
                sequence: sequence, serverTimeMicros: nowMicros, baseline: baseline, entries: entries, codec: codec,
                bodies: &bodies)
            recipient.views.insert(view)
            recipients[id] = recipient
            send(avatar.peer, bytes)
            counters.snapshotBytes += UInt64(bytes.count)
            counters.snapshotDatagrams += 1
            counters.snapshotsSent += 1
            avatars[id]?.lastSnapshotSequence = sequence
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
