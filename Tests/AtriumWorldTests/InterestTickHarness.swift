import AtriumWire
import AtriumWorld

/// One server tick of interest work for every recipient, as the server would do it: classify every
/// avatar, bring the grid up to date, then per recipient relevance, priority accumulation and
/// selection under the bit budget.
struct InterestTickHarness {
    let world: WorldDefinition
    let context: InterestContext
    var crowd: WalkingCrowd
    var grid: SpatialGrid
    var table: InterestAvatarTable
    var relevance: [RelevanceSet]
    var schedulers: [PriorityScheduler]
    let radius: Float
    let margin: Float
    let budgetBits: Int
    let maxAvatars: Int
    var tickNumber = 0
    var positionList: [(UInt16, Vec3)] = []
    /// One selection scratch for every recipient (stays hot in cache).
    var scratch = SelectionScratch()

    /// Totals of the last tick.
    var relevantPairs = 0
    var selectedPairs = 0
    var deferredPairs = 0
    var deferredByRatePairs = 0
    var enteredPairs = 0
    var leftPairs = 0
    /// Order-dependent digest of everything selected (for determinism checks).
    var digest: UInt64 = 0xCBF2_9CE4_8422_2325

    /// Snapshot header in bits: type u8, sequence u32, time u64, baseline u32, part u8, parts u8, count u16.
    static let headerBits = 8 + 32 + 64 + 32 + 8 + 8 + 16

    init(world: WorldDefinition, count: Int, seed: UInt64 = 1, strategy: SpatialGrid.Strategy = .incremental,
         rateBitsPerSecond: Int = 256_000, maxAvatars: Int = 128, cellSize: Float? = nil, sendThreshold: Float = 0) {
        self.world = world
        context = InterestContext(world: world)
        crowd = WalkingCrowd(count: count, world: world, seed: seed)
        grid = SpatialGrid(
            bounds: world.bounds, cellSize: cellSize ?? world.interestRadius, capacity: count, strategy: strategy)
        table = InterestAvatarTable(capacity: count)
        relevance = Array(repeating: RelevanceSet(), count: count)
        schedulers = Array(repeating: PriorityScheduler(sendThreshold: sendThreshold), count: count)
        radius = world.interestRadius
        margin = world.interestRadius * 0.1
        budgetBits = rateBitsPerSecond / world.tickRate - Self.headerBits
        self.maxAvatars = maxAvatars
    }

    /// Bits one avatar takes in a snapshot: id u16 + last input u32 + pose (flags, position at 1 mm,
    /// head rotation) + both hands for every other avatar.
    static func cost(_ id: UInt16) -> Int { 16 + 32 + 8 + 50 + 32 + (id & 1 == 0 ? 124 : 0) }

    /// Moves the crowd by one tick (not part of the interest work).
    mutating func moveCrowd() {
        crowd.step(dt: 1 / Float(world.tickRate))
    }

    /// Classification and grid (once per tick, shared by every recipient).
    mutating func prepare() {
        table.removeAll()
        let walkers = crowd.walkers
        for i in walkers.indices {
            let w = walkers[i]
            let id = UInt16(i)
            let role: Role = i % 250 == 7 ? .presenter : .visitor
            table.insert(InterestAvatar(
                id: id, position: w.position, forward: WalkingCrowd.direction(w.heading), role: role,
                speakingRecently: i % 10 == 3, zoneContext: context.zoneContext(position: w.position, role: role)))
            if grid.strategy == .incremental { grid.update(id: id, position: w.position) }
        }
        if grid.strategy == .rebuildPerTick {
            if positionList.count != walkers.count {
                positionList = walkers.indices.map { (UInt16($0), walkers[$0].position) }
            }
            for i in walkers.indices { positionList[i].1 = walkers[i].position }
            grid.rebuild(from: positionList)
        }
    }

    /// Relevance, accumulation and selection for every recipient.
    mutating func recipients() {
        relevantPairs = 0
        selectedPairs = 0
        deferredPairs = 0
        deferredByRatePairs = 0
        enteredPairs = 0
        leftPairs = 0
        // Local copies for the loop: passing them on is then a borrow, not a copy per call.
        let table = self.table
        let grid = self.grid
        for i in relevance.indices {
            guard let me = table[UInt16(i)] else { continue }
            let changes = relevance[i].update(
                recipient: me, grid: grid, table: table, enterRadius: radius, leaveMargin: margin)
            relevantPairs += changes.relevant.count
            enteredPairs += changes.entered.count
            leftPairs += changes.left.count
            schedulers[i].accumulate(recipient: me, relevant: changes.relevant, table: table, radius: radius)
            // A walking crowd: everyone relevant has changed.
            let pick = schedulers[i].select(
                candidates: changes.relevant, cost: Self.cost, budgetBits: budgetBits, maxAvatars: maxAvatars,
                scratch: &scratch)
            selectedPairs += pick.selected.count
            deferredPairs += pick.deferred
            deferredByRatePairs += pick.deferredByRate
            for id in pick.selected { digest = (digest ^ UInt64(id)) &* 0x100_0000_01B3 }
            digest = (digest ^ UInt64(i)) &* 0x100_0000_01B3
        }
    }

    mutating func tick() {
        moveCrowd()
        prepare()
        recipients()
        tickNumber += 1
    }
}
