import AtriumWire

/// How the server chooses what each listener hears (docs/PROTOCOL.md §17.3).
public struct VoiceRoutingSettings: Sendable, Equatable {
    /// Most streams a listener receives (N).
    public var maxStreams: Int
    /// Beyond this distance (metres, between heads) a speaker is not heard, except by broadcast.
    public var hearingRadius: Float
    /// Up to this distance the gain is 1; beyond it falls as referenceDistance / distance.
    public var referenceDistance: Float
    /// The last part of the radius (as a fraction of it) over which the gain fades linearly to 0, so a
    /// speaker walking out of range fades instead of dropping.
    public var fadeFraction: Float
    /// A chosen speaker keeps its slot while its score is no more than this many decibels below the N-th
    /// best score.
    public var hysteresisDecibels: Int
    /// A chosen speaker keeps its slot for this long after it last ranked in the top N, whatever its score.
    public var holdMicros: UInt64

    public init(
        maxStreams: Int = 8, hearingRadius: Float = 20, referenceDistance: Float = 1, fadeFraction: Float = 0.25,
        hysteresisDecibels: Int = 6, holdMicros: UInt64 = 300_000
    ) {
        self.maxStreams = maxStreams
        self.hearingRadius = hearingRadius
        self.referenceDistance = referenceDistance
        self.fadeFraction = fadeFraction
        self.hysteresisDecibels = hysteresisDecibels
        self.holdMicros = holdMicros
    }

    /// The gain of a speaker at `distance` metres (0 at or beyond the hearing radius).
    public func attenuation(distance d: Float) -> Float {
        let radius = hearingRadius
        guard d < radius else { return 0 }
        let falloff = d <= referenceDistance ? 1 : referenceDistance / d
        let fadeStart = radius * (1 - Swift.min(Swift.max(fadeFraction, 0), 1))
        let fade = d <= fadeStart ? 1 : (radius - d) / Swift.max(radius - fadeStart, .leastNormalMagnitude)
        return falloff * fade
    }
}

/// A speaker as the router sees it this tick.
public struct VoiceSpeaker: Sendable, Equatable {
    public var id: UInt16
    /// Head position.
    public var position: Vec3
    /// Zones around the speaker (`InterestContext.zoneContext(position:role:)`, the one interest uses).
    public var zone: InterestZoneContext
    /// Its latest RFC 6464 level (the server may hold the loudest of the last few frames).
    public var level: VoiceLevel
    /// It sent voice with activity within the last few hundred milliseconds; only talking speakers are routed.
    public var talking: Bool
    /// How far its voice carries regardless of distance (`reach(of:)` gives the interest rule).
    public var reach: BroadcastReach
    /// Muted by itself or by a moderator: it reaches no one.
    public var muted: Bool

    public init(
        id: UInt16, position: Vec3, zone: InterestZoneContext, level: VoiceLevel, talking: Bool = true,
        reach: BroadcastReach? = nil, muted: Bool = false
    ) {
        self.id = id
        self.position = position
        self.zone = zone
        self.level = level
        self.talking = talking
        self.reach = reach ?? Self.reach(of: zone)
        self.muted = muted
    }

    /// The broadcast reach interest gives an avatar with this zone context: a broadcast role (or a role the
    /// zone lists as always relevant) in a `broadcast: zone` zone reaches that zone, in a `broadcast: world`
    /// zone the whole instance; anyone else is heard by distance only.
    public static func reach(of zone: InterestZoneContext) -> BroadcastReach {
        zone.alwaysRelevant ? (zone.broadcastWorld ? .world : .zone) : .none
    }
}

/// A listener as the router sees it this tick. Its blocks live in the router (`setBlocked`).
public struct VoiceListener: Sendable, Equatable {
    public var id: UInt16
    public var position: Vec3
    public var zone: InterestZoneContext

    public init(id: UInt16, position: Vec3, zone: InterestZoneContext) {
        self.id = id
        self.position = position
        self.zone = zone
    }
}

/// One chosen stream of a listener: who, and at what gain (1 for a broadcast, distance attenuation otherwise).
public struct VoiceRoute: Sendable, Equatable {
    public var speakerId: UInt16
    public var gain: Float
    public init(speakerId: UInt16, gain: Float) {
        self.speakerId = speakerId
        self.gain = gain
    }
}

/// The same choice seen from the speaker: a listener that hears it, and at what gain.
public struct VoiceListenerRoute: Sendable, Equatable {
    public var listenerId: UInt16
    public var gain: Float
    public init(listenerId: UInt16, gain: Float) {
        self.listenerId = listenerId
        self.gain = gain
    }
}

/// Chooses, once per tick, the at most N speakers every listener hears (docs/PROTOCOL.md §17.3).
///
/// Rules:
/// - only talking, unmuted speakers are routed, never to themselves, never to a listener that blocked them;
/// - acoustic isolation: speaker and listener must share their innermost acoustically isolating zone (or both
///   be outside every one) — except a `world` broadcast, which reaches the whole instance;
/// - a `zone` broadcast reaches every listener inside the speaker's broadcast zone and its acoustic zone at
///   gain 1, whatever the distance (`InterestZoneContext.isInside(broadcastZoneOf:)`, as interest does);
///   listeners outside that zone hear it by distance like anyone else;
/// - otherwise a speaker is heard within the hearing radius at `VoiceRoutingSettings.attenuation(distance:)`;
/// - candidates rank by level (linear amplitude) × gain; the N best are chosen, with hysteresis: a speaker
///   chosen last tick keeps its slot while it is still a candidate and its score is within
///   `hysteresisDecibels` of the N-th best, or for `holdMicros` after it last ranked in the top N.
///
/// One router per world instance, used from one thread. `route` allocates only when the population grows
/// past what it has seen: its buffers are kept from tick to tick. With 1,000 listeners and 100 talking
/// speakers a tick is one pass over 100 speakers per listener (Benchmarks/Voice measures it).
public struct VoiceRouter: Sendable {
    public let settings: VoiceRoutingSettings
    let n: Int
    let radius2: Float
    let marginFactor: Float

    /// What the candidate pass reads of one talking speaker.
    struct SpeakerRow {
        var x: Float, y: Float, z: Float
        var amplitude: Float
        var acoustic: Int16
        var reach: BroadcastReach
        var zone: InterestZoneContext
    }

    /// One candidate of the current listener: its speaker index s, level × attenuation, attenuation.
    struct Candidate {
        var speaker: Int32
        var score: Float
        var gain: Float
    }

    // This tick's talking, unmuted speakers (index s).
    var sId: [UInt16] = []
    var sRow: [SpeakerRow] = []
    /// Speaker id → s + 1 (0 = not routed this tick).
    var speakerSlot: [Int32] = []

    // Per listener of this tick (index i in the `listeners` array): chosen routes, stride n.
    var routes: [VoiceRoute] = []
    var routeCount: [Int32] = []

    // Per listener id, kept across ticks: last tick's chosen speakers (0 = free) and until when each is held.
    var held: [UInt16] = []
    var heldUntil: [UInt64] = []
    /// Per listener id: the speakers it blocked (usually empty).
    var blocks: [[UInt16]] = []

    // Reverse index of this tick: per speaker s, its listeners in `byListener[start[s] ..< start[s + 1]]`.
    var reverseStart: [Int32] = []
    var byListener: [VoiceListenerRoute] = []

    // Scratch for one listener, reused.
    var candidates: [Candidate] = []
    /// Per speaker s: its candidate index + 1 for the current listener, when stamped with `stamp`.
    var candidateOf: [Int32] = []
    var candidateStamp: [UInt32] = []
    var stamp: UInt32 = 0

    public init(settings: VoiceRoutingSettings = VoiceRoutingSettings()) {
        self.settings = settings
        n = Swift.max(1, settings.maxStreams)
        radius2 = settings.hearingRadius * settings.hearingRadius
        marginFactor = 1 / VoiceLevel(voiceActivity: false, minusDBov: settings.hysteresisDecibels).linearAmplitude
    }

    // MARK: blocks and listeners

    /// `listener` stops (or resumes) receiving `speaker`.
    public mutating func setBlocked(_ blocked: Bool, speaker: UInt16, listener: UInt16) {
        let l = Int(listener)
        if l >= blocks.count {
            guard blocked else { return }
            blocks.append(contentsOf: repeatElement([], count: l + 1 - blocks.count))
        }
        if blocked {
            if !blocks[l].contains(speaker) { blocks[l].append(speaker) }
        } else {
            blocks[l].removeAll { $0 == speaker }
        }
    }

    public func isBlocked(speaker: UInt16, listener: UInt16) -> Bool {
        let l = Int(listener)
        return l < blocks.count && blocks[l].contains(speaker)
    }

    /// Forgets a listener that left (its chosen set and its blocks), so a newcomer with its id starts afresh.
    public mutating func removeListener(_ id: UInt16) {
        let l = Int(id)
        if l < blocks.count { blocks[l] = [] }
        if (l + 1) * n <= held.count {
            for k in l * n..<(l + 1) * n { held[k] = 0 }
        }
    }

    // MARK: routing

    /// Recomputes every listener's streams for this tick. Read them with `routes(forListenerAt:)` (index
    /// into `listeners`) or, per speaker, `listeners(hearing:)`, until the next call.
    public mutating func route(speakers: [VoiceSpeaker], listeners: [VoiceListener], nowMicros now: UInt64) {
        prepareSpeakers(speakers)
        let speakerCount = sId.count
        if routes.count < listeners.count * n {
            routes.append(
                contentsOf: repeatElement(VoiceRoute(speakerId: 0, gain: 0), count: listeners.count * n - routes.count))
        }
        if routeCount.count < listeners.count {
            routeCount.append(contentsOf: repeatElement(0, count: listeners.count - routeCount.count))
        }
        if candidates.count < speakerCount {
            candidates.append(
                contentsOf: repeatElement(Candidate(speaker: 0, score: 0, gain: 0), count: speakerCount - candidates.count))
        }
        if candidateOf.count < speakerCount {
            let extra = speakerCount - candidateOf.count
            candidateOf.append(contentsOf: repeatElement(0, count: extra))
            candidateStamp.append(contentsOf: repeatElement(0, count: extra))
        }
        var maxListener = 0
        for l in listeners where Int(l.id) > maxListener { maxListener = Int(l.id) }
        if held.count < (maxListener + 1) * n {
            let extra = (maxListener + 1) * n - held.count
            held.append(contentsOf: repeatElement(0, count: extra))
            heldUntil.append(contentsOf: repeatElement(0, count: extra))
        }
        for i in listeners.indices {
            routeCount[i] = Int32(chooseFor(listeners[i], index: i, speakerCount: speakerCount, now: now))
        }
        buildReverseIndex(listenerCount: listeners.count, listeners: listeners)
    }

    /// The streams chosen for `listeners[index]` of the last `route` call, in no particular order.
    public func routes(forListenerAt index: Int) -> ArraySlice<VoiceRoute> {
        guard index >= 0, index < routeCount.count, (index + 1) * n <= routes.count else { return [] }
        return routes[(index * n)..<(index * n + Int(routeCount[index]))]
    }

    /// The listeners that hear `speaker` this tick (to forward its frames as they arrive), in listener order.
    public func listeners(hearing speaker: UInt16) -> ArraySlice<VoiceListenerRoute> {
        let id = Int(speaker)
        guard id < speakerSlot.count, speakerSlot[id] > 0 else { return [] }
        let s = Int(speakerSlot[id]) - 1
        return byListener[Int(reverseStart[s])..<Int(reverseStart[s + 1])]
    }

    mutating func prepareSpeakers(_ speakers: [VoiceSpeaker]) {
        for id in sId { speakerSlot[Int(id)] = 0 }
        sId.removeAll(keepingCapacity: true)
        sRow.removeAll(keepingCapacity: true)
        for sp in speakers where sp.talking && !sp.muted {
            let id = Int(sp.id)
            if id >= speakerSlot.count {
                speakerSlot.append(contentsOf: repeatElement(0, count: Swift.max(id + 1, 2 * speakerSlot.count) - speakerSlot.count))
            }
            guard speakerSlot[id] == 0 else { continue }  // a repeated id: the first one counts
            sId.append(sp.id)
            sRow.append(
                SpeakerRow(
                    x: sp.position.x, y: sp.position.y, z: sp.position.z, amplitude: sp.level.linearAmplitude,
                    acoustic: sp.zone.acousticIndex, reach: sp.reach, zone: sp.zone))
            speakerSlot[id] = Int32(sId.count)
        }
    }

    /// Candidates of one listener, then the N-best choice with hysteresis. Returns how many were chosen.
    mutating func chooseFor(_ listener: VoiceListener, index i: Int, speakerCount: Int, now: UInt64) -> Int {
        let me = listener.id
        let hx = listener.position.x, hy = listener.position.y, hz = listener.position.z
        let acoustic = listener.zone.acousticIndex
        let zone = listener.zone
        let r2 = radius2
        let settings = self.settings
        let blocked: [UInt16] = Int(me) < blocks.count ? blocks[Int(me)] : []
        stamp &+= 1
        if stamp == 0 {
            for k in candidateStamp.indices { candidateStamp[k] = 0 }
            stamp = 1
        }
        let tag = stamp

        // 1. Candidates and their scores. Every listener × talking speaker pair passes here, so the tables are
        // read and written through buffer pointers (no bounds or uniqueness checks per pair); s < speakerCount
        // ≤ every table's count (`route` sized them).
        let count = sId.withUnsafeBufferPointer { sId in
            sRow.withUnsafeBufferPointer { rows in
                candidates.withUnsafeMutableBufferPointer { candidates in
                    candidateOf.withUnsafeMutableBufferPointer { candidateOf in
                        candidateStamp.withUnsafeMutableBufferPointer { candidateStamp in
                            var count = 0
                            for s in 0..<speakerCount {
                                let id = sId[s]
                                if id == me { continue }
                                let row = rows[s]
                                var gain: Float
                                switch row.reach {
                                case .world:
                                    gain = 1
                                case .zone where row.acoustic == acoustic && zone.isInside(broadcastZoneOf: row.zone):
                                    gain = 1
                                default:
                                    guard row.acoustic == acoustic else { continue }
                                    let dx = row.x - hx, dy = row.y - hy, dz = row.z - hz
                                    let d2 = dx * dx + dy * dy + dz * dz
                                    guard d2 < r2 else { continue }
                                    gain = settings.attenuation(distance: d2.squareRoot())
                                    guard gain > 0 else { continue }
                                }
                                if !blocked.isEmpty && blocked.contains(id) { continue }
                                candidates[count] = Candidate(speaker: Int32(s), score: row.amplitude * gain, gain: gain)
                                count += 1
                                candidateOf[s] = Int32(count)
                                candidateStamp[s] = tag
                            }
                            return count
                        }
                    }
                }
            }
        }

        // 2. The N best candidates (indices, best first) and the N-th best score.
        let n = self.n
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { top in
            var topCount = 0
            for c in 0..<count {
                let score = candidates[c].score
                if topCount == n && score <= candidates[Int(top[n - 1])].score { continue }
                var k = topCount < n ? topCount : n - 1
                if topCount < n { topCount += 1 }
                while k > 0 && candidates[Int(top[k - 1])].score < score {
                    top[k] = top[k - 1]
                    k -= 1
                }
                top[k] = Int32(c)
            }
            let threshold: Float = topCount == n && count > n ? candidates[Int(top[n - 1])].score : 0

            // 3. Last tick's speakers keep their slots under the hysteresis rules.
            let base = Int(me) * n
            let out = i * n
            var chosen = 0
            for k in 0..<n {
                let id = held[base + k]
                guard id != 0 else { continue }
                let slot = Int(id) < speakerSlot.count ? Int(speakerSlot[Int(id)]) - 1 : -1
                guard slot >= 0, candidateStamp[slot] == tag else { continue }
                let c = Int(candidateOf[slot]) - 1
                let score = candidates[c].score
                var until = heldUntil[base + k]
                if score >= threshold {
                    until = now &+ settings.holdMicros
                } else if score * marginFactor < threshold && now >= until {
                    continue
                }
                routes[out + chosen] = VoiceRoute(speakerId: id, gain: candidates[c].gain)
                held[base + chosen] = id
                heldUntil[base + chosen] = until
                chosen += 1
                candidateStamp[slot] = 0  // taken
            }
            // 4. The best of the rest fill the free slots.
            var t = 0
            while chosen < n && t < topCount {
                let c = Int(top[t])
                t += 1
                let s = Int(candidates[c].speaker)
                guard candidateStamp[s] == tag else { continue }
                routes[out + chosen] = VoiceRoute(speakerId: sId[s], gain: candidates[c].gain)
                held[base + chosen] = sId[s]
                heldUntil[base + chosen] = now &+ settings.holdMicros
                chosen += 1
            }
            for k in chosen..<n { held[base + k] = 0 }
            return chosen
        }
    }

    mutating func buildReverseIndex(listenerCount: Int, listeners: [VoiceListener]) {
        let speakerCount = sId.count
        reverseStart.removeAll(keepingCapacity: true)
        reverseStart.append(contentsOf: repeatElement(0, count: speakerCount + 1))
        var total = 0
        for i in 0..<listenerCount {
            for k in 0..<Int(routeCount[i]) {
                let s = Int(speakerSlot[Int(routes[i * n + k].speakerId)]) - 1
                reverseStart[s + 1] += 1
            }
            total += Int(routeCount[i])
        }
        for s in 0..<speakerCount { reverseStart[s + 1] += reverseStart[s] }
        if byListener.count < total {
            byListener.append(contentsOf: repeatElement(VoiceListenerRoute(listenerId: 0, gain: 0), count: total - byListener.count))
        }
        // Fill from each speaker's end backwards, listeners in reverse, so each range ends up in listener order.
        for i in stride(from: listenerCount - 1, through: 0, by: -1) {
            for k in 0..<Int(routeCount[i]) {
                let route = routes[i * n + k]
                let s = Int(speakerSlot[Int(route.speakerId)]) - 1
                reverseStart[s + 1] -= 1
                byListener[Int(reverseStart[s + 1])] = VoiceListenerRoute(listenerId: listeners[i].id, gain: route.gain)
            }
        }
        // reverseStart[s + 1] now holds the start of s; shift back into [start of s, start of s + 1).
        for s in 0..<speakerCount { reverseStart[s] = reverseStart[s + 1] }
        reverseStart[speakerCount] = Int32(total)
    }
}
