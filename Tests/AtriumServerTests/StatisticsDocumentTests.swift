import Foundation
import Testing

@testable import AtriumServer

@Suite struct StatisticsDocumentTests {
    @Test func tickCpuTimeIsPublishedBesideTheWallClockTickTime() throws {
        var stats = NodeStatistics()
        stats.tickMillisP50 = 1.5
        stats.tickMillisP99 = 6
        stats.tickMillisMax = 9
        stats.tickCpuMillisP50 = 1.25
        stats.tickCpuMillisP99 = 3.5
        stats.tickCpuMillisMax = 4
        let root = try #require(try JSONSerialization.jsonObject(with: StatisticsDocument(stats).encoded()) as? [String: Any])
        #expect(root["tick_ms"] as? [String: Double] == ["p50": 1.5, "p99": 6, "max": 9])
        #expect(root["tick_cpu_ms"] as? [String: Double] == ["p50": 1.25, "p99": 3.5, "max": 4])
    }

    /// A running node measures both; a tick's CPU time never exceeds its wall-clock time.
    @Test func aRunningNodeReportsTickCpuTimeWithinItsTickTime() async throws {
        let node = try startTestNode { $0.statsIntervalMs = 200 }
        let deadline = Date().addingTimeInterval(5)
        while node.statistics.ticks < 20 && Date() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
        try await Task.sleep(nanoseconds: 300_000_000)
        let s = node.statistics
        #expect(s.ticks >= 20)
        #expect(s.tickCpuMillisP99 > 0 && s.tickCpuMillisMax > 0)
        // Histograms keep three significant digits, and the two clocks are read a microsecond or two apart.
        #expect(s.tickCpuMillisP50 <= s.tickMillisP50 * 1.002 + 0.02)
        #expect(s.tickCpuMillisMax <= s.tickMillisMax * 1.002 + 0.02)
        await node.shutdown()
    }
}
