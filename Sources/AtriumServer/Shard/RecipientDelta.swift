import AtriumWire

/// One recipient's snapshot once interest has run: the walk of its relevant avatars against the view it
/// acknowledged (unchanged, changed, new, gone), then the writing of the entries the scheduler selected, with the
/// view they leave the recipient with. The composer keeps one and reuses it for every recipient, so its buffers
/// stop growing after the first ticks; the per-pair loops go through unsafe buffers.
struct RecipientDelta {
    /// This tick's facts about one avatar, by avatar id (filled once per tick by the composer).
    struct Avatar {
        /// The revision of its state (`AvatarHistory`); 0 = not in the world.
        var revision: UInt32 = 0
        /// Estimated entry sizes in bits, without the id gap.
        var fullCost: Int32 = 0
        var updateCost: Int32 = 0
    }

    /// The last walk's relevant avatars with something to send, ascending.
    private(set) var candidates: [UInt16] = []
    /// Parallel to `candidates`: each one's entry bits, id gap included (what the scheduler's selection reads).
    private(set) var costs: [Int32] = []
    /// The last walk's known avatars that are no longer relevant or gone, ascending: leave entries.
    private(set) var leaves: [UInt16] = []
    /// By avatar id, valid for the ids in `candidates`: the revision the recipient holds, which an update is
    /// written against; 0 = it enters (full).
    private(set) var bases: [UInt32] = []
    /// The view the last `write` leaves the recipient with, sorted by id.
    var view: [RecipientViews.Entry] = []
    private var writer = SnapshotWriter()
    /// Update entries written full because the state their recipient holds had left the history.
    private(set) var historyFallbacks = 0
    /// What the reads ahead of each `write` read (kept so that they are done; never used otherwise).
    private var readAhead: UInt32 = 0

    /// Makes room for avatar ids up to `maxId`.
    mutating func reserve(upTo maxId: Int) {
        guard bases.count <= maxId else { return }
        bases.append(contentsOf: repeatElement(0, count: maxId + 1 - bases.count))
    }

    /// Walks `relevant` (ascending) and `known` (the baseline view) together: an avatar the recipient holds at
    /// its current revision sends nothing (`unchanged` is told), a changed one is an update candidate against
    /// the revision held, a new one enters (full), and a known one no longer relevant, or gone, leaves.
    mutating func diff(
        relevant: [UInt16], known: [RecipientViews.Entry], avatars: [Avatar], unchanged: (UInt16) -> Void
    ) {
        // At most every relevant avatar is a candidate and every known one leaves: the lists are sized for that
        // and cut to what was used, so the loop can write through pointers.
        candidates.removeAll(keepingCapacity: true)
        candidates.append(contentsOf: repeatElement(0, count: relevant.count))
        costs.removeAll(keepingCapacity: true)
        costs.append(contentsOf: repeatElement(0, count: relevant.count))
        leaves.removeAll(keepingCapacity: true)
        leaves.append(contentsOf: repeatElement(0, count: known.count))
        var c = 0
        var l = 0
        known.withUnsafeBufferPointer { known in
            avatars.withUnsafeBufferPointer { avatars in
                bases.withUnsafeMutableBufferPointer { bases in
                    candidates.withUnsafeMutableBufferPointer { candidates in
                        costs.withUnsafeMutableBufferPointer { costs in
                            leaves.withUnsafeMutableBufferPointer { leaves in
                                var k = 0
                                for other in relevant {
                                    while k < known.count && known[k].id < other {
                                        leaves[l] = known[k].id
                                        l &+= 1
                                        k &+= 1
                                    }
                                    let o = Int(other)
                                    let avatar = avatars[o]
                                    guard avatar.revision != 0 else { continue }  // gone: leaves if known
                                    if k < known.count && known[k].id == other {
                                        let held = known[k].revision
                                        k &+= 1
                                        if held == avatar.revision {
                                            unchanged(other)
                                            continue
                                        }
                                        bases[o] = held
                                        costs[c] = avatar.updateCost &+ 9
                                    } else {
                                        bases[o] = 0
                                        costs[c] = avatar.fullCost &+ 9
                                    }
                                    candidates[c] = other
                                    c &+= 1
                                }
                                while k < known.count {
                                    leaves[l] = known[k].id
                                    l &+= 1
                                    k &+= 1
                                }
                            }
                        }
                    }
                }
            }
        }
        candidates.removeLast(relevant.count - c)
        costs.removeLast(relevant.count - c)
        leaves.removeLast(known.count - l)
    }

    /// Writes the snapshot: the `selected` candidates (ascending) and the leaves of the last `diff`, merged in
    /// id order, against the baseline `known` (view `baseline`); and builds `view`, what it leaves the recipient
    /// with. `bodies` holds this tick's states of the avatars. The returned bytes share the writer's buffer:
    /// let go of them before the next `write`.
    mutating func write(
        sequence: UInt32, nowMicros: UInt64, baseline: UInt32, known: [RecipientViews.Entry], selected: [UInt16],
        history: AvatarHistory, codec: PoseCodec, bodies: inout EntryBodyCache, counters: inout ShardCounters
    ) -> [UInt8] {
        writer.begin(
            sequence: sequence, serverTimeMicros: nowMicros, baseline: baseline,
            entryCount: selected.count + leaves.count)
        // The view holds at most every known avatar and every selected one: it is sized for that, filled through
        // a pointer (once per avatar per recipient) and cut to what was used. (Sized with a copy of `known`, one
        // memory copy, rather than a placeholder per element: all of it is overwritten anyway.)
        view.removeAll(keepingCapacity: true)
        view.append(contentsOf: known)
        view.append(contentsOf: repeatElement(RecipientViews.Entry(id: 0, revision: 0), count: selected.count))
        var used = 0
        var fallbacks = 0
        // Ahead of writing: where each update's shared body is (and, for one not encoded yet this tick, its base
        // state in the history), read for all entries in one go, so those cache misses overlap instead of each
        // stalling the write of its entry in turn.
        var ahead: UInt32 = 0
        bases.withUnsafeBufferPointer { bases in
            for id in selected {
                let base = bases[Int(id)]
                if base != 0 && !bodies.holdsUpdate(id, baseKey: base) {
                    ahead ^= history.storedRevision(of: id, at: base)
                }
            }
        }
        readAhead ^= ahead
        known.withUnsafeBufferPointer { known in
            selected.withUnsafeBufferPointer { selected in
                leaves.withUnsafeBufferPointer { leaves in
                    view.withUnsafeMutableBufferPointer { view in
                        var k = 0
                        var s = 0
                        var l = 0
                        while s < selected.count || l < leaves.count {
                            let isLeave = l < leaves.count && (s == selected.count || leaves[l] < selected[s])
                            let id = isLeave ? leaves[l] : selected[s]
                            // Baseline avatars before this id stay as they are; this id's old entry is replaced
                            // or dropped.
                            while k < known.count && known[k].id < id {
                                view[used] = known[k]
                                used &+= 1
                                k &+= 1
                            }
                            if k < known.count && known[k].id == id { k &+= 1 }
                            if isLeave {
                                writer.leave(id)
                                l &+= 1
                                continue
                            }
                            s &+= 1
                            let slot = Int(id)
                            let base = bases[slot]
                            if base == 0 {
                                counters.fullEntries += 1
                                writer.full(id, codec: codec, bodies: &bodies)
                            } else {
                                counters.updateEntries += 1
                                writer.update(id, baseKey: base, codec: codec, bodies: &bodies) {
                                    let held = history.state(of: id, revision: base)
                                    if held == nil { fallbacks += 1 }
                                    return held
                                }
                            }
                            view[used] = RecipientViews.Entry(id: id, revision: history.revisions[slot])
                            used &+= 1
                        }
                        while k < known.count {
                            view[used] = known[k]
                            used &+= 1
                            k &+= 1
                        }
                    }
                }
            }
        }
        view.removeLast(view.count - used)
        historyFallbacks += fallbacks
        return writer.finish()
    }
}
