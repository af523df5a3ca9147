import AtriumBehaviours
import AtriumBots
import AtriumYAML
import Foundation
import Testing

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite struct ScenarioTests {
    @Test func everyShippedScenarioParses() throws {
        let dir = packageRoot.appendingPathComponent("LoadTests")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files).isSuperset(of: [
            "smoke.yaml", "expo-1000.yaml", "assembly-200.yaml", "classroom-25x40.yaml", "impaired-loss20.yaml",
            "join-storm.yaml",
        ]))
        for file in files {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            let scenario = try Scenario.parse(text, file: file)
            #expect(scenario.name + ".yaml" == file)
            #expect(FileManager.default.fileExists(atPath: packageRoot.appendingPathComponent(scenario.worldFile).path))
        }
    }

    @Test func smokeScenarioValues() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("LoadTests/smoke.yaml"), encoding: .utf8)
        let s = try Scenario.parse(text, file: "smoke.yaml")
        #expect(s.bots == 20 && s.durationSeconds == 20 && s.target == .local(configPath: nil))
        #expect(s.behaviours.map(\.kind) == [.wander, .visitBooths])
        #expect(s.slo.contains { $0.metric == "bots.failed" && $0.max == 0 })
        #expect(s.saturationRetries == 1)
    }

    @Test func fullScenarioWithEveryKey() throws {
        let text = """
            name: full
            description: every key
            server:
              address: 10.1.2.3:7800
              stats_url: http://10.1.2.3:7780/v1/stats
            world: classroom
            world_file: Worlds/classroom.yaml
            bots: 40
            ramp_per_s: 10
            duration_s: 30
            seed: 5
            pose_rate_hz: 90
            behaviours: {teacher: 1, sit_listen: 39}
            voice: {duty_cycle: 0.2}
            impairment: {loss_pct: 5, latency_ms: 50, jitter_ms: 10, duplicate_pct: 1, reorder_pct: 1}
            connect_timeout_s: 5
            measuring_bots: 10
            saturation_retries: 2
            slo:
              rtt_ms.p99: {max: 100}
              bots.connected: {min: 40, max: 40}
            """
        let s = try Scenario.parse(text, file: "full.yaml")
        #expect(s.statsURL == "http://10.1.2.3:7780/v1/stats")
        #expect(s.poseRateHz == 90 && s.voiceDutyCycle == 0.2 && s.measuringBots == 10)
        #expect(s.impairment?.lossPercent == 5 && s.impairment?.jitterMs == 10 && s.impairment?.seed == 5)
        #expect(s.slo.count == 2 && s.saturationRetries == 2)
    }

    struct Bad: CustomTestStringConvertible, Sendable {
        let label: String
        let text: String
        let line: Int
        let fragment: String
        var testDescription: String { label }
    }

    static let base = "name: t\nserver: {local: true}\nworld: expo-hall\nbots: 10\n"
    static let bad: [Bad] = [
        Bad(label: "unknown key", text: base + "botz: 3\n", line: 5, fragment: "unknown key 'botz'"),
        Bad(label: "wrong type", text: base + "duration_s: long\n", line: 5, fragment: "expected a finite number"),
        Bad(label: "zero bots", text: "name: t\nserver: {local: true}\nworld: expo-hall\nbots: 0\n", line: 4, fragment: "out of range"),
        Bad(label: "too many retries", text: base + "saturation_retries: 9\n", line: 5, fragment: "out of range"),
        Bad(label: "pose rate too high", text: base + "pose_rate_hz: 200\n", line: 5, fragment: "out of range"),
        Bad(label: "unknown behaviour", text: base + "behaviours:\n  dance: 1\n", line: 6, fragment: "unknown key 'behaviours.dance'"),
        Bad(label: "no behaviour weight", text: base + "behaviours:\n  wander: 0\n", line: 6, fragment: "above 0"),
        Bad(label: "jitter above latency", text: base + "impairment:\n  latency_ms: 10\n  jitter_ms: 20\n", line: 7, fragment: "cannot exceed"),
        Bad(label: "loss over 100", text: base + "impairment:\n  loss_pct: 120\n", line: 6, fragment: "out of range"),
        Bad(label: "unknown SLO metric", text: base + "slo:\n  rtt.p99: {max: 1}\n", line: 6, fragment: "unknown key 'slo.rtt.p99'"),
        Bad(label: "SLO min above max", text: base + "slo:\n  rtt_ms.p99: {min: 5, max: 1}\n", line: 6, fragment: "above max"),
        Bad(label: "bad address", text: "name: t\nserver: {address: nowhere}\nworld: expo-hall\nbots: 1\n", line: 2, fragment: "not host:port"),
        Bad(label: "both targets", text: "name: t\nserver: {address: 'a:1', local: true}\nworld: expo-hall\nbots: 1\n", line: 2, fragment: "not both"),
        Bad(label: "missing world", text: "name: t\nserver: {local: true}\nbots: 1\n", line: 1, fragment: "missing required key 'world'"),
        Bad(label: "bad world id", text: "name: t\nserver: {local: true}\nworld: Expo Hall\nbots: 1\n", line: 3, fragment: "not a valid world id"),
    ]

    @Test(arguments: bad) func badScenarioNamesFileAndLine(_ bad: Bad) {
        do {
            _ = try Scenario.parse(bad.text, file: "bad.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.location.file == "bad.yaml")
            #expect(error.location.line == bad.line, "\(error)")
            #expect(error.description.contains(bad.fragment), "\(error)")
        }
    }
}
