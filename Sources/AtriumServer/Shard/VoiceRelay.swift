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
        var muted: Bool { selfMuted || moderatorMuted }
        var hasUnsent: Bool { sent < pending.count }
    }

    /// A speaker counts as talking this long after its last frame with voice activity.
    static let talkingHoldMicros: UInt64 = 300_000
    static let mixPeriodMicros: UInt64 = 20_000
    /// At most 120 ms of frames wait per speaker (more means a burst after jitter): the oldest is dropped.
    static let maxPending = 6

    private var router: VoiceRouter
    /// The router ran at the last tick: its routes are the ones flushes between ticks may use (a tick with no
    /// voice at all skips routing, and older routes must not be replayed).
    private var routesCurrent = false
    /// This tick's listeners, in the order the router indexed them (the mix reads their routes).
    private var tickListeners: [VoiceListener] = []
    private var speakers: [UInt16: SpeakerState] = [:]
    /// Speaker → listener → index of the last of the speaker's frames forwarded to that listener. Kept apart
    /// from `speakers` so writing it never copies a speaker's queue.
    private var lastForwarded: [UInt16: [UInt16: UInt32]] = [:]
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

    // MARK: arrivals

    /// A VOICE from `speaker`: checked against RFC 6716 §3.4 and queued for the next flush. False when dropped.
    @discardableResult
    func receive(_ frame: VoiceFrame, from speaker: UInt16, nowMicros: UInt64) -> Bool {
        counters.framesReceived += 1
        guard (try? OpusPacketValidator.validate(frame.opus)) != nil else {
            counters.framesInvalid += 1
            return false
        }
        var state = speakers[speaker] ?? SpeakerState()
        defer { speakers[speaker] = state }
        guard !state.muted else {
            counters.framesMuted += 1
            // Nobody gets it: the frame after the mute resumes every listener's stream.
            state.nextIndex &+= 1
            return false
        }
        if state.pending.count >= Self.maxPending {
            counters.framesOverflowed += 1
            if state.sent > 0 {
                // Already relayed; only the mix loses it.
                state.pending.removeFirst()
                state.sent -= 1
            } else {
                // Never sent to anyone: renumber so the listeners see a gap with no resumes mark — loss.
                state.pending.removeFirst()
                for k in state.pending.indices { state.pending[k].index &-= 1 }
                state.nextIndex &-= 1
            }
        }
        state.pending.append(
            Pending(
                sequence: frame.sequence, level: frame.level, opus: frame.opus, index: state.nextIndex,
                arrivalMicros: nowMicros))
        state.nextIndex &+= 1
        state.level = frame.level
        if frame.level.voiceActivity { state.lastTalkMicros = nowMicros }
        return true
    }

    /// Mutes, blocks and moderator mutes. Returns false when `from` may not do it (a non-moderator muting others).
    func control(_ control: VoiceControl, from listener: UInt16, role: Role) -> Bool {
        switch control.action {
        case .muteSelf: speakers[listener, default: SpeakerState()].selfMuted = true
        case .unmuteSelf: speakers[listener, default: SpeakerState()].selfMuted = false
        case .block: router.setBlocked(true, speaker: control.target, listener: listener)
        case .unblock: router.setBlocked(false, speaker: control.target, listener: listener)
        case .moderatorMute, .moderatorUnmute:
            guard Self.moderatorRoles.contains(role) else { return false }
            speakers[control.target, default: SpeakerState()].moderatorMuted = control.action == .moderatorMute
        }
        if speakers[listener]?.muted == true { dropPending(of: listener) }
        if case .moderatorMute = control.action { dropPending(of: control.target) }
        return true
    }

    /// A muted speaker's queue goes; the frames not yet relayed count as dropped for the mute.
    private func dropPending(of speaker: UInt16) {
        guard var state = speakers[speaker] else { return }
        state.pending.removeAll()
        state.sent = 0
        speakers[speaker] = state
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
        speakers.removeValue(forKey: id)
        lastForwarded.removeValue(forKey: id)
        for key in Array(lastForwarded.keys) { lastForwarded[key]?.removeValue(forKey: id) }
        mixers.removeValue(forKey: id)
        router.removeListener(id)
        decodeStage.removeSpeaker(id)
    }

    // MARK: between ticks

    /// A flush point between ticks: every speaker's frames not yet sent go to the listeners the last tick
    /// routed it to (relay listeners only; mix is made at ticks), one VOICE_BUNDLE per listener. The work is
    /// proportional to the frames waiting times their listeners. True when anything was sent.
    @discardableResult
    func forward(avatars: [UInt16: Avatar], send: (PeerHandle, [UInt8]) -> Void) -> Bool {
        guard routesCurrent, speakers.values.contains(where: \.hasUnsent) else { return false }
        let cpuStart = MonotonicClock.threadCPUSeconds()
        defer { counters.cpuSeconds += MonotonicClock.threadCPUSeconds() - cpuStart }

        pairs.removeAll(keepingCapacity: true)
        for (id, state) in speakers where state.hasUnsent {
            for route in router.listeners(hearing: id) where route.listenerId != id && mixers[route.listenerId] == nil {
                // A block sent since the tick already holds.
                guard !router.isBlocked(speaker: id, listener: route.listenerId) else { continue }
                pairs.append(UInt32(route.listenerId) << 16 | UInt32(id))
            }
        }
        pairs.sort()
        var sentAny = false
        var copies: [UInt16: Int] = [:]
        var i = 0
        while i < pairs.count {
            let listener = UInt16(truncatingIfNeeded: pairs[i] >> 16)
            let peer = avatars[listener]?.peer
            writer.reset()
            while i < pairs.count, UInt16(truncatingIfNeeded: pairs[i] >> 16) == listener {
                let speaker = UInt16(truncatingIfNeeded: pairs[i])
                i += 1
                guard let peer else { continue }
                appendUnsent(of: speaker, to: listener, peer: peer, send)
                copies[speaker, default: 0] += 1
            }
            if let peer, let message = writer.finish() {
                send(peer, message)
                counters.bundlesSent += 1
                sentAny = true
            }
        }
        // Frames nobody was routed to stay for the tick (their speaker may be routed then).
        for (id, n) in copies {
            guard let state = speakers[id] else { continue }
            for frame in state.pending[state.sent...] { forwarded.append((frame.arrivalMicros, n)) }
            speakers[id]?.sent = state.pending.count
        }
        return sentAny
    }

    /// Adds `speaker`'s frames not yet relayed to the bundle being built for `listener`, marking `resumes`
    /// where the listener did not get the speaker's previous frame.
    private func appendUnsent(
        of speaker: UInt16, to listener: UInt16, peer: PeerHandle, _ send: (PeerHandle, [UInt8]) -> Void
    ) {
        guard let state = speakers[speaker], state.hasUnsent else { return }
        var last = lastForwarded[speaker]?[listener]
        for frame in state.pending[state.sent...] {
            let resumes = last.map { $0 &+ 1 != frame.index } ?? true
            appendOrSend(
                speaker: speaker, frame.sequence, frame.level, frame.opus, resumes: resumes, to: peer, send)
            last = frame.index
        }
        lastForwarded[speaker, default: [:]][listener] = last
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
        let anyPending = speakers.values.contains { !$0.pending.isEmpty }
        routesCurrent = anyPending || !mixers.isEmpty
        guard routesCurrent else { return }
        let cpuStart = MonotonicClock.threadCPUSeconds()
        defer { counters.cpuSeconds += MonotonicClock.threadCPUSeconds() - cpuStart }

        var voiceSpeakers: [VoiceSpeaker] = []
        for (id, state) in speakers where nowMicros &- state.lastTalkMicros < Self.talkingHoldMicros || !state.pending.isEmpty {
            guard let avatar = avatars[id] else { continue }
            voiceSpeakers.append(
                VoiceSpeaker(
                    id: id, position: avatar.pose.headPosition, zone: zone(id, avatar), level: state.level,
                    talking: nowMicros &- state.lastTalkMicros < Self.talkingHoldMicros, muted: state.muted))
        }
        var listeners: [VoiceListener] = []
        listeners.reserveCapacity(order.count)
        for id in order {
            guard let avatar = avatars[id] else { continue }
            listeners.append(
                VoiceListener(id: id, position: avatar.pose.headPosition, zone: zone(id, avatar)))
        }
        router.route(speakers: voiceSpeakers, listeners: listeners, nowMicros: nowMicros)
        tickListeners = listeners

        var copies: [UInt16: Int] = [:]
        for (index, listener) in listeners.enumerated() {
            let routes = router.routes(forListenerAt: index)
            counters.maxStreamsPerListener = max(counters.maxStreamsPerListener, routes.count)
            guard mixers[listener.id] == nil, let avatar = avatars[listener.id] else { continue }
            writer.reset()
            for route in routes where route.speakerId != listener.id {
                guard speakers[route.speakerId]?.hasUnsent == true else { continue }
                appendUnsent(of: route.speakerId, to: listener.id, peer: avatar.peer, send)
                copies[route.speakerId, default: 0] += 1
            }
            if let message = writer.finish() {
                send(avatar.peer, message)
                counters.bundlesSent += 1
            }
        }
        for (id, n) in copies {
            guard let state = speakers[id] else { continue }
            for frame in state.pending[state.sent...] { forwarded.append((frame.arrivalMicros, n)) }
            speakers[id]?.sent = state.pending.count
        }
    }

    /// The tick's second half, after its flush has gone out: mix-mode listeners get the 20 ms mix periods due
    /// (the costly part of voice, so relayed voice and state do not wait for it), then this tick's frames are
    /// done. True when a mixed frame was sent.
    @discardableResult
    func mix(nowMicros: UInt64, avatars: [UInt16: Avatar], send: (PeerHandle, [UInt8]) -> Void) -> Bool {
        defer {
            for id in Array(speakers.keys) where speakers[id]?.pending.isEmpty == false {
                speakers[id]?.pending.removeAll(keepingCapacity: true)
                speakers[id]?.sent = 0
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
            if let message = writer.finish() {
                send(avatar.peer, message)
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
            if let message = writer.finish() {
                send(peer, message)
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
            for route in router.routes(forListenerAt: index) where route.speakerId != listener.id {
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
                let pending = speakers[id]?.pending ?? []
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
