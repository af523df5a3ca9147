import AtriumWire
import AtriumWorld
import AtriumYAML
import Foundation
import Testing

/// The repository's Worlds/ directory, found from this file's path.
let worldsDirectory: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // AtriumWorldTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // repository root
    .appendingPathComponent("Worlds").path

func loadShipped(_ name: String) throws -> WorldDefinition {
    try WorldLoader.load(path: worldsDirectory + "/" + name)
}

@Suite struct ShippedWorldsTests {
    @Test func directoryLoadsAllThreeWorlds() {
        let result = WorldLoader.loadDirectory(worldsDirectory)
        #expect(result.errors.isEmpty, "\(result.errors.map(\.description))")
        #expect(result.worlds.map(\.world.id) == ["classroom", "expo-hall", "village-assembly"])
        #expect(result.worlds.allSatisfy { $0.path.hasPrefix(worldsDirectory) })
    }

    @Test func expoHall() throws {
        let world = try loadShipped("expo-hall.yaml")
        let size = world.bounds.max - world.bounds.min
        #expect(size.x >= 200 && size.z >= 200)
        #expect(world.capacity == 2000)
        #expect(Set(world.allowedRoles) == [.visitor, .exhibitor, .presenter, .moderator])
        #expect(world.defaultRole == .visitor)
        #expect(abs(world.interestRadius - 20) <= 5)

        let booths = world.zones.filter { $0.kind == .booth }
        #expect(booths.count >= 20)
        #expect(booths.allSatisfy { $0.isolation == .open })
        #expect(Set(booths.map(\.name)).count == booths.count, "every booth has its own exhibitor")

        let stages = world.zones.filter { $0.kind == .stage }
        #expect(stages.count == 1)
        let stage = try #require(stages.first)
        #expect(stage.broadcast == .zone)
        #expect(stage.rolesAlwaysRelevant.contains(.presenter))
        // The audience sits inside the stage area, so the presenter reaches it.
        let audience = try #require(world.zones.first { $0.kind == .seating })
        #expect(stage.shape.encloses(audience.shape))

        let entrance = try #require(world.zones.first { $0.kind == .entrance })
        #expect(world.zones.contains { $0.kind == .lobby })
        #expect(world.spawnPoints.count >= 3)
        #expect(world.spawnPoints.allSatisfy { entrance.contains($0.position) && $0.zoneId == entrance.id })

        // Booths stand inside the hall and do not overlap each other.
        let hall = try #require(world.zones.first { $0.kind == .hall })
        #expect(booths.allSatisfy { hall.shape.encloses($0.shape) })
        for (i, a) in booths.enumerated() {
            for b in booths[(i + 1)...] {
                #expect(!boxesOverlap(a.shape.boundingBox, b.shape.boundingBox), "\(a.id) overlaps \(b.id)")
            }
        }
        // Someone in the back row of the audience is in the stage zone (broadcast reaches them).
        #expect(world.broadcastZone(containing: Vec3(0, 1.6, -53))?.id == stage.id)
    }

    @Test func villageAssembly() throws {
        let world = try loadShipped("village-assembly.yaml")
        #expect(Set(world.allowedRoles) == [.villager, .villageHead, .moderator, .visitor])
        let podium = try #require(world.zones.first { $0.kind == .podium })
        #expect(podium.broadcast == .zone)
        let seating = try #require(world.zones.first { $0.kind == .seating })
        #expect((200...300).contains(seating.capacity ?? 0))
        #expect(podium.shape.encloses(seating.shape))
        #expect(world.zones.contains { $0.kind == .exhibition })

        let room = try #require(world.zones.first { $0.kind == .broadcastRoom })
        #expect(room.name == "村长喊话室")
        #expect(room.isolation.acoustic)
        #expect(room.broadcast == .world)
        #expect(world.zone(id: room.id) == room)
        let inside = Vec3(-35, 1.6, -4)
        #expect(world.isolatingZone(containing: inside, visual: false)?.name == "村长喊话室")
        #expect(world.broadcastZone(containing: inside)?.broadcast == .world)
        #expect(world.isolatingZone(containing: Vec3(0, 1.6, 0), visual: false) == nil)
    }

    @Test func classroom() throws {
        let world = try loadShipped("classroom.yaml")
        #expect(world.capacity == 40)
        #expect(Set(world.allowedRoles) == [.teacher, .student, .moderator])
        let teacher = try #require(world.zones.first { $0.kind == .teacher })
        #expect(teacher.broadcast == .zone)
        #expect(teacher.rolesAlwaysRelevant.contains(.teacher))

        let seats = world.zones.filter { $0.kind == .seat }
        #expect(seats.count >= 30)
        #expect(seats.allSatisfy { $0.capacity == 1 })
        let seating = try #require(world.zones.first { $0.kind == .seating })
        #expect(seats.allSatisfy { seating.shape.encloses($0.shape) })
        #expect(teacher.shape.encloses(seating.shape))

        let breakouts = world.zones.filter { $0.kind == .breakout }
        #expect(breakouts.count == 4)
        #expect(breakouts.allSatisfy { $0.isolation.visual && $0.isolation.acoustic })
        for (i, a) in breakouts.enumerated() {
            for b in breakouts[(i + 1)...] {
                #expect(!boxesOverlap(a.shape.boundingBox, b.shape.boundingBox), "\(a.id) overlaps \(b.id)")
            }
            #expect(!boxesOverlap(a.shape.boundingBox, teacher.shape.boundingBox))
        }

        // A student on seat B3 is in seat, seating and classroom, innermost first.
        let seatB3 = try #require(world.zone(id: "seat-b3"))
        let head = Vec3(
            (seatB3.shape.boundingBox.min.x + seatB3.shape.boundingBox.max.x) / 2, 1.2,
            (seatB3.shape.boundingBox.min.z + seatB3.shape.boundingBox.max.z) / 2)
        #expect(world.zones(containing: head).map(\.id) == ["seat-b3", "seating", "classroom"])
        #expect(world.isolatingZone(containing: head, visual: true) == nil)
        #expect(world.isolatingZone(containing: Vec3(2.5, 1.6, 13), visual: true)?.id == "breakout-3")
    }
}

func boxesOverlap(_ a: WorldBounds, _ b: WorldBounds) -> Bool {
    a.min.x < b.max.x && b.min.x < a.max.x && a.min.y < b.max.y && b.min.y < a.max.y && a.min.z < b.max.z
        && b.min.z < a.max.z
}

@Suite struct DocumentationTests {
    /// The example in docs/WORLDS.md must stay a valid world.
    @Test func worldsDocExampleLoads() throws {
        let docPath = URL(fileURLWithPath: worldsDirectory).deletingLastPathComponent()
            .appendingPathComponent("docs/WORLDS.md").path
        let doc = try String(contentsOfFile: docPath, encoding: .utf8)
        let afterFence = try #require(doc.range(of: "```yaml\n"))
        let end = try #require(doc.range(of: "```", range: afterFence.upperBound..<doc.endIndex))
        let example = String(doc[afterFence.upperBound..<end.lowerBound])
        let world = try WorldLoader.parse(example, file: "docs/WORLDS.md example")
        #expect(world.id == "small-gallery")
        #expect(world.zone(id: "listening-room")?.name == "聆听室")
        #expect(world.isolatingZone(containing: Vec3(10, 1.6, -10), visual: false)?.id == "listening-room")
    }
}
