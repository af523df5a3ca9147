import Foundation
import Testing

@testable import AtriumServer

@Suite struct ConfigurationTests {
    @Test func defaultsWithNoSources() throws {
        let config = try ConfigurationLoader.load(fileText: nil, filePath: "(defaults)", environment: [:], flags: [:])
        #expect(config == ServerConfiguration())
        #expect(config.port == 7777)
    }

    @Test func layersFileThenEnvironmentThenFlags() throws {
        let file = "port: 7001\nlog_level: debug\nmax_speed_mps: 12.5\n"
        let fromFile = try ConfigurationLoader.load(fileText: file, filePath: "a.yaml", environment: [:], flags: [:])
        #expect(fromFile.port == 7001 && fromFile.logLevel == .debug && fromFile.maxSpeedMetresPerSecond == 12.5)

        let fromEnv = try ConfigurationLoader.load(
            fileText: file, filePath: "a.yaml", environment: ["ATRIUM_PORT": "7002", "UNRELATED": "x"], flags: [:])
        #expect(fromEnv.port == 7002 && fromEnv.logLevel == .debug)

        let fromFlag = try ConfigurationLoader.load(
            fileText: file, filePath: "a.yaml", environment: ["ATRIUM_PORT": "7002"], flags: ["port": "7003"])
        #expect(fromFlag.port == 7003)
    }

    @Test func fileErrorsNameFileAndLine() {
        let cases: [(String, Int, String)] = [
            ("port: 7001\nport: 7002\n", 2, "duplicate"),
            ("port: 7001\nprot: 7002\n", 2, "unknown key 'prot'"),
            ("log_level: info\nport: 99999\n", 2, "out of range"),
            ("port: [1, 2]\n", 1, "expected a string"),
            ("max_reach_m: far\n", 1, "not a number"),
            ("port: 7001\n  bad indent: [\n", 2, "YAML"),
        ]
        for (text, line, fragment) in cases {
            do {
                _ = try ConfigurationLoader.load(fileText: text, filePath: "Config/x.yaml", environment: [:], flags: [:])
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.message.contains("Config/x.yaml:\(line):"), "\(error.message)")
                #expect(error.message.contains(fragment), "\(error.message)")
                #expect(!error.message.contains("\n"), "one line: \(error.message)")
            }
        }
    }

    @Test func environmentAndFlagErrorsNameTheirSource() {
        do {
            _ = try ConfigurationLoader.load(fileText: nil, filePath: "-", environment: ["ATRIUM_PORT": "seven"], flags: [:])
            Issue.record("accepted")
        } catch {
            #expect(error.message == "configuration error: port from environment ATRIUM_PORT: 'seven' is not a whole number")
        }
        do {
            _ = try ConfigurationLoader.load(fileText: nil, filePath: "-", environment: [:], flags: ["log_level": "loud"])
            Issue.record("accepted")
        } catch {
            #expect(error.message.hasPrefix("configuration error: log_level from flag --log-level: 'loud' is not one of"))
        }
    }

    @Test func shippedConfigFileParsesToTheDefaults() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Config/atrium.yaml"), encoding: .utf8)
        let config = try ConfigurationLoader.load(fileText: text, filePath: "Config/atrium.yaml", environment: [:], flags: [:])
        #expect(config == ServerConfiguration())
    }

    /// docs/CONFIGURATION.md must list every key with the type and default the code uses.
    @Test func documentationMatchesTheKeys() throws {
        let doc = try String(contentsOf: packageRoot.appendingPathComponent("docs/CONFIGURATION.md"), encoding: .utf8)
        var documented: [String: (type: String, defaultValue: String)] = [:]
        for line in doc.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3 else { continue }
            documented[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] =
                (cells[1], cells[2].trimmingCharacters(in: CharacterSet(charactersIn: "`")))
        }
        for key in ServerConfiguration.keys {
            let entry = try #require(documented[key.name], "\(key.name) is not documented")
            #expect(entry.type == key.type, "\(key.name)")
            #expect(entry.defaultValue == key.defaultValue, "\(key.name)")
        }
        #expect(Set(documented.keys) == Set(ServerConfiguration.keys.map(\.name)))
    }
}

let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
