import CENet

/// A pool of UDP sockets bound to random addresses in 127/8 and random ports, for load tools that
/// need traffic from many distinct sources (a spoofed-CONNECT flood) without raw sockets: on Linux
/// every 127.x.y.z address is local, so binding to one is allowed without privileges.
///
/// Sockets are rotated (closed and re-bound to a fresh random address) so that a long run comes from
/// far more addresses than the pool holds sockets. Not thread-safe: one thread owns a pool.
public final class LoopbackSenderPool {
    private var sockets: [ENetSocket]
    private var rng: SystemRandomNumberGenerator
    private var next = 0
    /// Distinct source bindings used so far (each rotation adds one).
    public private(set) var sourcesUsed = 0

    /// - Parameter size: sockets open at once (1…1000; each is a file descriptor).
    public init(size: Int) throws(TransportError) {
        try ENetRuntime.initialize()
        guard (1...1000).contains(size) else { throw TransportError("pool size \(size) outside 1...1000") }
        rng = SystemRandomNumberGenerator()
        sockets = []
        sockets.reserveCapacity(size)
        for _ in 0..<size {
            guard let socket = bindRandom() else {
                throw TransportError("cannot bind a UDP socket to a 127/8 address (not Linux?)")
            }
            sockets.append(socket)
        }
    }

    deinit {
        // C calls: each socket was created by bindRandom and is closed exactly once here.
        for socket in sockets { enet_socket_destroy(socket) }
    }

    /// Sends `bytes` to `destination` from the next socket of the pool (round robin).
    /// Returns false when the socket refused the datagram (e.g. its buffer is full).
    @discardableResult
    public func send(_ bytes: [UInt8], to destination: IPv4Endpoint) -> Bool {
        let socket = sockets[next]
        next = (next + 1) % sockets.count
        var target = destination.enetAddress
        let sent = bytes.withUnsafeBytes { raw -> Int32 in
            // ENetBuffer only borrows the bytes for the call; sendmsg never writes through it.
            var buffer = ENetBuffer(data: UnsafeMutableRawPointer(mutating: raw.baseAddress), dataLength: raw.count)
            // C call: a socket this pool owns, a local address and one buffer.
            return enet_socket_send(socket, &target, &buffer, 1)
        }
        return sent > 0
    }

    /// Datagrams that came back to the pool's sockets (answers to what it sent), and their bytes.
    public private(set) var datagramsReceived = 0
    public private(set) var bytesReceived = 0

    /// Reads (and counts) whatever is waiting on every socket, without blocking.
    public func drainReceived() {
        for socket in sockets { drain(socket) }
    }

    private func drain(_ socket: ENetSocket) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        scratch.withUnsafeMutableBytes { raw in
            var buffer = ENetBuffer(data: raw.baseAddress, dataLength: raw.count)
            var from = ENetAddress(host: 0, port: 0)
            // C call: non-blocking receive on a socket we own into our 4 KiB scratch buffer;
            // bounded (a socket buffer holds finitely many datagrams; at most 10 000 reads).
            for _ in 0..<10_000 {
                let received = enet_socket_receive(socket, &from, &buffer, 1)
                guard received > 0 else { break }
                datagramsReceived += 1
                bytesReceived += Int(received)
            }
        }
    }

    /// Replaces a random socket of the pool with a new one on a fresh random address and port
    /// (what is waiting on the old one is counted first).
    public func rotate() {
        guard let replacement = bindRandom() else { return }
        let index = Int.random(in: 0..<sockets.count, using: &rng)
        drain(sockets[index])
        // C call: the old socket is ours and no longer referenced after this line.
        enet_socket_destroy(sockets[index])
        sockets[index] = replacement
    }

    /// A non-blocking socket bound to 127.a.b.c (not .0/.255 in the last byte, never 127.0.0.1) and a
    /// random port ≥ 10000; a few attempts in case a port is taken.
    private func bindRandom() -> ENetSocket? {
        for _ in 0..<16 {
            // C call: creates a socket this pool will own (or destroy below on failure).
            let socket = enet_socket_create(ENET_SOCKET_TYPE_DATAGRAM)
            guard socket >= 0 else { return nil }
            let host = 0x7F00_0000 | UInt32.random(in: 0x00_0101...0xFF_FFFE, using: &rng)
            let address = IPv4Endpoint(host: host == 0x7F00_0001 ? 0x7F00_0002 : host, port: UInt16.random(in: 10_000...65_000, using: &rng))
            var local = address.enetAddress
            // C calls: bind and configure the socket we just created.
            if enet_socket_bind(socket, &local) == 0, enet_socket_set_option(socket, ENET_SOCKOPT_NONBLOCK, 1) == 0 {
                sourcesUsed += 1
                return socket
            }
            enet_socket_destroy(socket)
        }
        return nil
    }
}

/// Pool objects are owned by one thread.
@available(*, unavailable, message: "LoopbackSenderPool is owned by one thread")
extension LoopbackSenderPool: Sendable {}
