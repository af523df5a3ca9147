import AtriumWire
import AtriumWorld
import Testing

@Suite struct ZoneShapeTests {
    let box = ZoneShape.box(min: Vec3(-1, 0, -2), max: Vec3(3, 2, 2))
    let cylinder = ZoneShape.cylinder(center: Vec3(10, 1, 10), radius: 2, height: 3)

    @Test func boxContainmentIsInclusive() {
        #expect(box.contains(Vec3(0, 1, 0)))
        #expect(box.contains(Vec3(-1, 0, -2)))  // corner
        #expect(box.contains(Vec3(3, 2, 2)))  // opposite corner
        #expect(!box.contains(Vec3(3.01, 1, 0)))
        #expect(!box.contains(Vec3(0, -0.01, 0)))
        #expect(!box.contains(Vec3(0, 1, -2.5)))
        #expect(!box.contains(Vec3(.nan, 1, 0)))
    }

    @Test func cylinderContainment() {
        #expect(cylinder.contains(Vec3(10, 1, 10)))  // base centre
        #expect(cylinder.contains(Vec3(11.9, 2, 10)))
        #expect(cylinder.contains(Vec3(10, 4, 12)))  // top rim
        #expect(!cylinder.contains(Vec3(11.5, 2, 11.5)))  // inside the bounding box, outside the circle
        #expect(!cylinder.contains(Vec3(10, 0.9, 10)))  // below the base
        #expect(!cylinder.contains(Vec3(10, 4.1, 10)))  // above the top
        #expect(!cylinder.contains(Vec3(.infinity, 2, 10)))
    }

    @Test func volumesAndBoundingBoxes() {
        #expect(box.volume == 4 * 2 * 4)
        #expect(abs(cylinder.volume - Float.pi * 4 * 3) < 1e-4)
        #expect(box.boundingBox == WorldBounds(min: Vec3(-1, 0, -2), max: Vec3(3, 2, 2)))
        #expect(cylinder.boundingBox == WorldBounds(min: Vec3(8, 1, 8), max: Vec3(12, 4, 12)))
        let zone = Zone(id: "c", name: "C", kind: .stage, shape: cylinder)
        #expect(zone.volume == cylinder.volume)
        #expect(zone.contains(Vec3(10, 2, 10)))
    }

    @Test func enclosure() {
        let big = ZoneShape.box(min: Vec3(0, 0, 0), max: Vec3(20, 5, 20))
        #expect(big.encloses(cylinder))
        #expect(big.encloses(big))
        #expect(!cylinder.encloses(big))
        let round = ZoneShape.cylinder(center: Vec3(0, 0, 0), radius: 5, height: 4)
        #expect(round.encloses(.box(min: Vec3(-3, 0, -3), max: Vec3(3, 4, 3))))  // corners at 4.24 m
        #expect(!round.encloses(.box(min: Vec3(-4, 0, -4), max: Vec3(4, 4, 4))))  // corners at 5.66 m
        #expect(!round.encloses(.box(min: Vec3(-1, 0, -1), max: Vec3(1, 5, 1))))  // too tall
        #expect(round.encloses(.cylinder(center: Vec3(2, 1, 0), radius: 3, height: 3)))
        #expect(!round.encloses(.cylinder(center: Vec3(2.5, 1, 0), radius: 3, height: 3)))
        #expect(!big.encloses(.cylinder(center: Vec3(1, 0, 10), radius: 2, height: 1)))
    }
}

@Suite struct ZoneLookupTests {
    // A hall holding a stage area (with a seating area and a lectern) and a closed side room;
    // a sound booth inside the side room blocks sound but not sight.
    let world = WorldDefinition(
        id: "t", name: "T", bounds: WorldBounds(min: Vec3(-50, 0, -50), max: Vec3(50, 10, 50)),
        interestRadius: 10, capacity: 100, allowedRoles: [.visitor, .presenter], defaultRole: .visitor,
        spawnPoints: [SpawnPoint(position: .zero)],
        zones: [
            Zone(id: "hall", name: "Hall", kind: .hall, shape: .box(min: Vec3(-40, 0, -40), max: Vec3(40, 8, 40))),
            Zone(id: "stage", name: "Stage", kind: .stage,
                 shape: .box(min: Vec3(-20, 0, -40), max: Vec3(20, 8, 0)), broadcast: .zone,
                 rolesAlwaysRelevant: [.presenter]),
            Zone(id: "seats", name: "Seats", kind: .seating, shape: .box(min: Vec3(-15, 0, -30), max: Vec3(15, 3, -2))),
            Zone(id: "lectern", name: "Lectern", kind: .podium,
                 shape: .cylinder(center: Vec3(0, 0, -36), radius: 1.5, height: 3)),
            Zone(id: "side-room", name: "Side room", kind: .breakout,
                 shape: .box(min: Vec3(25, 0, 10), max: Vec3(35, 4, 20)),
                 isolation: ZoneIsolation(visual: true, acoustic: true)),
            Zone(id: "sound-booth", name: "Sound booth", kind: .broadcastRoom,
                 shape: .box(min: Vec3(30, 0, 15), max: Vec3(34, 3, 19)),
                 isolation: ZoneIsolation(visual: false, acoustic: true), broadcast: .world),
        ])

    @Test func zonesContainingArePutInnermostFirst() {
        #expect(world.zones(containing: Vec3(0, 1.6, -10)).map(\.id) == ["seats", "stage", "hall"])
        #expect(world.zones(containing: Vec3(0, 1.6, -36)).map(\.id) == ["lectern", "stage", "hall"])
        #expect(world.zones(containing: Vec3(32, 1.6, 17)).map(\.id) == ["sound-booth", "side-room", "hall"])
        #expect(world.zones(containing: Vec3(30, 1.6, 0)).map(\.id) == ["hall"])
        #expect(world.zones(containing: Vec3(45, 1.6, 45)).isEmpty)
    }

    @Test func equalVolumesKeepFileOrder() {
        let twins = WorldDefinition(
            id: "t", name: "T", bounds: world.bounds, interestRadius: 10, capacity: 10,
            allowedRoles: [.visitor], defaultRole: .visitor, spawnPoints: [],
            zones: [
                Zone(id: "b", name: "B", kind: .hall, shape: .box(min: Vec3(0, 0, 0), max: Vec3(2, 2, 2))),
                Zone(id: "a", name: "A", kind: .hall, shape: .box(min: Vec3(1, 0, 1), max: Vec3(3, 2, 3))),
            ])
        #expect(twins.zones(containing: Vec3(1.5, 1, 1.5)).map(\.id) == ["b", "a"])
    }

    @Test func isolatingZoneIsTheInnermostThatIsolatesInThatSense() {
        let inBooth = Vec3(32, 1.6, 17)
        #expect(world.isolatingZone(containing: inBooth, visual: false)?.id == "sound-booth")
        #expect(world.isolatingZone(containing: inBooth, visual: true)?.id == "side-room")
        let inRoom = Vec3(27, 1.6, 12)
        #expect(world.isolatingZone(containing: inRoom, visual: false)?.id == "side-room")
        #expect(world.isolatingZone(containing: inRoom, visual: true)?.id == "side-room")
        #expect(world.isolatingZone(containing: Vec3(0, 1.6, -10), visual: true) == nil)
        #expect(world.isolatingZone(containing: Vec3(0, 1.6, -10), visual: false) == nil)
    }

    @Test func broadcastZoneIsTheInnermostThatBroadcasts() {
        #expect(world.broadcastZone(containing: Vec3(0, 1.6, -36))?.id == "stage")
        #expect(world.broadcastZone(containing: Vec3(0, 1.6, -10))?.id == "stage")
        #expect(world.broadcastZone(containing: Vec3(32, 1.6, 17))?.broadcast == .world)
        #expect(world.broadcastZone(containing: Vec3(30, 1.6, 0)) == nil)
    }

    @Test func zoneById() {
        #expect(world.zone(id: "lectern")?.kind == .podium)
        #expect(world.zone(id: "nope") == nil)
        #expect(world.allows(.presenter) && !world.allows(.teacher))
    }
}
