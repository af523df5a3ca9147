import AtriumWire
import AtriumWorld

/// Broadcast reach (issue #6): for every talk spurt of a speaker whom the rules make a broadcaster (a broadcast
/// role in a `broadcast: zone` or `broadcast: world` zone, `VoiceSpeaker.reach(of:)`), the share of the
/// measuring listeners who could hear it by the same rules that received at least one of its frames.
///
/// Only measuring relay listeners count: the runner knows where they are and they time every frame; mix
/// listeners get one unnamed stream. A listener counts for a spurt when it was connected, placed and within the
/// broadcast's reach both when the spurt started and when it ended (so one that joined or walked in late, or an
/// acoustically isolated one a zone broadcast does not reach, is left out). A spurt is the speaker's talking
/// flag held in one zone context; it counts once it sent a frame with voice activity (the server routes
/// speakers by voice activity) and its frames had `graceMicros` after its end to arrive. Frames belong to a
/// spurt by (speaker avatar, sequence between its first and last frame).
struct BroadcastReachTracker {
    /// A listener the runner can place: its bot index and zone context now.
    struct Listener: Equatable {
        var bot: Int
        var zone: InterestZoneContext
    }

    struct Spurt {
        let speakerBot: Int
        let speakerId: UInt16
        let reach: BroadcastReach
        let zone: InterestZoneContext
        let eligibleAtStart: Set<Int>
        var eligible: Set<Int> = []
        var heard: Set<Int> = []
        var firstSequence: UInt16?
        var lastSequence: UInt16 = 0
        var voiced = false
        var framesSent = 0
        let startMicros: UInt64
        var endMicros: UInt64 = 0

        func contains(_ sequence: UInt16) -> Bool {
            guard let first = firstSequence else { return false }
            return sequence &- first <= lastSequence &- first
        }
    }

    /// Frames still arriving this long after a spurt ends count for it.
    static let graceMicros: UInt64 = 500_000
    /// A spurt still open when the run ends counts if it had talked this long.
    static let minimumOpenMicros: UInt64 = 1_000_000

    private var open: [Int: Spurt] = [:]
    private var closing: [Spurt] = []
    /// Reach of each finished spurt, in percent.
    private(set) var reachPercents: [Double] = []
    private(set) var worldSpurts = 0
    private(set) var zoneSpurts = 0
    /// Spurts left out: no voiced frame, no listener in reach, or the speaker left.
    private(set) var spurtsLeftOut = 0
    /// The judged spurt with the lowest reach: its kind, counts, length and frames (for the report's notes).
    private(set) var lowest: (reach: BroadcastReach, reached: Int, eligible: Int, seconds: Double, frames: Int)?
    /// Fewest and most listeners a judged spurt was measured over.
    private(set) var eligibleRange: ClosedRange<Int>?

    /// Whether anything is being tracked (a cheap check before looking at every received frame).
    var isTracking: Bool { !open.isEmpty || !closing.isEmpty }

    func isOpen(_ bot: Int) -> Bool { open[bot] != nil }

    /// Whether a listener with context `listener` hears a broadcaster with context `speaker` and `reach` by the
    /// router's rules (`VoiceRouter`: a world broadcast reaches everyone, a zone broadcast the same acoustic
    /// zone inside its broadcast zone).
    static func hears(_ listener: InterestZoneContext, _ speaker: InterestZoneContext, reach: BroadcastReach) -> Bool {
        switch reach {
        case .world: true
        case .zone: listener.sharesHearing(with: speaker) && listener.isInside(broadcastZoneOf: speaker)
        case .none: false
        }
    }

    /// The speaker's state at one of its poses. `zone` is its zone context (nil when not talking);
    /// `listeners` is asked only when a spurt starts or ends.
    mutating func speaker(
        _ bot: Int, id: UInt16, talking: Bool, zone: InterestZoneContext?, now: UInt64, listeners: () -> [Listener]
    ) {
        let reach = talking ? zone.map(VoiceSpeaker.reach(of:)) ?? .none : .none
        if let current = open[bot] {
            if reach == current.reach && zone == current.zone { return }
            close(bot, at: now, listeners: listeners())
        }
        guard reach != .none, let zone else { return }
        let eligible = listeners().filter { $0.bot != bot && Self.hears($0.zone, zone, reach: reach) }.map(\.bot)
        open[bot] = Spurt(
            speakerBot: bot, speakerId: id, reach: reach, zone: zone, eligibleAtStart: Set(eligible),
            startMicros: now)
    }

    /// The speaker sent a frame (while its spurt is open).
    mutating func sent(bot: Int, sequence: UInt16, voiced: Bool) {
        guard open[bot] != nil else { return }
        if open[bot]!.firstSequence == nil { open[bot]!.firstSequence = sequence }
        open[bot]!.lastSequence = sequence
        open[bot]!.framesSent += 1
        if voiced { open[bot]!.voiced = true }
    }

    /// A listener received a frame.
    mutating func heard(listener: Int, speaker id: UInt16, sequence: UInt16) {
        for (bot, spurt) in open where spurt.speakerId == id && spurt.contains(sequence) {
            open[bot]!.heard.insert(listener)
        }
        for k in closing.indices where closing[k].speakerId == id && closing[k].contains(sequence) {
            closing[k].heard.insert(listener)
        }
    }

    /// The speaker left: its open spurt is not judged (nobody can hear a speaker who is gone).
    mutating func speakerLeft(_ bot: Int) {
        if open.removeValue(forKey: bot) != nil { spurtsLeftOut += 1 }
    }

    /// Judges the spurts whose grace has passed.
    mutating func advance(now: UInt64) {
        guard !closing.isEmpty else { return }
        var waiting: [Spurt] = []
        for spurt in closing {
            if now >= spurt.endMicros + Self.graceMicros { judge(spurt) } else { waiting.append(spurt) }
        }
        closing = waiting
    }

    /// The run is over: spurts in their grace are judged now, open ones if they had talked long enough.
    mutating func finish(now: UInt64, listeners: [Listener]) {
        for bot in Array(open.keys) {
            if let spurt = open[bot], now >= spurt.startMicros + Self.minimumOpenMicros {
                close(bot, at: now, listeners: listeners)
            } else {
                open[bot] = nil
                spurtsLeftOut += 1
            }
        }
        for spurt in closing { judge(spurt) }
        closing = []
    }

    private mutating func close(_ bot: Int, at now: UInt64, listeners: [Listener]) {
        guard var spurt = open.removeValue(forKey: bot) else { return }
        let stillInReach = listeners.filter { Self.hears($0.zone, spurt.zone, reach: spurt.reach) }.map(\.bot)
        spurt.eligible = spurt.eligibleAtStart.intersection(stillInReach)
        spurt.endMicros = now
        closing.append(spurt)
    }

    private mutating func judge(_ spurt: Spurt) {
        guard spurt.voiced, !spurt.eligible.isEmpty else {
            spurtsLeftOut += 1
            return
        }
        let reached = spurt.eligible.intersection(spurt.heard).count
        let percent = Double(reached) * 100 / Double(spurt.eligible.count)
        if percent < (reachPercents.min() ?? .infinity) {
            lowest = (
                spurt.reach, reached, spurt.eligible.count, Double(spurt.endMicros - spurt.startMicros) / 1e6,
                spurt.framesSent
            )
        }
        let n = spurt.eligible.count
        eligibleRange = eligibleRange.map { min($0.lowerBound, n)...max($0.upperBound, n) } ?? n...n
        reachPercents.append(percent)
        if spurt.reach == .world { worldSpurts += 1 } else { zoneSpurts += 1 }
    }

    /// Lowest and mean reach over the judged spurts, in percent; nil when none was judged.
    var minimum: Double? { reachPercents.min() }
    var mean: Double? { reachPercents.isEmpty ? nil : reachPercents.reduce(0, +) / Double(reachPercents.count) }
}
