import AtriumTransport

/// A value per avatar id in a flat array indexed by the id (ids are u16 and the server hands them out from
/// the bottom, so the table stays about as long as the crowd): what a bot looks up for every snapshot entry,
/// without hashing. Ids never written read as `empty`.
struct AvatarTable<Value> {
    private(set) var values: [Value] = []
    let empty: Value

    init(empty: Value) {
        self.empty = empty
    }

    subscript(id: UInt16) -> Value {
        get { Int(id) < values.count ? values[Int(id)] : empty }
        set {
            let i = Int(id)
            if i >= values.count {
                // Doubling keeps a crowd's ids (which arrive in increasing order) from growing it one at a time.
                let length = Swift.min(Int(UInt16.max) + 1, Swift.max(i + 1, values.count * 2, 64))
                values.append(contentsOf: repeatElement(empty, count: length - values.count))
            }
            values[i] = newValue
        }
    }
}

/// When each avatar sent its recent POSE inputs, by input sequence: a ring of `slots` times per avatar
/// (sequence mod `slots`; 256 at 30 Hz is about 8 s), in one flat array. Shared by every bot of the runner
/// (same process, same clock). A slot holds the newest input that mapped to it, so an input older than the
/// ring reads a later one's time.
struct InputSendTimes {
    static let slots = 256
    /// Avatar id → its row + 1 (0 = none yet).
    private var rows = AvatarTable<Int32>(empty: 0)
    /// 0 = never sent.
    private var times: [UInt64] = []

    mutating func record(avatar: UInt16, sequence: UInt32, at micros: UInt64) {
        var row = Int(rows[avatar]) - 1
        if row < 0 {
            row = times.count / Self.slots
            rows[avatar] = Int32(row + 1)
            times.append(contentsOf: repeatElement(0, count: Self.slots))
        }
        times[row * Self.slots + Int(sequence % UInt32(Self.slots))] = micros
    }

    /// The send time in the input's slot, nil when the avatar never sent one there.
    func time(avatar: UInt16, sequence: UInt32) -> UInt64? {
        let row = Int(rows[avatar]) - 1
        guard row >= 0 else { return nil }
        let sent = times[row * Self.slots + Int(sequence % UInt32(Self.slots))]
        return sent != 0 ? sent : nil
    }
}

/// Which bot each of a host's peers is: a flat array by ENet peer slot (every datagram looks its peer up),
/// holding the whole handle so that a reused slot never answers for its previous peer.
struct PeerTable {
    private var entries: [(peer: PeerHandle, bot: Int)?] = []

    subscript(peer: PeerHandle) -> Int? {
        get {
            let i = Int(peer.slot)
            guard i < entries.count, let entry = entries[i], entry.peer == peer else { return nil }
            return entry.bot
        }
        set {
            let i = Int(peer.slot)
            if let bot = newValue {
                if i >= entries.count { entries.append(contentsOf: repeatElement(nil, count: i + 1 - entries.count)) }
                entries[i] = (peer, bot)
            } else if i < entries.count, entries[i]?.peer == peer {
                entries[i] = nil
            }
        }
    }

    /// Forgets `peer` and returns its bot, if it was known.
    mutating func removeValue(forKey peer: PeerHandle) -> Int? {
        let bot = self[peer]
        if bot != nil { self[peer] = nil }
        return bot
    }
}
