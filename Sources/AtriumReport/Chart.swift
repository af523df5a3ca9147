import Foundation

/// A line chart over the run's timeline, drawn as inline SVG (no scripts, no external resources).
/// Non-finite or missing values are gaps; a chart with nothing to draw renders a "no data" note instead.
struct LineChart {
    struct Series {
        var name: String
        /// A CSS color.
        var color: String
        var dashed = false
        /// One value per entry of `LineChart.xs`; nil = no sample.
        var values: [Double?]
    }

    var title: String
    var yLabel: String
    var xLabel = "time (s)"
    var xs: [Double]
    var series: [Series]
    /// Integer-valued quantity (bot counts): no fractional ticks.
    var integerY = false

    // Geometry, in SVG user units.
    static let width = 720.0
    static let height = 300.0
    static let left = 64.0, right = 16.0, top = 36.0, bottom = 46.0

    /// Finite (x, y) samples of one series, nil where a gap breaks the line.
    private func samples(_ s: Series) -> [(x: Double, y: Double)?] {
        zip(xs, s.values).map { x, y in
            guard x.isFinite, let y, y.isFinite else { return nil }
            return (x, y)
        }
    }

    /// The `<figure>`: caption plus either the SVG or a "no data" note.
    func html() -> String {
        let caption = "<figcaption>\(escapeHTML(title))</figcaption>"
        let drawn = series.filter { samples($0).contains { $0 != nil } }
        guard !drawn.isEmpty else {
            return "<figure class=\"chart\">\(caption)<p class=\"nodata\">No data recorded.</p></figure>\n"
        }
        return "<figure class=\"chart\">\(caption)\n\(svg(drawn))</figure>\n"
    }

    private func svg(_ drawn: [Series]) -> String {
        let all = drawn.flatMap { samples($0).compactMap { $0 } }
        var xMin = all.map(\.x).min()!, xMax = all.map(\.x).max()!
        if xMax - xMin <= 0 { xMin -= 0.5; xMax += 0.5 }
        let yData = all.map(\.y)
        let xTicks = Axis(min: xMin, max: xMax, targetTicks: 6, integer: false, fromZero: false)
        let yAxis = Axis(min: Swift.min(0, yData.min()!), max: Swift.max(0, yData.max()!), targetTicks: 5,
                         integer: integerY, fromZero: true)

        let w = Self.width, h = Self.height
        let plotLeft = Self.left, plotRight = w - Self.right, plotTop = Self.top, plotBottom = h - Self.bottom
        func px(_ x: Double) -> Double { plotLeft + (x - xMin) / (xMax - xMin) * (plotRight - plotLeft) }
        func py(_ y: Double) -> Double {
            plotBottom - (y - yAxis.lower) / (yAxis.upper - yAxis.lower) * (plotBottom - plotTop)
        }
        let c = { (v: Double) in Fmt.fixed(v, 1) }

        var out = "<svg viewBox=\"0 0 \(c(w)) \(c(h))\" width=\"\(c(w))\" height=\"\(c(h))\" role=\"img\" "
            + "aria-label=\"\(escapeHTML(title))\">\n"
        out += "<title>\(escapeHTML(title))</title>\n"

        // Grid and y ticks.
        out += "<g class=\"grid\">"
        for tick in yAxis.ticks {
            out += "<line x1=\"\(c(plotLeft))\" y1=\"\(c(py(tick)))\" x2=\"\(c(plotRight))\" y2=\"\(c(py(tick)))\"/>"
        }
        out += "</g>\n<g class=\"ticks\">"
        for tick in yAxis.ticks {
            out += "<text x=\"\(c(plotLeft - 6))\" y=\"\(c(py(tick) + 4))\" text-anchor=\"end\">"
                + "\(yAxis.label(tick))</text>"
        }
        for tick in xTicks.ticks where tick >= xMin && tick <= xMax {
            let x = px(tick)
            out += "<line class=\"tick\" x1=\"\(c(x))\" y1=\"\(c(plotBottom))\" x2=\"\(c(x))\" y2=\"\(c(plotBottom + 5))\"/>"
            out += "<text x=\"\(c(x))\" y=\"\(c(plotBottom + 18))\" text-anchor=\"middle\">\(xTicks.label(tick))</text>"
        }
        out += "</g>\n"

        // Axes and their labels.
        out += "<g class=\"axis\"><line x1=\"\(c(plotLeft))\" y1=\"\(c(plotTop))\" x2=\"\(c(plotLeft))\" "
            + "y2=\"\(c(plotBottom))\"/><line x1=\"\(c(plotLeft))\" y1=\"\(c(plotBottom))\" x2=\"\(c(plotRight))\" "
            + "y2=\"\(c(plotBottom))\"/></g>\n"
        out += "<text class=\"axis-label\" x=\"\(c((plotLeft + plotRight) / 2))\" y=\"\(c(h - 6))\" "
            + "text-anchor=\"middle\">\(escapeHTML(xLabel))</text>\n"
        let yMid = (plotTop + plotBottom) / 2
        out += "<text class=\"axis-label\" x=\"14\" y=\"\(c(yMid))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 14 \(c(yMid)))\">\(escapeHTML(yLabel))</text>\n"

        // Series: one path per series, broken at gaps; isolated samples as dots.
        for s in drawn {
            let points = samples(s)
            var d = ""
            var dots: [(Double, Double)] = []
            var i = 0
            while i < points.count {
                guard let first = points[i] else { i += 1; continue }
                var j = i + 1
                while j < points.count, points[j] != nil { j += 1 }
                if j - i == 1 {
                    dots.append((px(first.x), py(first.y)))
                } else {
                    d += "M" + c(px(first.x)) + " " + c(py(first.y))
                    for k in (i + 1)..<j { d += "L" + c(px(points[k]!.x)) + " " + c(py(points[k]!.y)) }
                }
                i = j
            }
            let color = escapeHTML(s.color)
            out += "<g class=\"series\"><title>\(escapeHTML(s.name))</title>"
            if !d.isEmpty {
                out += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\""
                    + (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>"
            }
            for (x, y) in dots {
                out += "<circle cx=\"\(c(x))\" cy=\"\(c(y))\" r=\"2.5\" fill=\"\(color)\"/>"
            }
            out += "</g>\n"
        }

        // Legend, across the top.
        out += "<g class=\"legend\">"
        var lx = plotLeft
        for s in drawn {
            out += "<line x1=\"\(c(lx))\" y1=\"14\" x2=\"\(c(lx + 22))\" y2=\"14\" stroke=\"\(escapeHTML(s.color))\" "
                + "stroke-width=\"2.5\"" + (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>"
            out += "<text x=\"\(c(lx + 28))\" y=\"18\">\(escapeHTML(s.name))</text>"
            lx += 28 + Double(s.name.count) * 7.5 + 18
        }
        out += "</g>\n</svg>\n"
        return out
    }
}

/// "Nice" axis ticks (steps of 1, 2 or 5 × 10ⁿ) covering a data range.
struct Axis {
    let lower: Double
    let upper: Double
    let step: Double
    let ticks: [Double]

    init(min: Double, max: Double, targetTicks: Int, integer: Bool, fromZero: Bool) {
        var lo = min, hi = max
        if !(hi - lo > 0) { hi = lo + 1 }
        var step = Axis.niceStep((hi - lo) / Double(Swift.max(1, targetTicks)))
        if integer { step = Swift.max(1, step.rounded(.up)) }
        if fromZero {
            lo = (lo / step).rounded(.down) * step
            hi = (hi / step).rounded(.up) * step
            if hi <= lo { hi = lo + step }
        }
        self.lower = lo
        self.upper = hi
        self.step = step
        var ticks: [Double] = []
        var k = (lo / step).rounded(.up)
        while k * step <= hi + step * 1e-9, ticks.count < 50 {
            ticks.append(k * step)
            k += 1
        }
        self.ticks = ticks
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// Tick text with as many decimals as the step needs.
    func label(_ v: Double) -> String {
        let decimals = step >= 1 ? 0 : Int((-log10(step)).rounded(.up))
        return Fmt.fixed(v, Swift.min(decimals, 6))
    }
}
