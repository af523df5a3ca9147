import AtriumWire
import AtriumWorld

/// A visitor who strolls between random points and pauses to look around: `BotBehaviour` of kind `.wander` in a
/// world known only by its bounds. Kept for callers that have no `WorldDefinition` (the pre-behaviour runner).
public struct WanderBehaviour: Sendable {
    var behaviour: BotBehaviour

    public init(bounds: WorldBounds, start: Vec3, seed: UInt64) {
        let world = WorldDefinition(
            id: "bounds", name: "bounds", bounds: bounds, interestRadius: 1, capacity: 1, allowedRoles: [.visitor],
            defaultRole: .visitor, spawnPoints: [], zones: [])
        behaviour = BotBehaviour(kind: .wander, context: BotContext(world: world, seed: seed), start: start)
    }

    /// Adopts the server's position (the spawn point, or a rubber-band correction).
    public mutating func resync(to head: Vec3) { behaviour.resync(to: head) }

    /// The pose at `seconds` since the run started.
    public mutating func pose(at seconds: Double) -> AvatarPose { behaviour.step(at: seconds).pose }
}
