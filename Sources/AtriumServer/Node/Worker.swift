import AtriumSecurity
import AtriumTransport
import AtriumWire
import AtriumWorld
import Histogram
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Owns one ENet host and the shards placed on it, on one thread. Everything here runs on that thread:
/// no lock is taken per packet. Other threads reach it only through `NodeControl`.
final class Worker {
    let configuration: ServerConfiguration
    let host: TransportHost
    /// Every running instance; sessions refer to shards by index here, so instances are never removed.
    private(set) var shards: [Shard] = []
    /// World id → indices of its instances in `shards`, in creation order.
    private var instancesByWorld: [String: [Int]] = [:]
    private let worldsById: [String: LoadedWorld]
    private let limits: MovementLimits
    let control: NodeControl
    var logger: Logger
    private var sessions: [PeerHandle: Session] = [:]
    private let startMicros: UInt64
    private var gate: TokenGate
    /// Drops every datagram ENet must not see (malformed, fragments that break libenet 1.3.17, CONNECTs without
    /// a valid cookie, addresses over the connect limit) before ENet allocates anything; answers cookie requests.
    private let admission: AdmissionFilter
    /// Every received message is opened into this one array, which nothing keeps: with its capacity reused,
    /// opening allocates nothing per datagram (tens of thousands a second).
    private var plaintext: [UInt8] = []
    /// Packets of established sessions that did not open (forged, replayed, too old): dropped.
    private var unopenedPackets: UInt64 = 0
    /// Messages dropped by a session's rate limits.
    private var rateLimitedDrops: UInt64 = 0
    private var tokenTimeouts: UInt64 = 0
    private var lastVoiceCPU: Double = 0
    private var malformedMessages: UInt64 = 0
    private var unexpectedMessages: UInt64 = 0
    private var ticks: UInt64 = 0
    private var overruns: UInt64 = 0
    private var tickHistogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    /// The worker thread's CPU time per tick, µs (the same span as `tickHistogram`).
    private var tickCpuHistogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    /// Server-added voice latency per forwarded frame copy, µs: from when the worker decoded the VOICE (or when
    /// the batch it was read in began to arrive, `batchWaitedSince`) to when the flush that carried it returned.
    private var voiceAddedHistogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: Worker.voiceAddedMaxMicros, numberOfSignificantValueDigits: .three)
    private static let voiceAddedMaxMicros: UInt64 = 10_000_000
    /// The same since the node started, in NodeStatistics' fixed buckets (never reset).
    private var voiceAddedCounts = [UInt64](repeating: 0, count: NodeStatistics.voiceAddedBuckets + 1)
    private var lastPublish: (micros: UInt64, cpu: Double, workerCPU: Double, stats: HostStatistics)

    init(
        configuration: ServerConfiguration, worlds: [LoadedWorld], control: NodeControl, logger: Logger,
        security: SecuritySettings, securityLog: SecurityLogSink?
    ) throws(TransportError) {
        self.configuration = configuration
        gate = TokenGate(settings: security, securityLog: securityLog)
        self.control = control
        self.logger = logger
        host = try TransportHost(
            bindTo: TransportAddress(host: configuration.bindAddress, port: UInt16(configuration.port)),
            peerLimit: configuration.maxClients, channelLimit: Channel.count,
            limits: TransportLimits(
                peersPerAddress: min(configuration.peersPerAddress, configuration.maxClients),
                socketBufferBytes: configuration.socketBufferBytes))
        admission = AdmissionFilter(
            for: host, cookies: ConnectCookie(), limiter: security.connectPolicy)
        host.setInboundFilter(admission)
        let buffers = host.socketBufferBytes
        let level: Logger.Level = buffers.receive < configuration.socketBufferBytes ? .warning : .info
        logger.log(
            level: level, "socket buffers",
            metadata: [
                "asked": "\(configuration.socketBufferBytes)", "receive": "\(buffers.receive)", "send": "\(buffers.send)",
                "note": "\(level == .warning ? "below socket_buffer_bytes: raise net.core.rmem_max/wmem_max" : "kernel sizes")",
            ])
        limits = MovementLimits(
            maxSpeed: Float(configuration.maxSpeedMetresPerSecond), maxReach: Float(configuration.maxReachMetres))
        worldsById = Dictionary(uniqueKeysWithValues: worlds.map { ($0.definition.id, $0) })
        // One tick rate per worker: the fastest world's.
        tickRate = worlds.map(\.definition.tickRate).max() ?? 30
        startMicros = MonotonicClock.nowMicros()
        lastPublish = (startMicros, processCPUSeconds(), 0, HostStatistics())
        for world in worlds { _ = openInstance(of: world) }
    }

    private let tickRate: Int

    private var now: UInt64 { MonotonicClock.nowMicros() &- startMicros }

    /// Starts a new instance of `world` and returns its index in `shards`.
    private func openInstance(of world: LoadedWorld) -> Int {
        let id = world.definition.id
        let instance = (instancesByWorld[id]?.count ?? 0) + 1
        shards.append(
            Shard(
                world: world, instance: instance, limits: limits, snapshotMaxBytes: configuration.snapshotMaxBytes,
                interest: configuration.interest, voice: configuration.voiceRouting,
                mixCapacity: configuration.voiceMixCapacity))
        instancesByWorld[id, default: []].append(shards.count - 1)
        return shards.count - 1
    }

    /// The instance a joiner goes to: the first one with room, or a new one while the per-world limit allows.
    private func instanceWithRoom(for worldId: String) -> Int? {
        guard let indices = instancesByWorld[worldId], let world = worldsById[worldId] else { return nil }
        if let open = indices.first(where: { !shards[$0].isFull }) { return open }
        guard indices.count < configuration.maxInstancesPerWorld else { return nil }
        let index = openInstance(of: world)
        logger.info("instance opened", metadata: ["world": "\(worldId)", "instance": "\(shards[index].instance)"])
        return index
    }

    private var outbox: Outbox {
        Outbox { [unowned self] peer, bytes, channel in deliver(bytes, to: peer, channel: channel) }
    }

    /// Seals `message` with the peer's session and sends it: the one way anything reaches a client. A peer
    /// without a session (no accepted token) gets nothing; its reason travels in the ENet disconnect data.
    ///
    /// Runs for every datagram (a snapshot per client per tick, and voice), so the message is sealed straight
    /// into ENet's packet buffer (no datagram array in between), and the session's sealer is taken out of
    /// `sessions` once, in place (`withSession`: the Session is not copied): copies of a sealer share its
    /// counter and cipher context, so sealing with the copy advances the session's own.
    private func deliver(_ message: [UInt8], to peer: PeerHandle, channel: Channel) {
        // No keys (no accepted token): nothing is sent, never anything unsealed.
        guard let index = sessions.index(forKey: peer), var sealer = withSession(at: index, { $0.keys?.sealer })
        else { return }
        var failed = false
        _ = message.withUnsafeBytes { plaintext in
            host.send(
                count: SessionEnvelope.overhead + plaintext.count, to: peer, channel: channel.rawValue,
                delivery: .forAtriumChannel(channel.rawValue)
            ) { datagram in
                do {
                    try sealer.seal(plaintext, channel: channel.rawValue, into: datagram)
                    return true
                } catch {
                    failed = true
                    return false
                }
            }
        }
        unflushed = true
        // 2^64 datagrams: the session must end rather than reuse a nonce.
        if failed { host.disconnectLater(peer, data: ReasonCode.serverClosing.disconnectData) }
    }

    /// The session at `index`, in place. `sessions[peer]` and `sessions.values[index]` read through getters
    /// that copy the whole Session (retaining its keys, token, name and log set) on every packet and datagram;
    /// this goes through Dictionary.Values' modify accessor instead.
    private func withSession<R>(at index: Dictionary<PeerHandle, Session>.Index, _ body: (inout Session) -> R) -> R {
        body(&sessions.values[index])
    }

    // MARK: the loop

    /// Runs ticks until a stop is requested, then closes every session and returns. Between ticks, voice
    /// flush points (`voice_flushes_per_tick` − 1) send the voice that arrived since the last flush
    /// (PROTOCOL.md §17.3).
    ///
    /// Where they go: a tick's flush comes its work w after its deadline D, and what arrives during that work
    /// is read only afterwards, so it cannot leave before the next point. The points split D … D + period + w
    /// (the next tick's expected flush, taking this tick's w) evenly: the longest wait is (period + w) ÷
    /// flushes, whether a frame came just after a point or at the start of the tick's work.
    func run() {
        let period = UInt64(1_000_000 / max(1, tickRate))
        var deadline = MonotonicClock.nowMicros() + period
        var work: UInt64 = 0
        while !control.stopRequested {
            let flushes = UInt64(
                Self.voiceFlushes(configured: configuration.voiceFlushesPerTick, work: work, period: period))
            let previous = deadline - period
            for point in 1..<flushes {
                serviceUntil(min(deadline, previous + (period + work) * point / flushes))
                flushVoice()
            }
            serviceUntil(deadline)
            let started = MonotonicClock.nowMicros()
            let startedCPU = MonotonicClock.threadCPUSeconds()
            if started > deadline + period { overruns += 1 }
            let flushed = runTick(nowMicros: started &- startMicros)
            // Bounded so a stall does not push the points past the next deadline for long.
            work = min(period, flushed - min(flushed, deadline))
            let finished = MonotonicClock.nowMicros()
            let finishedCPU = MonotonicClock.threadCPUSeconds()
            _ = tickHistogram.record(max(1, finished - started))
            _ = tickCpuHistogram.record(UInt64(max(1, (finishedCPU - startedCPU) * 1e6)))
            // Drift-free: the next deadline follows the ideal schedule, never "now + period". After a long
            // stall, skip the missed ticks rather than bursting to catch up.
            deadline += period
            if finished > deadline + 4 * period { deadline = finished + period }
            if finished - lastPublish.micros >= UInt64(configuration.statsIntervalMs) * 1000 { publish(at: finished) }
        }
        shutDown()
    }

    /// Voice flush points for the next tick, its own included: all of `voice_flushes_per_tick` while the last
    /// tick's work took under a quarter of the period, at most 2 otherwise. Each point costs a datagram per
    /// listener with voice waiting, so the extra ones are spent only where there is room for them: a room
    /// of 200 (ticks of ~6 ms) gets frames out within ~13 ms instead of ~20; a crowd of 1,000, whose ticks
    /// need every cycle, does not pay for them.
    static func voiceFlushes(configured: Int, work: UInt64, period: UInt64) -> Int {
        let most = max(1, configured)
        return work < period / 4 ? most : min(most, 2)
    }

    /// Handles network events until `deadline` (monotonic µs). Behind schedule (the deadline already passed,
    /// ticks overrunning), it still drains what is waiting, for up to a quarter period: otherwise an overloaded
    /// worker would never read its socket, the kernel would drop every datagram, ENet's acknowledgements and
    /// pings with them, and whole ranges of sessions would time out at once. Overload then costs tick rate,
    /// not connections.
    private func serviceUntil(_ deadline: UInt64) {
        let entered = MonotonicClock.nowMicros()
        if entered >= deadline {
            let limit = entered + UInt64(250_000 / max(1, tickRate))
            while MonotonicClock.nowMicros() < limit, host.poll({ handle($0) }) {}
            return
        }
        // Ahead of schedule: sleep on the socket, not in ENet, and take what arrived in batches (see
        // `receiveBatchMicros`). The last pass runs at the deadline, so everything that arrived before it is
        // in before the tick or flush point that follows.
        while true {
            // Another pass only while the socket still holds datagrams (a pass reads at most 256); a pass that finds
            // nothing would cost its walks for nothing.
            while host.drain({ handle($0) }) > 0 && host.waitReadable(timeoutMilliseconds: 0) {}
            batchWaitedSince = nil
            // Replies the handlers queued (PONG, VOICE_MODE…) leave now rather than with the next tick.
            if unflushed { flush() }
            let current = MonotonicClock.nowMicros()
            guard current < deadline else { return }
            let remaining = deadline - current
            if remaining < 1000 {
                // poll waits in whole milliseconds: sleep the sub-millisecond rest, then the last pass.
                MonotonicClock.sleep(micros: remaining)
                continue
            }
            guard host.waitReadable(timeoutMilliseconds: UInt32(remaining / 1000)) else { continue }
            let woke = MonotonicClock.nowMicros()
            batchWaitedSince = woke &- startMicros
            MonotonicClock.sleep(micros: min(Self.receiveBatchMicros, deadline - min(deadline, woke)))
        }
    }

    /// How long the worker lets datagrams gather once one has arrived, ahead of schedule, before it reads them
    /// all with one ENet pass: each pass walks every peer slot (`max_clients`) twice, so reading datagram by
    /// datagram cost a 50-bot room most of its server CPU. Inputs and voice are used only at ticks and flush
    /// points, and the last pass before one runs at its deadline, so the batch delays none of them; a PING's
    /// PONG leaves up to this much later.
    static let receiveBatchMicros: UInt64 = 1_000
    /// When the batch being read began to arrive (node µs), while one is read: the arrival time given to its
    /// voice frames, so server-added voice latency counts their wait in the socket too (an upper bound).
    private var batchWaitedSince: UInt64?
    /// Something was queued for sending since the last flush (set by `deliver`, cleared by `flush`).
    private var unflushed = false

    /// `enet_host_flush`: everything queued leaves now.
    private func flush() {
        host.flush()
        unflushed = false
    }

    /// Returns when (monotonic µs) the tick's state and relayed voice had been flushed.
    private func runTick(nowMicros: UInt64) -> UInt64 {
        ticks += 1
        expireHellos(nowMicros: nowMicros)
        let outbox = self.outbox
        for shard in shards {
            shard.tick(nowMicros: nowMicros, outbox: outbox) { peer, rejection in
                noteRejection(peer, rejection)
            }
        }
        flush()
        let flushed = MonotonicClock.nowMicros()
        recordVoiceAdded()
        // Mixing is the costly part of voice: it runs once state and relayed voice are on their way.
        var mixed = false
        for shard in shards where shard.mixVoice(nowMicros: nowMicros, outbox: outbox) { mixed = true }
        if mixed { flush() }
        return flushed
    }

    /// A voice flush point between ticks: each shard forwards what is waiting, then one `enet_host_flush`.
    private func flushVoice() {
        let outbox = self.outbox
        var sent = false
        for shard in shards where shard.forwardVoice(outbox: outbox) { sent = true }
        guard sent else { return }
        flush()
        recordVoiceAdded()
    }

    /// Times every frame copy the last flush carried, from its arrival to now (the flush has returned).
    private func recordVoiceAdded() {
        let sentAt = now
        for shard in shards {
            shard.voice.drainForwarded { arrival, copies in
                let added = min(Self.voiceAddedMaxMicros, max(1, sentAt &- min(sentAt, arrival)))
                _ = voiceAddedHistogram.record(added, count: UInt64(copies))
                let bucket = min(NodeStatistics.voiceAddedBuckets, Int(added / NodeStatistics.voiceAddedBucketMicros))
                voiceAddedCounts[bucket] += UInt64(copies)
            }
        }
    }

    private func expireHellos(nowMicros: UInt64) {
        let limit = UInt64(configuration.helloTimeoutMs) * 1000
        let tokenLimit = gate.settings.tokenDeadlineMicros
        for (peer, session) in sessions {
            switch session.state {
            case .awaitingHello where nowMicros &- session.connectedMicros > limit:
                close(peer, reason: .helloTimeout, detail: "no HELLO in time")
            case .awaitingToken where nowMicros &- session.connectedMicros > tokenLimit:
                tokenTimeouts += 1
                gate.securityLog?.record(
                    "token_timeout", ["address": addressText(peer)])
                dropUnauthenticated(peer, reason: .tokenTimeout)
            default:
                break
            }
        }
    }

    /// A peer's raw address, for the security log only (ordinary logs name peers by slot).
    private func addressText(_ peer: PeerHandle) -> String {
        host.address(of: peer).map { "\($0)" } ?? "unknown"
    }

    /// Ends a connection that never got a session: no reply (nothing unauthenticated is answered), the reason
    /// in the ENet disconnect data only.
    private func dropUnauthenticated(_ peer: PeerHandle, reason: ReasonCode) {
        guard var session = sessions[peer] else { return }
        session.state = .closing
        sessions[peer] = session
        host.disconnectNow(peer, data: reason.disconnectData)
        sessions.removeValue(forKey: peer)
    }

    // MARK: events

    private func handle(_ event: LentTransportEvent) {
        switch event {
        case .connected(let peer, _):
            let timeout = UInt32(configuration.peerTimeoutMs)
            host.setTimeout(peer, limit: 32, minimumMilliseconds: timeout, maximumMilliseconds: timeout)
            // ENet's throttle would drop voice and snapshots whenever an acknowledgement is late.
            host.keepUnreliablePackets(peer)
            sessions[peer] = Session(peer: peer, connectedMicros: now)
            logger.debug("connected", metadata: ["peer": "\(peer.slot)"])
        case .disconnected(let peer, let data):
            guard let session = sessions.removeValue(forKey: peer) else { return }
            if case .joined(let shardIndex, let avatarId) = session.state {
                // ENet reports a time-out as a disconnect with no data; a peer silent for a while timed out.
                let silent = now &- session.lastHeardMicros > 2_000_000
                let reason = ReasonCode(rawValue: UInt8(clamping: data)) ?? .none
                shards[shardIndex].remove(avatarId, reason: reason == .none && silent ? .timeout : reason)
                logger.info(
                    "left", metadata: ["peer": "\(session.logName)", "world": "\(shards[shardIndex].label)"])
            }
        case .received(let peer, let channel, let datagram):
            // Every packet: the session is opened and updated where it lies (`withSession`), never copied, and
            // the datagram is opened straight from ENet's packet (lent until this returns) into `plaintext`.
            guard let index = sessions.index(forKey: peer) else { return }
            let heard = now
            let (state, opened) = withSession(at: index) { session -> (Session.State, Result<Void, SessionError>?) in
                session.lastHeardMicros = heard
                guard session.state != .awaitingToken, session.keys != nil else { return (session.state, nil) }
                do throws(SessionError) {
                    try session.keys!.opener.open(datagram, channel: channel, into: &plaintext)
                    return (session.state, .success(()))
                } catch {
                    return (session.state, .failure(error))
                }
            }
            if state == .awaitingToken {
                // Once per connection: the token outlives the packet (the keyring and the log keep parts).
                admitToken(Array(datagram), on: channel, from: sessions.values[index])
                return
            }
            switch opened {
            case .none:
                return
            case .failure(let error):
                // Forged, replayed or too old: dropped, counted, no state change, never answered.
                unopenedPackets += 1
                if withSession(at: index, { $0.shouldLog("unopened") }) {
                    gate.securityLog?.record(
                        "packet_rejected",
                        ["address": addressText(peer), "reason": "\(error)"])
                }
            case .success:
                receive(plaintext, from: peer, state: state)
            }
        }
    }

    private func admitToken(_ packet: [UInt8], on channel: UInt8, from session: Session) {
        let peer = session.peer
        guard channel == Channel.control.rawValue else {
            gate.securityLog?.record(
                "token_rejected", ["address": addressText(peer), "reason": "wrong_channel"])
            dropUnauthenticated(peer, reason: .invalidToken)
            return
        }
        switch gate.admit(packet, from: host.address(of: peer), nowSeconds: JoinTicket.unixSeconds()) {
        case .accepted(let keys):
            var joined = session
            joined.keys = keys
            joined.state = .awaitingHello
            sessions[peer] = joined
        case .rejected(let reason):
            logger.notice("connection refused: bad token", metadata: ["peer": "\(session.logName)", "reason": "\(reason)"])
            dropUnauthenticated(peer, reason: .invalidToken)
        }
    }

    /// Applies the session's rate limit for `kind`; false when the message must be dropped (and the session is
    /// closed when the abuse is sustained).
    private func withinRate(_ kind: RateLimitedKind, bytes: Int, peer: PeerHandle) -> Bool {
        guard let index = sessions.index(forKey: peer) else { return false }
        let time = now
        guard let verdict = withSession(at: index, { $0.keys?.limiter.admit(kind, bytes: bytes, nowMicros: time) })
        else { return false }
        switch verdict {
        case .allow:
            return true
        case .drop:
            rateLimitedDrops += 1
            return false
        case .disconnect:
            rateLimitedDrops += 1
            gate.securityLog?.record(
                "rate_limited",
                ["address": addressText(peer), "kind": "\(kind)"])
            close(peer, reason: .rateLimited, detail: "sustained \(kind) rate over the limit")
            return false
        }
    }

    private func receive(_ payload: [UInt8], from peer: PeerHandle, state: Session.State) {
        switch state {
        case .closing, .awaitingToken:
            return
        case .awaitingHello:
            let message: ClientMessage
            do {
                message = try ClientMessage.decode(payload, codec: nil)
            } catch {
                if case .invalidString(let field) = error, field == "displayName" {
                    deny(peer, reason: .invalidName, detail: "display name must be 1–32 bytes of UTF-8 without control characters")
                } else if case .stringTooLong(let field, _, _) = error, field == "displayName" {
                    deny(peer, reason: .invalidName, detail: "display name must be 1–32 bytes of UTF-8 without control characters")
                } else {
                    protocolViolation(peer, .malformedMessage, "\(error)")
                }
                return
            }
            guard case .hello(let hello) = message else {
                protocolViolation(peer, .unexpectedMessage, "first message must be HELLO")
                return
            }
            join(peer, hello)
        case .joined(let shardIndex, let avatarId):
            let shard = shards[shardIndex]
            let message: ClientMessage
            do {
                message = try ClientMessage.decode(payload, codec: shard.codec)
            } catch {
                protocolViolation(peer, .malformedMessage, "\(error)")
                return
            }
            switch message {
            case .pose(let input):
                guard withinRate(.pose, bytes: payload.count, peer: peer) else { return }
                if let rejection = shard.submit(input, from: avatarId, receivedMicros: now) {
                    noteRejection(peer, rejection)
                }
            case .chat(let chat):
                guard withinRate(.chat, bytes: payload.count, peer: peer) else { return }
                shard.relayChat(chat.text, from: avatarId, outbox: outbox)
            case .ping(let ping):
                deliver(
                    ServerMessage.pong(Pong(clientTimeMicros: ping.clientTimeMicros, serverTimeMicros: now))
                        .encode(codec: nil),
                    to: peer, channel: .state)
            case .hello:
                protocolViolation(peer, .unexpectedMessage, "HELLO after joining")
            case .voice(let frame):
                guard withinRate(.voiceFrame, bytes: frame.opus.count, peer: peer) else { return }
                shard.voice.receive(frame, from: avatarId, nowMicros: batchWaitedSince ?? now)
            case .voiceSetup(let setup):
                let available = configuration.voiceMixCapacity - shards.reduce(0) { $0 + $1.voice.mixListenerCount }
                let grant = shard.voice.setup(setup.requestedMode, for: avatarId, available: available)
                deliver(ServerMessage.voiceMode(grant).encode(codec: nil), to: peer, channel: .control)
            case .voiceControl(let control):
                let role = shard.role(of: avatarId) ?? .visitor
                if !shard.voice.control(control, from: avatarId, role: role) {
                    noteRejection(peer, .notAModerator)
                }
            }
        }
    }

    private func join(_ peer: PeerHandle, _ sealedHello: Hello) {
        guard let session = sessions[peer] else { return }
        // Who joins, as what and where is what the token says (the organizer issued it); HELLO must agree on
        // the world and brings the protocol versions.
        guard let token = session.keys?.token else { return }
        guard sealedHello.worldId == token.worldId else {
            deny(peer, reason: .unknownWorld, detail: "the connect token is for world '\(token.worldId)'")
            return
        }
        guard let tokenRole = Role(rawValue: token.role) else {
            deny(peer, reason: .roleNotAllowed, detail: "the connect token names an unknown role")
            return
        }
        var hello = sealedHello
        hello.displayName = token.displayName
        hello.requestedRole = tokenRole
        guard let version = ProtocolVersion.negotiate(clientMin: hello.minVersion, clientMax: hello.maxVersion) else {
            deny(peer, reason: .versionMismatch, detail: "server speaks protocol \(ProtocolVersion.supported)")
            return
        }
        guard let world = worldsById[hello.worldId] else {
            deny(peer, reason: .unknownWorld, detail: "no world '\(hello.worldId)' on this node")
            return
        }
        guard world.definition.allowedRoles.contains(hello.requestedRole) else {
            deny(peer, reason: .roleNotAllowed, detail: "role \(hello.requestedRole.name) is not allowed in \(world.definition.id)")
            return
        }
        guard let shardIndex = instanceWithRoom(for: hello.worldId) else {
            deny(peer, reason: .worldFull, detail: "every instance of \(hello.worldId) is at capacity")
            return
        }
        let shard = shards[shardIndex]
        guard let avatar = shard.admit(
            peer: peer, displayName: hello.displayName, role: hello.requestedRole, version: version,
            nowMicros: now, outbox: outbox)
        else {
            deny(peer, reason: .worldFull, detail: "\(shard.id) is at capacity")
            return
        }
        var joined = session
        joined.state = .joined(shard: shardIndex, avatar: avatar.id)
        joined.displayName = hello.displayName
        sessions[peer] = joined
        logger.info(
            "joined",
            metadata: [
                "peer": "\(session.logName)", "world": "\(shard.label)", "avatar": "\(avatar.id)",
                "role": "\(hello.requestedRole.name)",
            ])
    }

    // MARK: ending sessions

    private func deny(_ peer: PeerHandle, reason: ReasonCode, detail: String) {
        deliver(
            ServerMessage.deny(
                Deny(
                    reason: reason, serverMinVersion: ProtocolVersion.supported.lowerBound,
                    serverMaxVersion: ProtocolVersion.supported.upperBound, detail: detail)
            ).encode(codec: nil), to: peer, channel: .control)
        endSession(peer, reason: reason)
        logger.info("denied", metadata: ["peer": "\(peer.slot)", "reason": "\(reason.name)", "detail": "\(detail)"])
    }

    /// A message that cannot be trusted ends the session with a reason code.
    private func protocolViolation(_ peer: PeerHandle, _ reason: ReasonCode, _ detail: String) {
        if reason == .malformedMessage { malformedMessages += 1 } else { unexpectedMessages += 1 }
        if var session = sessions[peer], session.shouldLog(reason.name) {
            sessions[peer] = session
            logger.notice(
                "closing session: protocol violation",
                metadata: ["peer": "\(session.logName)", "reason": "\(reason.name)", "detail": "\(detail)"])
        }
        close(peer, reason: reason, detail: detail)
    }

    private func close(_ peer: PeerHandle, reason: ReasonCode, detail: String) {
        deliver(
            ServerMessage.closing(Closing(reason: reason, detail: String(detail.utf8.prefix(WireLimits.maxDetailBytes)) ?? ""))
                .encode(codec: nil), to: peer, channel: .control)
        endSession(peer, reason: reason)
    }

    /// Removes the avatar at once (the others get it in the next tick's DEPARTED) and lets ENet deliver what is
    /// queued before it disconnects the peer.
    private func endSession(_ peer: PeerHandle, reason: ReasonCode) {
        guard var session = sessions[peer] else { return }
        if case .joined(let shardIndex, let avatarId) = session.state {
            shards[shardIndex].remove(avatarId, reason: reason)
        }
        session.state = .closing
        sessions[peer] = session
        host.disconnectLater(peer, data: UInt32(reason.rawValue))
    }

    private func noteRejection(_ peer: PeerHandle, _ rejection: InputRejection) {
        guard var session = sessions[peer], session.shouldLog(rejection.rawValue) else { return }
        sessions[peer] = session
        logger.notice("input rejected", metadata: ["peer": "\(session.logName)", "reason": "\(rejection.rawValue)"])
    }

    /// Sends CLOSING(server_closing) to everyone and waits (bounded by the grace period) until ENet has
    /// delivered it and the peers are gone.
    private func shutDown() {
        logger.info("closing all sessions", metadata: ["sessions": "\(sessions.count)"])
        for peer in Array(sessions.keys) {
            close(peer, reason: .serverClosing, detail: "server is shutting down")
        }
        flush()
        let graceEnd = MonotonicClock.nowMicros() + UInt64(configuration.shutdownGraceMs) * 1000
        while host.connectedPeerCount > 0 && MonotonicClock.nowMicros() < graceEnd {
            if let event = host.service(timeoutMilliseconds: 10) {
                if case .disconnected(let peer, _) = event { sessions.removeValue(forKey: peer) }
            }
        }
        flush()
        publish(at: MonotonicClock.nowMicros())
    }

    // MARK: statistics

    private func publish(at micros: UInt64) {
        let cpu = processCPUSeconds()
        let workerCPU = MonotonicClock.threadCPUSeconds()
        let io = host.statistics
        let seconds = max(1e-6, Double(micros - lastPublish.micros) / 1e6)
        var stats = NodeStatistics()
        stats.uptimeSeconds = Double(micros - startMicros) / 1e6
        stats.ticks = ticks
        stats.tickMillisP50 = Double(tickHistogram.valueAtPercentile(50)) / 1000
        stats.tickMillisP99 = Double(tickHistogram.valueAtPercentile(99)) / 1000
        stats.tickMillisMax = Double(tickHistogram.max) / 1000
        stats.tickCpuMillisP50 = Double(tickCpuHistogram.valueAtPercentile(50)) / 1000
        stats.tickCpuMillisP99 = Double(tickCpuHistogram.valueAtPercentile(99)) / 1000
        stats.tickCpuMillisMax = Double(tickCpuHistogram.max) / 1000
        stats.tickOverruns = overruns
        stats.cpuCores = (cpu - lastPublish.cpu) / seconds
        stats.workerCpuCores = (workerCPU - lastPublish.workerCPU) / seconds
        stats.sessions = sessions.count
        stats.worlds = shards.map {
            NodeStatistics.WorldLine(
                worldId: $0.id, instance: $0.instance, avatars: $0.population, capacity: $0.world.definition.capacity)
        }
        stats.datagramsInPerSecond = Double(io.datagramsReceived - lastPublish.stats.datagramsReceived) / seconds
        stats.datagramsOutPerSecond = Double(io.datagramsSent - lastPublish.stats.datagramsSent) / seconds
        stats.bytesInPerSecond = Double(io.bytesReceived - lastPublish.stats.bytesReceived) / seconds
        stats.bytesOutPerSecond = Double(io.bytesSent - lastPublish.stats.bytesSent) / seconds
        stats.totals = shards.reduce(into: ShardCounters()) { $0.add($1.counters) }
        stats.malformedMessages = malformedMessages
        stats.unexpectedMessages = unexpectedMessages
        stats.tokensRejected = gate.rejectedTotal
        stats.tokenTimeouts = tokenTimeouts
        stats.unopenedPackets = unopenedPackets
        stats.rateLimitedDrops = rateLimitedDrops
        stats.socketDrops = host.socketDrops ?? 0
        stats.admission = admission.counters
        stats.voice = shards.reduce(into: VoiceCounters()) { $0.add($1.voice.counters) }
        stats.voiceCpuCores = (stats.voice.cpuSeconds - lastVoiceCPU) / seconds
        if voiceAddedHistogram.totalCount > 0 {
            stats.voiceAddedMillis = NodeStatistics.Millis(
                p50: Double(voiceAddedHistogram.valueAtPercentile(50)) / 1000,
                p99: Double(voiceAddedHistogram.valueAtPercentile(99)) / 1000,
                max: Double(voiceAddedHistogram.max) / 1000)
        }
        voiceAddedHistogram.reset()
        stats.voiceAddedCounts = voiceAddedCounts
        lastVoiceCPU = stats.voice.cpuSeconds
        for shard in shards { shard.voice.resetPublishedMaxima() }
        tickHistogram.reset()
        tickCpuHistogram.reset()
        lastPublish = (micros, cpu, workerCPU, io)
        control.publish(stats)
    }
}

extension ShardCounters {
    mutating func add(_ other: ShardCounters) {
        inputsApplied += other.inputsApplied
        inputsStale += other.inputsStale
        inputsRubberBanded += other.inputsRubberBanded
        inputsOutOfReach += other.inputsOutOfReach
        snapshotsSent += other.snapshotsSent
        snapshotDatagrams += other.snapshotDatagrams
        snapshotBytes += other.snapshotBytes
        chatRelayed += other.chatRelayed
        deferredByBudget += other.deferredByBudget
        deferredByRate += other.deferredByRate
    }
}

/// User + system CPU time of the whole process, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
