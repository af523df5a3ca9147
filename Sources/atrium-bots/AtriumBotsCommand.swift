import ArgumentParser
import AtriumBots
import AtriumReport
import AtriumServer
import AtriumTransport
import AtriumWire
import AtriumWorld
import AtriumYAML
import Foundation
import Logging
import Synchronization

@main
struct AtriumBotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atrium-bots",
        abstract: "Headless XR bots for load-testing an Atrium server.",
        subcommands: [Run.self, Capacity.self]
    )
}

/// Set by SIGINT: the run stops, the bots leave, and the partial report is still written.
let interrupted = Atomic<Bool>(false)

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a load scenario (LoadTests/*.yaml) or an ad-hoc one from flags, and report.",
        discussion: """
            Exit codes: 0 every SLO passed; 1 an SLO failed or no bot could connect; 2 usage or scenario error.
            Scenario format and result keys: docs/LOADTESTS.md.
            """)

    @OptionGroup var options: ScenarioOptions
    @Option(help: "Number of bots.") var bots: Int?
    @Option(help: "Write the JSON result here (default reports/<scenario>.json).") var json: String?
    @Option(help: "Write the HTML report here (default reports/<scenario>.html).") var html: String?
    @Option(help: "A previous JSON result to compare against.") var compare: String?

    func run() throws {
        let (scenario, world) = try options.load(bots: bots)
        var previous: LoadReport?
        if let compare {
            do {
                previous = try LoadReport.decode(jsonData: try Data(contentsOf: URL(fileURLWithPath: compare)))
            } catch {
                printError("cannot read \(compare) for --compare: \(error)")
                throw ExitCode(2)
            }
        }

        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        let report = try runWithSaturationRetries(scenario, world: world)

        print(summaryTable(report))
        let jsonPath = json ?? "reports/\(scenario.name).json"
        let htmlPath = html ?? "reports/\(scenario.name).html"
        do {
            try write(report.jsonData(), to: jsonPath)
            try write(Data(htmlReport(report).utf8), to: htmlPath)
            print("wrote \(jsonPath) and \(htmlPath)")
        } catch {
            printError("cannot write the report: \(error)")
            throw ExitCode(1)
        }
        if let previous { print(AtriumReport.compare(current: report, previous: previous)) }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
