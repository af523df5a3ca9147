#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AtriumWire
import AtriumYAML

/// Reads and validates world files (format: docs/WORLDS.md). Every problem is reported as a
/// `DocumentError` carrying the file, line and column it concerns; the first problem found stops
/// the load of that file.
public enum WorldLoader {
    /// Parses and validates the world in `text`; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(DocumentError) -> WorldDefinition {
        try parseLocated(text, file: file).world
    }

    /// Reads and validates the world file at `path`. An unreadable file is an error at line 1.
    public static func load(path: String) throws(DocumentError) -> WorldDefinition {
        try parse(readText(path), file: path)
    }

    /// Loads every `*.yaml` / `*.yml` file directly in `path` (sorted by file name, hidden files
    /// skipped). Files that fail are reported in `errors` and left out of `worlds`; so is any file
    /// whose world `id` was already used by an earlier file.
    public static func loadDirectory(_ path: String) -> (
        worlds: [(path: String, world: WorldDefinition)], errors: [DocumentError]
    ) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            return ([], [DocumentError(SourceLocation(file: path, line: 1, column: 1), "cannot list the directory")])
        }
        let files = names.filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }.sorted()
        var worlds: [(path: String, world: WorldDefinition)] = []
        var errors: [DocumentError] = []
        var firstFileForId: [String: String] = [:]
        for name in files {
            let filePath = path.hasSuffix("/") ? path + name : path + "/" + name
            do {
                let (world, idLocation) = try parseLocated(readText(filePath), file: filePath)
                if let other = firstFileForId[world.id] {
                    errors.append(DocumentError(idLocation, "duplicate world id '\(world.id)': already used by \(other)"))
                    continue
                }
                firstFileForId[world.id] = filePath
                worlds.append((filePath, world))
            } catch {
                errors.append(error)
            }
        }
        return (worlds, errors)
    }

    // MARK: - Reading

    static func readText(_ path: String) throws(DocumentError) -> String {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DocumentError(start, "cannot read the file")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw DocumentError(start, "the file is not valid UTF-8")
        }
        return text
    }

    // MARK: - Document

    static let worldKeys: Set<String> = [
        "id", "name", "description", "bounds", "tick_rate", "interest_radius", "capacity", "roles",
        "default_role", "spawn_points", "zones",
    ]
    static let zoneKeys: Set<String> = [
        "id", "name", "kind", "shape", "isolation", "capacity", "broadcast", "roles_always_relevant",
    ]
    static let spawnKeys: Set<String> = ["position", "yaw_degrees", "zone"]

    static let defaultTickRate = 30
    static let tickRates = 1...120
    static let capacities = 1...10_000
    static let maxIdentifierLength = 64

    /// The world and where its `id` was written (for cross-file errors).
    static func parseLocated(_ text: String, file: String) throws(DocumentError) -> (
        world: WorldDefinition, idLocation: SourceLocation
    ) {
        let root = try YAMLDocument.parse(text, file: file).mapping(allowedKeys: worldKeys)

        let idValue = try root.required("id")
        let id = try identifier(idValue)
        let name = try displayName(root.required("name"))
        let description = try root.optional("description")?.string()
        let bounds = try worldBounds(root.required("bounds"))
        let tickRate = try root.optional("tick_rate")?.int(in: tickRates) ?? defaultTickRate
        let interestRadius = try positive(root.required("interest_radius"))
        let capacity = try root.required("capacity").int(in: capacities)

        let rolesValue = try root.required("roles")
        let roleItems = try rolesValue.sequence()
        guard !roleItems.isEmpty else { throw rolesValue.error("list at least one role") }
        var roles: [Role] = []
        for item in roleItems {
            let role = try role(item)
            guard !roles.contains(role) else { throw item.error("role '\(role.name)' is listed twice") }
            roles.append(role)
        }
        let defaultRoleValue = try root.required("default_role")
        let defaultRole = try role(defaultRoleValue)
        guard roles.contains(defaultRole) else {
            throw defaultRoleValue.error(
                "'\(defaultRole.name)' is not one of this world's roles (\(roles.map(\.name).joined(separator: ", ")))")
        }

        let zones = try zoneList(root.optional("zones"), bounds: bounds, roles: roles, worldCapacity: capacity)
        let spawnPoints = try spawnList(root.required("spawn_points"), bounds: bounds, zones: zones)

        let world = WorldDefinition(
            id: id, name: name, description: description, bounds: bounds, tickRate: tickRate,
            interestRadius: interestRadius, capacity: capacity, allowedRoles: roles, defaultRole: defaultRole,
            spawnPoints: spawnPoints, zones: zones.map(\.zone))
        return (world, idValue.location)
    }

    // MARK: - Zones

    /// A parsed zone and the nodes later checks point at.
    struct LocatedZone {
        var zone: Zone
        var idValue: YAMLValue
        var shapeValue: YAMLValue
    }

    static func zoneList(
        _ value: YAMLValue?, bounds: WorldBounds, roles: [Role], worldCapacity: Int
    ) throws(DocumentError) -> [LocatedZone] {
        guard let value else { return [] }
        var zones: [LocatedZone] = []
        for item in try value.sequence() {
            let zone = try zone(item, bounds: bounds, roles: roles, worldCapacity: worldCapacity)
            if let earlier = zones.first(where: { $0.zone.id == zone.zone.id }) {
                throw zone.idValue.error(
                    "duplicate zone id '\(zone.zone.id)' (first used at line \(earlier.idValue.location.line))")
            }
            zones.append(zone)
        }
        // A seat is a place within a seating area; one floating anywhere else is a layout mistake.
        for seat in zones where seat.zone.kind == .seat {
            let held = zones.contains { $0.zone.kind == .seating && $0.zone.shape.encloses(seat.zone.shape) }
            guard held else {
                throw seat.shapeValue.error(
                    "seat zone '\(seat.zone.id)' must lie entirely inside a zone of kind 'seating'")
            }
        }
        return zones
    }

    static func zone(
        _ value: YAMLValue, bounds: WorldBounds, roles: [Role], worldCapacity: Int
    ) throws(DocumentError) -> LocatedZone {
        let map = try value.mapping(allowedKeys: zoneKeys)
        let idValue = try map.required("id")
        let id = try identifier(idValue)
        let name = try displayName(map.required("name"))
        let kind = try map.required("kind").oneOf(ZoneKind.self)
        let shapeValue = try map.required("shape")
        let shape = try zoneShape(shapeValue, bounds: bounds)

        var isolation = ZoneIsolation.open
        if let isolationValue = map.optional("isolation") {
            let isolationMap = try isolationValue.mapping(allowedKeys: ["visual", "acoustic"])
            isolation.visual = try isolationMap.optional("visual")?.bool() ?? false
            isolation.acoustic = try isolationMap.optional("acoustic")?.bool() ?? false
        }

        var capacity: Int?
        if let capacityValue = map.optional("capacity") {
            let count = try capacityValue.int()
            guard count >= 1 else { throw capacityValue.error("zone capacity must be at least 1, found \(count)") }
            guard count <= worldCapacity else {
                throw capacityValue.error("zone capacity \(count) exceeds the world capacity \(worldCapacity)")
            }
            capacity = count
        }

        let broadcast = try map.optional("broadcast")?.oneOf(BroadcastReach.self) ?? BroadcastReach.none

        var alwaysRelevant: [Role] = []
        if let relevantValue = map.optional("roles_always_relevant") {
            for item in try relevantValue.sequence() {
                let role = try role(item)
                guard roles.contains(role) else {
                    throw item.error(
                        "role '\(role.name)' is not one of this world's roles (\(roles.map(\.name).joined(separator: ", ")))")
                }
                guard !alwaysRelevant.contains(role) else { throw item.error("role '\(role.name)' is listed twice") }
                alwaysRelevant.append(role)
            }
        }

        let zone = Zone(
            id: id, name: name, kind: kind, shape: shape, isolation: isolation, capacity: capacity,
            broadcast: broadcast, rolesAlwaysRelevant: alwaysRelevant)
        return LocatedZone(zone: zone, idValue: idValue, shapeValue: shapeValue)
    }

    static func zoneShape(_ value: YAMLValue, bounds: WorldBounds) throws(DocumentError) -> ZoneShape {
        let map = try value.mapping(allowedKeys: ["box", "cylinder"])
        guard map.keys.count == 1 else { throw value.error("give exactly one of 'box' or 'cylinder'") }
        let shape: ZoneShape
        let body: YAMLValue
        if let box = map.optional("box") {
            body = box
            let boxMap = try box.mapping(allowedKeys: ["min", "max"])
            let minValue = try boxMap.required("min")
            let maxValue = try boxMap.required("max")
            let lo = try vector(minValue)
            let hi = try vector(maxValue)
            try requireIncreasing(lo, hi, at: maxValue, minName: "\(box.path).min")
            shape = .box(min: lo, max: hi)
        } else {
            let cylinder = try map.required("cylinder")
            body = cylinder
            let cylinderMap = try cylinder.mapping(allowedKeys: ["center", "radius", "height"])
            let center = try vector(cylinderMap.required("center"))
            let radius = try positive(cylinderMap.required("radius"))
            let height = try positive(cylinderMap.required("height"))
            shape = .cylinder(center: center, radius: radius, height: height)
        }
        let box = shape.boundingBox
        if let problem = outside(box.min, box.max, of: bounds) {
            throw body.error("the zone reaches outside the world bounds: \(problem)")
        }
        return shape
    }

    // MARK: - Spawn points

    static func spawnList(
        _ value: YAMLValue, bounds: WorldBounds, zones: [LocatedZone]
    ) throws(DocumentError) -> [SpawnPoint] {
        let items = try value.sequence()
        guard !items.isEmpty else { throw value.error("list at least one spawn point") }
        var spawns: [SpawnPoint] = []
        for item in items {
            let map = try item.mapping(allowedKeys: spawnKeys)
            let positionValue = try map.required("position")
            let position = try vector(positionValue)
            guard bounds.min.x <= position.x && position.x <= bounds.max.x
                && bounds.min.y <= position.y && position.y <= bounds.max.y
                && bounds.min.z <= position.z && position.z <= bounds.max.z
            else {
                throw positionValue.error("spawn position \(show(position)) is outside the world bounds")
            }
            let yawDegrees = try map.optional("yaw_degrees")?.double(in: -360...360) ?? 0
            var zoneId: String?
            if let zoneValue = map.optional("zone") {
                let id = try zoneValue.string()
                guard let zone = zones.first(where: { $0.zone.id == id })?.zone else {
                    throw zoneValue.error("no zone has id '\(id)'")
                }
                guard zone.contains(position) else {
                    throw positionValue.error("spawn position \(show(position)) is not inside zone '\(id)'")
                }
                zoneId = id
            }
            spawns.append(SpawnPoint(position: position, yaw: Float(yawDegrees * .pi / 180), zoneId: zoneId))
        }
        return spawns
    }

    // MARK: - Values

    static func identifier(_ value: YAMLValue) throws(DocumentError) -> String {
        let text = try value.string()
        guard (1...maxIdentifierLength).contains(text.utf8.count) else {
            throw value.error("an id must be 1 to \(maxIdentifierLength) characters long, found \(text.utf8.count)")
        }
        let allowed = text.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
        }
        guard allowed else {
            throw value.error("'\(text)' is not a valid id: use only lower-case letters a-z, digits and '-'")
        }
        return text
    }

    static func displayName(_ value: YAMLValue) throws(DocumentError) -> String {
        let text = try value.string()
        guard !text.allSatisfy(\.isWhitespace) else { throw value.error("a name must not be blank") }
        return text
    }

    static func role(_ value: YAMLValue) throws(DocumentError) -> Role {
        let text = try value.string()
        guard let role = Role(name: text) else {
            throw value.error("unknown role '\(text)' (known roles: \(Role.allCases.map(\.name).joined(separator: ", ")))")
        }
        return role
    }

    /// A finite number greater than zero.
    static func positive(_ value: YAMLValue) throws(DocumentError) -> Float {
        let number = try value.float()
        guard number > 0 else { throw value.error("must be greater than 0, found \(show(number))") }
        guard number.isFinite else { throw value.error("number is too large") }
        return number
    }

    /// `[x, y, z]` in metres.
    static func vector(_ value: YAMLValue) throws(DocumentError) -> Vec3 {
        let items = try value.sequence()
        guard items.count == 3 else {
            throw value.error("expected [x, y, z] (3 numbers), found \(items.count) item\(items.count == 1 ? "" : "s")")
        }
        var xyz: [Float] = []
        for item in items {
            let number = try item.float()
            guard number.isFinite else { throw item.error("number is too large") }
            xyz.append(number)
        }
        return Vec3(xyz[0], xyz[1], xyz[2])
    }

    static func worldBounds(_ value: YAMLValue) throws(DocumentError) -> WorldBounds {
        let map = try value.mapping(allowedKeys: ["min", "max"])
        let minValue = try map.required("min")
        let maxValue = try map.required("max")
        let lo = try vector(minValue)
        let hi = try vector(maxValue)
        try requireIncreasing(lo, hi, at: maxValue, minName: "bounds.min")
        return WorldBounds(min: lo, max: hi)
    }

    static func requireIncreasing(_ lo: Vec3, _ hi: Vec3, at value: YAMLValue, minName: String) throws(DocumentError) {
        for (axis, l, h) in [("x", lo.x, hi.x), ("y", lo.y, hi.y), ("z", lo.z, hi.z)] where h <= l {
            throw value.error("must be greater than \(minName) on every axis, but \(axis) is \(show(h)) ≤ \(show(l))")
        }
    }

    /// Describes the first way the box `lo…hi` pokes out of `bounds`, or nil when it fits.
    static func outside(_ lo: Vec3, _ hi: Vec3, of bounds: WorldBounds) -> String? {
        let axes: [(String, Float, Float, Float, Float)] = [
            ("x", lo.x, hi.x, bounds.min.x, bounds.max.x),
            ("y", lo.y, hi.y, bounds.min.y, bounds.max.y),
            ("z", lo.z, hi.z, bounds.min.z, bounds.max.z),
        ]
        for (axis, l, h, bl, bh) in axes {
            if l < bl { return "\(axis) goes down to \(show(l)), below bounds.min.\(axis) = \(show(bl))" }
            if h > bh { return "\(axis) goes up to \(show(h)), above bounds.max.\(axis) = \(show(bh))" }
        }
        return nil
    }

    static func show(_ value: Float) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : "\(value)"
    }

    static func show(_ v: Vec3) -> String { "[\(show(v.x)), \(show(v.y)), \(show(v.z))]" }
}
