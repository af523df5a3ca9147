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

    public init() {}
}

/// Per-recipient interest and delta state, and the per-tick composition of every recipient's snapshot:
/// relevance (grid, isolation, roles, hysteresis) → priority accumulators → byte budget → delta entries
/// against the recipient's acknowledged view → one datagram.
struct SnapshotComposer {
    struct Recipient {
        var relevance = RelevanceSet()
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
    /// Reused per recipient: the entry each candidate would send, indexed by avatar id.
    private var pendingIndex: [Int32] = []
    private var pending: [SnapshotEntry] = []
    private var candidates: [UInt16] = []
    private var entries: [SnapshotEntry] = []

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

    private mutating func composeSpatial(
        sequence: UInt32, nowMicros: UInt64, order: [UInt16], avatars: inout [UInt16: Avatar], codec: PoseCodec,
        context: InterestContext, counters: inout ShardCounters, send: (PeerHandle, [UInt8]) -> Void
    ) {
        // This tick's interest view of every avatar, and the grid.
        table.removeAll()
        for id in order {
            guard let a = avatars[id] else { continue }
            let speaking = a.lastSpokeMicros != 0 && nowMicros &- a.lastSpokeMicros < settings.speakingWindowMicros
            table.insert(
                context.avatar(
                    id: id, position: a.pose.headPosition, rotation: a.pose.headRotation, role: a.role,
                    speakingRecently: speaking))
            grid.update(id: id, position: a.pose.headPosition)
        }
        let maxId = Int(order.max() ?? 0)
        if pendingIndex.count <= maxId { pendingIndex = Array(repeating: -1, count: maxId + 1) }
        let budget = budgetBits

        for id in order {
            guard let me = table[id], let avatar = avatars[id] else { continue }
            var recipient = recipients.removeValue(forKey: id) ?? Recipient()
            let table = self.table
            let relevant = recipient.relevance.update(
                recipient: me, grid: grid, avatars: { table[$0] }, alwaysRelevant: table.alwaysRelevant,
                enterRadius: radius, leaveMargin: settings.leaveMarginMetres
            ).relevant
            recipient.scheduler.accumulate(recipient: me, relevant: relevant, avatars: { table[$0] }, radius: radius)
            let baseline = recipient.views.baseline(acknowledged: avatar.ackedSnapshot, for: sequence)
            if baseline.sequence != 0 { counters.snapshotsFromBaseline += 1 }

            // What each relevant avatar would send against the baseline; unchanged ones send nothing.
            pending.removeAll(keepingCapacity: true)
            candidates.removeAll(keepingCapacity: true)
            for other in relevant {
                guard let state = avatars[other]?.viewEntry else { continue }
                if let known = baseline[other] {
                    if known == state {
                        recipient.scheduler.markFresh(other)
                        continue
                    }
                    pendingIndex[Int(other)] = Int32(pending.count)
                    pending.append(.update(state))
                } else {
                    pendingIndex[Int(other)] = Int32(pending.count)
                    pending.append(.full(state))
                }
                candidates.append(other)
            }
            // Leaves: known to the baseline, no longer relevant (or gone). Always sent; they are a few bits.
            entries.removeAll(keepingCapacity: true)
            var leaveBits = 0
            for known in baseline.avatars where !recipient.relevance.contains(known.id) || avatars[known.id] == nil {
                entries.append(.leave(known.id))
                leaveBits += 2 + 9
            }
            let pendingEntries = pending
            let index = pendingIndex
            // Cost: the entry body plus an average id gap code.
            let (selected, deferred) = recipient.scheduler.select(
                candidates: candidates,
                cost: { DeltaSnapshot.entryBits(pendingEntries[Int(index[Int($0)])], baseline: baseline, codec: codec) + 9 },
                budgetBits: budget - leaveBits, maxAvatars: settings.maxFullRateAvatars)
            counters.deferredByBudget += UInt64(deferred)
            for other in selected {
                let entry = pendingEntries[Int(index[Int(other)])]
                switch entry {
                case .full: counters.fullEntries += 1
                case .update: counters.updateEntries += 1
                case .leave: break
                }
                entries.append(entry)
            }
            for other in candidates { pendingIndex[Int(other)] = -1 }
            counters.leaveEntries += UInt64(entries.count - selected.count)
            entries.sort { $0.id < $1.id }

            let (bytes, view) = DeltaSnapshot.encode(
                sequence: sequence, serverTimeMicros: nowMicros, baseline: baseline, entries: entries, codec: codec)
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
