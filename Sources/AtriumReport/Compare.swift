/// Which way a metric should move.
enum MetricDirection: Sendable, Equatable {
    case lowerIsBetter, higherIsBetter, neutral

    static func of(_ key: String) -> MetricDirection {
        if higherIsBetterKeys.contains(key) { return .higherIsBetter }
        if lowerIsBetterPrefixes.contains(where: { key == $0 || key.hasPrefix($0 + ".") }) { return .lowerIsBetter }
        return .neutral
    }

    private static let higherIsBetterKeys: Set<String> = [
        "bots.connected", "snapshots_per_s_per_bot.mean", "voice_broadcast_reach_pct.min",
        "voice_broadcast_reach_pct.mean",
    ]

    /// Latencies, bytes, CPU, failures, gaps, loss, late voice frames, tick time and overruns, and the tool's
    /// own strain. Bandwidth and datagram rates, voice frames received and streams per listener, bot counts
    /// requested and duration are neutral: a change there is shown but not judged.
    private static let lowerIsBetterPrefixes = [
        "connect_ms", "rtt_ms", "pose_latency_ms", "voice_latency_ms", "voice_loss_pct",
        "voice_frames.late", "voice_frames.lost", "voice_gaps",
        "pose_bytes", "snapshot_gaps_per_bot_per_min",
        "bots.failed", "bots.failure_reasons",
        "server.tick_ms", "server.tick_cpu_ms", "server.tick_overruns", "server.cpu_cores", "server.voice_cpu_cores", "server.voice_added_ms",
        "server.socket_drops", "server.voice_frames_overflowed",
        "bot.cpu_cores", "bot.send_lag_ms_max", "bot_saturated",
    ]
}

/// One line of a comparison; nil = absent from that report.
struct MetricChange: Equatable {
    enum Verdict: String { case better, worse, changed, same, new, gone }

    var key: String
    var previous: Double?
    var current: Double?

    var delta: Double? {
        guard let previous, let current else { return nil }
        return current - previous
    }

    /// Change relative to the previous value, in percent; nil when there is no previous value or it is zero.
    var percent: Double? {
        guard let previous, let delta, previous != 0 else { return nil }
        return delta / Swift.abs(previous) * 100
    }

    var verdict: Verdict {
        guard let delta else { return previous == nil ? .new : .gone }
        if delta == 0 { return .same }
        switch MetricDirection.of(key) {
        case .lowerIsBetter: return delta < 0 ? .better : .worse
        case .higherIsBetter: return delta > 0 ? .better : .worse
        case .neutral: return .changed
        }
    }
}

/// Every metric present in either report, in document order (per-reason failure counts after their group),
/// except both-zero lines and `slo.passed` (the verdict is reported on its own line).
func metricChanges(current: LoadReport, previous: LoadReport) -> [MetricChange] {
    let cur = current.metrics, prev = previous.metrics
    var keys: [String] = []
    var seen: Set<String> = []
    for (key, _) in current.metricSlots + previous.metricSlots where !seen.contains(key) {
        seen.insert(key)
        keys.append(key)
    }
    // Per-reason counts from either report, kept together and sorted.
    let reasonPrefix = "bots.failure_reasons."
    let reasons = keys.filter { $0.hasPrefix(reasonPrefix) }.sorted()
    keys.removeAll { $0.hasPrefix(reasonPrefix) }
    if let failed = keys.firstIndex(of: "bots.failed") { keys.insert(contentsOf: reasons, at: failed + 1) }

    return keys.compactMap { key in
        if key == "slo.passed" { return nil }
        // A failure reason absent from one report means none of that kind there.
        let absent: Double? = key.hasPrefix(reasonPrefix) ? 0 : nil
        let change = MetricChange(key: key, previous: prev[key] ?? absent, current: cur[key] ?? absent)
        if change.previous == nil && change.current == nil { return nil }
        if change.previous == 0 && change.current == 0 { return nil }
        return change
    }
}

/// A plain-text comparison for `--compare previous.json`: for each metric in either report, previous,
/// current, absolute and percentage change, and whether that is better or worse (for metrics with a
/// direction). Metrics that are zero in both are left out.
public func compare(current: LoadReport, previous: LoadReport) -> String {
    let changes = metricChanges(current: current, previous: previous)

    func signed(_ v: Double) -> String {
        let s = Fmt.compact(v)
        return v > 0 && s != "0" ? "+" + s : s
    }
    let header = ["metric", "previous", "current", "change", "%", ""]
    let rows: [[String]] = changes.map { c in
        let verdict: String
        switch c.verdict {
        case .better: verdict = "better"
        case .worse: verdict = "worse"
        case .new: verdict = "new"
        case .gone: verdict = "not measured now"
        case .changed, .same: verdict = ""
        }
        return [
            Fmt.oneLine(c.key),
            c.previous.map { Fmt.compact($0) } ?? Fmt.missing,
            c.current.map { Fmt.compact($0) } ?? Fmt.missing,
            c.delta.map(signed) ?? "",
            c.percent.map { signed(($0 * 10).rounded() / 10) + "%" } ?? "",
            verdict,
        ]
    }
    let widths = (0..<header.count).map { col in ([header] + rows).map { $0[col].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        var s = ""
        for (col, cell) in cells.enumerated() {
            let fill = String(repeating: " ", count: widths[col] - cell.count)
            if col == 0 {
                s += cell + fill
            } else if col == cells.count - 1 {
                s += "  " + cell
            } else {
                s += "  " + fill + cell
            }
        }
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    var out: [String] = []
    if current.scenario == previous.scenario {
        out.append("Compare \(current.scenario): previous \(previous.startedAt) → current \(current.startedAt)")
    } else {
        out.append("Compare \(current.scenario) (current, \(current.startedAt)) with \(previous.scenario) "
            + "(previous, \(previous.startedAt)) — different scenarios")
    }
    out.append("SLO: \(previous.verdict) → \(current.verdict)")
    if current.botSaturated || previous.botSaturated {
        out.append("Bot saturated: previous \(previous.botSaturated ? "yes" : "no"), "
            + "current \(current.botSaturated ? "yes" : "no") — figures may reflect the tool, not the server")
    }
    out.append("")
    out.append(line(header))
    out += rows.map(line)
    let better = changes.filter { $0.verdict == .better }.count
    let worse = changes.filter { $0.verdict == .worse }.count
    out.append("")
    out.append("\(better) better, \(worse) worse")
    return out.map(Fmt.oneLine).joined(separator: "\n") + "\n"
}
