import AtriumTransport
import AtriumVoice
import AtriumWire
import AtriumWorld

/// Counters of a shard's voice, read by the stats publisher.
public struct VoiceCounters: Sendable, Equatable {
    public var framesReceived: UInt64 = 0
    /// Dropped on arrival: not a valid Opus packet (RFC 6716 §3.4), or the speaker is muted.
    public var framesInvalid: UInt64 = 0
    public var framesMuted: UInt64 = 0
    /// Frame copies sent to listeners (one frame heard by five listeners counts five).
    public var framesForwarded: UInt64 = 0
    public var bundlesSent: UInt64 = 0
    /// Queued frames dropped because a speaker had more than 120 ms waiting (a burst after jitter).
    public var framesOverflowed: UInt64 = 0
    /// Mixed frames encoded for mix-mode listeners.
    public var mixedFrames: UInt64 = 0
    /// Most streams any listener got in one tick since the last publish.
    public var maxStreamsPerListener: Int = 0
    /// Thread CPU seconds spent routing, bundling and mixing.
    public var cpuSeconds: Double = 0

    mutating func add(_ o: VoiceCounters) {
        framesReceived += o.framesReceived
        framesInvalid += o.framesInvalid
        framesMuted += o.framesMuted
        framesForwarded += o.framesForwarded
        bundlesSent += o.bundlesSent
        framesOverflowed += o.framesOverflowed
        mixedFrames += o.mixedFrames
        maxStreamsPerListener = max(maxStreamsPerListener, o.maxStreamsPerListener)
        cpuSeconds += o.cpuSeconds
    }
}

/// A shard's voice (PROTOCOL.md §17): frames are checked and queued per speaker as they arrive; each tick the
/// same zones and roles as interest decide who hears whom (`VoiceRouter`: distance, acoustic isolation,
/// broadcast reach, the N-stream cap, hysteresis, mutes, blocks), and every listener gets one VOICE_BUNDLE with
/// the frames of its chosen speakers not yet sent. Between ticks `forward` sends the frames that arrived since
/// the last flush along the last tick's routes, so no frame waits a whole tick. Listeners granted mix mode get
/// one stereo stream mixed here at ticks (speaker id 0) instead.
///
/// Every queued frame of a speaker gets the next number of that speaker's frame index; a listener remembers
/// the index of the last frame of each speaker forwarded to it, and a frame whose predecessor it did not get
/// is marked `resumes` (§17.3): the gap before it is routing, not loss.
final class VoiceRelay {
    struct Pending {
        var sequence: UInt16
        var level: VoiceLevel
        var opus: [UInt8]
        /// Number of this frame among the speaker's queued frames (wrapping), for the resumes mark.
        var index: UInt32
        /// When the worker decoded it (worker clock, µs): server-added latency is measured from here.
        var arrivalMicros: UInt64
    }

    struct SpeakerState {
        /// Frames since the last tick, oldest first; the mixer reads them all, relaying skips the first `sent`.
        var pending: [Pending] = []
        /// How many of `pending` were already relayed by a flush between ticks.
        var sent = 0
        /// Index of the next frame queued (frames dropped for a mute take one too: listeners did not get them).
        var nextIndex: UInt32 = 0
        var level = VoiceLevel.silence
        var lastTalkMicros: UInt64 = 0
        var selfMuted = false
        var moderatorMuted = false
        /// In `VoiceRelay.active`.
        var listed = false
        /// Listeners the flush under way gave this speaker's unsent frames to.
        var copies = 0
        var muted: Bool { selfMuted || moderatorMuted }
        var hasUnsent: Bool { sent < pending.count }
    }

    /// A speaker counts as talking this long after its last frame with voice activity.
    static let talkingHoldMicros: UInt64 = 300_000
    static let mixPeriodMicros: UInt64 = 20_000
    /// At most 120 ms of frames wait per speaker (more means a burst after jitter): the oldest is dropped.
    static let maxPending = 6

    /// Always reached through `withRouter`: a read of a struct property of a class copies it (and retains its
    /// two dozen buffers) on every call.
    private var router: VoiceRouter
    /// The router ran at the last tick: its routes are the ones flushes between ticks may use (a tick with no
    /// voice at all skips routing, and older routes must not be replayed).
    private var routesCurrent = false
    /// This tick's listeners, in the order the router indexed them (the mix reads their routes).
    private var tickListeners: [VoiceListener] = []
    /// This tick's speakers as the router takes them (kept to reuse its buffer).
    private var tickSpeakers: [VoiceSpeaker] = []
    /// Speaker state by avatar id: the shard hands ids out upwards from 1 and reuses them only after wrapping,
    /// so a flat table is dense (at most 65,536 small entries) and needs no hashing.
    private var speakers: [SpeakerState] = []
    /// Ids whose state routing and the flushes must look at: every speaker given a state (a frame, a mute)
    /// since it last went quiet, in that order. A tick drops those neither talking nor with frames waiting,
    /// so no pass walks every avatar that ever spoke.
    private var active: [UInt16] = []
    /// Index of the last of each speaker's frames forwarded to each listener.
    private var lastForwarded = LastForwardedTable()
    /// `lastForwarded.count` after its last pruning: it is pruned again when it has doubled (plus this slack,
    /// so small tables are left alone; tests lower it to prune at every tick).
    private var lastForwardedPruned = 0
    var pruneSlack = 256
    /// (speaker, listener) pairs remembered for the resumes mark.
    var forwardedPairCount: Int { lastForwarded.count }
    private let mixCapacity: Int
    private var mixers: [UInt16: VoiceMixer] = [:]
    private let decodeStage = VoiceDecodeStage()
    private var mixPeriodsDone: UInt64 = 0
    private var mixEpoch: UInt64?
    private var writer = VoiceBundleWriter()
    /// (listener << 16 | speaker) of a flush between ticks, sorted so each listener gets one bundle.
    private var pairs: [UInt32] = []
    /// Arrival time and number of copies of every frame forwarded since `drainForwarded` last ran.
    private var forwarded: [(arrivalMicros: UInt64, copies: Int)] = []
    private(set) var counters = VoiceCounters()
    /// Roles that may mute others (moderate a space).
    static let moderatorRoles: Set<Role> = [.moderator, .teacher, .villageHead, .presenter]

    init(settings: VoiceRoutingSettings = VoiceRoutingSettings(), mixCapacity: Int) {
        router = VoiceRouter(settings: settings)
        self.mixCapacity = mixCapacity
    }

    /// Mix listeners now (they count against the node-wide capacity the worker enforces).
    var mixListenerCount: Int { mixers.count }

    func resetPublishedMaxima() { counters.maxStreamsPerListener = 0 }

    /// Hands over (arrival µs, copies) of each frame forwarded since the last call, for the worker to time
    /// once the flush has gone out.
    func drainForwarded(_ body: (UInt64, Int) -> Void) {
        for entry in forwarded { body(entry.arrivalMicros, entry.copies) }
        forwarded.removeAll(keepingCapacity: true)
    }

    /// The router in place (an inout access: no copy).
    private func withRouter<R>(_ body: (inout VoiceRouter) -> R) -> R { body(&router) }

    /// `id`'s slot in `speakers`, grown when new, and listed in `active`.
    @discardableResult
    private func touch(_ id: UInt16) -> Int {
        let s = Int(id)
        if s >= speakers.count {
            speakers.append(
                contentsOf: repeatElement(SpeakerState(), count: min(max(s + 1, 2 * speakers.count), 1 << 16) - speakers.count))
        }
        if !speakers[s].listed {
            speakers[s].listed = true
            active.append(id)
        }
        return s
    }

    private func isMixListener(_ id: UInt16) -> Bool { !mixers.isEmpty && mixers[id] != nil }

    // MARK: arrivals

    /// A VOICE from `speaker`: checked against RFC 6716 §3.4 and queued for the next flush. False when dropped.
    @discardableResult
    func receive(_ frame: VoiceFrame, from speaker: UInt16, nowMicros: UInt64) -> Bool {
        counters.framesReceived += 1
        guard (try? OpusPacketValidator.validate(frame.opus)) != nil else {
            counters.framesInvalid += 1
            return false
        }
        let s = touch(speaker)
        guard !speakers[s].muted else {
            counters.framesMuted += 1
            // Nobody gets it: the frame after the mute resumes every listener's stream.
            speakers[s].nextIndex &+= 1
            return false
        }
        if speakers[s].pending.count >= Self.maxPending {
            counters.framesOverflowed += 1
            speakers[s].pending.removeFirst()
            if speakers[s].sent > 0 {
                // Already relayed; only the mix loses it.
                speakers[s].sent -= 1
            } else {
                // Never sent to anyone: renumber so the listeners see a gap with no resumes mark — loss.
                for k in speakers[s].pending.indices { speakers[s].pending[k].index &-= 1 }
                speakers[s].nextIndex &-= 1
            }
        }
        speakers[s].pending.append(
            Pending(
                sequence: frame.sequence, level: frame.level, opus: frame.opus, index: speakers[s].nextIndex,
                arrivalMicros: nowMicros))
        speakers[s].nextIndex &+= 1
        speakers[s].level = frame.level
        if frame.level.voiceActivity { speakers[s].lastTalkMicros = nowMicros }
        return true
    }

    /// Mutes, blocks and moderator mutes. Returns false when `from` may not do it (a non-moderator muting others).
    func control(_ control: VoiceControl, from listener: UInt16, role: Role) -> Bool {
        switch control.action {
        case .muteSelf: speakers[touch(listener)].selfMuted = true
        case .unmuteSelf: speakers[touch(listener)].selfMuted = false
        case .block: withRouter { $0.setBlocked(true, speaker: control.target, listener: listener) }
        case .unblock: withRouter { $0.setBlocked(false, speaker: control.target, listener: listener) }
        case .moderatorMute, .moderatorUnmute:
            guard Self.moderatorRoles.contains(role) else { return false }
            speakers[touch(control.target)].moderatorMuted = control.action == .moderatorMute
        }
        if Int(listener) < speakers.count, speakers[Int(listener)].muted { dropPending(of: listener) }
        if case .moderatorMute = control.action { dropPending(of: control.target) }
        return true
    }

    /// A muted speaker's queue goes; the frames not yet relayed count as dropped for the mute.
    private func dropPending(of speaker: UInt16) {
        let s = Int(speaker)
        guard s < speakers.count else { return }
        speakers[s].pending.removeAll()
        speakers[s].sent = 0
    }

    /// VOICE_SETUP: mix mode while this shard has room (`available` is the node's remaining mix capacity).
    func setup(_ mode: VoiceMode, for listener: UInt16, available: Int) -> VoiceModeGrant {
        switch mode {
        case .relay:
            mixers.removeValue(forKey: listener)
            return VoiceModeGrant(mode: .relay, reason: .asRequested)
        case .mix:
            if mixers[listener] != nil { return VoiceModeGrant(mode: .mix, reason: .asRequested) }
            guard available > 0, mixers.count < mixCapacity else {
                return VoiceModeGrant(mode: .relay, reason: .mixCapacityFull)
            }
            guard let mixer = try? VoiceMixer() else { return VoiceModeGrant(mode: .relay, reason: .mixUnavailable) }
            mixers[listener] = mixer
            return VoiceModeGrant(mode: .mix, reason: .asRequested)
        }
    }

    func remove(_ id: UInt16) {
        if Int(id) < speakers.count {
            speakers[Int(id)] = SpeakerState()
            active.removeAll { $0 == id }
        }
        // One pass over the pairs (not one map per speaker), whichever side the avatar was on.
        lastForwarded.removeAll { speaker, listener, _ in speaker == id || listener == id }
        lastForwardedPruned = min(lastForwardedPruned, lastForwarded.count)
        mixers.removeValue(forKey: id)
        withRouter { $0.removeListener(id) }
        decodeStage.removeSpeaker(id)
    }

    // MARK: between ticks

    /// A flush point between ticks: every speaker's frames not yet sent go to the listeners the last tick
    /// routed it to (relay listeners only; mix is made at ticks), one VOICE_BUNDLE per listener. The work is
    /// proportional to the frames waiting times their listeners. True when anything was sent.
    @discardableResult
    func forward(avatars: [UInt16: Avatar], send: (PeerHandle, [UInt8]) -> Void) -> Bool {
        guard routesCurrent, active.contains(where: { speakers[Int($0)].hasUnsent }) else { return false }
        let cpuStart = MonotonicClock.threadCPUSeconds()
        defer { counters.cpuSeconds += MonotonicClock.threadCPUSeconds() - cpuStart }

        pairs.removeAll(keepingCapacity: true)
        withRouter { router in
            for id in active where speakers[Int(id)].hasUnsent {
                for route in router.listeners(hearing: id) where route.listenerId != id && !isMixListener(route.listenerId) {
                    // A block sent since the tick already holds.
                    guard !router.isBlocked(speaker: id, listener: route.listenerId) else { continue }
                    pairs.append(UInt32(route.listenerId) << 16 | UInt32(id))
                }
            }
        }
        pairs.sort()
        var sentAny = false
        var i = 0
        while i < pairs.count {
            let listener = UInt16(truncatingIfNeeded: pairs[i] >> 16)
            let peer = avatars[listener]?.peer
            writer.reset()
            while i < pairs.count, UInt16(truncatingIfNeeded: pairs[i] >> 16) == listener {
                let speaker = UInt16(truncatingIfNeeded: pairs[i])
                i += 1
                guard let peer else { continue }
                appendUnsent(of: Int(speaker), to: listener, peer: peer, send)
            }
            if let peer, writer.finish({ send(peer, $0) }) {
                counters.bundlesSent += 1
                sentAny = true
            }
        }
        // Frames nobody was routed to stay for the tick (their speaker may be routed then).
        markSent()
        return sentAny
    }

    /// Adds speaker `s`'s frames not yet relayed to the bundle being built for `listener`, marking `resumes`
    /// where the listener did not get the speaker's previous frame, and counts the copy.
    private func appendUnsent(
        of s: Int, to listener: UInt16, peer: PeerHandle, _ send: (PeerHandle, [UInt8]) -> Void
    ) {
        let first = speakers[s].sent, end = speakers[s].pending.count
        guard first < end else { return }
        let speaker = UInt16(truncatingIfNeeded: s)
        var last = lastForwarded.last(speaker: speaker, listener: listener)
        for k in first..<end {
            let frame = speakers[s].pending[k]
            let resumes = last.map { $0 &+ 1 != frame.index } ?? true
            appendOrSend(speaker: speaker, frame.sequence, frame.level, frame.opus, resumes: resumes, to: peer, send)
            last = frame.index
        }
        if let last { lastForwarded.setLast(last, speaker: speaker, listener: listener) }
        speakers[s].copies += 1
    }

    /// After a flush: every frame given to someone is relayed (and timed once the flush is out).
    private func markSent() {
        for id in active where speakers[Int(id)].copies > 0 {
            let s = Int(id)
            let n = speakers[s].copies
            for k in speakers[s].sent..<speakers[s].pending.count {
                forwarded.append((speakers[s].pending[k].arrivalMicros, n))
            }
            speakers[s].sent = speakers[s].pending.count
            speakers[s].copies = 0
        }
    }

    // MARK: the tick

    /// Routes this tick's voice and sends relay listeners the frames not yet sent (they leave with the tick's
    /// state). `avatars` in `order` are the listeners (and possible speakers); `interest` is this tick's interest
    /// view (zones already classified), `context` classifies any avatar it lacks (naive mode builds none).
    /// `mix` follows once that flush is out.
    func flush(
        nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], interest: InterestAvatarTable,
        context: InterestContext, send: (PeerHandle, [UInt8]) -> Void
    ) {
        func zone(_ id: UInt16, _ avatar: Avatar) -> InterestZoneContext {
            interest[id]?.zoneContext ?? context.zoneContext(position: avatar.pose.headPosition, role: avatar.role)
        }
        let anyPending = active.contains { !speakers[Int($0)].pending.isEmpty }
        routesCurrent = anyPending || !mixers.isEmpty
        guard routesCurrent else { return }
        let cpuStart = MonotonicClock.threadCPUSeconds()
        defer { counters.cpuSeconds += MonotonicClock.threadCPUSeconds() - cpuStart }

        // Speakers talking or with frames waiting; the others leave `active` until their next frame.
        tickSpeakers.removeAll(keepingCapacity: true)
        var kept = 0
        for id in active {
            let s = Int(id)
            let talking = nowMicros &- speakers[s].lastTalkMicros < Self.talkingHoldMicros
            guard talking || !speakers[s].pending.isEmpty else {
                speakers[s].listed = false
                continue
            }
            active[kept] = id
            kept += 1
            guard let avatar = avatars[id] else { continue }
            tickSpeakers.append(
                VoiceSpeaker(
                    id: id, position: avatar.pose.headPosition, zone: zone(id, avatar), level: speakers[s].level,
                    talking: talking, muted: speakers[s].muted))
        }
        active.removeLast(active.count - kept)

        tickListeners.removeAll(keepingCapacity: true)
        tickListeners.reserveCapacity(order.count)
        for id in order {
            guard let avatar = avatars[id] else { continue }
            tickListeners.append(
                VoiceListener(id: id, position: avatar.pose.headPosition, zone: zone(id, avatar)))
        }
        let speakersNow = tickSpeakers, listenersNow = tickListeners
        withRouter { $0.route(speakers: speakersNow, listeners: listenersNow, nowMicros: nowMicros) }

        withRouter { router in
            for index in listenersNow.indices {
                let routes = router.routes(forListenerAt: index)
                counters.maxStreamsPerListener = max(counters.maxStreamsPerListener, routes.count)
                // Listeners with nothing waiting from their speakers cost one look per route.
                guard anyPending else { continue }
                let id = listenersNow[index].id
                guard !isMixListener(id) else { continue }
                var peer: PeerHandle?
                for route in routes where route.speakerId != id && speakers[Int(route.speakerId)].hasUnsent {
                    if peer == nil {
                        guard let avatar = avatars[id] else { break }
                        peer = avatar.peer
                        writer.reset()
                    }
                    appendUnsent(of: Int(route.speakerId), to: id, peer: peer!, send)
                }
                if let peer, writer.finish({ send(peer, $0) }) {
                    counters.bundlesSent += 1
                }
            }
        }
        markSent()
        pruneLastForwarded()
    }

    /// Forgets the (speaker, listener) entries that can no longer matter, once they have doubled: an entry
    /// only decides the resumes mark when it is the speaker's frame just before its next one, so one whose
    /// speaker has nothing waiting and has moved past it is the same as none.
    private func pruneLastForwarded() {
        guard lastForwarded.count > 2 * lastForwardedPruned + pruneSlack else { return }
        let speakers = self.speakers
        lastForwarded.removeAll { speaker, _, last in
            let s = Int(speaker)
            guard s < speakers.count, speakers[s].pending.isEmpty else { return false }
            return last &+ 1 != speakers[s].nextIndex
        }
        lastForwardedPruned = lastForwarded.count
    }

    /// The tick's second half, after its flush has gone out: mix-mode listeners get the 20 ms mix periods due
    /// (the costly part of voice, so relayed voice and state do not wait for it), then this tick's frames are
    /// done. True when a mixed frame was sent.
    @discardableResult
    func mix(nowMicros: UInt64, avatars: [UInt16: Avatar], send: (PeerHandle, [UInt8]) -> Void) -> Bool {
        defer {
            for id in active where !speakers[Int(id)].pending.isEmpty {
                speakers[Int(id)].pending.removeAll(keepingCapacity: true)
                speakers[Int(id)].sent = 0
            }
        }
        guard routesCurrent, !mixers.isEmpty else {
            if mixers.isEmpty { mixEpoch = nil }
            return false
        }
        let cpuStart = MonotonicClock.threadCPUSeconds()
        defer { counters.cpuSeconds += MonotonicClock.threadCPUSeconds() - cpuStart }
        let mixed = mixFrames(nowMicros: nowMicros, listeners: tickListeners, avatars: avatars)
        var sent = false
        for listener in tickListeners {
            guard let frames = mixed[listener.id], let avatar = avatars[listener.id] else { continue }
            writer.reset()
            for out in frames {
                appendOrSend(
                    speaker: VoiceBundle.mixedSpeakerId, out.sequence, VoiceLevel(rawValue: out.level), out.packet,
                    resumes: false, to: avatar.peer, send)
            }
            if writer.finish({ send(avatar.peer, $0) }) {
                counters.bundlesSent += 1
                sent = true
            }
        }
        return sent
    }

    private func appendOrSend(
        speaker: UInt16, _ sequence: UInt16, _ level: VoiceLevel, _ opus: [UInt8], resumes: Bool, to peer: PeerHandle,
        _ send: (PeerHandle, [UInt8]) -> Void
    ) {
        if !writer.append(speakerId: speaker, sequence: sequence, level: level, opus: opus, resumes: resumes) {
            if writer.finish({ send(peer, $0) }) {
                counters.bundlesSent += 1
            }
            writer.append(speakerId: speaker, sequence: sequence, level: level, opus: opus, resumes: resumes)
        }
        counters.framesForwarded += 1
    }

    /// Runs the 20 ms mix periods that fell due since the last tick for every mix-mode listener; returns their
    /// mixed frames by listener id.
    private func mixFrames(
        nowMicros: UInt64, listeners: [VoiceListener], avatars: [UInt16: Avatar]
    ) -> [UInt16: [VoiceMixOutput]] {
        guard !mixers.isEmpty else {
            mixEpoch = nil
            return [:]
        }
        let epoch = mixEpoch ?? nowMicros
        if mixEpoch == nil {
            mixEpoch = nowMicros
            mixPeriodsDone = 0
        }
        let due = (nowMicros &- epoch) / Self.mixPeriodMicros + 1
        var periods = Int(min(due &- mixPeriodsDone, 6))
        mixPeriodsDone = due
        guard periods > 0 else { return [:] }
        periods = max(periods, 1)

        // Who each mix listener hears, with gain and azimuth from its head orientation.
        var sources: [UInt16: [VoiceMixSource]] = [:]
        var heard = Set<UInt16>()
        for (index, listener) in listeners.enumerated() where mixers[listener.id] != nil {
            guard let me = avatars[listener.id] else { continue }
            let forward = InterestAvatar.forward(from: me.pose.headRotation)
            var list: [VoiceMixSource] = []
            for route in withRouter({ $0.routes(forListenerAt: index) }) where route.speakerId != listener.id {
                guard let speaker = avatars[route.speakerId] else { continue }
                let d = speaker.pose.headPosition - me.pose.headPosition
                list.append(
                    VoiceMixSource(
                        speakerId: route.speakerId, gain: route.gain,
                        azimuth: VoiceMixer.azimuth(forwardX: forward.x, forwardZ: forward.z, dx: d.x, dz: d.z)))
                heard.insert(route.speakerId)
            }
            sources[listener.id] = list
        }
        var out: [UInt16: [VoiceMixOutput]] = [:]
        for period in 0..<periods {
            let frames = heard.map { id -> VoiceSpeakerFrame in
                let pending = Int(id) < speakers.count ? speakers[Int(id)].pending : []
                let frame = period < pending.count ? pending[period] : nil
                return VoiceSpeakerFrame(speakerId: id, sequence: frame?.sequence ?? 0, packet: frame?.opus)
            }
            guard let decoded = try? decodeStage.decode(frames) else { continue }
            for (id, mixer) in mixers {
                guard let list = sources[id], let mixedFrame = try? mixer.mix(list, from: decoded) else { continue }
                out[id, default: []].append(mixedFrame)
                counters.mixedFrames += 1
            }
        }
        return out
    }
}
