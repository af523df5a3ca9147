import AtriumWire
import AtriumWorld
import AtriumYAML
import Testing

@testable import AtriumBots

/// Broadcast reach per talk spurt (`BroadcastReachTracker`) in the village assembly: who counts, who heard.
@Suite struct VoiceReachTests {
    static let world = try! WorldLoader.load(path: packageRoot.appendingPathComponent("Worlds/village-assembly.yaml").path)
    static let interest = InterestContext(world: world)

    static func zone(_ x: Float, _ z: Float, _ role: Role = .villager) -> InterestZoneContext {
        interest.zoneContext(position: Vec3(x, 1.6, z), role: role)
    }

    // Places (x, z) in the village: the podium, the seats (inside the podium zone), the courtyard (outside it),
    // the broadcast room (its own acoustic zone).
    static let podium = zone(0, -20, .villageHead)
    static let broadcastRoom = zone(-35, -4, .villageHead)
    static let seat = zone(2, 0)
    static let courtyard = zone(0, 26)
    static let inTheRoom = zone(-36, -6)

    /// A spurt of speaker bot 0 (avatar 50): frames `sequences` sent, starting at t = 1 s, talking for 2 s.
    func spurt(
        _ tracker: inout BroadcastReachTracker, from speaker: InterestZoneContext,
        listeners: [BroadcastReachTracker.Listener], endListeners: [BroadcastReachTracker.Listener]? = nil,
        sequences: ClosedRange<UInt16> = 100...199, voiced: Bool = true
    ) {
        tracker.speaker(0, id: 50, talking: true, zone: speaker, now: 1_000_000) { listeners }
        for s in sequences { tracker.sent(bot: 0, sequence: s, voiced: voiced) }
        tracker.speaker(0, id: 50, talking: false, zone: nil, now: 3_000_000) { endListeners ?? listeners }
    }

    @Test func theRulesDecideWhoCanHear() {
        typealias T = BroadcastReachTracker
        // A zone broadcast from the podium: the seats yes; the courtyard and the isolated room no.
        #expect(T.hears(Self.seat, Self.podium, reach: .zone))
        #expect(!T.hears(Self.courtyard, Self.podium, reach: .zone))
        #expect(!T.hears(Self.inTheRoom, Self.podium, reach: .zone))
        // A world broadcast from the room: everyone, across isolation.
        for listener in [Self.seat, Self.courtyard, Self.inTheRoom] { #expect(T.hears(listener, Self.broadcastRoom, reach: .world)) }
        #expect(VoiceSpeaker.reach(of: Self.podium) == .zone && VoiceSpeaker.reach(of: Self.broadcastRoom) == .world)
        // A villager on the podium broadcasts nothing.
        #expect(VoiceSpeaker.reach(of: Self.zone(0, -20)) == .none)
    }

    @Test func aSpurtIsJudgedOverTheListenersInReachAfterItsGrace() {
        var tracker = BroadcastReachTracker()
        let listeners = [
            BroadcastReachTracker.Listener(bot: 1, zone: Self.seat), .init(bot: 2, zone: Self.seat),
            .init(bot: 3, zone: Self.seat), .init(bot: 4, zone: Self.courtyard), .init(bot: 5, zone: Self.inTheRoom),
        ]
        spurt(&tracker, from: Self.podium, listeners: listeners)
        tracker.heard(listener: 1, speaker: 50, sequence: 100)
        tracker.heard(listener: 2, speaker: 50, sequence: 199)
        tracker.heard(listener: 3, speaker: 50, sequence: 200)  // not this spurt's frame
        tracker.heard(listener: 3, speaker: 51, sequence: 150)  // another speaker
        tracker.heard(listener: 4, speaker: 50, sequence: 150)  // heard, but out of reach by the rules: ignored
        tracker.advance(now: 3_400_000)
        #expect(tracker.reachPercents.isEmpty, "frames may still arrive")
        tracker.heard(listener: 3, speaker: 50, sequence: 150)  // late, but within the grace
        tracker.advance(now: 3_500_000)
        #expect(tracker.reachPercents == [100] && tracker.zoneSpurts == 1)

        var missed = BroadcastReachTracker()
        spurt(&missed, from: Self.podium, listeners: listeners)
        missed.heard(listener: 1, speaker: 50, sequence: 120)
        missed.advance(now: 4_000_000)
        #expect(missed.reachPercents.count == 1 && abs(missed.reachPercents[0] - 100.0 / 3) < 1e-9)
        #expect(missed.minimum == missed.mean && missed.lowest?.reached == 1 && missed.lowest?.eligible == 3)
        #expect(missed.eligibleRange == 3...3)
    }

    @Test func aWorldBroadcastCountsEveryoneConnectedThroughout() {
        var tracker = BroadcastReachTracker()
        let start = [
            BroadcastReachTracker.Listener(bot: 1, zone: Self.seat), .init(bot: 2, zone: Self.courtyard),
            .init(bot: 3, zone: Self.inTheRoom), .init(bot: 4, zone: Self.seat),
        ]
        // Bot 4 left during the spurt, bot 6 joined during it: neither counts.
        let end = Array(start.prefix(3)) + [.init(bot: 6, zone: Self.seat)]
        spurt(&tracker, from: Self.broadcastRoom, listeners: start, endListeners: end)
        for bot in [1, 2, 3] { tracker.heard(listener: bot, speaker: 50, sequence: 150) }
        tracker.advance(now: 10_000_000)
        #expect(tracker.reachPercents == [100] && tracker.worldSpurts == 1)
    }

    @Test func spurtsNobodyCouldHearOrThatSaidNothingAreLeftOut() {
        var silent = BroadcastReachTracker()
        spurt(&silent, from: Self.podium, listeners: [.init(bot: 1, zone: Self.seat)], voiced: false)
        silent.advance(now: 10_000_000)
        #expect(silent.reachPercents.isEmpty && silent.spurtsLeftOut == 1 && silent.minimum == nil)

        var nobody = BroadcastReachTracker()
        spurt(&nobody, from: Self.podium, listeners: [.init(bot: 1, zone: Self.courtyard)])
        nobody.advance(now: 10_000_000)
        #expect(nobody.reachPercents.isEmpty && nobody.spurtsLeftOut == 1)

        // Not a broadcaster: nothing opens.
        var ordinary = BroadcastReachTracker()
        ordinary.speaker(0, id: 50, talking: true, zone: Self.seat, now: 0) { [.init(bot: 1, zone: Self.seat)] }
        #expect(!ordinary.isTracking)

        // The speaker left mid-spurt.
        var gone = BroadcastReachTracker()
        gone.speaker(0, id: 50, talking: true, zone: Self.podium, now: 0) { [.init(bot: 1, zone: Self.seat)] }
        gone.sent(bot: 0, sequence: 1, voiced: true)
        gone.speakerLeft(0)
        gone.finish(now: 10_000_000, listeners: [.init(bot: 1, zone: Self.seat)])
        #expect(gone.reachPercents.isEmpty && gone.spurtsLeftOut == 1)
    }

    @Test func movingToAnotherZoneEndsTheSpurt() {
        var tracker = BroadcastReachTracker()
        let listeners: [BroadcastReachTracker.Listener] = [.init(bot: 1, zone: Self.seat)]
        tracker.speaker(0, id: 50, talking: true, zone: Self.podium, now: 0) { listeners }
        tracker.sent(bot: 0, sequence: 10, voiced: true)
        // Still at the podium: the same spurt.
        tracker.speaker(0, id: 50, talking: true, zone: Self.podium, now: 100_000) { listeners }
        tracker.sent(bot: 0, sequence: 11, voiced: true)
        // Into the broadcast room: the zone spurt ends, a world one starts.
        tracker.speaker(0, id: 50, talking: true, zone: Self.broadcastRoom, now: 200_000) { listeners }
        tracker.sent(bot: 0, sequence: 12, voiced: true)
        tracker.heard(listener: 1, speaker: 50, sequence: 12)
        tracker.finish(now: 2_000_000, listeners: listeners)
        #expect(tracker.reachPercents == [0, 100] && tracker.zoneSpurts == 1 && tracker.worldSpurts == 1)
    }

    @Test func sequencesWrapInsideASpurt() {
        var tracker = BroadcastReachTracker()
        let listeners: [BroadcastReachTracker.Listener] = [.init(bot: 1, zone: Self.seat), .init(bot: 2, zone: Self.seat)]
        spurt(&tracker, from: Self.podium, listeners: listeners, sequences: 65_530...65_535)
        tracker.sent(bot: 0, sequence: 0, voiced: true)  // after the end: not part of it
        tracker.heard(listener: 1, speaker: 50, sequence: 65_533)
        tracker.heard(listener: 2, speaker: 50, sequence: 3)
        tracker.finish(now: 10_000_000, listeners: listeners)
        #expect(tracker.reachPercents == [50])
    }
}
