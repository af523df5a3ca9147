import AtriumWire
import AtriumWorld
import Testing

/// A handful of avatars placed by hand in a shipped world.
struct InterestScene {
    let context: InterestContext
    var table = InterestAvatarTable()
    var grid: SpatialGrid
    var sets: [UInt16: RelevanceSet] = [:]
    var margin: Float = 2

    init(_ file: String) throws {
        let world = try loadShipped(file)
        context = InterestContext(world: world)
        grid = SpatialGrid(world: world)
    }

    var radius: Float { context.world.interestRadius }

    /// Places (or moves) `id`, classified for this world.
    mutating func place(_ id: UInt16, _ position: Vec3, _ role: Role, facing yaw: Float = 0, speaking: Bool = false) {
        table.insert(context.avatar(id: id, position: position, rotation: .yaw(yaw), role: role, speakingRecently: speaking))
        grid.update(id: id, position: position)
    }

    mutating func removeAvatar(_ id: UInt16) {
        // The table is per tick: rebuild it without `id`.
        var next = InterestAvatarTable()
        for other in table.ids where other != id { next.insert(table[other]!) }
        table = next
        grid.remove(id: id)
    }

    /// Runs one tick's relevance update for `recipient` and returns its set.
    @discardableResult
    mutating func update(_ recipient: UInt16) -> (relevant: [UInt16], entered: [UInt16], left: [UInt16]) {
        var set = sets[recipient] ?? RelevanceSet()
        let table = self.table
        let result = set.update(
            recipient: table[recipient]!, grid: grid, avatars: { table[$0] }, alwaysRelevant: table.alwaysRelevant,
            enterRadius: radius, leaveMargin: margin)
        sets[recipient] = set
        return result
    }

    mutating func relevant(to recipient: UInt16) -> Set<UInt16> { Set(update(recipient).relevant) }
}

@Suite struct InterestRelevanceTests {
    @Test func classroomBreakoutRoomsAreIsolated() throws {
        var scene = try InterestScene("classroom.yaml")
        // Two students in breakout room 2, one in breakout room 3 next door, one in the corridor
        // right outside, one in the classroom. Everyone is within the 12 m radius of everyone.
        scene.place(1, Vec3(-2.5, 1.6, 12), .student)
        scene.place(2, Vec3(-1.5, 1.6, 14), .student)
        scene.place(3, Vec3(2.5, 1.6, 12), .student)
        scene.place(4, Vec3(-2.5, 1.6, 9), .student)
        scene.place(5, Vec3(-2.5, 1.6, 5), .student)
        #expect(scene.relevant(to: 1) == [1, 2])
        #expect(scene.relevant(to: 2) == [1, 2])
        #expect(scene.relevant(to: 3) == [3])
        #expect(scene.relevant(to: 4) == [4, 5])  // outside never sees inside
        #expect(scene.relevant(to: 5) == [4, 5])
        // Walking out of the room: seen by the corridor at once, gone for the room at once.
        scene.place(2, Vec3(-1.5, 1.6, 9.5), .student)
        #expect(scene.update(4).entered == [2])
        #expect(scene.update(1).left == [2])
        #expect(scene.relevant(to: 2) == [2, 4, 5])
    }

    @Test func teacherIsRelevantToTheWholeClassroom() throws {
        var scene = try InterestScene("classroom.yaml")
        scene.place(1, Vec3(0, 1.7, -9.5), .teacher)  // at the whiteboard
        scene.place(2, Vec3(6.25, 1.2, 5.5), .student)  // seat F6, ~16.6 m away
        scene.place(3, Vec3(-8, 1.6, 9), .student)  // corridor
        scene.place(4, Vec3(-7.5, 1.6, 13), .student)  // breakout room 1
        scene.place(5, Vec3(6.25, 1.2, 4.0), .student)  // seat E6
        #expect(Vec3.distance(scene.table[1]!.position, scene.table[2]!.position) > scene.radius + scene.margin)
        #expect(scene.relevant(to: 2) == [1, 2, 5])
        #expect(scene.relevant(to: 3) == [3])  // corridor: not in the classroom zone, too far
        #expect(scene.relevant(to: 4) == [4])  // breakout: isolated
        // Students far from each other are not relevant to each other; the teacher gets the near ones.
        #expect(scene.relevant(to: 1) == [1])
        // The teacher steps out into the corridor: now only distance counts, with hysteresis.
        scene.place(1, Vec3(-10, 1.7, 9), .teacher)
        #expect(scene.update(2).left == [1])  // 16.6 m away
        #expect(scene.relevant(to: 3).contains(1))  // 2 m away
    }

    @Test func expoBoothVisitorsSeeTheAisleAndMeetingRoomsAreClosed() throws {
        var scene = try InterestScene("expo-hall.yaml")
        scene.place(1, Vec3(-14, 1.6, -35), .exhibitor)  // in booth A4
        scene.place(2, Vec3(-12, 1.6, -33), .visitor)  // in booth A4
        scene.place(3, Vec3(0, 1.6, -35), .visitor)  // central aisle
        scene.place(4, Vec3(14, 1.6, -35), .visitor)  // in booth A5 across the aisle (28 m from 1)
        scene.place(5, Vec3(80, 1.6, 26), .exhibitor)  // meeting room 1
        scene.place(6, Vec3(68, 1.6, 26), .visitor)  // just outside meeting room 1
        scene.place(7, Vec3(85, 1.6, 30), .visitor)  // meeting room 1
        #expect(scene.relevant(to: 2) == [1, 2, 3])
        #expect(scene.relevant(to: 3) == [1, 2, 3, 4])
        #expect(scene.relevant(to: 1) == [1, 2, 3])
        #expect(scene.relevant(to: 6) == [6])
        #expect(scene.relevant(to: 5) == [5, 7])
    }

    @Test func presenterOnStageReachesTheWholeAudience() throws {
        var scene = try InterestScene("expo-hall.yaml")
        scene.place(1, Vec3(0, 1.7, -90), .presenter)
        scene.place(2, Vec3(30, 1.2, -53), .visitor)  // back row corner, ~47 m away
        scene.place(3, Vec3(0, 1.6, -40), .visitor)  // in the hall beyond the stage area, 50 m
        scene.place(4, Vec3(-38, 1.6, -60), .moderator)  // in the stage area
        scene.place(5, Vec3(0, 1.6, -48), .visitor)  // outside the stage zone, 42 m
        #expect(scene.relevant(to: 2) == [1, 2])
        #expect(scene.relevant(to: 4) == [1, 4])
        #expect(scene.relevant(to: 3) == [3, 5])
        // The presenter themself gets nobody far away.
        #expect(scene.relevant(to: 1) == [1])
        // Off the stage the presenter is an ordinary visitor.
        scene.place(1, Vec3(0, 1.7, -30), .presenter)
        #expect(scene.update(2).left == [1])
        #expect(scene.relevant(to: 3).contains(1))
    }

    @Test func villageHeadInTheBroadcastRoomReachesTheWorld() throws {
        var scene = try InterestScene("village-assembly.yaml")
        scene.place(1, Vec3(-35, 1.7, -4), .villageHead)  // broadcast room
        scene.place(2, Vec3(-34, 1.6, -6), .villager)  // also in the broadcast room
        scene.place(3, Vec3(0, 1.6, 36), .villager)  // village gate, ~52 m away
        scene.place(4, Vec3(-31, 1.6, -4), .villager)  // corridor right outside, 4 m
        scene.place(5, Vec3(25, 1.6, 0), .visitor)  // products corner
        #expect(scene.relevant(to: 3) == [1, 3])
        #expect(scene.relevant(to: 5) == [1, 5])
        // The villager in the room is hidden from outside; the head, broadcasting, is not.
        #expect(scene.relevant(to: 4) == [1, 4])
        // Inside the room one sees only the room.
        #expect(scene.relevant(to: 2) == [1, 2])
        #expect(scene.relevant(to: 1) == [1, 2])
        // On the podium, the village head reaches the podium zone, not the gate.
        scene.place(1, Vec3(0, 1.7, -24), .villageHead)
        scene.place(6, Vec3(10, 1.2, 10), .villager)  // seating, ~35 m away
        #expect(scene.update(3).left == [1])
        #expect(scene.relevant(to: 6) == [1, 6])
    }

    @Test func hysteresisStopsFlapping() throws {
        var scene = try InterestScene("expo-hall.yaml")
        let r = scene.radius
        let m = scene.margin
        scene.place(1, Vec3(0, 1.6, 0), .visitor)
        var enters = 0
        var leaves = 0
        func at(_ distance: Float) {
            scene.place(2, Vec3(distance, 1.6, 0), .visitor)
            let result = scene.update(1)
            enters += result.entered.filter { $0 == 2 }.count
            leaves += result.left.filter { $0 == 2 }.count
        }
        at(r + 0.5)  // outside, never was in: does not enter
        #expect(enters == 0)
        // Oscillating ±0.5 m around r for a while: one enter, no leave.
        for tick in 0..<200 { at(r + (tick % 2 == 0 ? -0.5 : 0.5)) }
        #expect(enters == 1 && leaves == 0)
        at(r + m - 0.01)
        #expect(leaves == 0)
        at(r + m + 0.01)
        #expect(leaves == 1)
        // Back inside the margin band: not relevant again until within r.
        at(r + 0.5)
        #expect(enters == 1)
        at(r - 0.01)
        #expect(enters == 2)
        // Exactly at r enters, exactly at r + m stays.
        at(r + m)
        #expect(leaves == 1)
    }

    @Test func leavingTheWorldAndSelf() throws {
        var scene = try InterestScene("expo-hall.yaml")
        scene.place(1, Vec3(0, 1.6, 0), .visitor)
        scene.place(2, Vec3(3, 1.6, 0), .visitor)
        let first = scene.update(1)
        #expect(first.relevant == [1, 2] && first.entered == [1, 2] && first.left.isEmpty)
        let second = scene.update(1)
        #expect(second.relevant == [1, 2] && second.entered.isEmpty && second.left.isEmpty)
        scene.removeAvatar(2)
        #expect(scene.update(1).left == [2])
        // A recipient alone in a closed room still has itself.
        scene.place(1, Vec3(80, 1.6, 26), .visitor)
        #expect(scene.update(1).relevant == [1])
    }

    /// Random scenes in every shipped world against a direct transcription of the rules.
    @Test(arguments: ["classroom.yaml", "expo-hall.yaml", "village-assembly.yaml"])
    func matchesTheRulesOnRandomScenes(file: String) throws {
        let world = try loadShipped(file)
        let context = InterestContext(world: world)
        var rng = InterestRNG(seed: 99)
        let count = 120
        let r = world.interestRadius
        let m: Float = 1.5
        var grid = SpatialGrid(world: world)
        var sets = Array(repeating: RelevanceSet(), count: count)
        var previous = Array(repeating: Set<UInt16>(), count: count)
        var positions = (0..<count).map { _ in
            Vec3(rng.float(world.bounds.min.x...world.bounds.max.x), 1.6, rng.float(world.bounds.min.z...world.bounds.max.z))
        }
        // Put a share of them in the interesting zones (isolated rooms, broadcast zones).
        let special = world.zones.filter { $0.isolation.visual || $0.broadcast != .none }
        for i in stride(from: 0, to: count, by: 3) where !special.isEmpty {
            let b = special[i / 3 % special.count].shape.boundingBox
            positions[i] = Vec3(rng.float(b.min.x...b.max.x), 1.6, rng.float(b.min.z...b.max.z))
        }
        let roles = world.allowedRoles
        for tick in 0..<40 {
            var table = InterestAvatarTable()
            for i in 0..<count {
                positions[i] = positions[i] + Vec3(rng.float(-1.5...1.5), 0, rng.float(-1.5...1.5))
                let role = roles[(i + tick / 10) % roles.count]
                table.insert(context.avatar(id: UInt16(i), position: positions[i], rotation: .identity, role: role))
                grid.update(id: UInt16(i), position: positions[i])
            }
            for i in 0..<count {
                let me = table[UInt16(i)]!
                var expected: Set<UInt16> = [me.id]
                for j in 0..<count where j != i {
                    let other = table[UInt16(j)]!
                    let d = Vec3.distance(me.position, other.position)
                    let sight = me.zoneContext.visualZone == other.zoneContext.visualZone
                    if sight && (d <= r || (d <= r + m && previous[i].contains(other.id))) {
                        expected.insert(other.id)
                    }
                    if other.zoneContext.alwaysRelevant {
                        let zone = world.zones[other.zoneContext.broadcastZone!]
                        if zone.broadcast == .world || (sight && zone.contains(me.position)) { expected.insert(other.id) }
                    }
                }
                let result = sets[i].update(
                    recipient: me, grid: grid, avatars: { table[$0] }, alwaysRelevant: table.alwaysRelevant,
                    enterRadius: r, leaveMargin: m)
                #expect(result.relevant == expected.sorted(), "\(file) tick \(tick) recipient \(i)")
                #expect(result.entered == expected.subtracting(previous[i]).sorted())
                #expect(result.left == previous[i].subtracting(expected).sorted())
                previous[i] = expected
            }
        }
    }
}
