import AtriumWire
import AtriumWorld
import Testing

@Suite struct VoiceRouterTests {
    static let loud = VoiceLevel(voiceActivity: true, minusDBov: 20)

    static func speaker(
        _ id: UInt16, _ x: Float, _ z: Float = 0, level: VoiceLevel = loud, zone: InterestZoneContext = .open,
        muted: Bool = false, talking: Bool = true
    ) -> VoiceSpeaker {
        VoiceSpeaker(id: id, position: Vec3(x, 1.6, z), zone: zone, level: level, talking: talking, muted: muted)
    }

    static func listener(_ id: UInt16, _ x: Float = 0, _ z: Float = 0, zone: InterestZoneContext = .open) -> VoiceListener {
        VoiceListener(id: id, position: Vec3(x, 1.6, z), zone: zone)
    }

    /// speaker id → gain for `listeners[index]`.
    static func heard(_ router: VoiceRouter, _ index: Int = 0) -> [UInt16: Float] {
        Dictionary(uniqueKeysWithValues: router.routes(forListenerAt: index).map { ($0.speakerId, $0.gain) })
    }

    @Test func attenuationFallsWithDistanceAndEndsAtTheRadius() {
        let s = VoiceRoutingSettings(hearingRadius: 20, referenceDistance: 1, fadeFraction: 0.25)
        #expect(s.attenuation(distance: 0) == 1 && s.attenuation(distance: 1) == 1)
        #expect(abs(s.attenuation(distance: 4) - 0.25) < 1e-6)
        #expect(abs(s.attenuation(distance: 10) - 0.1) < 1e-6)
        // Fading over the last 5 m: half way through it, half of 1/17.5.
        #expect(abs(s.attenuation(distance: 17.5) - 1 / 17.5 * 0.5) < 1e-6)
        #expect(s.attenuation(distance: 20) == 0 && s.attenuation(distance: 50) == 0)
        var last: Float = 2
        for d in stride(from: Float(0), through: 20, by: 0.25) {
            let g = s.attenuation(distance: d)
            #expect(g <= last)
            last = g
        }
    }

    @Test func distanceDecidesWhoIsHeardAndHowLoud() {
        var router = VoiceRouter()
        router.route(
            speakers: [Self.speaker(1, 0.5), Self.speaker(2, 4), Self.speaker(3, 10), Self.speaker(4, 25), Self.speaker(9, 0)],
            listeners: [Self.listener(9)], nowMicros: 0)
        let heard = Self.heard(router)
        #expect(Set(heard.keys) == [1, 2, 3], "speaker 4 is beyond 20 m; 9 is the listener itself")
        #expect(heard[1] == 1 && abs(heard[2]! - 0.25) < 1e-6 && abs(heard[3]! - 0.1) < 1e-6)
    }

    @Test func acousticIsolationSeparatesInsideFromOutside() {
        let room = InterestZoneContext(acousticZone: 4), otherRoom = InterestZoneContext(acousticZone: 5)
        var router = VoiceRouter()
        router.route(
            speakers: [
                Self.speaker(1, 1, zone: room), Self.speaker(2, 2), Self.speaker(3, 1.5, zone: otherRoom),
            ],
            listeners: [Self.listener(10, zone: room), Self.listener(11), Self.listener(12, zone: otherRoom)], nowMicros: 0)
        #expect(Set(Self.heard(router, 0).keys) == [1], "inside room 4: only room 4")
        #expect(Set(Self.heard(router, 1).keys) == [2], "outside: nobody inside a room, however close")
        #expect(Set(Self.heard(router, 2).keys) == [3])
    }

    @Test func broadcastsReachTheirZoneOrTheWorldAtFullLevel() {
        // A presenter broadcasting to zone 3, a world broadcaster standing in an isolated broadcast room (zone 7).
        let stage = InterestZoneContext(broadcastZone: 3, alwaysRelevant: true)
        let audience = InterestZoneContext(broadcastZone: 3)
        let booth = InterestZoneContext(broadcastZone: 3, broadcastWorld: true, alwaysRelevant: true, acousticZone: 7)
        let quietRoom = InterestZoneContext(acousticZone: 5)
        #expect(VoiceSpeaker.reach(of: stage) == .zone && VoiceSpeaker.reach(of: booth) == .world)
        #expect(VoiceSpeaker.reach(of: audience) == .none)
        var router = VoiceRouter()
        router.route(
            speakers: [Self.speaker(1, 0, zone: stage), Self.speaker(2, -500, zone: booth)],
            listeners: [
                Self.listener(10, 150, zone: audience),  // far, in the stage's zone
                Self.listener(11, 150),  // far, outside it
                Self.listener(12, 4),  // near, outside it: by distance
                Self.listener(13, 150, zone: quietRoom),  // in an isolated room
            ], nowMicros: 0)
        #expect(Self.heard(router, 0) == [1: 1, 2: 1])
        #expect(Self.heard(router, 1) == [2: 1])
        #expect(Self.heard(router, 2)[1].map { abs($0 - 0.25) < 1e-6 } == true && Self.heard(router, 2)[2] == 1)
        #expect(Self.heard(router, 3) == [2: 1], "a world broadcast crosses acoustic isolation")
        // A zone broadcast does not cross acoustic isolation.
        let isolatedAudience = InterestZoneContext(broadcastZone: 3, acousticZone: 5)
        router.route(speakers: [Self.speaker(1, 0, zone: stage)], listeners: [Self.listener(10, 1, zone: isolatedAudience)], nowMicros: 0)
        #expect(Self.heard(router).isEmpty)
    }

    @Test func atMostNStreamsTheLoudestAtTheListener() {
        var router = VoiceRouter(settings: VoiceRoutingSettings(maxStreams: 8))
        // 20 speakers at 2 m (gain 0.5) with levels −10 … −29 dBov, and one very loud one far away (0 dBov at
        // 18 m: 1/18 × 0.4 fade ≈ −33 dB at the ear, quieter than the 8 best).
        var speakers = (0..<20).map { k in
            Self.speaker(UInt16(100 + k), 2 * Float(k % 2 == 0 ? 1 : -1), 0.01 * Float(k),
                         level: VoiceLevel(voiceActivity: true, minusDBov: 10 + k))
        }
        speakers.append(Self.speaker(200, 0, 18, level: VoiceLevel(voiceActivity: true, minusDBov: 0)))
        router.route(speakers: speakers.shuffled(), listeners: [Self.listener(1)], nowMicros: 0)
        #expect(Set(Self.heard(router).keys) == Set((100..<108).map { UInt16($0) }))
        #expect(router.routes(forListenerAt: 0).count == 8)
        // N = 3.
        var three = VoiceRouter(settings: VoiceRoutingSettings(maxStreams: 3))
        three.route(speakers: speakers, listeners: [Self.listener(1)], nowMicros: 0)
        #expect(Set(Self.heard(three).keys) == [100, 101, 102])
    }

    @Test func hysteresisKeepsTheChosenSetFromFlapping() {
        let settings = VoiceRoutingSettings(maxStreams: 2, hysteresisDecibels: 6, holdMicros: 300_000)
        var router = VoiceRouter(settings: settings)
        func level(_ dB: Int) -> VoiceLevel { VoiceLevel(voiceActivity: true, minusDBov: dB) }
        func tick(_ t: UInt64, _ a: Int, _ b: Int, _ c: Int) -> Set<UInt16> {
            router.route(
                speakers: [Self.speaker(1, 1, level: level(a)), Self.speaker(2, -1, level: level(b)), Self.speaker(3, 0, 1, level: level(c))],
                listeners: [Self.listener(9)], nowMicros: t)
            return Set(Self.heard(router).keys)
        }
        #expect(tick(0, 20, 22, 30) == [1, 2])
        // 3 becomes slightly louder than 2 (by 2 dB, within the margin): nothing changes, long after the hold.
        #expect(tick(1_000_000, 20, 22, 20) == [1, 2])
        #expect(tick(2_000_000, 20, 24, 22) == [1, 2])
        // 3 is 10 dB louder than 2: beyond the margin, and 2's hold (from t = 0, when it last ranked in the top
        // N) is long over: 3 takes its slot.
        #expect(tick(2_100_000, 20, 30, 20) == [1, 3])
        // Within the hold time a speaker keeps its slot however quiet it gets.
        #expect(tick(2_200_000, 20, 20, 40) == [1, 3])
        #expect(tick(2_350_000, 20, 20, 40) == [1, 3])
        #expect(tick(2_500_000, 20, 20, 40) == [1, 2], "3's hold (until 2.4 s) is over and it is 20 dB below 2")
        // A speaker that stops talking leaves at once.
        router.route(
            speakers: [Self.speaker(1, 1, level: level(20)), Self.speaker(2, -1, level: level(20), talking: false),
                       Self.speaker(3, 0, 1, level: level(40))],
            listeners: [Self.listener(9)], nowMicros: 2_510_000)
        #expect(Set(Self.heard(router).keys) == [1, 3])
    }

    @Test func mutedSpeakersReachNoOneAndBlocksAreEnforced() {
        var router = VoiceRouter()
        let speakers = [Self.speaker(1, 1), Self.speaker(2, 2, muted: true), Self.speaker(3, 3)]
        let listeners = [Self.listener(10), Self.listener(11)]
        router.setBlocked(true, speaker: 3, listener: 10)
        #expect(router.isBlocked(speaker: 3, listener: 10) && !router.isBlocked(speaker: 3, listener: 11))
        router.route(speakers: speakers, listeners: listeners, nowMicros: 0)
        #expect(Set(Self.heard(router, 0).keys) == [1])
        #expect(Set(Self.heard(router, 1).keys) == [1, 3])
        #expect(router.listeners(hearing: 2).isEmpty)
        #expect(router.listeners(hearing: 3).map(\.listenerId) == [11])
        router.setBlocked(false, speaker: 3, listener: 10)
        router.route(speakers: speakers, listeners: listeners, nowMicros: 20_000)
        #expect(Set(Self.heard(router, 0).keys) == [1, 3])
        // A listener that leaves forgets its blocks.
        router.setBlocked(true, speaker: 1, listener: 10)
        router.removeListener(10)
        #expect(!router.isBlocked(speaker: 1, listener: 10))
    }

    @Test func reverseIndexMatchesTheRoutes() {
        var rng = InterestRNG(seed: 7)
        var router = VoiceRouter()
        for tick in 0..<5 {
            var speakers: [VoiceSpeaker] = []
            for k in 0..<60 {
                let x = rng.float(-30...30), z = rng.float(-30...30)
                let level = VoiceLevel(voiceActivity: true, minusDBov: Int(rng.next() % 40))
                speakers.append(Self.speaker(UInt16(1 + k * 3), x, z, level: level, muted: k % 17 == 0))
            }
            var listeners: [VoiceListener] = []
            for k in 0..<200 {
                let x = rng.float(-30...30), z = rng.float(-30...30)
                listeners.append(Self.listener(UInt16(1 + k), x, z))
            }
            router.route(speakers: speakers, listeners: listeners, nowMicros: UInt64(tick) * 33_333)
            var forward: [UInt16: [UInt16]] = [:]
            for i in listeners.indices {
                let routes = router.routes(forListenerAt: i)
                #expect(routes.count <= 8)
                #expect(Set(routes.map(\.speakerId)).count == routes.count, "no speaker twice")
                for r in routes {
                    forward[r.speakerId, default: []].append(listeners[i].id)
                    #expect(r.speakerId != listeners[i].id && r.gain > 0 && r.gain <= 1)
                }
            }
            for s in speakers {
                #expect(router.listeners(hearing: s.id).map(\.listenerId) == (forward[s.id] ?? []))
            }
        }
    }

    /// The shipped worlds through InterestContext: meeting rooms isolate sound, the village broadcast room
    /// reaches everyone.
    @Test func shippedWorlds() throws {
        let expo = InterestContext(world: try loadShipped("expo-hall.yaml"))
        let inRoom = expo.zoneContext(position: Vec3(80, 1.6, 26), role: .visitor)
        let besideRoom = expo.zoneContext(position: Vec3(68, 1.6, 26), role: .visitor)
        #expect(expo.zoneId(inRoom.acousticZone) == "meeting-room-1" && besideRoom.acousticZone == nil)
        #expect(!inRoom.sharesHearing(with: besideRoom))
        var router = VoiceRouter()
        router.route(
            speakers: [VoiceSpeaker(id: 1, position: Vec3(71, 1.6, 26), zone: inRoom, level: Self.loud)],
            listeners: [
                VoiceListener(id: 2, position: Vec3(68, 1.6, 26), zone: besideRoom),
                VoiceListener(id: 3, position: Vec3(85, 1.6, 26), zone: expo.zoneContext(position: Vec3(85, 1.6, 26), role: .visitor)),
            ], nowMicros: 0)
        #expect(Self.heard(router, 0).isEmpty, "3 m away, but through the meeting room's wall")
        #expect(Set(Self.heard(router, 1).keys) == [1])

        let village = InterestContext(world: try loadShipped("village-assembly.yaml"))
        let head = village.zoneContext(position: Vec3(-35, 1.6, -4), role: .villageHead)
        #expect(VoiceSpeaker.reach(of: head) == .world)
        let villager = village.zoneContext(position: Vec3(30, 1.6, 30), role: .villager)
        router.route(
            speakers: [VoiceSpeaker(id: 5, position: Vec3(-35, 1.6, -4), zone: head, level: Self.loud)],
            listeners: [VoiceListener(id: 6, position: Vec3(30, 1.6, 30), zone: villager)], nowMicros: 0)
        #expect(Self.heard(router) == [5: 1])
        // A villager in the broadcast room is heard only inside it.
        let visitorInRoom = village.zoneContext(position: Vec3(-35, 1.6, -4), role: .villager)
        #expect(VoiceSpeaker.reach(of: visitorInRoom) == .none)
        router.route(
            speakers: [VoiceSpeaker(id: 7, position: Vec3(-35, 1.6, -4), zone: visitorInRoom, level: Self.loud)],
            listeners: [VoiceListener(id: 6, position: Vec3(-30, 1.6, -4), zone: village.zoneContext(position: Vec3(-30, 1.6, -4), role: .villager))],
            nowMicros: 0)
        #expect(Self.heard(router).isEmpty)
    }
}
