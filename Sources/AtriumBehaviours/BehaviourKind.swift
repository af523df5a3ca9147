import AtriumWire

/// What a bot does. Each world has its own repertoire; docs/LOADTESTS.md describes each.
public enum BehaviourKind: String, CaseIterable, Sendable {
    // expo hall
    case wander
    case visitBooths = "visit_booths"
    case gatherStage = "gather_stage"
    case presenter
    // village assembly
    case takeSeat = "take_seat"
    case raiseHand = "raise_hand"
    case podiumSpeaker = "podium_speaker"
    // classroom
    case sitListen = "sit_listen"
    case breakout
    case teacher

    /// The role a bot doing this asks for.
    public var role: Role {
        switch self {
        case .presenter: return .presenter
        case .teacher: return .teacher
        case .sitListen, .breakout: return .student
        case .takeSeat, .raiseHand: return .villager
        case .podiumSpeaker: return .villageHead
        case .wander, .visitBooths, .gatherStage: return .visitor
        }
    }
}
