import CENet

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Swift face of one `ENetHost`.
///
/// Not `Sendable`: ENet hosts are single-threaded, so one thread owns a
/// `TransportHost` and makes every call on it. The hot path (service, send)
/// takes no locks.
///
/// Peers are addressed by ``PeerHandle``. A handle is remembered when its
/// connection is reported (or returned by ``connect(to:channelCount:data:)``)
/// and forgotten when its disconnect is reported or ``disconnectNow(_:data:)``
/// is called; any call with a handle whose slot has since been reused or reset
/// does nothing (returns false/nil).
///
/// Note: libenet 1.3.17 is IPv4-only. ``TransportAddress/parse(_:)`` accepts
/// `[::1]:7777`, but binding or connecting to an IPv6 literal throws.
public final class TransportHost {
    /// Created in `init`, destroyed only in `deinit`: every `host.pointee` access in this
    /// class therefore reads or writes a live ENetHost that no other thread touches.
    private let host: UnsafeMutablePointer<ENetHost>
    /// connectID of the connection we reported per slot (nil = none).
    private var connectIDs: [UInt32?]
    private var totals = HostStatistics()
    /// Inbound filter and impairment, reached by ENet's intercept callback (see InterceptContext).
    private let interceptContext: InterceptContext
    private var impairmentEngine: ImpairmentEngine? { interceptContext.impairment }

    /// - Parameters:
    ///   - bindTo: nil for a client host (no fixed port; the OS picks one on first send);
    ///     port 0 binds an ephemeral port (read it back with ``localPort``).
    ///   - peerLimit: 1…4095 peer slots.
    ///   - channelLimit: 1…255 channels per peer.
    ///   - incomingBandwidth, outgoingBandwidth: bytes/second, 0 = unlimited.
    ///   - limits: packet size, waiting data and peers-per-address caps (``TransportLimits``; the
    ///     defaults are sized to Atrium's messages, far below ENet's 32 MiB).
    public init(
        bindTo: TransportAddress?, peerLimit: Int, channelLimit: Int,
        incomingBandwidth: UInt32 = 0, outgoingBandwidth: UInt32 = 0,
        limits: TransportLimits = TransportLimits()
    ) throws(TransportError) {
        try ENetRuntime.initialize()
        guard (1...Int(ENET_PROTOCOL_MAXIMUM_PEER_ID)).contains(peerLimit) else {
            throw TransportError("peerLimit \(peerLimit) outside 1...\(ENET_PROTOCOL_MAXIMUM_PEER_ID)")
        }
        guard (1...Int(ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT)).contains(channelLimit) else {
            throw TransportError("channelLimit \(channelLimit) outside 1...\(ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT)")
        }
        let created: UnsafeMutablePointer<ENetHost>?
        if let bindTo {
            var address = try ENetRuntime.resolve(bindTo, purpose: "bind to")
            // C call: enet_host_create copies the address; counts were range-checked above.
            created = enet_host_create(&address, peerLimit, channelLimit, incomingBandwidth, outgoingBandwidth)
            guard created != nil else {
                throw TransportError("enet_host_create failed to bind \(bindTo) (address in use or not local?)")
            }
        } else {
            // C call: a NULL address makes an unbound client host.
            created = enet_host_create(nil, peerLimit, channelLimit, incomingBandwidth, outgoingBandwidth)
        }
        guard let created else { throw TransportError("enet_host_create failed") }
        host = created
        connectIDs = Array(repeating: nil, count: peerLimit)
        interceptContext = InterceptContext(host: created)
        maximumPacketSize = limits.maximumPacketSize
        maximumWaitingData = limits.maximumWaitingData
        if let perAddress = limits.peersPerAddress { peersPerAddress = perAddress }
        if let bytes = limits.socketBufferBytes { Self.setSocketBuffers(created.pointee.socket, bytes: bytes) }
    }

    /// Asks the kernel for `bytes` of receive and send buffer on `socket`: first with the *FORCE
    /// options (allowed past the sysctl maxima with CAP_NET_ADMIN), then the ordinary ones (capped
    /// at the maxima). Failure is not an error: the socket keeps what it has.
    private static func setSocketBuffers(_ socket: ENetSocket, bytes: Int) {
        var value = Int32(clamping: bytes)
        let size = socklen_t(MemoryLayout<Int32>.size)
        // C calls: setsockopt on our own socket with a pointer to a local Int32.
        #if os(Linux)
        let options = [(SO_RCVBUFFORCE, SO_RCVBUF), (SO_SNDBUFFORCE, SO_SNDBUF)]
        #else
        let options = [(SO_RCVBUF, SO_RCVBUF), (SO_SNDBUF, SO_SNDBUF)]
        #endif
        for (force, plain) in options where setsockopt(socket, SOL_SOCKET, force, &value, size) != 0 {
            _ = setsockopt(socket, SOL_SOCKET, plain, &value, size)
        }
    }

    /// The kernel's receive and send buffer sizes of this host's socket, bytes, as the kernel reports
    /// them (Linux doubles the request to cover its bookkeeping).
    public var socketBufferBytes: (receive: Int, send: Int) {
        func read(_ option: Int32) -> Int {
            var value: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            // C call: getsockopt on our own socket into a local Int32.
            return getsockopt(host.pointee.socket, SOL_SOCKET, option, &value, &size) == 0 ? Int(value) : 0
        }
        return (read(SO_RCVBUF), read(SO_SNDBUF))
    }

    /// Datagrams the kernel dropped at this host's socket since it was opened, because its receive buffer was
    /// full (the host was not read fast enough): input lost before ENet or the server could see it. nil where the
    /// kernel does not say (only Linux does, through SO_MEMINFO).
    public var socketDrops: UInt64? {
        #if os(Linux)
        // SO_MEMINFO (Linux ≥ 3.17, <asm-generic/socket.h>) fills SK_MEMINFO_VARS u32s (<linux/sock_diag.h>),
        // the 9th being SK_MEMINFO_DROPS; neither header is visible to Swift through Glibc.
        let soMeminfo: Int32 = 55, dropsIndex = 8, count = 9
        var info = [UInt32](repeating: 0, count: count)
        var size = socklen_t(count * MemoryLayout<UInt32>.size)
        // C call: getsockopt on our own socket into a local array of `size` bytes; the kernel writes at most that.
        let rc = info.withUnsafeMutableBytes { getsockopt(host.pointee.socket, SOL_SOCKET, soMeminfo, $0.baseAddress, &size) }
        guard rc == 0, Int(size) > dropsIndex * MemoryLayout<UInt32>.size else { return nil }
        return UInt64(info[dropsIndex])
        #else
        return nil
        #endif
    }

    deinit {
        // Clear the intercept first so nothing can call back into the context being released
        // (host is still live here; see the `host` property).
        host.pointee.intercept = nil
        // C call: we own the host; this frees its peers, queued packets and socket exactly once.
        enet_host_destroy(host)
    }

    // MARK: Properties

    /// The bound UDP port (0 for a client host that has not sent anything yet).
    public var localPort: UInt16 {
        var address = ENetAddress(host: 0, port: 0)
        // C call: getsockname on our own socket into a local struct.
        if enet_socket_get_address(host.pointee.socket, &address) == 0 { return address.port }
        return host.pointee.address.port
    }

    /// Peers ENet counts as connected (`host->connectedPeers`).
    public var connectedPeerCount: Int {
        Int(host.pointee.connectedPeers)  // plain field read of our live host
    }

    /// `host->maximumPacketSize`: larger sends fail, larger incoming packets are dropped.
    public var maximumPacketSize: Int {
        // Plain field accesses on our live host; ENet reads the field on each send/receive.
        get { Int(host.pointee.maximumPacketSize) }
        set { host.pointee.maximumPacketSize = max(0, newValue) }
    }

    /// `host->maximumWaitingData`: per-peer cap on buffered, undelivered incoming data.
    public var maximumWaitingData: Int {
        // Plain field accesses on our live host.
        get { Int(host.pointee.maximumWaitingData) }
        set { host.pointee.maximumWaitingData = max(0, newValue) }
    }

    /// `host->duplicatePeers`: peers allowed from one IPv4 address (ENet compares the address only;
    /// connects beyond it are refused). ENet's default is 4095, i.e. no limit.
    public var peersPerAddress: Int {
        // Plain field accesses on our live host; ENet reads it when handling a CONNECT.
        get { Int(host.pointee.duplicatePeers) }
        set { host.pointee.duplicatePeers = max(1, min(newValue, Int(ENET_PROTOCOL_MAXIMUM_PEER_ID))) }
    }

    /// `host->channelLimit`: most channels a peer may use.
    public var channelLimit: Int { Int(host.pointee.channelLimit) }  // plain field read

    /// Peer slots (`host->peerCount`).
    public var peerLimit: Int { connectIDs.count }

    /// Peer slots ENet has in use in any state, including half-open connects (ACKNOWLEDGING_CONNECT)
    /// that ``connectedPeerCount`` does not count: what a spoofed CONNECT would allocate.
    public var allocatedPeerCount: Int {
        var count = 0
        // host->peers holds peerCount structs for the host's lifetime; reading `state` is a field read.
        for index in 0..<connectIDs.count where host.pointee.peers[index].state != ENET_PEER_STATE_DISCONNECTED {
            count += 1
        }
        return count
    }

    /// The addresses of all peers counted by ``allocatedPeerCount``.
    public var allocatedPeerAddresses: [IPv4Endpoint] {
        var addresses: [IPv4Endpoint] = []
        for index in 0..<connectIDs.count {
            // As above: field reads of a peer struct inside host->peers.
            let peer = host.pointee.peers[index]
            if peer.state != ENET_PEER_STATE_DISCONNECTED { addresses.append(IPv4Endpoint(peer.address)) }
        }
        return addresses
    }

    /// Cumulative counters. Reading moves ENet's 32-bit counters into 64-bit totals
    /// and resets them, so read at least every few GB of traffic.
    public var statistics: HostStatistics {
        // Field reads/resets on our live host; ENet only increments these inside calls made
        // from this (the owning) thread, so nothing is lost between read and reset.
        totals.datagramsSent &+= UInt64(host.pointee.totalSentPackets)
        totals.datagramsReceived &+= UInt64(host.pointee.totalReceivedPackets)
        totals.bytesSent &+= UInt64(host.pointee.totalSentData)
        totals.bytesReceived &+= UInt64(host.pointee.totalReceivedData)
        host.pointee.totalSentPackets = 0
        host.pointee.totalReceivedPackets = 0
        host.pointee.totalSentData = 0
        host.pointee.totalReceivedData = 0
        return totals
    }

    // MARK: Connections

    /// Starts a connection; a `.connected` event with the same handle follows (or `.disconnected` on failure).
    public func connect(to address: TransportAddress, channelCount: Int, data: UInt32 = 0) throws(TransportError) -> PeerHandle {
        guard (1...Int(ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT)).contains(channelCount) else {
            throw TransportError("channelCount \(channelCount) outside 1...\(ENET_PROTOCOL_MAXIMUM_CHANNEL_COUNT)")
        }
        var target = try ENetRuntime.resolve(address, purpose: "connect to")
        // C call: enet_host_connect copies the address and returns a peer inside host->peers or NULL.
        guard let peer = enet_host_connect(host, &target, channelCount, data) else {
            throw TransportError("no free peer slot to connect to \(address) (peerLimit \(connectIDs.count))")
        }
        // `peer` was just returned by ENet and points into host->peers.
        let handle = PeerHandle(slot: slot(of: peer), connectID: peer.pointee.connectID)
        connectIDs[Int(handle.slot)] = handle.connectID
        return handle
    }

    /// Graceful disconnect (`enet_peer_disconnect`): both sides get `.disconnected`;
    /// the remote side receives `data`.
    public func disconnect(_ peer: PeerHandle, data: UInt32) {
        guard let p = resolve(peer) else { return }
        // C call: `p` is a live peer of our host (validated by resolve).
        enet_peer_disconnect(p, data)
        forgetIfReset(peer, p)
    }

    /// Disconnects once all queued outgoing packets have been sent (`enet_peer_disconnect_later`).
    public func disconnectLater(_ peer: PeerHandle, data: UInt32) {
        guard let p = resolve(peer) else { return }
        // C call: `p` is a live peer of our host (validated by resolve).
        enet_peer_disconnect_later(p, data)
        forgetIfReset(peer, p)
    }

    /// Immediate disconnect (`enet_peer_disconnect_now`): the remote side is notified
    /// best-effort; no local event is generated and the handle is forgotten at once.
    public func disconnectNow(_ peer: PeerHandle, data: UInt32) {
        guard let p = resolve(peer) else { return }
        // C call: `p` is a live peer of our host (validated by resolve); ENet resets it.
        enet_peer_disconnect_now(p, data)
        connectIDs[Int(peer.slot)] = nil
    }

    /// Mean round-trip time ENet measured for the peer.
    public func roundTripTimeMilliseconds(_ peer: PeerHandle) -> UInt32? {
        resolve(peer)?.pointee.roundTripTime  // field read of a live, validated peer
    }

    /// Stops ENet's packet throttle from dropping this peer's unreliable packets, in both directions.
    ///
    /// ENet lowers a peer's throttle whenever a round trip takes longer than the last one plus twice its
    /// variance, and then drops that share of unreliable packets (voice, snapshots) at the sender — a busy
    /// thread's late acknowledgement is enough, even on loopback. Atrium budgets its own unreliable traffic
    /// (snapshot bytes per recipient, N voice streams), so the throttle only loses packets: a deceleration of 0
    /// keeps it at full rate. `enet_peer_throttle_configure` also tells the remote end, whose peer then keeps
    /// its packets too.
    public func keepUnreliablePackets(_ peer: PeerHandle) {
        guard let p = resolve(peer) else { return }
        // C call: `p` is a live peer of our host (validated by resolve); queues a reliable THROTTLE_CONFIGURE.
        enet_peer_throttle_configure(
            p, UInt32(ENET_PEER_PACKET_THROTTLE_INTERVAL), UInt32(ENET_PEER_PACKET_THROTTLE_ACCELERATION), 0)
    }

    /// The peer's throttle deceleration (0 after `keepUnreliablePackets`, here or from the remote end).
    func packetThrottleDeceleration(_ peer: PeerHandle) -> UInt32? {
        resolve(peer)?.pointee.packetThrottleDeceleration  // field read of a live, validated peer
    }

    /// `enet_peer_timeout`: limit (in retries), minimum and maximum time before ENet gives up.
    public func setTimeout(_ peer: PeerHandle, limit: UInt32, minimumMilliseconds: UInt32, maximumMilliseconds: UInt32) {
        guard let p = resolve(peer) else { return }
        // C call: `p` is a live peer of our host (validated by resolve).
        enet_peer_timeout(p, limit, minimumMilliseconds, maximumMilliseconds)
    }

    /// The peer's IPv4 address and port as ENet sees them.
    public func address(of peer: PeerHandle) -> TransportAddress? {
        guard let p = resolve(peer) else { return nil }
        return ENetRuntime.string(for: p.pointee.address)  // field read of a live, validated peer
    }

    // MARK: Sending

    /// Queues `payload` for the peer (sent on the next `service`/`flush`).
    /// Returns false for a stale handle, an unknown channel, a packet over
    /// ``maximumPacketSize``, or any other ENet refusal.
    @discardableResult
    public func send(_ payload: [UInt8], to peer: PeerHandle, channel: UInt8, delivery: Delivery) -> Bool {
        payload.withUnsafeBytes { bytes in
            send(count: bytes.count, to: peer, channel: channel, delivery: delivery) { out in
                out.copyMemory(from: bytes)
                return true
            }
        }
    }

    /// Queues a packet of `count` bytes that `fill` writes straight into ENet's packet buffer, so a message
    /// sealed or encoded there is not copied again. `fill` gets exactly `count` uninitialised bytes and returns
    /// false to abandon the packet (nothing is sent). Returns false when `fill` gave up or as
    /// `send(_:to:channel:delivery:)` does.
    @discardableResult
    public func send(
        count: Int, to peer: PeerHandle, channel: UInt8, delivery: Delivery,
        fill: (UnsafeMutableRawBufferPointer) -> Bool
    ) -> Bool {
        guard count >= 0, let p = resolve(peer) else { return false }
        let flags: UInt32
        switch delivery {
        case .reliable: flags = ENET_PACKET_FLAG_RELIABLE.rawValue
        case .unreliable: flags = ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT.rawValue
        case .unsequenced: flags = ENET_PACKET_FLAG_UNSEQUENCED.rawValue | ENET_PACKET_FLAG_UNRELIABLE_FRAGMENT.rawValue
        }
        // C call: with no data and without NO_ALLOCATE, enet_packet_create allocates `count` uninitialised
        // bytes (none for 0, data then nil) for us to fill.
        guard let packet = enet_packet_create(nil, count, flags) else { return false }
        let filled = fill(UnsafeMutableRawBufferPointer(start: packet.pointee.data, count: count))
        // C calls: `p` is live; on success ENet takes a reference to `packet` and frees it later. On failure, or
        // when the packet was abandoned, ENet took no reference (referenceCount is still 0), so the packet is
        // ours to free; the check guards against ever freeing one ENet still holds.
        guard filled, enet_peer_send(p, channel, packet) >= 0 else {
            if packet.pointee.referenceCount == 0 { enet_packet_destroy(packet) }
            return false
        }
        return true
    }

    /// Sends everything queued now, without receiving (`enet_host_flush`).
    public func flush() {
        // C call: our own host.
        enet_host_flush(host)
    }

    // MARK: Events

    /// Equivalent to `service(timeoutMilliseconds: 0)`.
    public func poll() -> TransportEvent? { service(timeoutMilliseconds: 0) }

    /// Equivalent to `service(timeoutMilliseconds: 0, handle)`.
    @discardableResult
    public func poll(_ handle: (LentTransportEvent) -> Void) -> Bool { service(timeoutMilliseconds: 0, handle) }

    /// Waits until the host's socket has a datagram to read, or `timeoutMilliseconds` pass, without entering ENet;
    /// returns whether one is waiting. Every `enet_host_service` call walks all `peerLimit` peer slots twice
    /// (its send passes) whatever arrived, so a receiver that wakes for each datagram (`service` with a timeout)
    /// pays those walks per datagram: at 4,000 slots and a few thousand datagrams a second that was most of a
    /// small room's server CPU. Waiting here, then taking a batch with `drain`, pays them once per batch.
    /// With impairment on, returns true at once (its held datagrams are released inside `service`).
    public func waitReadable(timeoutMilliseconds: UInt32) -> Bool {
        guard impairmentEngine == nil else { return true }
        // C call: `host.pointee.socket` is our own open UDP socket, only read.
        return waitForInput(Int32(host.pointee.socket), milliseconds: Int32(min(timeoutMilliseconds, UInt32(Int32.max))))
    }

    /// One ENet pass without waiting: every event already queued, then one `enet_host_service` (which reads
    /// up to 256 datagrams from the socket) and every event that queued. Returns how many events `handle` got.
    /// Unlike looping on `poll`, it does not make a last `enet_host_service` call to find nothing.
    /// `handle` may call this host (send, disconnect), but not `service`, `poll` or `drain`.
    @discardableResult
    public func drain(_ handle: (LentTransportEvent) -> Void) -> Int {
        var handled = dispatchQueued(handle)
        var event = ENetEvent()
        if serviceOnce(&event, timeout: 0) > 0, dispatch(event, to: handle) { handled += 1 }
        return handled + dispatchQueued(handle)
    }

    /// Hands `handle` every event ENet has already queued; returns how many it got.
    private func dispatchQueued(_ handle: (LentTransportEvent) -> Void) -> Int {
        var handled = 0
        var queued = ENetEvent()
        // C call: our own host; `queued` is a valid out-parameter; only pops ENet's dispatch queue.
        while enet_host_check_events(host, &queued) > 0 {
            if dispatch(queued, to: handle) { handled += 1 }
        }
        return handled
    }

    /// Sends queued packets, receives datagrams and returns at most one event,
    /// or nil once `timeoutMilliseconds` has passed without one. A received packet's bytes are copied
    /// into the event; ``service(timeoutMilliseconds:_:)`` lends them instead.
    public func service(timeoutMilliseconds: UInt32) -> TransportEvent? {
        var copied: TransportEvent?
        service(timeoutMilliseconds: timeoutMilliseconds) { copied = TransportEvent($0) }
        return copied
    }

    /// Sends queued packets, receives datagrams and hands at most one event to `handle`; returns whether
    /// it did, false once `timeoutMilliseconds` has passed without one.
    ///
    /// A `.received` event lends the ENet packet's own bytes, valid only until `handle` returns: the packet is
    /// destroyed right after. That saves the copy into an array per datagram (a malloc, a memmove and a free
    /// at tens of thousands of datagrams a second) for a receiver that opens or decodes the bytes in place.
    /// `handle` may call this host (send, disconnect), but not `service` or `poll`.
    @discardableResult
    public func service(timeoutMilliseconds: UInt32, _ handle: (LentTransportEvent) -> Void) -> Bool {
        let start = monotonicNanoseconds()
        let deadline = start &+ UInt64(timeoutMilliseconds) &* 1_000_000
        // Bounded: each pass either returns, or ends when the deadline passes; a pass that
        // only skipped a foreign event does not count, but ENet holds finitely many events.
        var passes = 0
        while true {
            passes += 1
            // Events ENet already received and queued come out without another enet_host_service: each of
            // those walks every peer slot twice (send passes), which at a thousand peers and thousands of
            // datagrams a second was the single largest cost of the server's loop.
            var queued = ENetEvent()
            // C call: our own host; `queued` is a valid out-parameter; only pops ENet's dispatch queue.
            while enet_host_check_events(host, &queued) > 0 {
                if dispatch(queued, to: handle) { return true }
            }
            let now = monotonicNanoseconds()
            var waitNanoseconds = deadline > now ? deadline - now : 0
            if let engine = impairmentEngine {
                engine.sendWakes(now: now)
                if let due = engine.nextDue {
                    // Already due: wakes were just sent and ENet's wait returns as soon as one
                    // arrives; the 1 ms cap only stops a busy spin if a wake went missing.
                    waitNanoseconds = min(waitNanoseconds, due > now ? due - now : 1_000_000)
                }
            }
            // Round up so a sub-millisecond remainder waits instead of spinning.
            let waitMilliseconds = UInt32(min((waitNanoseconds + 999_999) / 1_000_000, UInt64(UInt32.max)))

            var event = ENetEvent()
            let rc = serviceOnce(&event, timeout: waitMilliseconds)
            if rc > 0 {
                if dispatch(event, to: handle) { return true }
                continue  // event for a peer we never reported: skip without consuming time
            }
            if monotonicNanoseconds() >= deadline { return false }
            if rc < 0, passes > 1 {
                // ENet reports socket errors (and, in some versions, "more than 256 datagrams
                // pending") as -1. Back off briefly rather than spin until the deadline.
                usleep(500)
            }
        }
    }

    private func serviceOnce(_ event: inout ENetEvent, timeout: UInt32) -> Int32 {
        let context = interceptContext
        guard !context.isEmpty else {
            // C call: our own host; `event` is a valid out-parameter.
            return enet_host_service(host, &event, timeout)
        }
        // Publish the context to the intercept callback for the duration of this call only.
        // pthread_get/setspecific touch only this thread's slot; `context` is retained by the
        // local binding until after enet_host_service returns.
        let previous = pthread_getspecific(interceptContextKey)
        pthread_setspecific(interceptContextKey, Unmanaged.passUnretained(context).toOpaque())
        defer {
            pthread_setspecific(interceptContextKey, previous)
            withExtendedLifetime(context) {}
        }
        // C call: our own host; `event` is a valid out-parameter.
        return enet_host_service(host, &event, timeout)
    }

    /// Hands `event` to `handle` unless it concerns a peer we never reported; returns whether it did.
    private func dispatch(_ event: ENetEvent, to handle: (LentTransportEvent) -> Void) -> Bool {
        // After enet_host_service or enet_host_check_events returns > 0, event.peer points into host->peers and
        // a RECEIVE event's packet belongs to us: every path below destroys it exactly once.
        guard let peer = event.peer else {
            // C call: a packet of ours, not referenced anywhere else.
            if let packet = event.packet { enet_packet_destroy(packet) }
            return false
        }
        let slotIndex = slot(of: peer)
        let index = Int(slotIndex)
        switch event.type {
        case ENET_EVENT_TYPE_CONNECT:
            let id = peer.pointee.connectID
            connectIDs[index] = id
            handle(.connected(PeerHandle(slot: slotIndex, connectID: id), data: event.data))
            return true
        case ENET_EVENT_TYPE_DISCONNECT:
            // ENet has already reset the peer (its connectID is gone); use the one we recorded.
            guard let id = connectIDs[index] else { return false }
            connectIDs[index] = nil
            handle(.disconnected(PeerHandle(slot: slotIndex, connectID: id), data: event.data))
            return true
        case ENET_EVENT_TYPE_RECEIVE:
            guard let packet = event.packet else { return false }
            // C call: the packet is ours and sits in no ENet queue any more, so nothing `handle` does to the
            // host (sending, even resetting this peer) frees it; it is destroyed here, once, after `handle`.
            defer { enet_packet_destroy(packet) }
            guard let id = connectIDs[index] else { return false }
            // `dataLength` bytes at `data` (NULL only when the length is 0, which gives an empty buffer), alive
            // until the deferred destroy: lent to `handle` for its call only.
            let datagram = UnsafeRawBufferPointer(start: packet.pointee.data, count: packet.pointee.dataLength)
            handle(.received(PeerHandle(slot: slotIndex, connectID: id), channel: event.channelID, datagram: datagram))
            return true
        default:
            return false
        }
    }

    // MARK: Impairment

    /// Installs (or, with nil, removes) a seeded receive-side ``Impairment``.
    ///
    /// Loss swallows datagrams in ENet's intercept callback; delay, jitter,
    /// reordering and duplication hold copies and feed them back through ENet's
    /// receive path when due (see ``Impairment``). Calling again with new
    /// parameters restarts the seeded stream and keeps held datagrams; passing
    /// nil discards any held datagrams (as if lost) and removes the callback.
    public func setImpairment(_ impairment: Impairment?) {
        // Installing/clearing the callback is a field write on our live host; ENet only calls
        // it from enet_host_service, which only this thread calls (see serviceOnce).
        guard let impairment else {
            interceptContext.impairment = nil
            updateIntercept()
            return
        }
        if let engine = impairmentEngine {
            engine.configure(impairment)
        } else {
            interceptContext.impairment = ImpairmentEngine(host: host, parameters: impairment)
            updateIntercept()
        }
    }

    /// The installed impairment, if any.
    public var impairment: Impairment? { impairmentEngine?.parameters }

    /// What the impairment did so far (nil without one).
    public var impairmentCounters: ImpairmentCounters? { impairmentEngine?.counters }

    /// Datagrams currently held back by the impairment.
    public var impairedDatagramsHeld: Int { impairmentEngine?.heldCount ?? 0 }

    // MARK: Inbound filter

    /// Installs (or, with nil, removes) the filter that sees every received datagram before ENet
    /// parses it (and before the impairment, if any). See ``InboundDatagramFilter``.
    /// The host keeps a strong reference to the filter.
    public func setInboundFilter(_ filter: (any InboundDatagramFilter)?) {
        interceptContext.filter = filter
        updateIntercept()
    }

    /// The installed inbound filter, if any.
    public var inboundFilter: (any InboundDatagramFilter)? { interceptContext.filter }

    /// What the inbound filter did so far (all zero without one). Drops are counted per reason;
    /// swallowed datagrams still count in ``statistics`` (they did arrive on the socket).
    public var inboundCounters: InboundFilterCounters { interceptContext.counters }

    private func updateIntercept() {
        // A field write on our live host; ENet only calls the intercept from enet_host_service,
        // which only this thread calls (see serviceOnce).
        host.pointee.intercept = interceptContext.isEmpty ? nil : transportIntercept
    }

    // MARK: Raw datagrams

    /// Sends one datagram outside ENet from the host's own socket, so it leaves from the same port
    /// as the host's ENet traffic (a client's cookie request). On an unbound client host the first
    /// send binds the socket to an ephemeral port, which ENet then keeps using.
    /// Returns false when the socket refuses the datagram.
    @discardableResult
    public func sendRaw(_ bytes: [UInt8], to destination: IPv4Endpoint) -> Bool {
        var target = destination.enetAddress
        let sent = bytes.withUnsafeBytes { raw -> Int32 in
            // ENetBuffer only borrows the bytes for the call; sendmsg never writes through it.
            var buffer = ENetBuffer(data: UnsafeMutableRawPointer(mutating: raw.baseAddress), dataLength: raw.count)
            // C call: our own host's socket (live as long as `host`), a local address and one buffer.
            return enet_socket_send(host.pointee.socket, &target, &buffer, 1)
        }
        return sent > 0
    }

    /// The same, to a ``TransportAddress`` (resolved here; IPv6 throws).
    @discardableResult
    public func sendRaw(_ bytes: [UInt8], to destination: TransportAddress) throws(TransportError) -> Bool {
        sendRaw(bytes, to: try IPv4Endpoint(resolving: destination))
    }

    // MARK: Helpers

    private func slot(of peer: UnsafeMutablePointer<ENetPeer>) -> UInt16 {
        // `peer` was handed out by ENet for this host, so it lies inside host->peers.
        UInt16(truncatingIfNeeded: host.pointee.peers.distance(to: peer))
    }

    /// The live ENet peer for a handle, or nil when the handle is stale.
    private func resolve(_ handle: PeerHandle) -> UnsafeMutablePointer<ENetPeer>? {
        let index = Int(handle.slot)
        guard index < connectIDs.count, connectIDs[index] == handle.connectID else { return nil }
        // index < peerCount (connectIDs has peerCount entries), so this stays inside host->peers.
        let peer = host.pointee.peers + index
        // Peer structs live as long as the host, so reading a reset slot is still safe.
        guard peer.pointee.connectID == handle.connectID,
              peer.pointee.state != ENET_PEER_STATE_DISCONNECTED
        else { return nil }
        return peer
    }

    /// ENet resets (without an event) a peer that was not yet connected when asked to disconnect.
    private func forgetIfReset(_ handle: PeerHandle, _ peer: UnsafeMutablePointer<ENetPeer>) {
        // `peer` came from resolve() and points into host->peers (reset peers stay allocated).
        if peer.pointee.state == ENET_PEER_STATE_DISCONNECTED { connectIDs[Int(handle.slot)] = nil }
    }
}

/// A host belongs to one thread (ENet hosts are not thread-safe); forbid sending it elsewhere.
@available(*, unavailable, message: "TransportHost is owned by one thread")
extension TransportHost: Sendable {}

/// `poll(2)` for input on one descriptor. A free function: inside `TransportHost`, `poll` names its own method.
private func waitForInput(_ descriptor: Int32, milliseconds: Int32) -> Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, milliseconds) > 0
}
