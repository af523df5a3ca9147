/// SplitMix64: small, fast and identical everywhere, so a seed reproduces a whole run.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    public mutating func uniform(_ range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }
}

extension SeededRandom {
    /// A generator for one member of a family (a bot of a run, say): the same `seed` and `index` always give
    /// the same stream, and neighbouring indices give unrelated streams.
    public init(seed: UInt64, index: UInt64) {
        var mixer = SeededRandom(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        self.init(seed: mixer.next())
    }

    /// Uniform in [0, 1), with 53 bits.
    public mutating func unitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unitDouble()
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { unitDouble() < p }

    /// Uniform in 0..<n (n > 0); 0 when n ≤ 0.
    public mutating func index(below n: Int) -> Int {
        guard n > 1 else { return 0 }
        return Int(next() % UInt64(n))
    }

    /// −1 or +1.
    public mutating func sign() -> Float { next() & 1 == 0 ? -1 : 1 }
}
