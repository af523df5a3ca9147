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

/// A latency distribution as counts per fixed-width bucket (bucket k: k·width ≤ value < (k+1)·width; the last
/// one may be an overflow bucket), cumulative since some start: the node's `voice_added_since_start`. Two
/// snapshots give the exact distribution between them.
public struct LatencyBuckets: Sendable, Equatable {
    public var bucketMicros: UInt64
    public var counts: [UInt64]

    public init(bucketMicros: UInt64, counts: [UInt64]) {
        self.bucketMicros = bucketMicros
        self.counts = counts
    }

    /// What was counted after `earlier` up to `self`; nil when they do not fit (other bucket widths, or a
    /// count went down: the node restarted).
    func since(_ earlier: LatencyBuckets?) -> LatencyBuckets? {
        guard let earlier else { return self }
        guard earlier.bucketMicros == bucketMicros, earlier.counts.count <= counts.count else { return nil }
        var out = counts
        for (k, c) in earlier.counts.enumerated() {
            guard out[k] >= c else { return nil }
            out[k] -= c
        }
        return LatencyBuckets(bucketMicros: bucketMicros, counts: out)
    }

    var total: UInt64 { counts.reduce(0, +) }

    /// The upper edge (ms) of the bucket holding the value at percentile `p` (nearest rank), so never below
    /// the true value and at most one bucket above it; nil when empty.
    func millis(atPercentile p: Double) -> Double? {
        let n = total
        guard n > 0 else { return nil }
        let rank = max(1, UInt64((p / 100 * Double(n)).rounded(.up)))
        var seen: UInt64 = 0
        for (k, c) in counts.enumerated() {
            seen += c
            if seen >= rank { return Double(UInt64(k + 1) * bucketMicros) / 1000 }
        }
        return nil
    }

    /// p50, p99 and max (the upper edge of the highest non-empty bucket); empty when nothing was counted.
    var percentiles: Percentiles {
        guard let top = counts.lastIndex(where: { $0 > 0 }) else { return Percentiles() }
        return Percentiles(
            p50: millis(atPercentile: 50), p99: millis(atPercentile: 99),
            max: Double(UInt64(top + 1) * bucketMicros) / 1000)
    }
}
