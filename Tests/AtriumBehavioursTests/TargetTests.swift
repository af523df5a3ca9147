import AtriumBehaviours
import AtriumWire
import AtriumWorld
import Foundation
import Testing

/// The behaviours reach what they are for.
@Suite struct TargetTests {
    @Test func visitBoothsDwellsInBooths() {
        let world = Worlds.named("expo-hall")
        let bots = simulateGroup(.visitBooths, world: world, count: 6, rate: 10)
        for (i, samples) in bots.enumerated() {
            let speeds = horizontalSpeeds(samples)
            // Standing still after the first arrival somewhere: that is dwelling.
            var still = 0
            var stillInBooth = 0
            var booths = Set<String>()
            var walkedYet = false
            for (s, v) in zip(samples, speeds) {
                if v > 0.5 { walkedYet = true }
                guard walkedYet, v < 0.05 else { continue }
                still += 1
                if let booth = world.zones(containing: s.head).first(where: { $0.kind == .booth }) {
                    stillInBooth += 1
                    booths.insert(booth.id)
                }
            }
            let share = Double(stillInBooth) / Double(max(1, still))
            #expect(share > 0.85, "bot \(i): \(Int(share * 100)) % of dwell time in booths")
            #expect(booths.count >= 3, "bot \(i) visited \(booths.count) booths")
            // Dwelling faces the booth: looking within 90° of its centre most of the time.
            var facing = 0
            var total = 0
            for (s, v) in zip(samples, speeds) where v < 0.05 {
                guard let booth = world.zones(containing: s.head).first(where: { $0.kind == .booth }),
                    case .box(let lo, let hi) = booth.shape
                else { continue }
                let c = Vec3((lo.x + hi.x) / 2, 0, (lo.z + hi.z) / 2)
                let d = (x: c.x - s.head.x, z: c.z - s.head.z)
                let n = (d.x * d.x + d.z * d.z).squareRoot()
                guard n > 0.5 else { continue }
                let look = lookDirection(s.intent.pose)
                total += 1
                if look.x * d.x / n + look.z * d.z / n > 0 { facing += 1 }
            }
            #expect(Double(facing) / Double(max(1, total)) > 0.75, "bot \(i) faced its booth \(facing)/\(total)")
        }
    }

    @Test func gatherStageEndsInTheAudienceFacingTheStage() {
        let world = Worlds.named("expo-hall")
        let stage = world.zone(id: "main-stage")!
        let bots = simulateGroup(.gatherStage, world: world, count: 10, rate: 10)
        var seated = 0
        for (i, samples) in bots.enumerated() {
            let last = samples.last!
            #expect(stage.contains(last.head), "bot \(i) ends at \(last.head)")
            #expect(world.zone(id: "stage-audience")!.contains(last.head), "bot \(i) not in the audience area")
            // Faces the platform north of the audience (x −40…40, z −95…−80) most of the time.
            let looking = shareLookingAt(samples.filter { $0.time > 540 }, (0, -87.5))
            #expect(looking > 0.8, "bot \(i) looks at the stage \(looking) of the time")
            let height = last.head.y
            if height < 1.3 { seated += 1 } else { #expect(height > 1.45) }
            // Long dwell: at least the last 2 minutes within the stage zone.
            #expect(samples.filter { $0.time > 480 }.allSatisfy { stage.contains($0.head) })
        }
        #expect(seated > 0 && seated < 10, "\(seated) of 10 seated: expected a mix")
    }

    @Test func presenterPacesOnStageFacingTheAudienceAndTalks() {
        let world = Worlds.named("expo-hall")
        let stage = world.zone(id: "main-stage")!
        let audience = world.zone(id: "stage-audience")!
        for seed: UInt64 in [1, 2] {
            var bot = makeBot(.presenter, world: world, seed: seed, duty: 0.1)
            let samples = simulate(&bot, rate: 10, to: 600)
            // The platform: the part of the stage zone north of the audience.
            func onPlatform(_ p: Vec3) -> Bool {
                guard case .box(let lo, _) = audience.shape else { return false }
                return stage.contains(p) && p.z < lo.z
            }
            guard let arrival = samples.firstIndex(where: { onPlatform($0.head) }) else {
                Issue.record("never reached the platform")
                continue
            }
            let onStage = samples[(arrival + 100)...]
            #expect(onStage.allSatisfy { onPlatform($0.head) })
            let share = talkingShare(Array(onStage))
            #expect(abs(share - 0.8) < 0.1, "presenter talks \(share)")
            let facing = onStage.filter { lookDirection($0.intent.pose).z > 0.3 }.count
            #expect(Double(facing) / Double(onStage.count) > 0.7, "faces the audience \(facing)/\(onStage.count)")
            // Paces: moves around, but slowly.
            let xs = onStage.map(\.head.x)
            #expect(xs.max()! - xs.min()! > 1.5)
            #expect(horizontalSpeeds(Array(onStage)).max()! < 0.9)
            // Gestures: hands up in front of the body at times.
            #expect(onStage.contains { $0.intent.pose.rightHand!.position.y > $0.head.y - 0.3 })
        }
    }

    @Test func takeSeatSitsInTheSeatingFacingThePodium() {
        let world = Worlds.named("village-assembly")
        let seating = world.zone(id: "seating")!
        let bots = simulateGroup(.takeSeat, world: world, count: 60, rate: 5, duration: 300)
        var heads: [Vec3] = []
        for (i, samples) in bots.enumerated() {
            let last = samples.last!
            heads.append(last.head)
            #expect(seating.contains(last.head), "bot \(i) at \(last.head)")
            #expect(last.head.y > 1.1 && last.head.y < 1.3, "bot \(i) head at \(last.head.y) m")
            // Faces the podium (north of the seating, z −26…−14) most of the time.
            let looking = shareLookingAt(samples.filter { $0.time > 240 }, (0, -19))
            #expect(looking > 0.8, "bot \(i) looks at the podium \(looking) of the time")
            // Hands on the lap: below the head, in front.
            #expect(last.intent.pose.leftHand!.position.y < last.head.y - 0.4)
            #expect(!samples.contains { $0.intent.pose.handRaised })
        }
        // Free-ish spots: nobody on anybody's lap.
        var closest = Float.infinity
        for i in heads.indices {
            for j in heads.indices where j > i {
                let dx = heads[i].x - heads[j].x
                let dz = heads[i].z - heads[j].z
                closest = min(closest, (dx * dx + dz * dz).squareRoot())
            }
        }
        #expect(closest > 0.6, "two seated bots \(closest) m apart")
    }

    @Test func raiseHandRaisesTheRightHandNowAndThen() {
        let world = Worlds.named("village-assembly")
        for (i, samples) in simulateGroup(.raiseHand, world: world, count: 4, rate: 30).enumerated() {
            var episodes: [(start: Double, end: Double)] = []
            var start: Double?
            for s in samples {
                if s.intent.pose.handRaised {
                    if start == nil { start = s.time }
                    #expect(s.intent.pose.rightHand!.position.y > s.head.y + 0.1)
                    #expect(s.head.y < 1.3, "raised while not seated")
                } else if let st = start {
                    episodes.append((st, s.time))
                    start = nil
                }
            }
            #expect(episodes.count >= 5, "bot \(i): \(episodes.count) raises in 10 minutes")
            for e in episodes { #expect(e.end - e.start > 4 && e.end - e.start < 10.5, "raise \(e)") }
            for (a, b) in zip(episodes, episodes.dropFirst()) {
                #expect(b.start - a.start > 29 && b.start - a.start < 91, "raises \(a.start) → \(b.start)")
            }
            #expect(world.zone(id: "seating")!.contains(samples.last!.head))
        }
    }

    @Test(arguments: [1, 3])
    func villageHeadsBroadcastFromTheBroadcastRoom(heads: Int) {
        let world = Worlds.named("village-assembly")
        let room = world.zone(id: "broadcast-room")!
        let bots = simulateGroup(.villageHeadBroadcast, world: world, count: heads, rate: 10, duration: 300, duty: 0.05)
        #expect(BehaviourKind.villageHeadBroadcast.role == .villageHead)
        for (k, samples) in bots.enumerated() {
            // From the gate to the room (about 55 m) within a minute, then it stays.
            let inside = samples.filter { room.contains($0.head) }
            let arrival = inside.first?.time ?? .infinity
            #expect(arrival < 60, "head \(k) reached the room at \(arrival)")
            #expect(samples.filter { $0.time > 70 }.allSatisfy { room.contains($0.head) }, "head \(k) left the room")
            // In the room it speaks like a presenter (80 % of the time); on the way, like anyone (5 %).
            let there = samples.filter { $0.time > 70 }
            let onTheWay = samples.filter { $0.time < arrival - 1 }
            #expect(talkingShare(there) > 0.65, "head \(k) talks \(talkingShare(there)) in the room")
            #expect(onTheWay.isEmpty || talkingShare(onTheWay) < 0.3)
        }
        // Side by side, not on top of each other.
        let ends = bots.map { $0.last!.head }
        for i in ends.indices { for j in ends.indices where j > i { #expect(Vec3.distance(ends[i], ends[j]) > 1) } }
    }

    @Test(arguments: [1, 2, 3, 5])
    func podiumSpeakersTakeTurns(speakers: Int) {
        let world = Worlds.named("village-assembly")
        let podium = world.zone(id: "podium")!
        let seating = world.zone(id: "seating")!
        // The podium proper: the part of the podium zone in front of (north of) the seating.
        func atPodium(_ p: Vec3) -> Bool {
            guard case .box(let lo, _) = seating.shape else { return false }
            return podium.contains(p) && p.z < lo.z
        }
        let rate = 10.0
        let bots = simulateGroup(.podiumSpeaker, world: world, count: speakers, rate: rate, duration: 600, duty: 0.1)
        var podiumSeconds = [[Int: Double]](repeating: [:], count: speakers)
        for step in bots[0].indices {
            let t = bots[0][step].time
            let slot = Int(t / 30)
            let there = (0..<speakers).filter { atPodium(bots[$0][step].head) }
            #expect(there.count <= 1, "t=\(t): speakers \(there) at the podium together")
            for k in there {
                #expect(slot % speakers == k, "t=\(t): speaker \(k) at the podium in slot \(slot)")
                podiumSeconds[k][slot, default: 0] += 1 / rate
            }
        }
        // Every speaker holds the podium for a good part of each of its slots after the first minute.
        for k in 0..<speakers {
            let slots = (2..<20).filter { $0 % speakers == k }
            for slot in slots {
                #expect(
                    podiumSeconds[k][slot, default: 0] > 12,
                    "speaker \(k) slot \(slot): \(podiumSeconds[k][slot, default: 0]) s")
            }
            // Talks most of the time while standing at the podium, seldom in the seat.
            let speeds = horizontalSpeeds(bots[k])
            let at = zip(bots[k], speeds).filter { atPodium($0.0.head) && $0.1 < 0.05 }.map(\.0)
            let away = bots[k].filter { seating.contains($0.head) }
            #expect(talkingShare(at) > 0.65, "speaker \(k) at the podium talks \(talkingShare(at))")
            if !away.isEmpty { #expect(talkingShare(away) < 0.3) }
            if speakers > 1 {
                // Waits seated between turns.
                #expect(away.contains { $0.head.y < 1.3 })
            }
            // Faces the seating while at the podium.
            let facing = at.filter { lookDirection($0.intent.pose).z > 0.3 }.count
            #expect(Double(facing) / Double(max(1, at.count)) > 0.7)
        }
    }

    @Test func sitListenTakesOneSeatEachThenStandsAtTheBack() {
        let world = Worlds.named("classroom")
        let seats = world.zones.filter { $0.kind == .seat }
        let count = seats.count + 3
        let bots = simulateGroup(.sitListen, world: world, count: count, rate: 5, duration: 240)
        var taken = Set<String>()
        for (i, samples) in bots.enumerated() {
            let last = samples.last!
            let seat = seats.first { $0.contains(last.head) }
            if i < seats.count {
                #expect(seat != nil, "student \(i) at \(last.head) is not on a seat")
                if let seat { #expect(taken.insert(seat.id).inserted, "seat \(seat.id) taken twice") }
                #expect(last.head.y < 1.3, "student \(i) not seated")
                // The teacher's area is north: looks that way most of the time.
                let looking = shareLookingAt(samples.filter { $0.time > 180 }, (0, -8))
                #expect(looking > 0.8, "student \(i) looks at the teacher's area \(looking) of the time")
            } else {
                #expect(seat == nil, "student \(i) should stand at the back, is on \(seat?.id ?? "")")
                #expect(last.head.y > 1.45)
                #expect(last.head.z > 7, "student \(i) stands at \(last.head)")
            }
        }
        #expect(taken.count == seats.count)
    }

    @Test func breakoutGoesToBreakoutRoomsAndComesBack() {
        let world = Worlds.named("classroom")
        let bots = simulateGroup(.breakout, world: world, count: 8, rate: 10)
        for (i, samples) in bots.enumerated() {
            let inRoom = samples.filter { inZone(world, $0.head, kind: .breakout) }.count
            let onSeat = samples.filter { inZone(world, $0.head, kind: .seat) && $0.head.y < 1.3 }.count
            let share = Double(inRoom) / Double(samples.count)
            #expect(share > 0.1 && share < 0.6, "bot \(i): \(share) of the time in breakout rooms")
            #expect(Double(onSeat) / Double(samples.count) > 0.3, "bot \(i) seated \(onSeat)")
            // Goes and comes back several times.
            var trips = 0
            var wasIn = false
            for s in samples {
                let isIn = inZone(world, s.head, kind: .breakout)
                if isIn && !wasIn { trips += 1 }
                wasIn = isIn
            }
            #expect(trips >= 2, "bot \(i): \(trips) trips")
        }
    }

    @Test func teacherPacesAtTheFrontFacingTheSeatsAndTalks() {
        let world = Worlds.named("classroom")
        var bot = makeBot(.teacher, world: world, duty: 0.1)
        let samples = simulate(&bot, rate: 30, to: 600)
        let later = samples.filter { $0.time > 60 }
        let room = world.zone(id: "classroom")!
        #expect(later.allSatisfy { room.contains($0.head) && $0.head.z < -5.5 }, "teacher leaves the front")
        #expect(abs(talkingShare(later) - 0.8) < 0.1, "teacher talks \(talkingShare(later))")
        let facing = later.filter { lookDirection($0.intent.pose).z > 0.3 }.count
        #expect(Double(facing) / Double(later.count) > 0.7)
        let xs = later.map(\.head.x)
        #expect(xs.max()! - xs.min()! > 1.5, "teacher does not pace")
    }

    @Test func wanderWalksAndPauses() {
        let world = Worlds.named("expo-hall")
        var bot = makeBot(.wander, world: world)
        let samples = simulate(&bot, rate: 10, to: 600)
        let speeds = horizontalSpeeds(samples, window: 0.5)
        let walking = speeds.filter { $0 > 0.8 }.count
        let still = speeds.filter { $0 < 0.05 }.count
        #expect(walking > samples.count / 3 && still > samples.count / 20, "walking \(walking) still \(still)")
        #expect(speeds.max()! <= 1.45)
        // Head bob while walking: the head height varies by a couple of centimetres.
        let heights = samples[300..<400].map(\.head.y)
        #expect(heights.max()! - heights.min()! > 0.01)
    }
}
