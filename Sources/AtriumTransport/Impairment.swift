import CENet

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seeded network impairment applied to the datagrams a ``TransportHost`` receives.
///
/// Everything happens on the **receive side** of the host it is installed on
/// (install it on both hosts to impair both directions):
///
/// - **loss**: the datagram is swallowed in ENet's `host->intercept` callback.
/// - **latency / jitter**: the datagram is copied into a time-ordered queue and
///   swallowed; when it is due it is fed back into ENet's own receive path with
///   its original source address (see ``TransportHost/setImpairment(_:)``).
///   Delay = `latencyMs ± jitterMs` (uniform, never below zero). Jitter alone
///   reorders datagrams, as on a real path.
/// - **reorder**: with `reorderPercent` probability a datagram is held back an
///   extra `max(5 ms, jitterMs) × (1…2)` so that later datagrams overtake it.
/// - **duplicate**: with `duplicatePercent` probability a copy is queued for
///   delivery `0…jitterMs` after the original.
///
/// Decisions come from a SplitMix64 stream seeded with `seed`, drawn in a fixed
/// amount per datagram, so the n-th received datagram always gets the same fate
/// for the same seed. Arrival *times* still depend on the real network.
/// Percentages are clamped to 0…100 and times to 0…60 000 ms; NaN counts as 0.
public struct Impairment: Sendable, Equatable {
    public var lossPercent: Double
    public var latencyMs: Double
    public var jitterMs: Double
    public var duplicatePercent: Double
    public var reorderPercent: Double
    public var seed: UInt64

    public init(
        lossPercent: Double = 0, latencyMs: Double = 0, jitterMs: Double = 0,
        duplicatePercent: Double = 0, reorderPercent: Double = 0, seed: UInt64 = 0
    ) {
        self.lossPercent = lossPercent
        self.latencyMs = latencyMs
        self.jitterMs = jitterMs
        self.duplicatePercent = duplicatePercent
        self.reorderPercent = reorderPercent
        self.seed = seed
    }

    /// Maximum number of datagrams held for later delivery; arrivals beyond it are dropped.
    public static let queueCapacity = 8192
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast and fully deterministic.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    mutating func unit() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }
}

/// The fate of one received datagram.
struct ImpairmentDecision: Equatable {
    var drop: Bool
    /// Delay before the datagram reaches ENet (0 = immediately).
    var delayNanoseconds: UInt64
    /// When non-nil, a duplicate reaches ENet after this delay.
    var duplicateDelayNanoseconds: UInt64?
}

/// Pure, deterministic decision stream (no I/O), separated so tests can check it.
struct ImpairmentModel {
    let loss: Double, latency: Double, jitter: Double, duplicate: Double, reorder: Double
    private var rng: SplitMix64

    init(_ parameters: Impairment) {
        func percent(_ v: Double) -> Double { v.isNaN ? 0 : min(max(v, 0), 100) }
        func millis(_ v: Double) -> Double { v.isNaN ? 0 : min(max(v, 0), 60_000) }
        loss = percent(parameters.lossPercent)
        latency = millis(parameters.latencyMs)
        jitter = millis(parameters.jitterMs)
        duplicate = percent(parameters.duplicatePercent)
        reorder = percent(parameters.reorderPercent)
        rng = SplitMix64(seed: parameters.seed)
    }

    /// True when no datagram can be delayed or duplicated (loss alone needs no queue).
    var passesThroughImmediately: Bool { latency == 0 && jitter == 0 && duplicate == 0 && reorder == 0 }

    mutating func next() -> ImpairmentDecision {
        // Always draw six numbers so one datagram's fate never shifts the next one's.
        let uLoss = rng.unit(), uJitter = rng.unit(), uReorder = rng.unit()
        let uHold = rng.unit(), uDuplicate = rng.unit(), uDuplicateJitter = rng.unit()
        if uLoss * 100 < loss {
            return ImpairmentDecision(drop: true, delayNanoseconds: 0, duplicateDelayNanoseconds: nil)
        }
        var delayMs = max(0, latency + jitter * (2 * uJitter - 1))
        if uReorder * 100 < reorder {
            delayMs += max(5, jitter) * (1 + uHold)
        }
        var duplicateMs: Double? = nil
        if uDuplicate * 100 < duplicate {
            duplicateMs = delayMs + jitter * uDuplicateJitter
        }
        return ImpairmentDecision(
            drop: false,
            delayNanoseconds: UInt64(delayMs * 1_000_000),
            duplicateDelayNanoseconds: duplicateMs.map { UInt64($0 * 1_000_000) }
        )
    }
}

/// A datagram waiting in the impairment queue.
struct HeldDatagram {
    var due: UInt64
    var sequence: UInt64
    var source: ENetAddress
    var bytes: [UInt8]

    func isBefore(_ other: HeldDatagram) -> Bool {
        due != other.due ? due < other.due : sequence < other.sequence
    }
}

/// Binary min-heap ordered by (due time, arrival sequence).
struct HeldQueue {
    private(set) var items: [HeldDatagram] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var nextDue: UInt64? { items.first?.due }

    mutating func push(_ item: HeldDatagram) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].isBefore(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popIfDue(_ now: UInt64) -> HeldDatagram? {
        guard let first = items.first, first.due <= now else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, items[left].isBefore(items[smallest]) { smallest = left }
            if right < items.count, items[right].isBefore(items[smallest]) { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    /// How many entries are due, counting at most `limit` (visits only due nodes).
    func countDue(_ now: UInt64, limit: Int) -> Int {
        var found = 0
        var stack = [0]
        while let index = stack.popLast(), found < limit {
            guard index < items.count, items[index].due <= now else { continue }
            found += 1
            stack.append(2 * index + 1)
            stack.append(2 * index + 2)
        }
        return found
    }

    mutating func removeAll() { items.removeAll() }
}

/// Counters for tests and diagnostics.
public struct ImpairmentCounters: Sendable, Equatable {
    public var dropped: UInt64 = 0
    public var delayed: UInt64 = 0
    public var duplicated: UInt64 = 0
    public var overflowed: UInt64 = 0
    public var released: UInt64 = 0
}

/// Receive-side impairment state of one host.
///
/// It runs inside ENet's intercept callback through the host's ``InterceptContext``
/// (after the inbound filter, if any), on the owning thread, synchronously inside
/// `enet_host_service`: no locks, no sharing.
///
/// Delayed datagrams are re-injected through ENet's public receive path: when
/// some are due, the engine sends one tiny *wake* datagram per due entry from a
/// private loopback socket to the host's own port. When the intercept sees a
/// wake (matching source address and 16-byte random token), it overwrites
/// `host->receivedData` (ENet's own `packetData[0]` buffer), `receivedDataLength`
/// and `receivedAddress` with the held datagram and returns 0, so ENet processes
/// the original bytes from the original sender. Wakes are subtracted from the
/// host's receive counters. Held datagrams are released only while the owner
/// calls `service`/`poll`.
final class ImpairmentEngine {
    let host: UnsafeMutablePointer<ENetHost>
    private(set) var parameters: Impairment
    private var model: ImpairmentModel
    private var queue = HeldQueue()
    private var sequence: UInt64 = 0
    private(set) var counters = ImpairmentCounters()

    private var wakeSocket: ENetSocket = -1  // ENET_SOCKET_NULL on Unix
    private var wakeSource = ENetAddress(host: 0, port: 0)
    private var wakeTarget = ENetAddress(host: 0, port: 0)
    private let wakeToken: [UInt8]
    private var wakesInFlight = 0
    private var lastWakeSent: UInt64 = 0

    /// A wake not seen within this time is presumed lost (e.g. full socket buffer).
    private static let wakeRecoveryNanoseconds: UInt64 = 50_000_000
    private static let maximumWakesPerPass = 64

    init(host: UnsafeMutablePointer<ENetHost>, parameters: Impairment) {
        self.host = host
        self.parameters = parameters
        self.model = ImpairmentModel(parameters)
        var token = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in token.indices { token[i] = generator.next() }
        self.wakeToken = token
    }

    deinit {
        if wakeSocket >= 0 {
            // C call: the socket was created by us in ensureWakeSocket and is closed once.
            enet_socket_destroy(wakeSocket)
        }
    }

    /// New parameters restart the seeded stream; held datagrams stay queued.
    func configure(_ parameters: Impairment) {
        self.parameters = parameters
        self.model = ImpairmentModel(parameters)
    }

    var heldCount: Int { queue.count }
    var nextDue: UInt64? { queue.nextDue }

    // MARK: Intercept (runs inside enet_host_service on the owning thread)

    /// If the datagram ENet just read is one of our wakes, releases the held datagram that is due
    /// (returns 0 so ENet processes it in place of the wake) or swallows the wake (1). nil = not a wake.
    func interceptWake() -> Int32? {
        // `host` is the live host ENet is servicing right now (checked by the callback).
        let length = host.pointee.receivedDataLength
        guard let data = host.pointee.receivedData else { return nil }
        // `data` points at ENet's packetData[0] holding `length` received bytes; ENet set
        // both just before calling us and they stay valid for the duration of this call.
        let received = UnsafeBufferPointer(start: data, count: length)
        guard isWake(source: host.pointee.receivedAddress, bytes: received) else { return nil }
        // Wakes are ours, not traffic: undo ENet's counting of this datagram.
        host.pointee.totalReceivedData &-= UInt32(truncatingIfNeeded: length)
        host.pointee.totalReceivedPackets &-= 1
        wakesInFlight = max(0, wakesInFlight - 1)
        guard let held = queue.popIfDue(monotonicNanoseconds()) else { return 1 }
        inject(held)
        counters.released += 1
        return 0
    }

    /// Applies loss, delay and duplication to the (real, already filtered) datagram ENet just read.
    /// Return value follows ENet: 1 = swallowed, 0 = let ENet process `host->receivedData`.
    func impair() -> Int32 {
        // As in interceptWake: ENet's current datagram, valid during this call.
        let length = host.pointee.receivedDataLength
        let source = host.pointee.receivedAddress
        guard let data = host.pointee.receivedData else { return 0 }
        let received = UnsafeBufferPointer(start: data, count: length)

        let decision = model.next()
        if decision.drop {
            counters.dropped += 1
            return 1
        }
        let now = monotonicNanoseconds()
        if let duplicateDelay = decision.duplicateDelayNanoseconds {
            if hold(received, from: source, due: now &+ duplicateDelay) { counters.duplicated += 1 }
        }
        if decision.delayNanoseconds == 0 { return 0 }
        if hold(received, from: source, due: now &+ decision.delayNanoseconds) { counters.delayed += 1 }
        return 1
    }

    private func isWake(source: ENetAddress, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        wakeSocket >= 0 && source.host == wakeSource.host && source.port == wakeSource.port
            && bytes.count == wakeToken.count && bytes.elementsEqual(wakeToken)
    }

    /// Copies the datagram into the queue; false (and counted) when the queue is full.
    private func hold(_ bytes: UnsafeBufferPointer<UInt8>, from source: ENetAddress, due: UInt64) -> Bool {
        guard queue.count < Impairment.queueCapacity, ensureWakeSocket() else {
            counters.overflowed += 1
            return false
        }
        sequence &+= 1
        queue.push(HeldDatagram(due: due, sequence: sequence, source: source, bytes: Array(bytes)))
        return true
    }

    /// Makes ENet process `held` instead of the wake datagram it just read.
    private func inject(_ held: HeldDatagram) {
        let capacity = MemoryLayout.size(ofValue: host.pointee.packetData) / 2
        precondition(held.bytes.count <= capacity, "held datagram larger than ENet's receive buffer")
        // packetData is ENet's own two-element array of ENET_PROTOCOL_MAXIMUM_MTU-byte
        // buffers inside the host struct; its first element is exactly where ENet's receive
        // loop reads into. We write at most `capacity` bytes (checked above) into it, and
        // point receivedData at it, as the receive loop itself does.
        let buffer = UnsafeMutableRawPointer(host)
            .advanced(by: MemoryLayout<ENetHost>.offset(of: \ENetHost.packetData)!)
            .assumingMemoryBound(to: UInt8.self)
        held.bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { buffer.update(from: base, count: source.count) }
        }
        host.pointee.receivedData = buffer
        host.pointee.receivedDataLength = held.bytes.count
        host.pointee.receivedAddress = held.source
    }

    // MARK: Wake-ups (called by TransportHost.service before enet_host_service)

    /// Sends one wake datagram per due entry not already covered by a wake in flight.
    func sendWakes(now: UInt64) {
        guard let due = queue.nextDue, due <= now, wakeSocket >= 0 else { return }
        if wakesInFlight > 0, now &- lastWakeSent > Self.wakeRecoveryNanoseconds { wakesInFlight = 0 }
        var missing = queue.countDue(now, limit: Self.maximumWakesPerPass) - wakesInFlight
        guard missing > 0, refreshWakeTarget() else { return }
        wakeToken.withUnsafeBufferPointer { token in
            // ENetBuffer only borrows the token bytes for the duration of enet_socket_send;
            // ENet's API takes a mutable pointer but sendmsg never writes through it.
            var buffer = ENetBuffer(data: UnsafeMutableRawPointer(mutating: token.baseAddress), dataLength: token.count)
            while missing > 0 {
                // C call: sends `buffer` (16 valid bytes) on our own non-blocking socket to wakeTarget.
                guard enet_socket_send(wakeSocket, &wakeTarget, &buffer, 1) > 0 else { break }
                wakesInFlight += 1
                missing -= 1
            }
        }
        lastWakeSent = now
    }

    /// The host's current port (a client host is bound implicitly by its first send).
    private func refreshWakeTarget() -> Bool {
        // `host` is live while its TransportHost (which owns this engine) exists.
        var bound = ENetAddress(host: 0, port: 0)
        // C call: getsockname on the host's own socket into a local ENetAddress.
        guard enet_socket_get_address(host.pointee.socket, &bound) == 0, bound.port != 0 else { return false }
        wakeTarget = ENetAddress(host: bound.host == UInt32(ENET_HOST_ANY) ? loopbackHost : bound.host, port: bound.port)
        return true
    }

    private var loopbackHost: UInt32 { UInt32(0x7F00_0001).bigEndian }  // 127.0.0.1, network order

    private func ensureWakeSocket() -> Bool {
        if wakeSocket >= 0 { return true }
        // `host` is live while its TransportHost (which owns this engine) exists.
        var bound = ENetAddress(host: 0, port: 0)
        // C call: reads the host's socket address into a local struct.
        _ = enet_socket_get_address(host.pointee.socket, &bound)
        let interface = bound.host == UInt32(ENET_HOST_ANY) ? loopbackHost : bound.host
        // C calls: create, bind and configure a datagram socket that this object owns;
        // on any failure it is destroyed here and the datagram is treated as overflow.
        let socket = enet_socket_create(ENET_SOCKET_TYPE_DATAGRAM)
        guard socket >= 0 else { return false }
        var local = ENetAddress(host: interface, port: 0)
        guard enet_socket_bind(socket, &local) == 0,
              enet_socket_set_option(socket, ENET_SOCKOPT_NONBLOCK, 1) == 0,
              enet_socket_get_address(socket, &local) == 0
        else {
            enet_socket_destroy(socket)
            return false
        }
        wakeSocket = socket
        wakeSource = local
        return true
    }
}
