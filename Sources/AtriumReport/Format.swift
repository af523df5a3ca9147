/// Locale-independent number formatting for the text and HTML renderings (never "NaN" or "inf").
public enum Fmt {
    /// Shown for anything not measured.
    public static let missing = "—"

    /// `v` with exactly `decimals` digits after the point, rounded half away from zero.
    public static func fixed(_ v: Double, _ decimals: Int) -> String {
        guard v.isFinite else { return missing }
        guard Swift.abs(v) < 1e15 else { return v.description }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (Swift.abs(v) * scale).rounded()
        let digits = String(UInt64(scaled))
        let sign = (v < 0 && scaled != 0) ? "-" : ""
        guard decimals > 0 else { return sign + digits }
        let padded = String(repeating: "0", count: Swift.max(0, decimals + 1 - digits.count)) + digits
        let split = padded.index(padded.endIndex, offsetBy: -decimals)
        return sign + padded[..<split] + "." + padded[split...]
    }

    /// Up to `maxDecimals` digits after the point, trailing zeros removed: 91.2, 76.667, 1000.
    static func compact(_ v: Double, maxDecimals: Int = 3) -> String {
        var s = fixed(v, maxDecimals)
        guard s.contains("."), !s.contains("e") else { return s }
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// Table figure: about three significant digits for small values, fewer decimals for large ones.
    static func figure(_ v: Double?) -> String {
        guard let v, v.isFinite else { return missing }
        let a = Swift.abs(v)
        if a >= 1000 { return fixed(v, 0) }
        if a >= 100 { return fixed(v, 1) }
        if a >= 1 || a == 0 { return fixed(v, 2) }
        return fixed(v, 3)
    }

    /// A count carried as Double: an integer when integral, else two decimals.
    static func count(_ v: Double?) -> String {
        guard let v, v.isFinite else { return missing }
        return v == v.rounded() ? fixed(v, 0) : fixed(v, 2)
    }

    /// Two numbers distinguishable in text: compact form, or full precision when compact forms collide.
    static func distinct(_ a: Double, _ b: Double) -> (String, String) {
        let ca = compact(a), cb = compact(b)
        if ca == cb && a != b { return (a.description, b.description) }
        return (ca, cb)
    }

    /// Text for a single line of plain-text output: control characters (newlines, tabs) become spaces.
    static func oneLine(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
    }
}
