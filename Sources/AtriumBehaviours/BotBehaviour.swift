import AtriumWire
import AtriumWorld

/// Everything a bot's behaviour is built from.
public struct BotContext: Sendable {
    public var world: WorldDefinition
    /// This bot among all bots of the run (0..<botCount).
    public var botIndex: Int
    public var botCount: Int
    /// Index and count among bots with the same behaviour kind.
    public var kindIndex: Int
    public var kindCount: Int
    /// The run's seed. Each bot mixes in its `botIndex`, and choices bots must agree on (who sits where) use
    /// it directly, so one seed reproduces the whole run.
    public var seed: UInt64
    /// 0…1: the share of time an ordinary bot talks.
    public var voiceDutyCycle: Double

    public init(
        world: WorldDefinition, botIndex: Int = 0, botCount: Int = 1, kindIndex: Int = 0, kindCount: Int = 1,
        seed: UInt64, voiceDutyCycle: Double = 0
    ) {
        self.world = world
        self.botIndex = botIndex
        self.botCount = botCount
        self.kindIndex = kindIndex
        self.kindCount = kindCount
        self.seed = seed
        self.voiceDutyCycle = voiceDutyCycle
    }
}

/// What a bot does at one moment.
public struct BotIntent: Sendable, Equatable {
    /// `pose.speaking` mirrors `talking`.
    public var pose: AvatarPose
    public var talking: Bool

    public init(pose: AvatarPose, talking: Bool) {
        self.pose = pose
        self.talking = talking
    }
}

/// One bot's behaviour: a short plan of activities (walk somewhere, dwell looking at something, sit, present)
/// turned into head and hand poses the way a person in a headset moves. Pure: time in, pose out; all randomness
/// comes from the context's seed.
///
/// Every pose stays inside the world bounds (heads keep 0.5 m from the walls unless the server puts them
/// closer, then they back off), moves at most 1.6 m/s and never more than 0.95 m between two steps however long
/// the gap, keeps hands within 0.88 m of the head, and is finite with unit quaternions.
public struct BotBehaviour: Sendable {
    /// The behaviour asked for.
    public let kind: BehaviourKind
    /// The behaviour carried out: `kind`, or `.wander` when the world lacks the zones `kind` needs.
    public let effectiveKind: BehaviourKind

    let layout: WorldLayout
    let plan: Plan
    let duty: Double
    let walkSpeed: Float
    let paceSpeed: Float
    var random: SeededRandom
    var body: Body
    var activity: Activity?
    var voice: Voice?
    var attention: Attention?
    var raise = RaiseSchedule()
    var lastTime: Double?
    var lastBooth = -1
    var activities = 0

    /// Longest time one step may cover: after a longer gap the bot carries on from where it was.
    static let maxStepSeconds: Double = 0.6

    public init(kind: BehaviourKind, context: BotContext, start: Vec3) {
        self.kind = kind
        layout = WorldLayout(context.world)
        var random = SeededRandom(seed: context.seed, index: UInt64(truncatingIfNeeded: context.botIndex))
        let stand = random.uniform(Float(1.5)...Float(1.8))
        let seat = 1.15 + (stand - 1.5) * 0.3
        walkSpeed = random.uniform(Float(0.9)...Float(1.4))
        paceSpeed = random.uniform(Float(0.45)...Float(0.7))
        duty = context.voiceDutyCycle.isFinite ? min(1, max(0, context.voiceDutyCycle)) : 0
        let plan = Plan.make(kind, context: context, layout: layout, random: &random)
        self.plan = plan
        effectiveKind = plan.isWander ? .wander : kind
        let spawn = context.world.spawnPoints.min {
            P2.distance(P2($0.position), P2(start)) < P2.distance(P2($1.position), P2(start))
        }
        let heading: Float
        if let spawn, P2.distance(P2(spawn.position), P2(start)) < 2 {
            heading = spawn.yaw
        } else {
            heading = random.uniform(Float(-3.14159)...Float(3.14159))
        }
        let safeStart = start.isFinite ? start : Vec3(layout.safe.center.x, layout.floor + stand, layout.safe.center.z)
        body = Body(
            floor: layout.floor, standHeight: min(stand, layout.headroom), seatHeight: min(seat, layout.headroom),
            bounds: layout.bounds, safe: layout.safe, start: layout.bounds.clamp(safeStart), heading: heading,
            random: &random)
        self.random = random
    }

    /// The server corrected our head position (rubber-band): carry on from there.
    public mutating func resync(to head: Vec3) {
        body.resync(to: layout.bounds.clamp(head))
    }

    /// The intent at `seconds` since the run started. Times should not go backwards; if they do, the step
    /// counts as no time passing.
    public mutating func step(at seconds: Double) -> BotIntent {
        let requested = seconds.isFinite ? seconds : (lastTime ?? 0)
        let now = max(requested, lastTime ?? requested)
        let dt = Float(min(Self.maxStepSeconds, now - (lastTime ?? now)))
        lastTime = now
        if voice == nil {
            voice = Voice(.ordinary(duty: duty), now: now, random: &random)
            attention = Attention(now: now, random: &random)
        }
        updatePlan(now: now)
        var current = activity!

        let presentingNow =
            current.presenting == .always || (current.presenting == .onArrival && current.arrivedAt != nil)
        voice!.change(to: presentingNow ? .speaker : .ordinary(duty: duty), now: now, random: &random)
        let talking = voice!.update(now: now, random: &random)
        let listening = body.settled && current.focus != nil && !presentingNow
        let look = attention!.update(now: now, listening: listening, random: &random)

        var glancePoint: Vec3?
        if let glance = current.glance, let arrived = current.arrivedAt {
            let u = now - arrived
            if u >= glance.after && u < glance.after + glance.length { glancePoint = glance.point }
        }
        let seated = body.seatedness > 0.5
        let gesture: Float = presentingNow ? (talking ? 1 : 0.45) : (talking ? (seated ? 0.25 : 0.5) : 0)
        let raising = raise.update(
            now: now, active: plan.raisesHand && current.tag == .seat && body.settled && body.seatedness > 0.9,
            random: &random)
        let intent = Intent(
            anchor: current.anchor, speed: current.speed, posture: current.posture, focus: current.focus,
            watchWhileWalking: current.presenting == .always, glancePoint: glancePoint, glanceYaw: look.yaw,
            nod: look.nod, gesture: gesture, raiseHand: raising)
        var (pose, arrived) = body.step(dt: dt, t: now, intent: intent)
        if arrived && current.arrivedAt == nil {
            current.arrivedAt = now
            activity = current
        }
        pose.speaking = talking
        return BotIntent(pose: pose, talking: talking)
    }

    /// Moves on to the next activity when the current one is over (or the schedule says so).
    mutating func updatePlan(now: Double) {
        if case .podium(let venue, let seat, let turn, let turns) = plan, let current = activity {
            let wanted = Plan.holdsPodium(at: now, turn: turn, turns: turns)
            if wanted != (current.tag == .podium) {
                activity = wanted ? podiumActivity(venue) : seatActivity(venue, seat: seat)
                body.settled = false
            }
            return
        }
        if let current = activity {
            guard let arrived = current.arrivedAt, now >= arrived + current.dwell else { return }
        }
        activity = nextActivity(now: now)
        activities += 1
        body.settled = false
    }

    // MARK: - Activities

    mutating func nextActivity(now: Double) -> Activity {
        let floor = layout.floor
        switch plan {
        case .wander:
            let reach: Float = 25
            let p = layout.safe.clamp(
                body.position + P2(random.uniform(-reach...reach), random.uniform(-reach...reach)))
            return Activity(
                tag: .roam, anchor: p, speed: walkSpeed, posture: .standing, focus: nil,
                dwell: random.uniform(1.0...6.0))

        case .booths(let booths):
            var pick = random.index(below: booths.count)
            if booths.count > 1 && pick == lastBooth {
                pick = (pick + 1 + random.index(below: booths.count - 1)) % booths.count
            }
            lastBooth = pick
            let booth = booths[pick]
            var spot = booth.area.randomPoint(inset: 1.5, safe: layout.safe, &random)
            for _ in 0..<4 where P2.distance(spot, booth.center) < 1.5 {
                spot = booth.area.randomPoint(inset: 1.5, safe: layout.safe, &random)
            }
            let dwell = random.uniform(10.0...60.0)
            var glance: PlannedGlance?
            if let neighbour = booth.neighbour, random.chance(0.5) {
                glance = PlannedGlance(
                    point: neighbour.at(y: floor + 1.4), after: dwell * random.uniform(0.2...0.7),
                    length: random.uniform(1.5...3.5))
            }
            return Activity(
                tag: .booth, anchor: spot, speed: walkSpeed, posture: .standing, focus: booth.center.at(y: floor + 1.3),
                dwell: dwell, glance: glance)

        case .gather(let venue, let first, let grid, let used, let posture):
            let spot = activities == 0 ? first : jitter(grid.spot(random.index(below: used)))
            return Activity(
                tag: .audience, anchor: spot, speed: walkSpeed, posture: posture,
                focus: venue.speakerSpot.at(y: floor + 1.7), dwell: random.uniform(120.0...400.0))

        case .pace(let venue, let lane):
            let a = venue.alongRange(venue.platform)
            let along = clamp(
                venue.speakerLine + random.uniform(Float(-0.8)...Float(0.8)), min(a.lo + 0.3, a.hi),
                max(a.hi - 0.3, a.lo))
            let spot = layout.safe.clamp(venue.point(along: along, across: random.uniform(lane)))
            let first = activities == 0
            return Activity(
                tag: .stage, anchor: spot, speed: first ? walkSpeed : paceSpeed, posture: .standing,
                focus: venue.audienceCenter.at(y: floor + 1.3), dwell: random.uniform(3.0...10.0),
                presenting: first ? .onArrival : .always)

        case .seated(let venue, let spot, _):
            return seatActivity(venue, seat: spot)

        case .podium(let venue, let seat, let turn, let turns):
            return Plan.holdsPodium(at: now, turn: turn, turns: turns)
                ? podiumActivity(venue) : seatActivity(venue, seat: seat)

        case .broadcast(let spot, let focus):
            return Activity(
                tag: .broadcast, anchor: spot, speed: walkSpeed, posture: .standing, focus: focus.at(y: floor + 1.5),
                dwell: .infinity, presenting: .onArrival)

        case .classroom(let venue, let place, let posture, let rooms, let room):
            if let current = activity, current.tag == .seat, !rooms.isEmpty {
                let area = rooms[room]
                let spot = area.randomPoint(inset: 0.8, safe: layout.safe, &random)
                return Activity(
                    tag: .breakout, anchor: spot, speed: walkSpeed, posture: .standing,
                    focus: area.center.at(y: floor + 1.5), dwell: random.uniform(30.0...60.0))
            }
            return Activity(
                tag: .seat, anchor: place, speed: walkSpeed, posture: posture,
                focus: venue.speakerSpot.at(y: floor + 1.7),
                dwell: rooms.isEmpty ? .infinity : random.uniform(60.0...120.0))
        }
    }

    func seatActivity(_ venue: Venue, seat: P2) -> Activity {
        Activity(
            tag: .seat, anchor: seat, speed: walkSpeed, posture: .seated,
            focus: venue.speakerSpot.at(y: layout.floor + 1.7), dwell: .infinity)
    }

    mutating func podiumActivity(_ venue: Venue) -> Activity {
        let spot = layout.safe.clamp(
            venue.speakerSpot + venue.sideways * random.uniform(Float(-0.4)...Float(0.4)))
        return Activity(
            tag: .podium, anchor: spot, speed: walkSpeed, posture: .standing,
            focus: venue.audienceCenter.at(y: layout.floor + 1.3), dwell: .infinity, presenting: .onArrival)
    }

    mutating func jitter(_ p: P2) -> P2 {
        layout.safe.clamp(
            p + P2(random.uniform(Float(-0.15)...Float(0.15)), random.uniform(Float(-0.15)...Float(0.15))))
    }
}

/// One activity: go to `anchor`, then hold `posture` facing `focus` for `dwell` seconds.
struct Activity: Sendable {
    enum Tag: Sendable, Equatable {
        case roam, booth, audience, stage, seat, podium, breakout, broadcast
    }

    enum Presenting: Sendable, Equatable {
        case never
        /// Once at the anchor.
        case onArrival
        /// On the way too (pacing between spots on a stage).
        case always
    }

    var tag: Tag
    var anchor: P2
    var speed: Float
    var posture: Posture
    var focus: Vec3?
    var dwell: Double
    var presenting: Presenting = .never
    var glance: PlannedGlance?
    var arrivedAt: Double?
}

/// A quick look at something else, `after` seconds into the dwell, for `length` seconds.
struct PlannedGlance: Sendable {
    var point: Vec3
    var after: Double
    var length: Double
}

/// Raised hands for `raise_hand`: 5–10 s up, starting every 30–90 s while seated.
struct RaiseSchedule: Sendable {
    var next: Double?
    var until: Double = -1

    mutating func update(now: Double, active: Bool, random: inout SeededRandom) -> Bool {
        guard active else {
            until = min(until, now)
            return false
        }
        guard let due = next else {
            next = now + random.uniform(5.0...40.0)
            return false
        }
        if now >= due {
            until = now + random.uniform(5.0...10.0)
            next = now + random.uniform(30.0...90.0)
        }
        return now < until
    }
}
