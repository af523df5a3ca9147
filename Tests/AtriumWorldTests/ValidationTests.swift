import AtriumWire
import AtriumWorld
import AtriumYAML
import Foundation
import Testing

/// A small valid world. Line numbers matter to the cases below:
///  1 id, 2 name, 3 bounds, 4 min, 5 max, 6 interest_radius, 7 capacity, 8 roles,
///  9 default_role, 10 spawn_points, 11 first spawn point; appended text starts at line 12.
let baseLines = [
    "id: test-world",
    "name: Test",
    "bounds:",
    "  min: [0, 0, 0]",
    "  max: [20, 5, 20]",
    "interest_radius: 5",
    "capacity: 10",
    "roles: [visitor, presenter]",
    "default_role: visitor",
    "spawn_points:",
    "  - position: [1, 0, 1]",
]

/// The base world with line `line` replaced (or removed when `text` is nil) and `appending` added.
func world(replacing line: Int? = nil, with text: String? = nil, appending extra: [String] = []) -> String {
    var lines = baseLines
    if let line {
        if let text { lines[line - 1] = text } else { lines.remove(at: line - 1) }
    }
    return (lines + extra).joined(separator: "\n") + "\n"
}

/// One zone starting at line 12 (after `zones:` there): id 13, name 14, kind 15, shape 16, box 17,
/// extra keys from 18.
func withZone(kind: String = "hall", box: String = "{min: [0, 0, 0], max: [5, 3, 5]}", _ extra: [String] = [])
    -> [String]
{
    ["zones:", "  - id: z1", "    name: Zone one", "    kind: \(kind)", "    shape:", "      box: \(box)"] + extra
}

struct BadWorld: Sendable, CustomTestStringConvertible {
    var label: String
    var text: String
    var line: Int
    var fragment: String
    var testDescription: String { label }

    init(_ label: String, _ text: String, line: Int, _ fragment: String) {
        self.label = label
        self.text = text
        self.line = line
        self.fragment = fragment
    }
}

let badWorlds: [BadWorld] = [
    // Document shape
    BadWorld("empty file", "", line: 1, "the file is empty"),
    BadWorld("not a mapping", "- a\n- b\n", line: 1, "expected a mapping"),
    BadWorld("YAML syntax", "id: test\nname: a: b\n", line: 2, "YAML syntax"),
    BadWorld("unknown top-level key", world(appending: ["colour: red"]), line: 12, "unknown key 'colour'"),
    // Reported at the repeated key, the line a person must fix.
    BadWorld("duplicate map key", world(appending: ["name: Other"]), line: 12, "duplicate key 'name'"),
    BadWorld("missing key", world(replacing: 6), line: 1, "missing required key 'interest_radius'"),
    BadWorld("wrong type", world(replacing: 7, with: "capacity: lots"), line: 7, "expected a whole number"),
    BadWorld("list where number expected", world(replacing: 6, with: "interest_radius: [5]"), line: 6,
             "expected a number"),

    // World settings
    BadWorld("id with spaces", world(replacing: 1, with: "id: Test World"), line: 1, "not a valid id"),
    BadWorld("id with capitals", world(replacing: 1, with: "id: Expo"), line: 1, "not a valid id"),
    BadWorld("id too long", world(replacing: 1, with: "id: " + String(repeating: "a", count: 65)), line: 1,
             "1 to 64 characters"),
    BadWorld("blank name", world(replacing: 2, with: "name: '  '"), line: 2, "must not be blank"),
    BadWorld("bounds min = max on y", world(replacing: 5, with: "  max: [20, 0, 20]"), line: 5,
             "bounds.max: must be greater than bounds.min on every axis, but y is 0 ≤ 0"),
    BadWorld("bounds min > max on x", world(replacing: 5, with: "  max: [-1, 5, 20]"), line: 5, "x is -1 ≤ 0"),
    BadWorld("bounds vector of two", world(replacing: 4, with: "  min: [0, 0]"), line: 4, "3 numbers"),
    BadWorld("bounds unknown key", world(appending: []).replacingOccurrences(of: "  max:", with: "  maks:"),
             line: 5, "unknown key 'bounds.maks'"),
    BadWorld("tick rate too high", world(appending: ["tick_rate: 121"]), line: 12, "out of range 1...120"),
    BadWorld("tick rate zero", world(appending: ["tick_rate: 0"]), line: 12, "out of range 1...120"),
    BadWorld("interest radius zero", world(replacing: 6, with: "interest_radius: 0"), line: 6,
             "must be greater than 0"),
    BadWorld("capacity zero", world(replacing: 7, with: "capacity: 0"), line: 7, "out of range 1...10000"),
    BadWorld("capacity too large", world(replacing: 7, with: "capacity: 10001"), line: 7, "out of range"),

    // Roles
    BadWorld("unknown role", world(replacing: 8, with: "roles: [visitor, wizard]"), line: 8, "unknown role 'wizard'"),
    BadWorld("no roles", world(replacing: 8, with: "roles: []"), line: 8, "at least one role"),
    BadWorld("role twice", world(replacing: 8, with: "roles: [visitor, visitor]"), line: 8, "listed twice"),
    BadWorld("default role not in roles", world(replacing: 9, with: "default_role: teacher"), line: 9,
             "'teacher' is not one of this world's roles"),
    BadWorld("default role unknown", world(replacing: 9, with: "default_role: king"), line: 9, "unknown role 'king'"),

    // Spawn points
    BadWorld("no spawn points", world(replacing: 10, with: "spawn_points: []").replacingOccurrences(
        of: "  - position: [1, 0, 1]\n", with: ""), line: 10, "at least one spawn point"),
    BadWorld("spawn outside bounds", world(replacing: 11, with: "  - position: [1, 0, 25]"), line: 11,
             "outside the world bounds"),
    BadWorld("spawn below the floor", world(replacing: 11, with: "  - position: [1, -0.5, 1]"), line: 11,
             "outside the world bounds"),
    BadWorld("spawn NaN", world(replacing: 11, with: "  - position: [1, .nan, 1]"), line: 11, "finite number"),
    BadWorld("spawn unknown key", world(appending: ["    facing: 90"]), line: 12, "unknown key 'spawn_points[0].facing'"),
    BadWorld("spawn yaw out of range", world(appending: ["    yaw_degrees: 720"]), line: 12, "out of range"),
    BadWorld("spawn in missing zone", world(appending: ["    zone: nowhere"]), line: 12, "no zone has id 'nowhere'"),
    BadWorld("spawn outside its zone", world(replacing: 11, with: "  - {position: [10, 0, 10], zone: z1}",
                                            appending: withZone()), line: 11, "not inside zone 'z1'"),

    // Zones
    BadWorld("zone unknown key", world(appending: withZone(["    colour: red"])), line: 18,
             "unknown key 'zones[0].colour'"),
    BadWorld("zone missing name", world(appending: ["zones:", "  - id: z1", "    kind: hall", "    shape:",
                                                    "      box: {min: [0, 0, 0], max: [5, 3, 5]}"]),
             line: 13, "missing required key 'zones[0].name'"),
    BadWorld("zone unknown kind", world(appending: withZone(kind: "ballroom")), line: 15, "'ballroom' is not one of"),
    BadWorld("zone bad id", world(appending: withZone()).replacingOccurrences(of: "id: z1", with: "id: Zone_1"),
             line: 13, "not a valid id"),
    BadWorld("duplicate zone id", world(appending: withZone() + ["  - id: z1", "    name: Again", "    kind: hall",
                                                                  "    shape: {box: {min: [6, 0, 6], max: [9, 3, 9]}}"]),
             line: 18, "duplicate zone id 'z1' (first used at line 13)"),
    BadWorld("zone outside bounds", world(appending: withZone(box: "{min: [0, 0, 0], max: [25, 3, 5]}")), line: 17,
             "outside the world bounds: x goes up to 25, above bounds.max.x = 20"),
    BadWorld("zone box min ≥ max", world(appending: withZone(box: "{min: [0, 3, 0], max: [5, 3, 5]}")), line: 17,
             "y is 3 ≤ 3"),
    BadWorld("zone capacity zero", world(appending: withZone(["    capacity: 0"])), line: 18, "at least 1"),
    BadWorld("zone capacity negative", world(appending: withZone(["    capacity: -3"])), line: 18, "at least 1"),
    BadWorld("zone capacity above world's", world(appending: withZone(["    capacity: 11"])), line: 18,
             "exceeds the world capacity 10"),
    BadWorld("zone bad broadcast", world(appending: withZone(["    broadcast: everyone"])), line: 18,
             "'everyone' is not one of: none, zone, world"),
    BadWorld("zone isolation not bool", world(appending: withZone(["    isolation: {visual: maybe}"])), line: 18,
             "expected true or false"),
    BadWorld("zone isolation unknown key", world(appending: withZone(["    isolation: {smell: true}"])), line: 18,
             "unknown key 'zones[0].isolation.smell'"),
    BadWorld("always-relevant unknown role", world(appending: withZone(["    roles_always_relevant:",
                                                                         "      - presenter", "      - wizard"])),
             line: 20, "unknown role 'wizard'"),
    BadWorld("always-relevant role not allowed", world(appending: withZone(["    roles_always_relevant: [teacher]"])),
             line: 18, "'teacher' is not one of this world's roles"),
    BadWorld("shape with two kinds", world(appending: withZone(["      cylinder: {center: [1, 0, 1], radius: 1, height: 1}"])),
             line: 17, "exactly one of 'box' or 'cylinder'"),
    BadWorld("shape unknown kind", world(appending: ["zones:", "  - id: z1", "    name: Zone one", "    kind: hall",
                                                     "    shape:", "      sphere: {center: [1, 0, 1]}"]),
             line: 17, "unknown key 'zones[0].shape.sphere'"),
    BadWorld("cylinder radius zero", world(appending: ["zones:", "  - id: z1", "    name: Round", "    kind: stage",
                                                       "    shape:", "      cylinder:", "        center: [5, 0, 5]",
                                                       "        radius: 0", "        height: 3"]),
             line: 19, "radius: must be greater than 0"),
    BadWorld("cylinder radius negative", world(appending: ["zones:", "  - id: z1", "    name: Round", "    kind: stage",
                                                           "    shape: {cylinder: {center: [5, 0, 5], radius: -2, height: 3}}"]),
             line: 16, "must be greater than 0, found -2"),
    BadWorld("cylinder height zero", world(appending: ["zones:", "  - id: z1", "    name: Round", "    kind: stage",
                                                       "    shape:", "      cylinder:", "        center: [5, 0, 5]",
                                                       "        radius: 2", "        height: 0"]),
             line: 20, "height: must be greater than 0"),
    BadWorld("cylinder outside bounds", world(appending: ["zones:", "  - id: z1", "    name: Round", "    kind: stage",
                                                          "    shape:", "      cylinder:", "        center: [1, 0, 5]",
                                                          "        radius: 2", "        height: 3"]),
             line: 18, "x goes down to -1, below bounds.min.x = 0"),
    BadWorld("seat outside any seating", world(appending: withZone(kind: "seat", ["    capacity: 1"])), line: 17,
             "seat zone 'z1' must lie entirely inside a zone of kind 'seating'"),
    BadWorld("seat poking out of seating", world(appending: withZone(kind: "seating") + [
        "  - id: seat-1", "    name: Seat 1", "    kind: seat", "    shape: {box: {min: [4, 0, 4], max: [6, 2, 6]}}",
    ]), line: 21, "seat zone 'seat-1' must lie entirely inside"),
]

@Suite struct ValidationTests {
    @Test(arguments: badWorlds)
    func reportsProblemAtItsLine(_ bad: BadWorld) {
        #expect(throws: DocumentError.self) { try WorldLoader.parse(bad.text, file: "bad.yaml") }
        do {
            _ = try WorldLoader.parse(bad.text, file: "bad.yaml")
        } catch {
            #expect(error.location.file == "bad.yaml")
            #expect(error.location.line == bad.line, "\(error)")
            #expect(error.message.contains(bad.fragment), "\(error)")
            #expect(error.description.hasPrefix("bad.yaml:\(bad.line):"))
        }
    }

    @Test func baseWorldIsValidAndDefaultsApply() throws {
        let w = try WorldLoader.parse(world(), file: "ok.yaml")
        #expect(w.id == "test-world")
        #expect(w.description == nil)
        #expect(w.tickRate == 30)
        #expect(w.interestRadius == 5)
        #expect(w.capacity == 10)
        #expect(w.allowedRoles == [.visitor, .presenter])
        #expect(w.defaultRole == .visitor)
        #expect(w.bounds == WorldBounds(min: Vec3(0, 0, 0), max: Vec3(20, 5, 20)))
        #expect(w.spawnPoints == [SpawnPoint(position: Vec3(1, 0, 1), yaw: 0, zoneId: nil)])
        #expect(w.zones.isEmpty)
    }

    @Test func zoneDefaultsAndFullZone() throws {
        let text = world(appending: withZone() + [
            "  - id: room",
            "    name: 村长喊话室",
            "    kind: broadcast_room",
            "    shape: {cylinder: {center: [10, 0, 10], radius: 2, height: 3}}",
            "    isolation: {acoustic: true}",
            "    capacity: 3",
            "    broadcast: world",
            "    roles_always_relevant: [presenter]",
        ])
        let w = try WorldLoader.parse(text, file: "ok.yaml")
        let plain = try #require(w.zone(id: "z1"))
        #expect(plain == Zone(id: "z1", name: "Zone one", kind: .hall,
                              shape: .box(min: Vec3(0, 0, 0), max: Vec3(5, 3, 5))))
        #expect(plain.isolation == ZoneIsolation(visual: false, acoustic: false))
        #expect(plain.broadcast == .none && plain.capacity == nil && plain.rolesAlwaysRelevant.isEmpty)

        let room = try #require(w.zone(id: "room"))
        #expect(room.name == "村长喊话室")
        #expect(room.kind == .broadcastRoom)
        #expect(room.shape == .cylinder(center: Vec3(10, 0, 10), radius: 2, height: 3))
        #expect(room.isolation == ZoneIsolation(visual: false, acoustic: true))
        #expect(room.capacity == 3)
        #expect(room.broadcast == .world)
        #expect(room.rolesAlwaysRelevant == [.presenter])
        #expect(w.zone(id: "missing") == nil)
    }

    @Test func spawnYawIsConvertedToRadians() throws {
        let w = try WorldLoader.parse(world(appending: ["    yaw_degrees: -90", "description: Düsseldorf — 展会"]),
                                      file: "ok.yaml")
        #expect(abs(w.spawnPoints[0].yaw + Float.pi / 2) < 1e-6)
        #expect(w.description == "Düsseldorf — 展会")
    }

    @Test func everyZoneKindIsAccepted() throws {
        for kind in ZoneKind.allCases where kind != .seat {
            let w = try WorldLoader.parse(world(appending: withZone(kind: kind.rawValue)), file: "ok.yaml")
            #expect(w.zones.first?.kind == kind)
        }
        #expect(ZoneKind(rawValue: "broadcast_room") == .broadcastRoom)
    }

    @Test func unreadableFileIsAnErrorAtLineOne() {
        let path = "/nonexistent/atrium/world.yaml"
        do {
            _ = try WorldLoader.load(path: path)
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.location == SourceLocation(file: path, line: 1, column: 1))
            #expect(error.message.contains("cannot read"))
        }
    }

    @Test func directoryLoadReportsBadFilesAndDuplicateIds() throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("atrium-worlds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        try write("a.yaml", world())
        try write("b.yml", world(replacing: 1, with: "id: second-world"))
        try write("c.yaml", world(replacing: 2, with: "name: Duplicate"))  // same id as a.yaml
        try write("d.yaml", world(replacing: 7, with: "capacity: lots"))
        try write("notes.txt", "not a world")
        try write(".hidden.yaml", "garbage: [")

        let result = WorldLoader.loadDirectory(dir)
        #expect(result.worlds.map(\.path) == [dir + "/a.yaml", dir + "/b.yml"])
        #expect(result.worlds.map(\.world.id) == ["test-world", "second-world"])
        #expect(result.errors.count == 2)
        let duplicate = try #require(result.errors.first)
        #expect(duplicate.location.file == dir + "/c.yaml")
        #expect(duplicate.location.line == 1)
        #expect(duplicate.message.contains("duplicate world id 'test-world'"))
        #expect(duplicate.message.contains("a.yaml"))
        #expect(result.errors.last?.location.file == dir + "/d.yaml")
        #expect(result.errors.last?.location.line == 7)
    }

    @Test func missingDirectoryIsOneError() {
        let result = WorldLoader.loadDirectory("/nonexistent/atrium/worlds")
        #expect(result.worlds.isEmpty)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.location.line == 1)
    }
}
