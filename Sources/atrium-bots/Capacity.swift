import ArgumentParser
import AtriumBots
import AtriumReport
import Foundation

struct Capacity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find the most bots a scenario holds within its SLOs: a binary search, one load run per probe.",
        discussion: """
            Runs the scenario at bot counts from --min to --max in steps of --step, halving the range each run (at most
            ⌈log₂(counts + 1)⌉ runs: 5 for 100…1000 in steps of 50), each against a fresh local node or the remote
            server. It assumes that more bots never pass where fewer failed. A run that fails while the tool itself
            saturated ends the search, and the capacity found is then a lower bound.
            Exit codes: 0 some count passed; 1 none did; 2 usage or scenario error. Details: docs/LOADTESTS.md.
            """)

    @OptionGroup var options: ScenarioOptions
    @Option(name: .customLong("min"), help: "Fewest bots to try.") var low: Int = 50
    @Option(name: .customLong("max"), help: "Most bots to try (default: the scenario's bots).") var high: Int?
    @Option(help: "Counts tried are --min plus multiples of this.") var step: Int = 50
    @Option(name: .customLong("ignore-slo"), help: "An SLO key of the scenario to leave out of the verdict (repeatable).")
    var ignoreSLO: [String] = []
    @Option(help: "Write the JSON result here (default reports/<scenario>-capacity.json).") var json: String?

    func run() throws {
        var (scenario, world) = try options.load(bots: nil)
        let sloKeys = Set(scenario.slo.map(\.metric))
        for key in ignoreSLO where !sloKeys.contains(key) {
            printError("--ignore-slo \(key): the scenario has no SLO on it (it has: \(sloKeys.sorted().joined(separator: ", ")))")
            throw ExitCode(2)
        }
        scenario.slo.removeAll { ignoreSLO.contains($0.metric) }
        let most = high ?? scenario.bots
        guard most <= 20_000 else {
            printError("--max must be at most 20000")
            throw ExitCode(2)
        }
        var search: CapacitySearch
        do {
            search = try CapacitySearch(low: low, high: most, step: step)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }

        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        print("atrium-bots: capacity of \(scenario.name) — \(low)…\(most) bots in steps of \(step), at most \(search.maximumRuns) runs of \(Int(scenario.durationSeconds)) s")
        var runs: [CapacityReport.Run] = []
        while let bots = search.next, !interrupted.load(ordering: .relaxed) {
            var probe = scenario
            probe.bots = bots
            let report = try runWithSaturationRetries(probe, world: world)
            // An interrupted run measured part of the time: it decides nothing.
            guard !interrupted.load(ordering: .relaxed) else { break }
            let run = CapacityReport.Run(bots: bots, report: report, sloKeys: scenario.slo.map(\.metric))
            runs.append(run)
            search.record(CapacitySearch.Probe(bots: bots, passed: run.passed, toolLimited: run.toolLimited))
            print("atrium-bots: \(bots) bots — " + (run.passed ? "PASS" : "FAIL: " + run.failures.joined(separator: "; ")))
        }

        let result = CapacityReport(
            scenario: scenario.name, low: low, high: most, step: step, durationSeconds: scenario.durationSeconds,
            ignoredSLO: ignoreSLO, runs: runs, capacity: search.capacity, firstFailing: search.firstFailing,
            stoppedByTool: search.stoppedByTool, complete: search.next == nil || search.stoppedByTool)
        print(result.summary)
        let path = json ?? "reports/\(scenario.name)-capacity.json"
        do {
            try write(result.jsonData(), to: path)
            print("wrote \(path)")
        } catch {
            printError("cannot write the result: \(error)")
            throw ExitCode(1)
        }
        if result.capacity == nil { throw ExitCode(1) }
    }
}
