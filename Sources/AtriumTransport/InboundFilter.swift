import CENet

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 address and UDP port as numbers. `host` is in host byte order: 127.0.0.1 is `0x7F00_0001`.
public struct IPv4Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: UInt32
    public var port: UInt16

    public init(host: UInt32, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Resolves a ``TransportAddress`` (IPv4 literal or name; IPv6 throws, as everywhere in ENet 1.3.17).
    public init(resolving address: TransportAddress) throws(TransportError) {
        let resolved = try ENetRuntime.resolve(address, purpose: "resolve")
        self.init(resolved)
    }

    init(_ address: ENetAddress) {
        host = UInt32(bigEndian: address.host)  // ENetAddress.host is in network order
        port = address.port  // ENet converts the port to host order on receive
    }

    var enetAddress: ENetAddress { ENetAddress(host: host.bigEndian, port: port) }

    public var description: String {
        "\(host >> 24).\(host >> 16 & 0xFF).\(host >> 8 & 0xFF).\(host & 0xFF):\(port)"
    }
}

/// Decides the fate of every datagram a ``TransportHost`` receives, before ENet parses it
/// (installed with ``TransportHost/setInboundFilter(_:)``).
///
/// Called synchronously on the host's owning thread, inside `service`, once per datagram
/// read from the socket: keep it fast and never call back into the host.
public protocol InboundDatagramFilter: AnyObject {
    /// - Parameters:
    ///   - bytes: the datagram as received; valid only during the call.
    ///   - source: where it came from (as the socket reports it: not authenticated).
    ///   - nowMicros: ``MonotonicClock/nowMicros()`` read once per datagram.
    func inspect(_ bytes: UnsafeRawBufferPointer, from source: IPv4Endpoint, nowMicros: UInt64) -> InboundVerdict
}

/// A filter's decision about one datagram.
public enum InboundVerdict: Equatable, Sendable {
    /// Hand the datagram to ENet (after the impairment, if one is installed).
    case pass
    /// Swallow it silently, counted under `reason`.
    case drop(InboundDropReason)
    /// Swallow it and send `reply` to its source from the host's own socket. The host sends the
    /// reply only if it is no larger than the datagram (no amplification); otherwise it counts
    /// an oversized reply and sends nothing.
    case reply([UInt8])
}

/// A named reason for dropping a datagram, used as a counter key.
public struct InboundDropReason: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }
}

/// What the inbound filter of a host did so far.
public struct InboundFilterCounters: Sendable, Equatable {
    /// Datagrams the filter passed on to ENet.
    public var passed: UInt64 = 0
    /// Swallowed datagrams, per reason.
    public var dropped: [InboundDropReason: UInt64] = [:]
    /// Replies sent, and their bytes.
    public var replies: UInt64 = 0
    public var replyBytes: UInt64 = 0
    /// Replies refused because they were larger than the datagram they answered (a filter bug).
    public var oversizedReplies: UInt64 = 0
    /// Replies the socket refused (e.g. buffer full).
    public var failedReplies: UInt64 = 0

    public init() {}

    public var droppedTotal: UInt64 { dropped.values.reduce(0, &+) }
}

/// ENet limits applied when a ``TransportHost`` is created (all can be changed later on the host).
///
/// ENet's own defaults let one peer reserve 32 MiB with a single fragment header and 32 MiB more of
/// undelivered data. Atrium's largest message is a 1200-byte SNAPSHOT part (docs/PROTOCOL.md §2, §7;
/// HELLO ≤ 104, CHAT ≤ 503 bytes), so the defaults here leave room for voice frames and nothing more.
public struct TransportLimits: Sendable, Equatable {
    /// Largest packet sent or accepted (whole message, before fragmentation): 4 KiB.
    public static let defaultMaximumPacketSize = 4096
    /// Per-peer cap on received data not yet handed to the application (incl. fragments being
    /// reassembled): 256 KiB, about 200 full SNAPSHOT parts.
    public static let defaultMaximumWaitingData = 256 * 1024

    public var maximumPacketSize: Int
    public var maximumWaitingData: Int
    /// Peers allowed from one IPv4 address (ENet's `duplicatePeers`, which compares the address
    /// only, not the port). nil keeps ENet's default (no limit below the peer limit) — load tests run
    /// hundreds of bots from 127.0.0.1; a public server should set a small number.
    public var peersPerAddress: Int?
    /// Kernel receive and send buffer of the host's UDP socket, bytes (nil keeps ENet's 256 KiB).
    /// A server flushes one datagram per client per tick in one burst, and a load tool receives a
    /// thousand clients' bursts on one socket: a buffer smaller than a burst drops datagrams in the
    /// kernel, and lost reliable messages end sessions by time-out. Linux caps the request at
    /// `net.core.rmem_max` / `wmem_max` unless the process may exceed them (CAP_NET_ADMIN); see
    /// ``TransportHost/socketBufferBytes``.
    public var socketBufferBytes: Int?

    public init(
        maximumPacketSize: Int = TransportLimits.defaultMaximumPacketSize,
        maximumWaitingData: Int = TransportLimits.defaultMaximumWaitingData,
        peersPerAddress: Int? = nil,
        socketBufferBytes: Int? = nil
    ) {
        self.maximumPacketSize = maximumPacketSize
        self.maximumWaitingData = maximumWaitingData
        self.peersPerAddress = peersPerAddress
        self.socketBufferBytes = socketBufferBytes
    }
}

// MARK: - The one intercept

/// Everything ENet's intercept callback needs for one host: the inbound filter and the impairment.
///
/// ENet 1.3.17's intercept is a plain C function pointer and `ENetHost` has no user-data field, so
/// the callback finds this object through a thread-local slot that ``TransportHost`` sets around
/// each `enet_host_service` call (the only ENet call that reads the socket). It runs on the owning
/// thread, synchronously inside that call: no locks, no sharing.
///
/// Order per datagram: an impairment wake (our own loopback datagram that re-injects a held
/// datagram, which was filtered when it first arrived) goes straight to the impairment; every real
/// datagram goes through the filter first, then the impairment.
final class InterceptContext {
    let host: UnsafeMutablePointer<ENetHost>
    var filter: (any InboundDatagramFilter)?
    var impairment: ImpairmentEngine?
    private(set) var counters = InboundFilterCounters()

    init(host: UnsafeMutablePointer<ENetHost>) { self.host = host }

    var isEmpty: Bool { filter == nil && impairment == nil }

    /// Return value follows ENet: 1 = swallowed, 0 = let ENet process `host->receivedData`, -1 = error.
    func intercept() -> Int32 {
        if let impairment, let handled = impairment.interceptWake() { return handled }
        if let filter {
            // `host` is the live host ENet is servicing right now (checked by the callback).
            guard let data = host.pointee.receivedData else { return 0 }
            let length = host.pointee.receivedDataLength
            let source = host.pointee.receivedAddress
            // `data` points at ENet's receive buffer holding `length` bytes; ENet set both just before
            // calling us and they stay valid (and unchanged) for the duration of this call.
            let bytes = UnsafeRawBufferPointer(start: data, count: length)
            switch filter.inspect(bytes, from: IPv4Endpoint(source), nowMicros: MonotonicClock.nowMicros()) {
            case .pass:
                counters.passed &+= 1
            case .drop(let reason):
                counters.dropped[reason, default: 0] &+= 1
                return 1
            case .reply(let reply):
                send(reply, inAnswerTo: length, to: source)
                return 1
            }
        }
        if let impairment { return impairment.impair() }
        return 0
    }

    private func send(_ reply: [UInt8], inAnswerTo length: Int, to source: ENetAddress) {
        // Enforced here, not trusted to the filter: no reply to an unauthenticated datagram is larger.
        guard reply.count <= length else {
            counters.oversizedReplies &+= 1
            return
        }
        var target = source
        let sent = reply.withUnsafeBytes { raw -> Int32 in
            // ENetBuffer only borrows the reply bytes for the duration of enet_socket_send; ENet's API
            // takes a mutable pointer but sendmsg never writes through it.
            var buffer = ENetBuffer(data: UnsafeMutableRawPointer(mutating: raw.baseAddress), dataLength: raw.count)
            // C call: sends on the host's own (non-blocking) socket, which is live while `host` is.
            return enet_socket_send(host.pointee.socket, &target, &buffer, 1)
        }
        if sent > 0 {
            counters.replies &+= 1
            counters.replyBytes &+= UInt64(reply.count)
        } else {
            counters.failedReplies &+= 1
        }
    }
}

/// Thread-local slot holding the context of the host currently inside enet_host_service.
let interceptContextKey: pthread_key_t = {
    var key = pthread_key_t()
    // C call: creates a process-wide TLS key once (swift_once); no destructor, values are borrowed.
    let rc = pthread_key_create(&key, nil)
    precondition(rc == 0, "pthread_key_create failed: \(rc)")
    return key
}()

/// The C intercept installed in `host->intercept`. It captures nothing (a C function pointer cannot);
/// it finds the context through the thread-local slot and checks that it belongs to the host ENet
/// passed in.
let transportIntercept: ENetInterceptCallback = { host, _ in
    // C call: reads this thread's slot; set by TransportHost.service on this thread.
    guard let host, let raw = pthread_getspecific(interceptContextKey) else { return 0 }
    // The slot holds an unretained pointer to a context that the TransportHost keeps alive for the
    // whole enet_host_service call during which this callback can run.
    let context = Unmanaged<InterceptContext>.fromOpaque(raw).takeUnretainedValue()
    guard context.host == host else { return 0 }
    return context.intercept()
}
