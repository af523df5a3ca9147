/// Escapes text for HTML element content and quoted attribute values.
func escapeHTML(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}

/// One self-contained HTML page: inline CSS and SVG, no scripts, nothing fetched from the network.
/// Title with scenario and PASS/FAIL, the saturation warning and SLO failures, the summary figures as tables,
/// time-series charts of the run, and the notes. All report text is escaped.
public func htmlReport(_ r: LoadReport) -> String {
    var out = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>\(escapeHTML(r.scenario)) — \(r.verdict) — atrium-bots</title>
    <style>\(reportCSS)</style>
    </head>
    <body>
    <header>
    <h1>\(escapeHTML(r.scenario)) <span class="verdict \(r.slo.passed ? "pass" : "fail")">\(r.verdict)</span></h1>
    <p class="meta">\(escapeHTML(r.identityLine))</p>
    </header>

    """
    if let warning = r.saturationWarning {
        out += "<p class=\"warning\">\(escapeHTML(warning))</p>\n"
    }
    if !r.slo.passed {
        out += "<section class=\"slo\"><h2>SLO failures</h2>\n<ul>\n"
        if r.slo.failures.isEmpty { out += "<li>(no details recorded)</li>\n" }
        for failure in r.slo.failures { out += "<li>\(escapeHTML(failure))</li>\n" }
        out += "</ul></section>\n"
    }

    out += "<section class=\"figures\">\n"
    for section in r.summarySections { out += htmlTable(section) }
    out += "</section>\n"

    out += "<section class=\"charts\">\n<h2>Over time</h2>\n"
    if r.timeline.isEmpty {
        out += "<p class=\"nodata\">No timeline was recorded: no data to chart.</p>\n"
    } else {
        for chart in timelineCharts(r) { out += chart.html() }
    }
    out += "</section>\n"

    if !r.notes.isEmpty {
        out += "<section class=\"notes\"><h2>Notes</h2>\n<ul>\n"
        for note in r.notes { out += "<li>\(escapeHTML(note))</li>\n" }
        out += "</ul></section>\n"
    }
    out += "<footer>atrium-bots load-test report · \(escapeHTML(r.verdict))</footer>\n</body>\n</html>\n"
    return out
}

private func htmlTable(_ section: SummarySection) -> String {
    var out = "<table>\n<caption>\(escapeHTML(section.title))</caption>\n"
    if section.hasHeader {
        out += "<thead><tr><th></th>"
        for column in section.columns { out += "<th class=\"num\">\(escapeHTML(column))</th>" }
        out += "</tr></thead>\n"
    }
    out += "<tbody>\n"
    for row in section.rows {
        out += row.isDetail ? "<tr class=\"detail\">" : "<tr>"
        out += "<th scope=\"row\">\(escapeHTML(row.label))</th>"
        for cell in row.cells { out += "<td class=\"num\">\(escapeHTML(cell))</td>" }
        out += "</tr>\n"
    }
    out += "</tbody>\n</table>\n"
    return out
}

/// The charts of the report, in display order. Series without any sample are left out of a chart.
func timelineCharts(_ r: LoadReport) -> [LineChart] {
    let tl = r.timeline
    let xs = tl.map(\.t)
    typealias S = LineChart.Series
    func s(_ name: String, _ color: String, dashed: Bool = false, _ value: (TimelinePoint) -> Double?) -> S {
        S(name: name, color: color, dashed: dashed, values: tl.map(value))
    }
    let blue = "#2563eb", orange = "#ea580c", green = "#16a34a", purple = "#9333ea", grey = "#64748b"
    return [
        LineChart(title: "Latency percentiles", yLabel: "ms", xs: xs, series: [
            s("RTT p50", blue, dashed: true) { $0.rttP50 },
            s("RTT p99", blue) { $0.rttP99 },
            s("pose p50", orange, dashed: true) { $0.poseP50 },
            s("pose p99", orange) { $0.poseP99 },
            s("voice p50", green, dashed: true) { $0.voiceP50 },
            s("voice p99", green) { $0.voiceP99 },
        ]),
        LineChart(title: "Bandwidth per bot", yLabel: "kbit/s", xs: xs, series: [
            s("down", blue) { $0.downKbpsPerBot },
            s("up", orange) { $0.upKbpsPerBot },
        ]),
        LineChart(title: "Connected bots", yLabel: "bots", xs: xs, series: [
            s("connected", green) { Double($0.connected) },
        ], integerY: true),
        LineChart(title: "Server tick time", yLabel: "ms", xs: xs, series: [
            s("tick p50", purple, dashed: true) { $0.serverTickP50 },
            s("tick p99", purple) { $0.serverTickP99 },
        ]),
        LineChart(title: "CPU", yLabel: "cores", xs: xs, series: [
            s("server", purple) { $0.serverCpuCores },
            s("bots (the tool)", grey) { $0.botCpuCores },
        ]),
        LineChart(title: "Bot send lag (the tool)", yLabel: "ms", xs: xs, series: [
            s("send lag", grey) { $0.botSendLagMs },
        ]),
    ]
}

private let reportCSS = """

:root { color-scheme: light dark; --fg: #1e293b; --bg: #ffffff; --muted: #64748b; --line: #e2e8f0; \
--pass: #15803d; --fail: #b91c1c; --warn-bg: #fef3c7; --warn-fg: #78350f; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e2e8f0; --bg: #0f172a; --muted: #94a3b8; --line: #334155; --warn-bg: #451a03; --warn-fg: #fde68a; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 24px; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { font-size: 17px; margin: 28px 0 10px; }
.meta, footer { color: var(--muted); }
footer { margin-top: 32px; font-size: 12px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; font-size: 16px;
  vertical-align: middle; }
.verdict.pass { background: var(--pass); }
.verdict.fail { background: var(--fail); }
.warning { background: var(--warn-bg); color: var(--warn-fg); border-left: 5px solid #d97706; padding: 10px 14px;
  font-weight: 600; }
.slo ul { color: var(--fail); }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 18px; margin-top: 20px; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--line); }
th { text-align: left; font-weight: normal; }
thead th { color: var(--muted); }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.detail th { padding-left: 24px; color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 0 24px; }
.charts h2 { grid-column: 1 / -1; }
figure.chart { margin: 0 0 20px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
figure.chart svg { width: 100%; height: auto; font-size: 12px; }
svg text { fill: currentColor; }
svg .grid line { stroke: var(--line); stroke-width: 1; }
svg .axis line, svg line.tick { stroke: var(--muted); stroke-width: 1; }
svg .ticks text { fill: var(--muted); }
.nodata { color: var(--muted); font-style: italic; border: 1px dashed var(--line); padding: 24px; text-align: center; }

"""
