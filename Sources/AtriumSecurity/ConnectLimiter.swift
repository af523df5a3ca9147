import AtriumTransport

/// Connection attempts per IPv4 address: more than `attempts` distinct attempts within `windowSeconds`
/// and the address is refused for `banSeconds` (its cookie requests and CONNECTs are dropped).
///
/// An attempt is one (source port, ENet connectID): ENet retransmits a CONNECT with the same connectID
/// from the same port, and those retransmissions are neither counted nor refused separately (the last
/// few per address are remembered). The port is part of the key because connectIDs of different client
/// hosts can collide (ENet 1.3.17 seeds them from the host's heap address and the time in seconds). Only addresses that presented a valid cookie are ever recorded, so spoofed sources
/// cannot fill the table; it is bounded anyway (`maximumAddresses`): when full, expired entries are
/// swept, and if it is still full new addresses are refused until entries expire.
///
/// Not thread-safe: owned by the filter that runs on the host's thread.
public struct ConnectLimiter: Sendable {
    public struct Policy: Sendable, Equatable {
        public var attempts: Int
        public var windowSeconds: UInt32
        public var banSeconds: UInt32
        public var maximumAddresses: Int
        /// Addresses never limited (host byte order), e.g. 127.0.0.1 for local load tests.
        public var exempt: Set<UInt32>

        public init(
            attempts: Int = 10, windowSeconds: UInt32 = 120, banSeconds: UInt32 = 300,
            maximumAddresses: Int = 65_536, exempt: Set<UInt32> = []
        ) {
            self.attempts = max(1, attempts)
            self.windowSeconds = max(1, windowSeconds)
            self.banSeconds = banSeconds
            self.maximumAddresses = max(1, maximumAddresses)
            self.exempt = exempt
        }
    }

    public enum Decision: Equatable, Sendable {
        /// A new attempt within the limit.
        case allowed
        /// A retransmission of an attempt already allowed.
        case repeated
        /// Over the limit, or banned: drop it.
        case refused
        /// The table is full of live entries: drop it.
        case tableFull
    }

    private struct Entry {
        var windowStart: UInt64
        var count = 0
        var bannedUntil: UInt64 = 0
        /// The most recent connectIDs (at most 4) and whether each was allowed, to recognise retransmissions.
        var recent: [(id: UInt64, allowed: Bool)] = []

        mutating func remember(_ id: UInt64, allowed: Bool) {
            if recent.count == 4 { recent.removeFirst() }
            recent.append((id, allowed))
        }
    }

    public let policy: Policy
    private var entries: [UInt32: Entry] = [:]
    private var lastSweep: UInt64 = 0

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Addresses currently remembered.
    public var trackedAddresses: Int { entries.count }

    public func isBanned(_ address: UInt32, nowMicros: UInt64) -> Bool {
        guard let entry = entries[address] else { return false }
        return entry.bannedUntil > nowMicros
    }

    /// Records (or refuses) the attempt `connectID` from `source`.
    public mutating func admit(_ source: IPv4Endpoint, connectID: UInt32, nowMicros: UInt64) -> Decision {
        let address = source.host
        if policy.exempt.contains(address) { return .allowed }
        let window = UInt64(policy.windowSeconds) * 1_000_000
        if entries[address] == nil {
            // A sweep is O(table), so a full table is swept at most once a second.
            if entries.count >= policy.maximumAddresses, nowMicros &- lastSweep >= 1_000_000 || lastSweep == 0 {
                sweep(nowMicros: nowMicros)
            }
            guard entries.count < policy.maximumAddresses else { return .tableFull }
            entries[address] = Entry(windowStart: nowMicros)
        }
        // Mutated in place through the dictionary's accessor (the entry exists: inserted above).
        let attempt = UInt64(source.port) << 32 | UInt64(connectID)
        return Self.decide(&entries[address]!, attempt: attempt, nowMicros: nowMicros, window: window, policy: policy)
    }

    private static func decide(
        _ entry: inout Entry, attempt: UInt64, nowMicros: UInt64, window: UInt64, policy: Policy
    ) -> Decision {
        if let previous = entry.recent.last(where: { $0.id == attempt }) {
            return previous.allowed && entry.bannedUntil <= nowMicros ? .repeated : .refused
        }
        if entry.bannedUntil > nowMicros {
            entry.remember(attempt, allowed: false)
            return .refused
        }
        if nowMicros &- entry.windowStart >= window {
            entry.windowStart = nowMicros
            entry.count = 0
        }
        entry.count += 1
        if entry.count > policy.attempts {
            entry.bannedUntil = nowMicros &+ UInt64(policy.banSeconds) * 1_000_000
            entry.remember(attempt, allowed: false)
            return .refused
        }
        entry.remember(attempt, allowed: true)
        return .allowed
    }

    /// Forgets addresses whose window and ban are both over.
    public mutating func sweep(nowMicros: UInt64) {
        let window = UInt64(policy.windowSeconds) * 1_000_000
        lastSweep = nowMicros
        entries = entries.filter { _, entry in
            entry.bannedUntil > nowMicros || nowMicros &- entry.windowStart < window
        }
    }
}
