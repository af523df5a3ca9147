import AtriumWire
import Foundation
import AtriumWorld
import Testing

/// The crowd limit: in a crowd denser than `limit`, the nearest avatars are relevant, broadcasters come on top,
/// and the boundary does not flap.
@Suite struct InterestLimitTests {
    @Test func aCrowdKeepsTheNearestAndBroadcasters() throws {
        var scene = try InterestScene("expo-hall.yaml")
        let presenterStage = scene.context.world.zones.first { $0.kind == .stage }
        // 1 at the centre of the hall, 200 others on rings 1…10 m away.
        scene.place(1, Vec3(0, 1.6, 20), .visitor)
        var distance: [UInt16: Float] = [:]
        for i in 0..<200 {
            let ring = Float(1 + i / 20) * 0.5 + 0.5
            let angle = Float(i % 20) / 20 * 2 * .pi
            let id = UInt16(2 + i)
            scene.place(id, Vec3(ring * cosf(angle), 1.6, 20 + ring * sinf(angle)), .visitor)
            distance[id] = ring
        }
        _ = presenterStage
        var set = RelevanceSet()
        set.limit = 50
        let table = scene.table
        let relevant = set.update(
            recipient: table[1]!, grid: scene.grid, table: table, enterRadius: scene.radius, leaveMargin: 2).relevant
        let others = relevant.filter { $0 != 1 }
        #expect(others.count == 50)
        // Exactly the 50 nearest (rings of 20: the first two rings and half of the third).
        let farthestKept = others.map { distance[$0]! }.max()!
        let nearestDropped = distance.filter { !others.contains($0.key) }.map(\.value).min()!
        #expect(farthestKept <= nearestDropped)

        // Everyone shuffles a little: the set holds (members count as nearer), no mass turnover.
        for i in 0..<200 {
            let id = UInt16(2 + i)
            let p = table[id]!.position
            scene.place(id, p + Vec3(Float(i % 3) * 0.01, 0, 0), .visitor)
        }
        let again = set.update(
            recipient: scene.table[1]!, grid: scene.grid, table: scene.table, enterRadius: scene.radius, leaveMargin: 2)
        #expect(again.entered.isEmpty && again.left.isEmpty)
    }

    @Test func keepNearestIsExactAcrossBucketEdges() {
        let ids = (0..<1000).map { UInt16($0) }
        let keys = ids.map { Float((Int($0) * 7919) % 1000) / 10 }  // 0 … 99.9, each once, shuffled
        var kept: [UInt16] = []
        RelevanceSet.keepNearestForTesting(100, ids: ids, keys: keys) { kept.append($0) }
        #expect(kept.count == 100)
        #expect(Set(kept.map { keys[Int($0)] }) == Set((0..<100).map { Float($0) / 10 }))
    }

    /// With a limit, the set is exactly what the rules give, worked out here by brute force over every avatar:
    /// the `limit` smallest (key, id) among the others within r (or within r + m and relevant before), sharing
    /// sight, where a member's key is 0.64 × its squared distance; the recipient on top. Tick after tick, a crowd
    /// milling about near a visually isolated meeting room (some inside it) and a few ids in the grid but not in
    /// the table.
    @Test func limitedSetsMatchBruteForce() throws {
        let world = try loadShipped("expo-hall.yaml")
        let context = InterestContext(world: world)
        let room = world.zones.first { $0.id == "meeting-room-1" }!.shape.boundingBox
        let centre = Vec3((room.min.x + room.max.x) / 2, 1.6, (room.min.z + room.max.z) / 2)
        var rng = InterestRNG(seed: 99)
        let count = 260
        var positions = (0..<count).map { _ in centre + Vec3(rng.float(-16...16), rng.float(-0.5...0.5), rng.float(-16...16)) }
        var grid = SpatialGrid(world: world)
        var sets = Array(repeating: RelevanceSet(), count: count)
        var previous = Array(repeating: Set<UInt16>(), count: count)
        let r = world.interestRadius
        let m: Float = 2
        let limit = 40
        var limited = 0
        for _ in 0..<12 {
            var table = InterestAvatarTable()
            for i in 1..<count {
                positions[i] = positions[i] + Vec3(rng.float(-1...1), 0, rng.float(-1...1))
                // Ids 250… are in the grid only (gone from the table): never relevant.
                if i < 250 {
                    table.insert(context.avatar(id: UInt16(i), position: positions[i], rotation: .yaw(0), role: .visitor))
                }
                grid.update(id: UInt16(i), position: positions[i])
            }
            for i in 1..<250 {
                let me = table[UInt16(i)]!
                sets[i].limit = limit
                let got = sets[i].update(recipient: me, grid: grid, table: table, enterRadius: r, leaveMargin: m).relevant
                var candidates: [(key: Float, id: UInt16)] = []
                for j in 1..<250 where j != i {
                    let other = table[UInt16(j)]!
                    guard other.zoneContext.visualZone == me.zoneContext.visualZone else { continue }
                    let p = other.position
                    let dx = p.x - me.position.x
                    let dy = p.y - me.position.y
                    let dz = p.z - me.position.z
                    let d2 = dx * dx + dy * dy + dz * dz
                    let was = previous[i].contains(UInt16(j))
                    guard d2 <= r * r || (was && d2 <= (r + m) * (r + m)) else { continue }
                    candidates.append((was ? d2 * 0.64 : d2, UInt16(j)))
                }
                if candidates.count > limit { limited += 1 }
                candidates.sort { $0.key != $1.key ? $0.key < $1.key : $0.id < $1.id }
                let expected = Set(candidates.prefix(limit).map(\.id)).union([UInt16(i)])
                #expect(Set(got) == expected)
                #expect(got == got.sorted())
                previous[i] = Set(got)
            }
        }
        #expect(limited > 1_000)
    }

    /// Equal keys where the limit cuts: the smaller ids are kept; and a key of 0 and a lone far key (the
    /// bucket range spans them) change nothing.
    @Test func keepNearestBreaksTiesBySmallerId() {
        let ids = (1...300).map { UInt16($0) }
        // 0 for id 1, 400 for id 2, then 2.5 for every id from 3 on.
        let keys = ids.map { $0 == 1 ? Float(0) : $0 == 2 ? Float(400) : Float(2.5) }
        var kept: [UInt16] = []
        RelevanceSet.keepNearestForTesting(100, ids: ids, keys: keys) { kept.append($0) }
        #expect(Set(kept) == Set([1] + (3...101).map { UInt16($0) }))
    }
}
