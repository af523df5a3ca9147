import Foundation
import Testing
@testable import AtriumReport

@Suite struct JSONTests {
    /// The keys the load-test spec fixes (nested objects by dots).
    static let requiredKeys = [
        "scenario", "duration_s", "bots.requested", "bots.connected", "bots.failed",
        "rtt_ms.p50", "rtt_ms.p99", "rtt_ms.max",
        "pose_latency_ms.p50", "pose_latency_ms.p99", "pose_latency_ms.max",
        "voice_latency_ms.p50", "voice_latency_ms.p99", "voice_latency_ms.max",
        "down_kbps_per_bot.mean", "down_kbps_per_bot.p99", "up_kbps_per_bot.mean", "up_kbps_per_bot.p99",
        "down_datagrams_per_s_per_bot.mean", "pose_bytes.delta_mean", "pose_bytes.absolute_mean",
        "pose_bytes.delta_span_inputs_mean",
        "snapshots_per_s_per_bot.mean", "server.tick_ms.p50", "server.tick_ms.p99", "server.tick_cpu_ms.p50", "server.tick_cpu_ms.p99", "server.cpu_cores",
        "server.datagrams_in_per_s", "server.datagrams_out_per_s", "bot_saturated", "slo.passed", "slo.failures",
        "started_at", "seed", "server_address", "world", "bots.failure_reasons",
        "connect_ms.p50", "connect_ms.p99", "connect_ms.max", "voice_loss_pct", "voice_streams_per_listener.max",
        "server.voice_cpu_cores", "server.voice_added_ms.p50", "server.voice_added_ms.p99", "server.voice_added_ms.max",
        "server.tick_overruns", "server.socket_drops", "server.voice_frames_overflowed", "up_datagrams_per_s_per_bot.mean",
        "snapshot_gaps_per_bot_per_min", "bot.cpu_cores", "bot.send_lag_ms_max", "bot.saturation_reasons",
        "voice_frames.received", "voice_frames.late", "voice_frames.lost", "voice_gaps.count",
        "voice_gaps.longest_frames", "voice_broadcast_reach_pct.min", "voice_broadcast_reach_pct.mean",
        "timeline", "notes",
    ]

    /// Keys whose value is a measurement (null when not measured).
    static let measurementKeys: [String] = requiredKeys.filter {
        !["scenario", "duration_s", "bots.requested", "bots.connected", "bots.failed", "bot_saturated",
          "slo.passed", "slo.failures", "started_at", "seed", "server_address", "world", "bots.failure_reasons",
          "bot.saturation_reasons", "timeline", "notes"].contains($0)
    }

    /// Dotted key → value (NSNull for null) of every leaf and every object/array, via Foundation's parser.
    static func flatten(_ data: Data) throws -> [String: Any] {
        let root = try JSONSerialization.jsonObject(with: data)
        var out: [String: Any] = [:]
        func walk(_ value: Any, _ prefix: String) {
            if !prefix.isEmpty { out[prefix] = value }
            if let dict = value as? [String: Any] {
                for (k, v) in dict { walk(v, prefix.isEmpty ? k : prefix + "." + k) }
            }
        }
        walk(root, "")
        return out
    }

    @Test func roundTripIsExact() throws {
        let r = sampleReport()
        let back = try LoadReport.decode(jsonData: r.jsonData())
        #expect(back == r)
    }

    @Test func emptyReportRoundTrips() throws {
        let r = LoadReport(scenario: "empty")
        let back = try LoadReport.decode(jsonData: r.jsonData())
        #expect(back == r)
    }

    @Test func everyRequiredKeyIsPresentWithNullsWhenUnmeasured() throws {
        let empty = try Self.flatten(LoadReport(scenario: "empty").jsonData())
        for key in Self.requiredKeys { #expect(empty[key] != nil, "missing key \(key)") }
        for key in Self.measurementKeys { #expect(empty[key] is NSNull, "\(key) should be null") }
        #expect(empty["server.tick_ms.max"] is NSNull)

        let full = try Self.flatten(sampleReport().jsonData())
        for key in Self.requiredKeys { #expect(full[key] != nil, "missing key \(key)") }
        #expect(full["server.tick_ms.max"] is NSNull)
        #expect((full["rtt_ms.max"] as? NSNumber)?.doubleValue == 12.4)
        #expect(full["bots.failure_reasons.world full"] as? Int == 1)
        #expect(full["slo.failures"] as? [String] == ["pose_latency_ms.p99 = 91.2 > max 76.7"])
    }

    @Test func timelineObjectsUseSnakeCaseKeysAndNulls() throws {
        let root = try JSONSerialization.jsonObject(with: sampleReport().jsonData()) as! [String: Any]
        let timeline = root["timeline"] as! [[String: Any]]
        #expect(timeline.count == 5)
        let first = timeline[0]
        #expect(Set(first.keys) == [
            "t", "connected", "rtt_p50", "rtt_p99", "pose_p50", "pose_p99", "voice_p50", "voice_p99",
            "down_kbps_per_bot", "up_kbps_per_bot", "server_tick_p50", "server_tick_p99", "server_cpu_cores",
            "bot_send_lag_ms", "bot_cpu_cores",
        ])
        #expect(first["rtt_p50"] is NSNull)
        #expect(first["voice_p99"] is NSNull)
    }

    @Test func outputIsStableAndOrdered() {
        let a = String(decoding: sampleReport().jsonData(), as: UTF8.self)
        let b = String(decoding: sampleReport().jsonData(), as: UTF8.self)
        #expect(a == b)
        #expect(a.hasPrefix("{\n  \"scenario\": \"expo-1000\",\n  \"started_at\""))
        #expect(a.contains("\"seed\": 18446744073709551557"))
        #expect(!a.contains("NaN") && !a.contains("inf"))
    }

    @Test func nonFiniteValuesBecomeNull() throws {
        var r = LoadReport(scenario: "edge")
        r.rttMs = Percentiles(p50: .nan, p99: .infinity, max: -.infinity)
        r.serverCpuCores = .nan
        r.timeline = [TimelinePoint(t: 0, connected: 0, rttP50: .nan)]
        let text = String(decoding: r.jsonData(), as: UTF8.self)
        #expect(!text.contains("nan") && !text.contains("inf"))
        let flat = try Self.flatten(r.jsonData())
        #expect(flat["rtt_ms.p50"] is NSNull && flat["rtt_ms.p99"] is NSNull && flat["server.cpu_cores"] is NSNull)
        #expect(r.metrics["rtt_ms.p50"] == nil)
    }

    @Test func stringsAreEscaped() throws {
        var r = LoadReport(scenario: "a \"quoted\" \\ name\nwith\ttabs \u{1} and ünïcode")
        r.notes = ["</script>"]
        let back = try LoadReport.decode(jsonData: r.jsonData())
        #expect(back.scenario == r.scenario)
        #expect(back.notes == r.notes)
    }

    @Test func metricsAreFlattenedNumbers() {
        let m = sampleReport().metrics
        #expect(m["rtt_ms.p99"] == 1.0 / 3.0)
        #expect(m["bots.connected"] == 997)
        #expect(m["bot_saturated"] == 0)
        #expect(m["slo.passed"] == 0)
        #expect(m["server.tick_ms.max"] == nil)
        #expect(m["bots.failure_reasons.handshake timeout"] == 2)
        #expect(m["seed"] == nil)
        #expect(m["scenario"] == nil)
        #expect(!m.keys.contains { $0.hasPrefix("timeline") || $0.hasPrefix("notes") })
        #expect(LoadReport(scenario: "e").metrics.keys.sorted() == [
            "bot_saturated", "bots.connected", "bots.failed", "bots.requested", "duration_s", "slo.passed",
        ])
    }

    @Test func knownMetricKeysCoverEveryNumericKey() {
        let known = LoadReport.knownMetricKeys
        for key in Self.measurementKeys where key != "slo.failures" && key != "bot.saturation_reasons" {
            #expect(known.contains(key), "\(key)")
        }
        #expect(known.contains("bots.connected") && known.contains("bot_saturated") && known.contains("duration_s"))
        #expect(known.contains("server.tick_ms.max"))
        #expect(!known.contains("slo.passed") && !known.contains("seed") && !known.contains("scenario"))
        #expect(Set(sampleReport().metrics.keys).subtracting(known)
            == ["slo.passed", "bots.failure_reasons.handshake timeout", "bots.failure_reasons.world full"])
        #expect(SLOThreshold.knownMetricKeys == known)
    }

    @Test func decodeAcceptsMissingOptionalKeysAndRejectsMissingRequiredOnes() throws {
        let minimal = """
        {"scenario": "old", "duration_s": 30, "bots": {"requested": 10, "connected": 9, "failed": 1},
         "bot_saturated": false, "slo": {"passed": true}, "rtt_ms": {"p50": 1.5}}
        """
        let r = try LoadReport.decode(jsonData: Data(minimal.utf8))
        #expect(r.scenario == "old" && r.botsConnected == 9 && r.rttMs == Percentiles(p50: 1.5))
        #expect(r.voiceLatencyMs == Percentiles() && r.timeline.isEmpty && r.slo.failures.isEmpty)

        let broken = #"{"scenario": "x", "duration_s": 30, "bot_saturated": false, "slo": {"passed": true}}"#
        #expect(throws: DecodingError.self) { try LoadReport.decode(jsonData: Data(broken.utf8)) }
        #expect(throws: (any Error).self) { try LoadReport.decode(jsonData: Data("not json".utf8)) }
    }

    @Test func codableTypesWriteNullsToo() throws {
        let data = try JSONEncoder().encode(Percentiles(p50: 1))
        let obj = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(obj["p99"] is NSNull && obj["max"] is NSNull)
        let point = TimelinePoint(t: 1, connected: 2, rttP50: 3)
        #expect(try JSONDecoder().decode(TimelinePoint.self, from: JSONEncoder().encode(point)) == point)
    }
}
