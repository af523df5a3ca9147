import AtriumReport
import Histogram

/// A latency recorder: one histogram for the whole run, one for the current second.
struct LatencyRecorder {
    private(set) var total = LatencyRecorder.histogram()
    private(set) var window = LatencyRecorder.histogram()

    static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    mutating func record(micros: UInt64) {
        let value = max(1, min(micros, 600_000_000))
        _ = total.record(value)
        _ = window.record(value)
    }

    /// p50/p99/max in milliseconds; nil when nothing was recorded.
    static func millis(_ h: Histogram<UInt64>) -> Percentiles {
        guard h.totalCount > 0 else { return Percentiles() }
        return Percentiles(
            p50: Double(h.valueAtPercentile(50)) / 1000, p99: Double(h.valueAtPercentile(99)) / 1000,
            max: Double(h.max) / 1000)
    }

    var totalMillis: Percentiles { Self.millis(total) }

    /// The current second's figures, then a fresh window.
    mutating func closeWindow() -> Percentiles {
        defer { window.reset() }
        return Self.millis(window)
    }
}

/// Percentile of a plain sample (nearest rank); nil for no samples.
func percentile(_ values: [Double], _ p: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func mean(_ values: [Double]) -> Double? {
    values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
}
