import Foundation

/// The result of `atrium-bots capacity`: the largest bot count at which a scenario passed its SLOs, and every
/// run of the search that found it.
public struct CapacityReport: Sendable {
    /// One load run of the search.
    public struct Run: Sendable, Equatable {
        public var bots: Int
        public var passed: Bool
        /// The load tool saturated in this run (its figures describe the machine, not the server).
        public var toolLimited: Bool
        /// The SLO failures, as the load report words them.
        public var failures: [String]
        /// The run's headline figures and every SLO metric, by result key (nil = not measured).
        public var figures: [(key: String, value: Double?)]

        public init(bots: Int, passed: Bool, toolLimited: Bool, failures: [String], figures: [(key: String, value: Double?)]) {
            self.bots = bots
            self.passed = passed
            self.toolLimited = toolLimited
            self.failures = failures
            self.figures = figures
        }

        /// The run as `report` describes it: its verdict, failures and the figures under `headlineKeys` and `sloKeys`.
        public init(bots: Int, report: LoadReport, sloKeys: [String]) {
            let metrics = report.metrics
            var keys = CapacityReport.headlineKeys
            for key in sloKeys where !keys.contains(key) { keys.append(key) }
            self.init(
                bots: bots, passed: report.slo.passed && report.botsConnected > 0, toolLimited: report.botSaturated,
                failures: report.botsConnected > 0 ? report.slo.failures : ["no bot connected"] + report.slo.failures,
                figures: keys.map { ($0, metrics[$0]) })
        }

        public static func == (a: Run, b: Run) -> Bool {
            a.bots == b.bots && a.passed == b.passed && a.toolLimited == b.toolLimited && a.failures == b.failures
                && a.figures.map(\.key) == b.figures.map(\.key) && a.figures.map(\.value) == b.figures.map(\.value)
        }
    }

    /// Figures every run reports, whatever the SLO: what limits a server as its crowd grows.
    public static let headlineKeys = [
        "server.cpu_cores", "server.tick_ms.p99", "server.tick_cpu_ms.p99", "server.tick_overruns", "snapshots_per_s_per_bot.mean",
        "pose_latency_ms.p99", "down_kbps_per_bot.mean", "server.voice_cpu_cores", "server.voice_added_ms.p99",
        "voice_loss_pct", "bot.cpu_cores",
    ]

    public var scenario: String
    public var low: Int
    public var high: Int
    public var step: Int
    public var durationSeconds: Double
    /// SLO keys left out of the verdict (`--ignore-slo`).
    public var ignoredSLO: [String]
    /// The runs in the order they ran.
    public var runs: [Run]
    /// The largest count that passed (nil: none did).
    public var capacity: Int?
    /// The smallest count that failed (nil: none did, or the tool stopped the search first).
    public var firstFailing: Int?
    /// A run failed while the tool saturated, which ended the search: `capacity` is a lower bound.
    public var stoppedByTool: Bool
    /// False when the search was interrupted (Ctrl-C) before it had its answer.
    public var complete: Bool

    public init(
        scenario: String, low: Int, high: Int, step: Int, durationSeconds: Double, ignoredSLO: [String], runs: [Run],
        capacity: Int?, firstFailing: Int?, stoppedByTool: Bool, complete: Bool = true
    ) {
        self.scenario = scenario
        self.low = low
        self.high = high
        self.step = step
        self.durationSeconds = durationSeconds
        self.ignoredSLO = ignoredSLO
        self.runs = runs
        self.capacity = capacity
        self.firstFailing = firstFailing
        self.stoppedByTool = stoppedByTool
        self.complete = complete
    }

    /// The failures of the run at `firstFailing`: what limits the scenario just past its capacity.
    public var limitedBy: [String] {
        guard let firstFailing else { return [] }
        return runs.last { $0.bots == firstFailing && !$0.passed }?.failures ?? []
    }

    /// One line: the answer.
    public var verdict: String {
        var line: String
        if let capacity {
            line = "CAPACITY \(capacity) bots"
        } else {
            line = "CAPACITY below \(low) bots (none passed)"
        }
        if let firstFailing { line += "; \(firstFailing) failed: " + limitedBy.joined(separator: "; ") }
        if stoppedByTool { line += "; search stopped: the load tool saturated, so this is a lower bound" }
        if !complete { line += "; search interrupted before it finished" }
        return line
    }

    /// The JSON document (stable key order).
    public func jsonData() -> Data {
        func optional(_ v: Int?) -> JSONNode { v.map(JSONNode.int) ?? .null }
        let node = JSONNode.object([
            ("scenario", .string(scenario)),
            ("range", .object([("low", .int(low)), ("high", .int(high)), ("step", .int(step))])),
            ("duration_s", .number(durationSeconds)),
            ("ignored_slo", .strings(ignoredSLO)),
            ("capacity_bots", optional(capacity)),
            ("first_failing_bots", optional(firstFailing)),
            ("limited_by", .strings(limitedBy)),
            ("stopped_by_tool", .bool(stoppedByTool)),
            ("complete", .bool(complete)),
            (
                "runs",
                .array(
                    runs.map { run in
                        .object([
                            ("bots", .int(run.bots)), ("passed", .bool(run.passed)),
                            ("tool_limited", .bool(run.toolLimited)), ("failures", .strings(run.failures)),
                            ("figures", .object(run.figures.map { ($0.key, JSONNode.number($0.value)) })),
                        ])
                    })
            ),
        ])
        return Data(node.serialized().utf8)
    }

    /// A table of the runs (ascending bot count) and the verdict.
    public var summary: String {
        let keys = runs.first?.figures.map(\.key) ?? []
        var lines = [Fmt.oneLine("\(scenario) capacity — \(low)…\(high) bots in steps of \(step), \(Fmt.compact(durationSeconds)) s a run")]
        if !ignoredSLO.isEmpty { lines.append("SLO ignored: " + ignoredSLO.joined(separator: ", ")) }
        let header = ["bots", "result"] + keys
        let ascending = runs.sorted { $0.bots < $1.bots }
        var rows: [[String]] = []
        for run in ascending {
            let result = run.passed ? "pass" : (run.toolLimited ? "FAIL (tool)" : "FAIL")
            rows.append([String(run.bots), result] + run.figures.map { Fmt.figure($0.value) })
        }
        // Columns as wide as their widest cell; the figures are named in full once, above the table.
        let widths = header.indices.map { c in ([c < 2 ? header[c] : "(\(c - 1))"] + rows.map { $0[c] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined(separator: "  ")
        }
        for (i, key) in keys.enumerated() { lines.append("  (\(i + 1)) \(key)") }
        lines.append(line(["bots", "result"] + keys.indices.map { "(\($0 + 1))" }))
        for row in rows { lines.append(line(row)) }
        for run in ascending where !run.passed {
            lines.append(Fmt.oneLine("  \(run.bots): " + run.failures.joined(separator: "; ")))
        }
        lines.append(Fmt.oneLine(verdict))
        return lines.joined(separator: "\n")
    }
}
