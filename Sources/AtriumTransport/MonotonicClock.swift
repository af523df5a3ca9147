#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The clock packets are stamped with: CLOCK_MONOTONIC in microseconds. Every process on one host reads
/// the same clock, which is what lets bots measure end-to-end latency across sender and receiver.
public enum MonotonicClock {
    public static func nowMicros() -> UInt64 {
        var ts = timespec()
        // clock_gettime with a valid clock id and a stack timespec cannot fail.
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec / 1000)
    }

    /// CPU time of the calling thread, in seconds (CLOCK_THREAD_CPUTIME_ID). A node's worker and the bots'
    /// loop each read their own, so a server and bots sharing one process are accounted apart.
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        // As above: a valid clock id and a stack timespec.
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Sleeps the calling thread for `micros` (used to wait out the sub-millisecond rest of a tick,
    /// which ENet's millisecond service timeout cannot express).
    public static func sleep(micros: UInt64) {
        guard micros > 0 else { return }
        var req = timespec(tv_sec: Int(micros / 1_000_000), tv_nsec: Int((micros % 1_000_000) * 1000))
        var rem = timespec()
        while nanosleep(&req, &rem) == -1 && errno == EINTR { req = rem }
    }
}
