// TEMPORARY: replaced by AtriumWire's definitions at merge
//
// Stand-ins for `Role` and `WorldBounds`, which AtriumWire is about to provide with exactly
// this public surface. AtriumWorld uses only the members declared here. Delete this file when
// AtriumWire's definitions land.
import AtriumWire

public enum Role: UInt8, CaseIterable, Sendable {
    case visitor, exhibitor, presenter, moderator, teacher, student, villager, villageHead

    public var name: String {
        switch self {
        case .visitor: return "visitor"
        case .exhibitor: return "exhibitor"
        case .presenter: return "presenter"
        case .moderator: return "moderator"
        case .teacher: return "teacher"
        case .student: return "student"
        case .villager: return "villager"
        case .villageHead: return "village_head"
        }
    }

    public init?(name: String) {
        guard let role = Role.allCases.first(where: { $0.name == name }) else { return nil }
        self = role
    }
}

public struct WorldBounds: Equatable, Sendable {
    public var min: Vec3
    public var max: Vec3

    public init(min: Vec3, max: Vec3) {
        self.min = min
        self.max = max
    }

    public func contains(_ p: Vec3) -> Bool {
        p.x >= min.x && p.x <= max.x && p.y >= min.y && p.y <= max.y && p.z >= min.z && p.z <= max.z
    }

    public func clamp(_ p: Vec3) -> Vec3 {
        Vec3(
            Swift.min(Swift.max(p.x, min.x), max.x),
            Swift.min(Swift.max(p.y, min.y), max.y),
            Swift.min(Swift.max(p.z, min.z), max.z))
    }
}
