import AtriumWire
import AtriumWorld
import Foundation
import Testing

@Suite struct InterestGridTests {
    let bounds = WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 12, 100))

    /// Every id within `radius` (x–z) of `point`, by brute force.
    func near(_ point: Vec3, _ radius: Float, in positions: [UInt16: Vec3]) -> Set<UInt16> {
        Set(positions.filter { let d = $0.value - point; return d.x * d.x + d.z * d.z <= radius * radius }.keys)
    }

    func candidates(_ grid: SpatialGrid, _ point: Vec3, _ radius: Float) -> [UInt16] {
        var out: [UInt16] = []
        grid.forEachCandidate(near: point, radius: radius) { out.append($0) }
        return out
    }

    @Test(arguments: SpatialGrid.Strategy.allCases)
    func candidatesCoverEveryIdWithinTheRadiusOnce(strategy: SpatialGrid.Strategy) {
        var rng = InterestRNG(seed: 7)
        var grid = SpatialGrid(bounds: bounds, cellSize: 20, strategy: strategy)
        var positions: [UInt16: Vec3] = [:]
        for tick in 0..<20 {
            // Move, add and drop avatars; some stray outside the bounds.
            for _ in 0..<200 {
                let id = UInt16(rng.next() % 600)
                if rng.next() % 10 == 0 {
                    positions[id] = nil
                } else {
                    positions[id] = Vec3(rng.float(-110...110), 1.6, rng.float(-110...110))
                }
            }
            let list = positions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            grid.sync(list)
            #expect(grid.count == positions.count)
            #expect(grid.allIds == list.map(\.0))
            for _ in 0..<50 {
                let point = Vec3(rng.float(-120...120), 1.6, rng.float(-120...120))
                let radius = rng.float(0...45)
                let found = candidates(grid, point, radius)
                #expect(Set(found).count == found.count, "tick \(tick): an id was visited twice")
                #expect(near(point, radius, in: positions).isSubset(of: Set(found)), "tick \(tick)")
            }
        }
    }

    @Test func incrementalUpdatesMatchARebuild() {
        var rng = InterestRNG(seed: 11)
        var incremental = SpatialGrid(bounds: bounds, cellSize: 20)
        var rebuilt = SpatialGrid(bounds: bounds, cellSize: 20, strategy: .rebuildPerTick)
        var list: [(UInt16, Vec3)] = (0..<300).map { (UInt16($0), Vec3(rng.float(-99...99), 1.6, rng.float(-99...99))) }
        for _ in 0..<30 {
            for i in list.indices { list[i].1 = list[i].1 + Vec3(rng.float(-3...3), 0, rng.float(-3...3)) }
            for (id, p) in list { incremental.update(id: id, position: p) }
            rebuilt.rebuild(from: list)
            for _ in 0..<20 {
                let point = Vec3(rng.float(-100...100), 1.6, rng.float(-100...100))
                #expect(Set(candidates(incremental, point, 20)) == Set(candidates(rebuilt, point, 20)))
            }
            #expect(incremental.position(of: 5) == list[5].1)
        }
    }

    @Test func removeAndSwitchingBetweenStrategies() {
        var grid = SpatialGrid(bounds: bounds, cellSize: 20)
        grid.update(id: 1, position: Vec3(0, 1.6, 0))
        grid.update(id: 2, position: Vec3(1, 1.6, 0))
        grid.update(id: 3, position: Vec3(2, 1.6, 0))
        grid.remove(id: 2)
        grid.remove(id: 2)  // not there any more: nothing happens
        grid.remove(id: 999)
        #expect(grid.count == 2)
        #expect(Set(candidates(grid, Vec3(0, 0, 0), 5)) == [1, 3])
        // Crossing into the next cell and back.
        grid.update(id: 3, position: Vec3(25, 1.6, 0))
        #expect(Set(candidates(grid, Vec3(0, 0, 0), 5)) == [1])
        #expect(Set(candidates(grid, Vec3(25, 0, 0), 1)) == [3])
        // A rebuild replaces everything; later incremental updates start from it.
        grid.rebuild(from: [(7, Vec3(-50, 1.6, -50)), (8, Vec3(-51, 1.6, -50)), (7, Vec3(-52, 1.6, -50))])
        #expect(grid.count == 2)
        #expect(!grid.contains(1))
        #expect(grid.position(of: 7) == Vec3(-52, 1.6, -50))
        #expect(Set(candidates(grid, Vec3(-50, 0, -50), 5)) == [7, 8])
        grid.update(id: 8, position: Vec3(60, 1.6, 60))
        grid.remove(id: 7)
        #expect(grid.allIds == [8])
        #expect(candidates(grid, Vec3(60, 0, 60), 1) == [8])
        grid.removeAll()
        #expect(grid.count == 0 && candidates(grid, Vec3(60, 0, 60), 100).isEmpty)
    }

    @Test func cellSizeFollowsTheWorldsInterestRadius() throws {
        let world = try loadShipped("expo-hall.yaml")
        let grid = SpatialGrid(world: world)
        #expect(grid.cellSize == world.interestRadius)
        #expect(grid.columns == 10 && grid.rows == 10)
        // A huge world with a tiny radius gets larger cells rather than millions of them.
        let huge = SpatialGrid(bounds: WorldBounds(min: Vec3(-1e6, 0, -1e6), max: Vec3(1e6, 1, 1e6)), cellSize: 1)
        #expect(huge.columns * huge.rows <= 1025 * 1025)
    }

    @Test func oddInputsAreKeptNotLost() {
        var grid = SpatialGrid(bounds: bounds, cellSize: 20)
        grid.update(id: 4, position: Vec3(.nan, 0, .infinity))
        grid.update(id: 5, position: Vec3(-1e9, 0, 1e9))
        #expect(grid.count == 2)
        #expect(candidates(grid, Vec3(0, 0, 0), -1).isEmpty)
        // Out-of-bounds positions sit in edge cells, which a query near that edge reaches.
        #expect(candidates(grid, Vec3(-100, 0, 100), 1).contains(5))
    }

    /// Measurement (prints only): keeping the grid current for a walking crowd at 30 Hz, incremental
    /// updates against a rebuild every tick, and one radius query per avatar on the result.
    @Test(arguments: [1_000, 4_000])
    func measureIncrementalAgainstRebuild(avatars: Int) throws {
        let world = try loadShipped("expo-hall.yaml")
        let ticks = 90
        var results: [String] = []
        for strategy in SpatialGrid.Strategy.allCases {
            var crowd = WalkingCrowd(count: avatars, world: world, seed: 3)
            var grid = SpatialGrid(world: world, capacity: avatars, strategy: strategy)
            var list: [(UInt16, Vec3)] = crowd.walkers.indices.map { (UInt16($0), crowd.walkers[$0].position) }
            grid.sync(list)
            var maintain = Duration.zero
            var query = Duration.zero
            var visited = 0
            let clock = ContinuousClock()
            for tick in 0..<ticks {
                crowd.step(dt: 1 / Float(world.tickRate))
                for i in list.indices { list[i].1 = crowd.walkers[i].position }
                maintain += clock.measure {
                    switch strategy {
                    case .incremental: for (id, p) in list { grid.update(id: id, position: p) }
                    case .rebuildPerTick: grid.rebuild(from: list)
                    }
                }
                if tick % 10 == 0 {
                    query += clock.measure {
                        for (_, p) in list {
                            grid.forEachCandidate(near: p, radius: world.interestRadius) { _ in visited &+= 1 }
                        }
                    }
                }
            }
            let perTick = maintain / ticks
            let perQueryTick = query / (ticks / 10)
            results.append(
                "\(strategy): maintain \(perTick) per tick, queries \(perQueryTick) per tick "
                    + "(\(visited / (ticks / 10) / avatars) candidates per query)")
        }
        print("SpatialGrid, \(avatars) walking avatars, 30 Hz (debug build):\n  " + results.joined(separator: "\n  "))
    }
}
