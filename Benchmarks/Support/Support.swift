// What more than one suite needs: the thread-CPU metric and its clock, a seeded generator, and the repository's
// worlds. A library target, so each suite stays one file of benchmarks (the plugin only runs the executable
// targets in Benchmarks/Benchmarks/).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumWorld
import Benchmark

extension BenchmarkMetric {
    /// CPU time of the measuring thread, nanoseconds per operation (scaled like wallClock): measure it with
    /// `ThreadCPUClock` around the measured work. On Linux the package's cpuTotal comes from /proc/self/stat in
    /// scheduler ticks (10 ms), far coarser than one iteration of most benchmarks here.
    public static let threadCPU = BenchmarkMetric.custom("CPU time, thread (ns)", polarity: .prefersSmaller, useScalingFactor: true)
}

/// CPU time of the calling thread since `init`, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
public struct ThreadCPUClock {
    public let start = Self.now()

    public init() {}

    public func elapsed() -> Int { Self.now() - start }

    public static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
    }
}

/// SplitMix64: a small, fast, reproducible generator (the standard library's is seeded randomly).
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public enum BenchmarkWorlds {
    /// Loads Worlds/<id>.yaml of the repository this file is in (Benchmarks/Support/Support.swift), with the
    /// WorldLoader the server uses.
    public static func load(_ id: String) -> WorldDefinition {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        let path = (parts + ["Worlds", "\(id).yaml"]).joined(separator: "/")
        do {
            return try WorldLoader.load(path: path)
        } catch {
            fatalError("benchmarks: cannot load \(path): \(error)")
        }
    }
}
