import AtriumReport
import Foundation
import Testing

@Suite struct CapacityReportTests {
    static func result() -> CapacityReport {
        var passing = sampleReport()
        passing.slo = evaluate([SLOThreshold(metric: "server.cpu_cores", max: 2)], on: passing)
        var failing = sampleReport()
        failing.slo = evaluate([SLOThreshold(metric: "server.cpu_cores", max: 1)], on: failing)
        return CapacityReport(
            scenario: "expo-1000", low: 100, high: 1000, step: 50, durationSeconds: 45, ignoredSLO: ["server.tick_ms.p99"],
            runs: [
                .init(bots: 550, report: passing, sloKeys: ["server.cpu_cores", "rtt_ms.p99"]),
                .init(bots: 800, report: failing, sloKeys: ["server.cpu_cores", "rtt_ms.p99"]),
            ],
            capacity: 750, firstFailing: 800, stoppedByTool: false)
    }

    @Test func runsCarryVerdictFailuresAndFigures() throws {
        let r = Self.result()
        #expect(r.runs[0].passed && r.runs[0].failures.isEmpty)
        #expect(!r.runs[1].passed && r.runs[1].failures == ["server.cpu_cores = 1.35 > max 1"])
        // The headline figures, then the SLO keys not among them, each once.
        let keys = r.runs[0].figures.map(\.key)
        #expect(keys == CapacityReport.headlineKeys + ["rtt_ms.p99"])
        #expect(r.runs[0].figures.first { $0.key == "server.cpu_cores" }?.value == 1.35)
        #expect(r.limitedBy == ["server.cpu_cores = 1.35 > max 1"])
    }

    @Test func aRunWithNoBotConnectedFails() {
        let empty = LoadReport(scenario: "expo-1000")
        let run = CapacityReport.Run(bots: 100, report: empty, sloKeys: [])
        #expect(!run.passed && run.failures == ["no bot connected"])
    }

    @Test func jsonHasTheAnswerAndEveryRun() throws {
        let data = Self.result().jsonData()
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(doc["capacity_bots"] as? Int == 750)
        #expect(doc["first_failing_bots"] as? Int == 800)
        #expect(doc["limited_by"] as? [String] == ["server.cpu_cores = 1.35 > max 1"])
        #expect(doc["ignored_slo"] as? [String] == ["server.tick_ms.p99"])
        #expect(doc["stopped_by_tool"] as? Bool == false && doc["complete"] as? Bool == true)
        let range = try #require(doc["range"] as? [String: Int])
        #expect(range == ["low": 100, "high": 1000, "step": 50])
        let runs = try #require(doc["runs"] as? [[String: Any]])
        #expect(runs.map { $0["bots"] as? Int } == [550, 800])
        let figures = try #require(runs[1]["figures"] as? [String: Any])
        #expect(figures["server.cpu_cores"] as? Double == 1.35)
        #expect(figures["rtt_ms.p99"] is Double)
    }

    @Test func summaryEndsWithTheVerdict() {
        let text = Self.result().summary
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.last == "CAPACITY 750 bots; 800 failed: server.cpu_cores = 1.35 > max 1")
        #expect(lines.contains("SLO ignored: server.tick_ms.p99"))
        #expect(lines.contains { $0.hasPrefix("  800: server.cpu_cores") })

        var none = Self.result()
        none.capacity = nil
        none.firstFailing = 100
        none.stoppedByTool = true
        none.complete = false
        #expect(none.verdict.hasPrefix("CAPACITY below 100 bots (none passed); 100 failed"))
        #expect(none.verdict.contains("lower bound") && none.verdict.contains("interrupted"))
    }
}
