import AtriumWire
import AtriumWorld

/// A booth to visit: where to stand, what to face, and the booth next to it for a quick look.
struct Booth: Sendable {
    var area: Footprint
    var center: P2
    var neighbour: P2?
}

/// What a bot does over the whole run, fixed when it is made; `BotBehaviour.nextActivity` unrolls it into
/// activities.
enum Plan: Sendable {
    /// Random walk: points within 25 m, short pauses looking around.
    case wander
    /// Booth to booth, 10–60 s at each.
    case booths([Booth])
    /// Stand or sit in the audience of a stage, facing it; long dwells, then another spot.
    case gather(Venue, first: P2, grid: Venue.Grid, used: Int, posture: Posture)
    /// Presenter or teacher: pace on the platform within `lane` (across), facing the audience.
    case pace(Venue, lane: ClosedRange<Float>)
    /// Sit at `spot` facing the front for the whole run.
    case seated(Venue, spot: P2, raisesHand: Bool)
    /// Podium speaker `turn` of `turns`: at the podium in its slots, otherwise at `seat`.
    case podium(Venue, seat: P2, turn: Int, turns: Int)
    /// Walk into the broadcast room, stand at `spot` facing `focus` (its far wall) and speak there for good.
    case broadcast(spot: P2, focus: P2)
    /// A classroom place (a seat, or standing at the back); with `rooms`, breakout sessions in `rooms[room]`.
    case classroom(Venue, place: P2, posture: Posture, rooms: [Footprint], room: Int)

    var isWander: Bool {
        if case .wander = self { return true }
        return false
    }

    var raisesHand: Bool {
        if case .seated(_, _, let raises) = self { return raises }
        return false
    }

    /// Podium slots: 30 s each; speaker k holds slots where slot % count == k, arriving no earlier than 3 s into
    /// the slot and leaving 5 s before its end, so the outgoing speaker is off the podium before the next arrives.
    static let slotSeconds: Double = 30
    static let podiumHandover: Double = 3
    static let podiumLeaveEarly: Double = 5

    static func holdsPodium(at now: Double, turn: Int, turns: Int) -> Bool {
        guard turns > 1 else { return true }
        let slot = (now / slotSeconds).rounded(.down)
        let mine = Int(slot.truncatingRemainder(dividingBy: Double(turns)) + Double(turns)) % turns == turn % turns
        guard mine else { return false }
        let into = now - slot * slotSeconds
        return into >= podiumHandover && into < slotSeconds - podiumLeaveEarly
    }

    // MARK: - Making plans

    static func make(
        _ kind: BehaviourKind, context: BotContext, layout: WorldLayout, random: inout SeededRandom
    ) -> Plan {
        let world = context.world
        func zones(_ kind: ZoneKind) -> [Zone] { world.zones.filter { $0.kind == kind } }
        func jitter(_ p: P2, _ amount: Float = 0.15) -> P2 {
            layout.safe.clamp(p + P2(random.uniform(-amount...amount), random.uniform(-amount...amount)))
        }
        let kindIndex = max(0, context.kindIndex)
        let kindCount = max(1, context.kindCount, kindIndex + 1)

        switch kind {
        case .wander:
            return .wander

        case .visitBooths:
            let areas = zones(.booth).map { Footprint($0) }
            guard !areas.isEmpty else { return .wander }
            let booths = areas.enumerated().map { i, area in
                let others = areas.enumerated().filter { $0.offset != i }.map(\.element.center)
                let neighbour = others.min { P2.distance($0, area.center) < P2.distance($1, area.center) }
                return Booth(area: area, center: area.center, neighbour: neighbour)
            }
            return .booths(booths)

        case .gatherStage:
            guard let stage = largest(zones(.stage)) else { return .wander }
            let venue = Venue.around(stage, in: world, layout: layout)
            let grid = Venue.Grid(venue, spacing: 1.0, margin: 0.5)
            let used = usedSpots(grid, context: context, reserveFrontRow: false)
            let first = jitter(grid.spot(used.first + scatter(context.botIndex, slots: used.count, salt: context.seed)))
            return .gather(
                venue, first: first, grid: grid, used: used.first + used.count,
                posture: random.chance(0.55) ? .seated : .standing)

        case .presenter:
            guard let stage = largest(zones(.stage)) else { return .wander }
            let venue = Venue.around(stage, in: world, layout: layout)
            return .pace(venue, lane: lane(venue, index: kindIndex, count: kindCount))

        case .teacher:
            guard let room = largest(zones(.teacher)) else { return .wander }
            let venue = Venue.around(room, in: world, layout: layout)
            return .pace(venue, lane: lane(venue, index: kindIndex, count: kindCount))

        case .takeSeat, .raiseHand:
            guard let seating = mainSeating(world) else { return .wander }
            let venue = Venue.forSeating(seating, in: world, layout: layout)
            let grid = Venue.Grid(venue, spacing: 1.0, margin: 0.5)
            let reserve = front(of: seating, in: world)?.kind == .podium
            let used = usedSpots(grid, context: context, reserveFrontRow: reserve)
            let spot = jitter(grid.spot(used.first + scatter(context.botIndex, slots: used.count, salt: context.seed)))
            return .seated(venue, spot: spot, raisesHand: kind == .raiseHand)

        case .podiumSpeaker:
            guard let podium = largest(zones(.podium)) else { return .wander }
            let venue = Venue.around(podium, in: world, layout: layout)
            // Speakers wait in the front row, from the middle outwards, so the walk up is short.
            let grid = Venue.Grid(venue, spacing: 1.0, margin: 0.5)
            let seat = jitter(grid.spot(kindIndex % grid.perRow), 0.1)
            return .podium(venue, seat: seat, turn: kindIndex % kindCount, turns: kindCount)

        case .villageHeadBroadcast:
            guard let room = largest(zones(.broadcastRoom)) else { return .wander }
            let r = layout.safe(Footprint(room).bounds.inset(0.5))
            // Several heads stand side by side along the room's long axis, each facing the wall across it.
            let u = Float(kindIndex % kindCount + 1) / Float(kindCount + 1)
            let alongX = r.width >= r.depth
            let spot = alongX ? P2(r.minX + u * r.width, r.center.z) : P2(r.center.x, r.minZ + u * r.depth)
            let focus = alongX ? P2(spot.x, r.minZ) : P2(r.minX, spot.z)
            return .broadcast(spot: jitter(spot, 0.1), focus: focus)

        case .sitListen, .breakout:
            let seats = zones(.seat)
            guard !seats.isEmpty else { return .wander }
            let rooms = kind == .breakout ? zones(.breakout).map { Footprint($0) } : []
            if kind == .breakout && rooms.isEmpty { return .wander }
            let seating =
                world.zones.filter { $0.kind == .seating && $0.shape.encloses(seats[0].shape) }
                .min { $0.volume < $1.volume } ?? seats[0]
            let venue = Venue.forSeating(seating, in: world, layout: layout)
            // Front row first, then left to right (as the audience sees it doesn't matter: it is only an order).
            let ordered = seats.map { Footprint($0).center }.sorted {
                let a0 = (venue.along($0) * 4).rounded()
                let a1 = (venue.along($1) * 4).rounded()
                return a0 != a1 ? a0 > a1 : venue.across($0) < venue.across($1)
            }
            // sit_listen fills seats from the front, breakout from the back, so the two kinds share a room
            // without sharing seats while there are enough; the rest stand at the back.
            let place: P2
            let posture: Posture
            if kindIndex < ordered.count {
                place = jitter(ordered[kind == .sitListen ? kindIndex : ordered.count - 1 - kindIndex], 0.1)
                posture = .seated
            } else {
                let extra = kindIndex - ordered.count
                place = jitter(venue.standingBehind(kind == .sitListen ? 2 * extra : 2 * extra + 1), 0.1)
                posture = .standing
            }
            return .classroom(
                venue, place: place, posture: posture, rooms: rooms, room: kindIndex % max(1, rooms.count))
        }
    }

    static func largest(_ zones: [Zone]) -> Zone? {
        zones.max { $0.volume < $1.volume }
    }

    /// The seating zone seated behaviours use: one that faces a podium, teacher or stage zone if any, else the
    /// largest.
    static func mainSeating(_ world: WorldDefinition) -> Zone? {
        let seatings = world.zones.filter { $0.kind == .seating }
        return seatings.filter { front(of: $0, in: world) != nil }.max { $0.volume < $1.volume }
            ?? seatings.max { $0.volume < $1.volume }
    }

    /// The innermost podium, teacher or stage zone around a seating zone.
    static func front(of seating: Zone, in world: WorldDefinition) -> Zone? {
        world.zones.filter {
            ($0.kind == .podium || $0.kind == .teacher || $0.kind == .stage) && $0.shape.encloses(seating.shape)
        }.min { $0.volume < $1.volume }
    }

    /// The grid spots a run's bots are spread over: the front-most ones, about 15 % more than there are bots,
    /// after the front row if that is kept for podium speakers.
    static func usedSpots(_ grid: Venue.Grid, context: BotContext, reserveFrontRow: Bool) -> (first: Int, count: Int) {
        let first = reserveFrontRow && grid.rows > 1 ? grid.perRow : 0
        let available = grid.count - first
        let wanted = Int((Double(max(1, context.botCount)) * 1.15).rounded(.up))
        return (first, max(1, min(available, wanted)))
    }

    /// Speaker `index` of `count` paces in its share of the venue's lane, at most 3 m either side of its middle.
    static func lane(_ venue: Venue, index: Int, count: Int) -> ClosedRange<Float> {
        let width = (venue.lane.upperBound - venue.lane.lowerBound) / Float(count)
        let mid = venue.lane.lowerBound + width * (Float(index % count) + 0.5)
        let half = min(3, width / 2)
        return (mid - half)...(mid + half)
    }
}
