/// Checks `thresholds` against `report.metrics`. Bounds are inclusive (a value equal to a bound passes).
/// A threshold on a metric the report did not measure is a failure ("voice_latency_ms.p99 was not measured").
/// Unknown keys are the scenario parser's job (`LoadReport.knownMetricKeys`); here they read as not measured.
public func evaluate(_ thresholds: [SLOThreshold], on report: LoadReport) -> SLOResult {
    let metrics = report.metrics
    var failures: [String] = []
    for threshold in thresholds {
        guard let value = metrics[threshold.metric] else {
            if threshold.min != nil || threshold.max != nil {
                failures.append("\(threshold.metric) was not measured")
            }
            continue
        }
        if let min = threshold.min, value < min {
            let (v, m) = Fmt.distinct(value, min)
            failures.append("\(threshold.metric) = \(v) < min \(m)")
        }
        if let max = threshold.max, value > max {
            let (v, m) = Fmt.distinct(value, max)
            failures.append("\(threshold.metric) = \(v) > max \(m)")
        }
    }
    return SLOResult(passed: failures.isEmpty, failures: failures)
}
