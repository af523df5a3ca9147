/// Shares out behaviours among a run's bots.
public enum BehaviourMix {
    /// Assigns behaviours to `botCount` bots by the shares' weights, deterministically.
    ///
    /// Counts are the weights' quotas rounded by largest remainder (ties to the earlier share), so 1000 bots at
    /// 0.5 / 0.35 / 0.15 are exactly 500 / 350 / 150. Kinds are interleaved over the bot indices (each bot goes to
    /// the kind furthest behind its quota), so a run that ramps up has the mix from the start. A kind listed
    /// twice counts once with the summed weight; weights that are negative or not finite count as 0; with no
    /// positive weight every bot wanders. Returns, per bot, its kind and its index and count among its kind.
    public static func assign(
        botCount: Int, shares: [(kind: BehaviourKind, weight: Double)]
    )
        -> [(kind: BehaviourKind, kindIndex: Int, kindCount: Int)]
    {
        let n = max(0, botCount)
        guard n > 0 else { return [] }
        var kinds: [BehaviourKind] = []
        var weights: [Double] = []
        for share in shares {
            let w = share.weight.isFinite && share.weight > 0 ? share.weight : 0
            if let i = kinds.firstIndex(of: share.kind) {
                weights[i] += w
            } else {
                kinds.append(share.kind)
                weights.append(w)
            }
        }
        let total = weights.reduce(0, +)
        guard total > 0, total.isFinite else {
            return (0..<n).map { (.wander, $0, n) }
        }

        // Largest remainder.
        let quotas = weights.map { Double(n) * $0 / total }
        var counts = quotas.map { Int($0.rounded(.down)) }
        var left = n - counts.reduce(0, +)
        let byRemainder = quotas.indices.sorted { a, b in
            let ra = quotas[a] - Double(counts[a])
            let rb = quotas[b] - Double(counts[b])
            return ra != rb ? ra > rb : a < b
        }
        var cursor = 0
        while left > 0 {
            let i = byRemainder[cursor % byRemainder.count]
            if weights[i] > 0 {
                counts[i] += 1
                left -= 1
            }
            cursor += 1
        }
        while left < 0 {  // cannot happen with exact arithmetic; guards against rounding surprises
            if let i = counts.indices.max(by: { counts[$0] < counts[$1] }) { counts[i] -= 1 }
            left += 1
        }

        // Interleave: bot b goes to the kind whose count is furthest ahead of what it has been given so far
        // (in exact integers: counts[k]·(b+1) − given[k]·n is largest).
        var given = [Int](repeating: 0, count: kinds.count)
        var result: [(kind: BehaviourKind, kindIndex: Int, kindCount: Int)] = []
        result.reserveCapacity(n)
        for b in 0..<n {
            var best = -1
            var bestDeficit = Int.min
            for k in kinds.indices where given[k] < counts[k] {
                let deficit = counts[k] * (b + 1) - given[k] * n
                if deficit > bestDeficit {
                    best = k
                    bestDeficit = deficit
                }
            }
            result.append((kinds[best], given[best], counts[best]))
            given[best] += 1
        }
        return result
    }
}
