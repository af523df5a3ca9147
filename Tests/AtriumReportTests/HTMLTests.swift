import Testing
@testable import AtriumReport

@Suite struct HTMLReportTests {
    static func count(_ needle: String, in haystack: String) -> Int {
        haystack.components(separatedBy: needle).count - 1
    }

    /// Checks shared by every rendering: balanced tags, nothing non-finite, nothing fetched.
    static func expectWellFormed(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(html.hasPrefix("<!DOCTYPE html>"), sourceLocation: sourceLocation)
        #expect(html.hasSuffix("</html>\n"), sourceLocation: sourceLocation)
        for tag in ["svg", "g", "table", "section", "figure", "ul", "html", "head", "body", "style"] {
            #expect(count("<\(tag)>", in: html) + count("<\(tag) ", in: html) == count("</\(tag)>", in: html),
                    "unbalanced <\(tag)>", sourceLocation: sourceLocation)
        }
        for bad in ["NaN", "nan", "inf", "Infinity"] {
            #expect(!html.contains(bad), "contains \(bad)", sourceLocation: sourceLocation)
        }
        #expect(!html.lowercased().contains("http"), "contains a URL", sourceLocation: sourceLocation)
        #expect(!html.lowercased().contains("<script"), sourceLocation: sourceLocation)
        #expect(!html.contains("@import") && !html.contains("url("), sourceLocation: sourceLocation)
    }

    @Test func fullReport() {
        let html = htmlReport(sampleReport())
        Self.expectWellFormed(html)
        #expect(html.contains("<title>expo-1000 — FAIL — atrium-bots</title>"))
        #expect(html.contains("<span class=\"verdict fail\">FAIL</span>"))
        #expect(html.contains("<li>pose_latency_ms.p99 = 91.2 &gt; max 76.7</li>"))
        // Summary figures as tables.
        #expect(Self.count("<table>", in: html) == 7)
        #expect(html.contains("<caption>Latency (ms)</caption>"))
        #expect(html.contains("<caption>Voice</caption>"))
        #expect(html.contains("<th scope=\"row\">frames lost</th><td class=\"num\">3090</td>"))
        #expect(html.contains("<th scope=\"row\">voice</th><td class=\"num\">61.00</td><td class=\"num\">88.80</td>"))
        #expect(html.contains("<th scope=\"row\">RTT</th><td class=\"num\">0.412</td>"))
        // Six charts drawn; voice has no timeline samples so no voice legend entry.
        #expect(Self.count("<svg ", in: html) == 6)
        #expect(html.contains(">RTT p99</text>") && html.contains(">pose p50</text>"))
        #expect(!html.contains(">voice p50</text>"))
        #expect(html.contains(">time (s)</text>") && html.contains(">kbit/s</text>"))
        #expect(!html.contains("No data recorded"))
        #expect(html.contains("<li>warm-up 5 s excluded</li>"))
    }

    @Test func emptyReportShowsNoDataNotes() {
        let html = htmlReport(LoadReport(scenario: "empty"))
        Self.expectWellFormed(html)
        #expect(html.contains("<span class=\"verdict pass\">PASS</span>"))
        #expect(!html.contains("<svg"))
        #expect(html.contains("No timeline was recorded: no data to chart."))
    }

    @Test func allNilAndNonFiniteSeriesAreGaps() {
        var r = LoadReport(scenario: "gaps")
        r.timeline = (0..<4).map { TimelinePoint(t: Double($0), connected: 10) }
        r.timeline[1].rttP99 = .nan
        r.timeline[2].rttP99 = 5
        r.timeline[3].serverTickP99 = .infinity
        r.timeline[0].downKbpsPerBot = 3
        r.timeline[1].downKbpsPerBot = 4
        let html = htmlReport(r)
        Self.expectWellFormed(html)
        // Latency: one isolated sample, drawn as a dot. Tick: only a non-finite sample, so no data.
        #expect(html.contains("<circle"))
        #expect(Self.count("<svg ", in: html) == 3)   // latency, bandwidth, connected bots
        #expect(Self.count("No data recorded.", in: html) == 3)   // tick, CPU, send lag
    }

    @Test func chartsWithoutSamplesSayNoData() {
        let chart = LineChart(title: "Empty", yLabel: "ms", xs: [0, 1], series: [
            LineChart.Series(name: "a", color: "red", values: [nil, .nan]),
        ])
        #expect(chart.html().contains("No data recorded."))
        #expect(!chart.html().contains("<svg"))
        let noPoints = LineChart(title: "None", yLabel: "ms", xs: [], series: [])
        #expect(noPoints.html().contains("No data recorded."))
    }

    @Test func singlePointAndConstantSeriesHaveFiniteAxes() {
        var r = LoadReport(scenario: "one")
        r.timeline = [TimelinePoint(t: 0, connected: 0, rttP50: 0, serverTickP50: 7)]
        Self.expectWellFormed(htmlReport(r))
        r.timeline = (0..<3).map { _ in TimelinePoint(t: 100, connected: 5, poseP99: 1e-9) }
        Self.expectWellFormed(htmlReport(r))
        r.timeline = (0..<3).map { TimelinePoint(t: Double($0), connected: -2, poseP99: -1e12) }
        Self.expectWellFormed(htmlReport(r))
    }

    @Test func textIsEscaped() {
        var r = sampleReport()
        r.scenario = "<script>alert('x')</script> & co"
        r.notes = ["<b>bold</b>"]
        r.failureReasons = ["<img src=x>": 1]
        r.botSaturated = true
        r.botSaturationReasons = ["\"quoted\" <reason>"]
        let html = htmlReport(r)
        Self.expectWellFormed(html)
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"))
        #expect(!html.contains("<b>") && !html.contains("<img"))
        #expect(html.contains("&quot;quoted&quot; &lt;reason&gt;"))
        #expect(html.contains("BOT SATURATED"))
    }

    @Test func axisTicksAreNice() {
        let a = Axis(min: 0, max: 91.2, targetTicks: 5, integer: false, fromZero: true)
        #expect(a.step == 20 && a.lower == 0 && a.upper == 100)
        #expect(a.ticks == [0, 20, 40, 60, 80, 100])
        let b = Axis(min: 0, max: 0.33, targetTicks: 5, integer: false, fromZero: true)
        #expect(b.step == 0.1 && b.label(b.ticks[3]) == "0.3")
        let c = Axis(min: 0, max: 3, targetTicks: 5, integer: true, fromZero: true)
        #expect(c.step == 1 && c.ticks == [0, 1, 2, 3])
        let flat = Axis(min: 0, max: 0, targetTicks: 5, integer: false, fromZero: true)
        #expect(flat.upper > flat.lower && flat.ticks.allSatisfy(\.isFinite))
    }
}
