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
    /// The village head in the broadcast room: an announcement the whole village hears.
    case villageHeadBroadcast = "village_head_broadcast"
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
        case .podiumSpeaker, .villageHeadBroadcast: return .villageHead
        case .wander, .visitBooths, .gatherStage: return .visitor
        }
    }
}
