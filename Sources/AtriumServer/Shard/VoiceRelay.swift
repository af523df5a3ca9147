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
        mixedFrames += o.mixedFrames
        maxStreamsPerListener = max(maxStreamsPerListener, o.maxStreamsPerListener)
        cpuSeconds += o.cpuSeconds
    }
}

/// A shard's voice (PROTOCOL.md §17): frames are checked and queued per speaker as they arrive; each tick the
/// same zones and roles as interest decide who hears whom (`VoiceRouter`: distance, acoustic isolation,
/// broadcast reach, the N-stream cap, hysteresis, mutes, blocks), and every listener gets one VOICE_BUNDLE with
/// the frames of its chosen speakers since the last tick. Listeners granted mix mode get one stereo stream
/// mixed here (speaker id 0) instead.
final class VoiceRelay {
    struct Pending {
        var sequence: UInt16
        var level: VoiceLevel
        var opus: [UInt8]
    }

    struct SpeakerState {
        var pending: [Pending] = []
        var level = VoiceLevel.silence
        var lastTalkMicros: UInt64 = 0
        var selfMuted = false
        var moderatorMuted = false
        var muted: Bool { selfMuted || moderatorMuted }
    }

    /// A speaker counts as talking this long after its last frame with voice activity.
    static let talkingHoldMicros: UInt64 = 300_000
    static let mixPeriodMicros: UInt64 = 20_000

    private var router: VoiceRouter
    private var speakers: [UInt16: SpeakerState] = [:]
    private let mixCapacity: Int
    private var mixers: [UInt16: VoiceMixer] = [:]
    private let decodeStage = VoiceDecodeStage()
    private var mixPeriodsDone: UInt64 = 0
    private var mixEpoch: UInt64?
    private var writer = VoiceBundleWriter()
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

    // MARK: arrivals

    /// A VOICE from `speaker`: checked against RFC 6716 §3.4 and queued for the next tick. False when dropped.
    @discardableResult
    func receive(_ frame: VoiceFrame, from speaker: UInt16, nowMicros: UInt64) -> Bool {
        counters.framesReceived += 1
        guard (try? OpusPacketValidator.validate(frame.opus)) != nil else {
            counters.framesInvalid += 1
            return false
        }
        var state = speakers[speaker] ?? SpeakerState()
        guard !state.muted else {
            counters.framesMuted += 1
            speakers[speaker] = state
            return false
        }
        // At most 120 ms of frames wait (a tick is 33 ms; more means a burst after jitter): oldest dropped.
        if state.pending.count >= 6 { state.pending.removeFirst() }
        state.pending.append(Pending(sequence: frame.sequence, level: frame.level, opus: frame.opus))
        state.level = frame.level
        if frame.level.voiceActivity { state.lastTalkMicros = nowMicros }
        speakers[speaker] = state
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
        if speakers[listener]?.muted == true { speakers[listener]?.pending.removeAll() }
        if case .moderatorMute = control.action { speakers[control.target]?.pending.removeAll() }
        return true
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
        mixers.removeValue(forKey: id)
        router.removeListener(id)
        decodeStage.removeSpeaker(id)
    }

    // MARK: the tick

    /// Routes and sends this tick's voice. `avatars` in `order` are the listeners (and possible speakers);
    /// `interest` is this tick's interest view (zones already classified), `context` classifies any avatar it
    /// lacks (naive mode builds none).
    func flush(
        nowMicros: UInt64, order: [UInt16], avatars: [UInt16: Avatar], interest: InterestAvatarTable,
        context: InterestContext, send: (PeerHandle, [UInt8]) -> Void
    ) {
        func zone(_ id: UInt16, _ avatar: Avatar) -> InterestZoneContext {
            interest[id]?.zoneContext ?? context.zoneContext(position: avatar.pose.headPosition, role: avatar.role)
        }
        let anyPending = speakers.values.contains { !$0.pending.isEmpty }
        guard anyPending || !mixers.isEmpty else { return }
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

        let mixed = mixFrames(nowMicros: nowMicros, listeners: listeners, avatars: avatars)
        for (index, listener) in listeners.enumerated() {
            guard let avatar = avatars[listener.id] else { continue }
            let routes = router.routes(forListenerAt: index)
            counters.maxStreamsPerListener = max(counters.maxStreamsPerListener, routes.count)
            writer.reset()
            if let frames = mixed[listener.id] {
                for out in frames {
                    appendOrSend(speaker: VoiceBundle.mixedSpeakerId, out.sequence, VoiceLevel(rawValue: out.level), out.packet, to: avatar.peer, send)
                }
            } else {
                for route in routes where route.speakerId != listener.id {
                    guard let state = speakers[route.speakerId] else { continue }
                    for frame in state.pending {
                        appendOrSend(speaker: route.speakerId, frame.sequence, frame.level, frame.opus, to: avatar.peer, send)
                    }
                }
            }
            if let message = writer.finish() {
                send(avatar.peer, message)
                counters.bundlesSent += 1
            }
        }
        for id in Array(speakers.keys) { speakers[id]?.pending.removeAll(keepingCapacity: true) }
    }

    private func appendOrSend(
        speaker: UInt16, _ sequence: UInt16, _ level: VoiceLevel, _ opus: [UInt8], to peer: PeerHandle,
        _ send: (PeerHandle, [UInt8]) -> Void
    ) {
        if !writer.append(speakerId: speaker, sequence: sequence, level: level, opus: opus) {
            if let message = writer.finish() {
                send(peer, message)
                counters.bundlesSent += 1
            }
            writer.append(speakerId: speaker, sequence: sequence, level: level, opus: opus)
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
