import AtriumBots
import Testing

@Suite struct CapacitySearchTests {
    /// Drives a search against a server that holds exactly `limit` bots; returns the search and the counts run.
    static func search(low: Int, high: Int, step: Int, limit: Int) throws -> (CapacitySearch, [Int]) {
        var search = try CapacitySearch(low: low, high: high, step: step)
        var tried: [Int] = []
        while let bots = search.next {
            tried.append(bots)
            search.record(.init(bots: bots, passed: bots <= limit))
            #expect(tried.count <= search.maximumRuns, "more runs than the bound")
        }
        return (search, tried)
    }

    @Test func findsTheLargestPassingCountOnTheGridWithinTheRunBound() throws {
        // 100…1000 in steps of 50: 19 counts, 5 runs at most, whatever the limit.
        for limit in [0, 99, 100, 149, 150, 420, 650, 999, 1000, 5000] {
            let (search, tried) = try Self.search(low: 100, high: 1000, step: 50, limit: limit)
            let grid = Array(stride(from: 100, through: 1000, by: 50))
            let expected = grid.last { $0 <= limit }
            #expect(search.capacity == expected, "limit \(limit)")
            #expect(search.firstFailing == grid.first { $0 > limit }, "limit \(limit)")
            #expect(tried.count <= 5 && Set(tried).count == tried.count, "limit \(limit): \(tried)")
        }
        #expect(try CapacitySearch(low: 100, high: 1000, step: 50).maximumRuns == 5)
        #expect(try CapacitySearch(low: 10, high: 10, step: 5).maximumRuns == 1)
    }

    @Test func aSingleCountIsOneRun() throws {
        let (pass, triedPass) = try Self.search(low: 200, high: 200, step: 50, limit: 300)
        #expect(pass.capacity == 200 && pass.firstFailing == nil && triedPass == [200])
        let (fail, triedFail) = try Self.search(low: 200, high: 200, step: 50, limit: 100)
        #expect(fail.capacity == nil && fail.firstFailing == 200 && triedFail == [200])
    }

    @Test func theHighEndOffTheGridIsNotTried() throws {
        let search = try CapacitySearch(low: 100, high: 260, step: 50)
        #expect(search.counts == [100, 150, 200, 250])
    }

    @Test func aToolLimitedFailureEndsTheSearchWithALowerBound() throws {
        var search = try CapacitySearch(low: 100, high: 1000, step: 100)
        let first = try #require(search.next)
        search.record(.init(bots: first, passed: true))
        let second = try #require(search.next)
        #expect(second > first)
        search.record(.init(bots: second, passed: false, toolLimited: true))
        #expect(search.next == nil && search.stoppedByTool)
        #expect(search.capacity == first && search.firstFailing == nil)
    }

    @Test func aToolLimitedRunThatPassedStillCounts() throws {
        // The SLOs held even with the tool behind: the server held that many.
        var search = try CapacitySearch(low: 100, high: 300, step: 100)
        search.record(.init(bots: 200, passed: true, toolLimited: true))
        #expect(!search.stoppedByTool && search.capacity == 200 && search.next == 300)
    }

    @Test func rejectsRangesWithNoGrid() {
        #expect(throws: CapacitySearchError.self) { try CapacitySearch(low: 0, high: 100, step: 10) }
        #expect(throws: CapacitySearchError.self) { try CapacitySearch(low: 200, high: 100, step: 10) }
        #expect(throws: CapacitySearchError.self) { try CapacitySearch(low: 100, high: 200, step: 0) }
    }
}
