/// Finds the largest bot count at which a scenario passes its SLOs, by binary search over the counts
/// `low, low + step, …, high` (high included when it is on that grid): `atrium-bots capacity`.
///
/// Each probe is one whole load run, so the search assumes what a server's load curve gives: more bots never
/// pass where fewer failed. It then needs ⌈log₂(counts + 1)⌉ runs at most (5 for 100…1,000 in steps of 50),
/// which bounds the search in count and time. A run the tool itself could not drive (it saturated) says
/// nothing about the server, so it ends the search: the capacity found so far is then a lower bound.
public struct CapacitySearch: Sendable {
    /// One probe and what it showed.
    public struct Probe: Sendable, Equatable {
        public var bots: Int
        public var passed: Bool
        /// The load tool saturated: the run does not describe the server.
        public var toolLimited: Bool
        public init(bots: Int, passed: Bool, toolLimited: Bool = false) {
            self.bots = bots
            self.passed = passed
            self.toolLimited = toolLimited
        }
    }

    /// The counts tried, ascending.
    public let counts: [Int]
    /// Index in `counts` of the largest passing count so far (−1: none yet).
    private var passing = -1
    /// Index in `counts` of the smallest failing count so far (`counts.count`: none yet).
    private var failing: Int
    /// True once a tool-limited run ended the search.
    public private(set) var stoppedByTool = false

    /// - Throws: `CapacitySearchError` when the range or step make no grid (low < 1, high < low, step < 1).
    public init(low: Int, high: Int, step: Int) throws(CapacitySearchError) {
        guard low >= 1 else { throw CapacitySearchError("the lowest count must be at least 1 (got \(low))") }
        guard high >= low else { throw CapacitySearchError("the highest count \(high) is below the lowest \(low)") }
        guard step >= 1 else { throw CapacitySearchError("the step must be at least 1 (got \(step))") }
        counts = Array(stride(from: low, through: high, by: step))
        failing = counts.count
    }

    /// The next count to run, or nil when the search is over.
    public var next: Int? {
        guard !stoppedByTool, failing - passing > 1 else { return nil }
        return counts[(passing + failing) / 2]
    }

    /// Records the run of `next`.
    public mutating func record(_ probe: Probe) {
        guard let index = counts.firstIndex(of: probe.bots) else { return }
        if probe.toolLimited && !probe.passed {
            stoppedByTool = true
        } else if probe.passed {
            passing = max(passing, index)
        } else {
            failing = min(failing, index)
        }
    }

    /// The largest count that passed, nil when none did.
    public var capacity: Int? { passing >= 0 ? counts[passing] : nil }
    /// The smallest count that failed, nil when none did (or the tool stopped the search first).
    public var firstFailing: Int? { failing < counts.count ? counts[failing] : nil }

    /// The most runs a search over `counts` needs.
    public var maximumRuns: Int {
        var runs = 0
        var span = counts.count + 1
        while span > 1 {
            span = (span + 1) / 2
            runs += 1
        }
        return runs
    }
}

public struct CapacitySearchError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
