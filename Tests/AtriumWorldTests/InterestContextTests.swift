import AtriumWire
import AtriumWorld
import Testing

@Suite struct InterestContextTests {
    @Test func classroom() throws {
        let context = InterestContext(world: try loadShipped("classroom.yaml"))
        // A student in breakout room 3: isolated, no broadcast.
        let breakout = context.classify(position: Vec3(2.5, 1.6, 13), role: .student)
        #expect(breakout.visualZone == "breakout-3" && breakout.broadcastZone == nil)
        #expect(!breakout.broadcastWorld && !breakout.alwaysRelevant)
        // On seat B3: the classroom broadcasts, the teacher is always relevant, students are not.
        let seat = Vec3(-1.25, 1.2, -2.5)
        #expect(context.classify(position: seat, role: .student) == (nil, "classroom", false, false))
        #expect(context.classify(position: Vec3(0, 1.7, -9), role: .teacher) == (nil, "classroom", false, true))
        // In the corridor the teacher is nobody special.
        #expect(context.classify(position: Vec3(0, 1.7, 9), role: .teacher) == (nil, nil, false, false))
    }

    @Test func expoHall() throws {
        let context = InterestContext(world: try loadShipped("expo-hall.yaml"))
        // Booths are open.
        #expect(context.classify(position: Vec3(-14, 1.6, -35), role: .exhibitor) == (nil, nil, false, false))
        // Presenter on the stage; a visitor in the back row of the audience is in the same broadcast zone.
        #expect(context.classify(position: Vec3(0, 1.7, -90), role: .presenter) == (nil, "main-stage", false, true))
        #expect(context.classify(position: Vec3(30, 1.2, -53), role: .visitor) == (nil, "main-stage", false, false))
        // A presenter elsewhere in the hall is not always relevant; a moderator on stage neither
        // (the stage lists only presenters).
        #expect(!context.classify(position: Vec3(0, 1.7, 0), role: .presenter).alwaysRelevant)
        #expect(!context.classify(position: Vec3(0, 1.7, -90), role: .moderator).alwaysRelevant)
        #expect(context.classify(position: Vec3(80, 1.6, 26), role: .visitor).visualZone == "meeting-room-1")
    }

    @Test func villageAssembly() throws {
        let context = InterestContext(world: try loadShipped("village-assembly.yaml"))
        let room = Vec3(-35, 1.6, -4)
        // The village head in the broadcast room reaches the whole world; the room is closed to sight.
        #expect(context.classify(position: room, role: .villageHead) == ("broadcast-room", "broadcast-room", true, true))
        // A villager standing in there is not a broadcaster.
        #expect(context.classify(position: room, role: .villager) == ("broadcast-room", "broadcast-room", true, false))
        // On the podium the village head and moderators reach the podium zone.
        #expect(context.classify(position: Vec3(0, 1.7, -24), role: .villageHead) == (nil, "podium", false, true))
        #expect(context.classify(position: Vec3(0, 1.7, -24), role: .moderator).alwaysRelevant)
        #expect(!context.classify(position: Vec3(0, 1.7, -24), role: .villager).alwaysRelevant)
        // Anyone in a world zone counts when asked to treat every role as a broadcast role.
        let everyone = InterestContext(world: context.world, broadcastRoles: Role.allCases)
        #expect(everyone.classify(position: room, role: .villager).alwaysRelevant)
    }

    /// The cached lookup agrees with WorldDefinition's own lookups everywhere.
    @Test(arguments: ["classroom.yaml", "expo-hall.yaml", "village-assembly.yaml"])
    func agreesWithTheWorldsLookups(file: String) throws {
        let world = try loadShipped(file)
        let context = InterestContext(world: world)
        var rng = InterestRNG(seed: 5)
        let lo = world.bounds.min - Vec3(3, 0, 3)
        let hi = world.bounds.max + Vec3(3, 0, 3)
        for _ in 0..<20_000 {
            let p = Vec3(rng.float(lo.x...hi.x), rng.float(0...3), rng.float(lo.z...hi.z))
            let role = world.allowedRoles[Int(rng.next() % UInt64(world.allowedRoles.count))]
            let c = context.classify(position: p, role: role)
            let broadcast = world.broadcastZone(containing: p)
            #expect(c.visualZone == world.isolatingZone(containing: p, visual: true)?.id)
            #expect(c.broadcastZone == broadcast?.id)
            #expect(c.broadcastWorld == (broadcast?.broadcast == .world))
            let expected = broadcast.map {
                $0.rolesAlwaysRelevant.contains(role)
                    || ($0.broadcast == .world && InterestContext.defaultBroadcastRoles.contains(role))
            } ?? false
            #expect(c.alwaysRelevant == expected)
        }
    }

    @Test func forwardFromHeadRotation() {
        func close(_ a: Vec3, _ b: Vec3) -> Bool { (a - b).length < 1e-5 }
        #expect(close(InterestAvatar.forward(from: .identity), Vec3(0, 0, -1)))
        // Yaw +90° turns from north towards west (−x).
        #expect(close(InterestAvatar.forward(from: .yaw(.pi / 2)), Vec3(-1, 0, 0)))
        // Not normalised on input, degenerate: still a unit vector.
        #expect(close(InterestAvatar.forward(from: Quat(x: 0, y: 0, z: 0, w: 3)), Vec3(0, 0, -1)))
        #expect(close(InterestAvatar.forward(from: Quat(x: 0, y: 0, z: 0, w: 0)), Vec3(0, 0, -1)))
        let looking = InterestAvatar(id: 1, position: .zero, rotation: .yaw(.pi), role: .visitor)
        #expect(close(looking.forward, Vec3(0, 0, 1)))
    }

    @Test func avatarTable() {
        var table = InterestAvatarTable(capacity: 4)
        let ar = InterestZoneContext(broadcastZone: 0, alwaysRelevant: true)
        table.insert(InterestAvatar(id: 2, position: .zero, forward: Vec3(0, 0, -1), role: .presenter, zoneContext: ar))
        table.insert(InterestAvatar(id: 9, position: .zero, forward: Vec3(0, 0, -1), role: .visitor))
        #expect(table.count == 2 && table.ids == [2, 9] && table.alwaysRelevant == [2])
        #expect(table[9]?.role == .visitor && table[3] == nil && table[60000] == nil)
        // Replacing an entry updates the always-relevant list.
        table.insert(InterestAvatar(id: 2, position: .zero, forward: Vec3(0, 0, -1), role: .visitor))
        #expect(table.count == 2 && table.alwaysRelevant.isEmpty)
        table.removeAll()
        #expect(table.count == 0 && table[2] == nil)
    }
}
