/// The summary figures, grouped; rendered as aligned text by `summaryTable` and as HTML tables by `htmlReport`.
struct SummarySection {
    struct Row {
        var label: String
        var cells: [String]
        /// A breakdown of the row above (failure reasons, saturation reasons).
        var isDetail = false
    }

    var title: String
    /// Headers of the value columns; a single empty header for label/value sections.
    var columns: [String]
    var rows: [Row]

    var hasHeader: Bool { columns.contains { !$0.isEmpty } }
}

extension LoadReport {
    var verdict: String { slo.passed ? "PASS" : "FAIL" }

    /// "BOT SATURATED — …" or nil.
    var saturationWarning: String? {
        guard botSaturated else { return nil }
        let head = "BOT SATURATED — figures below may reflect the tool, not the server"
        return botSaturationReasons.isEmpty ? head : head + ": " + botSaturationReasons.joined(separator: "; ")
    }

    /// "PASS", or "FAIL: a; b".
    var verdictLine: String {
        if slo.passed { return "PASS" }
        return slo.failures.isEmpty ? "FAIL" : "FAIL: " + slo.failures.joined(separator: "; ")
    }

    /// "started … · 60 s · seed … · server … · world …", leaving out what is unknown.
    var identityLine: String {
        var parts: [String] = []
        if !startedAt.isEmpty { parts.append("started \(startedAt)") }
        parts.append("\(Fmt.compact(durationSeconds, maxDecimals: 1)) s")
        parts.append("seed \(seed)")
        if !server.isEmpty { parts.append("server \(server)") }
        if !world.isEmpty { parts.append("world \(world)") }
        return parts.joined(separator: " · ")
    }

    var summarySections: [SummarySection] {
        typealias Row = SummarySection.Row
        let f = Fmt.figure
        func pct(_ label: String, _ p: Percentiles) -> Row { Row(label: label, cells: [f(p.p50), f(p.p99), f(p.max)]) }

        var bots = [
            Row(label: "requested", cells: [String(botsRequested)]),
            Row(label: "connected", cells: [String(botsConnected)]),
            Row(label: "failed", cells: [String(botsFailed)]),
        ]
        let reasons = failureReasons.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        bots += reasons.map { Row(label: $0.key, cells: [String($0.value)], isDetail: true) }

        var server: [Row] = [
            Row(label: "tick p50 ms", cells: [f(serverTickMs.p50)]),
            Row(label: "tick p99 ms", cells: [f(serverTickMs.p99)]),
        ]
        if serverTickMs.max.finiteOrNil != nil { server.append(Row(label: "tick max ms", cells: [f(serverTickMs.max)])) }
        if serverTickCpuMs.p99.finiteOrNil != nil {
            server += [
                Row(label: "tick CPU p50 ms", cells: [f(serverTickCpuMs.p50)]),
                Row(label: "tick CPU p99 ms", cells: [f(serverTickCpuMs.p99)]),
            ]
        }
        server += [
            Row(label: "tick overruns", cells: [Fmt.count(serverTickOverruns)]),
            Row(label: "socket drops", cells: [Fmt.count(serverSocketDrops)]),
            Row(label: "voice frames overflowed", cells: [Fmt.count(serverVoiceFramesOverflowed)]),
            Row(label: "CPU cores", cells: [f(serverCpuCores)]),
            Row(label: "voice CPU cores", cells: [f(serverVoiceCpuCores)]),
            Row(label: "voice added p50 ms", cells: [f(serverVoiceAddedMs.p50)]),
            Row(label: "voice added p99 ms", cells: [f(serverVoiceAddedMs.p99)]),
            Row(label: "voice added max ms", cells: [f(serverVoiceAddedMs.max)]),
            Row(label: "datagrams in/s", cells: [f(serverDatagramsInPerSecond)]),
            Row(label: "datagrams out/s", cells: [f(serverDatagramsOutPerSecond)]),
        ]

        var tool = [
            Row(label: "bot CPU cores", cells: [f(botCpuCores)]),
            Row(label: "send lag max ms", cells: [f(botSendLagMsMax)]),
            Row(label: "saturated", cells: [botSaturated ? "YES" : "no"]),
        ]
        tool += botSaturationReasons.map { Row(label: $0, cells: [""], isDetail: true) }

        return [
            SummarySection(title: "Bots", columns: [""], rows: bots),
            SummarySection(title: "Latency (ms)", columns: ["p50", "p99", "max"], rows: [
                pct("connect", connectMs),
                pct("RTT", rttMs),
                pct("pose", poseLatencyMs),
                pct("voice", voiceLatencyMs),
            ]),
            SummarySection(title: "Bandwidth per bot", columns: ["mean", "p99"], rows: [
                Row(label: "down kbps", cells: [f(downKbpsPerBot.mean), f(downKbpsPerBot.p99)]),
                Row(label: "up kbps", cells: [f(upKbpsPerBot.mean), f(upKbpsPerBot.p99)]),
                Row(label: "down datagrams/s", cells: [f(downDatagramsPerSecondPerBot), ""]),
                Row(label: "up datagrams/s", cells: [f(upDatagramsPerSecondPerBot), ""]),
                Row(label: "pose bytes, delta", cells: [f(poseBytesDeltaMean), ""]),
                Row(label: "pose bytes, absolute", cells: [f(poseBytesAbsoluteMean), ""]),
                Row(label: "pose delta span, inputs", cells: [f(poseDeltaSpanMean), ""]),
            ]),
            SummarySection(title: "Delivery per bot", columns: [""], rows: [
                Row(label: "snapshots/s", cells: [f(snapshotsPerSecondPerBot)]),
                Row(label: "snapshot gaps/min", cells: [f(snapshotGapsPerBotPerMinute)]),
            ]),
            SummarySection(title: "Voice", columns: [""], rows: [
                Row(label: "loss %", cells: [f(voiceLossPercent)]),
                Row(label: "streams/listener max", cells: [Fmt.count(voiceStreamsPerListenerMax)]),
                Row(label: "frames received", cells: [Fmt.count(voiceFramesReceived)]),
                Row(label: "frames late", cells: [Fmt.count(voiceFramesLate)]),
                Row(label: "frames lost", cells: [Fmt.count(voiceFramesLost)]),
                Row(label: "gaps", cells: [Fmt.count(voiceGaps)]),
                Row(label: "longest gap, frames", cells: [Fmt.count(voiceLongestGapFrames)]),
                Row(label: "broadcast reach min %", cells: [f(voiceBroadcastReachMinPercent)]),
                Row(label: "broadcast reach mean %", cells: [f(voiceBroadcastReachMeanPercent)]),
            ]),
            SummarySection(title: "Server", columns: [""], rows: server),
            SummarySection(title: "Tool", columns: [""], rows: tool),
        ]
    }
}

/// An aligned plain-text summary: identity, the saturation warning if any, grouped figures, notes, and a final
/// PASS/FAIL line listing the SLO failures.
public func summaryTable(_ r: LoadReport) -> String {
    let sections = r.summarySections
    let indent = "  "
    let detailIndent = "    "
    // Detail rows (failure and saturation reasons) can be long sentences; they overflow their own line
    // rather than widen every row of the table.
    let labelWidth = sections.flatMap { s in
        [s.title.count] + s.rows.filter { !$0.isDetail }.map { indent.count + Fmt.oneLine($0.label).count }
    }.max() ?? 0
    let cellWidth = max(8, sections.flatMap { $0.columns + $0.rows.flatMap(\.cells) }.map(\.count).max() ?? 0)

    func pad(_ s: String, _ width: Int, right: Bool) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
    func line(_ label: String, _ cells: [String]) -> String {
        var s = pad(Fmt.oneLine(label), labelWidth, right: false)
        for cell in cells { s += "  " + pad(cell, cellWidth, right: true) }
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }

    var out: [String] = []
    out.append(Fmt.oneLine("\(r.scenario) — \(r.verdict)"))
    out.append(Fmt.oneLine(r.identityLine))
    if let warning = r.saturationWarning {
        out.append("")
        out.append(Fmt.oneLine(warning))
    }
    for section in sections {
        out.append("")
        out.append(line(section.title, section.hasHeader ? section.columns : []))
        for row in section.rows {
            out.append(line((row.isDetail ? detailIndent : indent) + row.label, row.cells))
        }
    }
    if !r.notes.isEmpty {
        out.append("")
        out.append("Notes")
        out += r.notes.map { indent + "- " + Fmt.oneLine($0) }
    }
    out.append("")
    out.append(Fmt.oneLine(r.verdictLine))
    return out.joined(separator: "\n") + "\n"
}
