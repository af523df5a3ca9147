#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Synchronization

public struct SecurityLogError: Error, Sendable, CustomStringConvertible {
    public let description: String
}

/// The separate, append-only security log: one line per event (`SecurityLogLine`) in daily files
/// `security-YYYY-MM-DD.log` (UTC dates) inside `directory`, created 0700 and the files 0600, since lines may
/// carry raw addresses.
///
/// Retention: a file is deleted once its date is `retentionDays` or more days before the current day
/// (retention 7 keeps today's file and the 6 before it). Pruning runs when the log is opened and whenever
/// the day changes; it only ever touches files whose names match the pattern exactly.
///
/// `record` never does I/O: it formats the line, appends it to a memory buffer under a lock and, if the
/// buffer was empty, schedules a drain on the log's own serial queue, which writes and switches files.
/// If the disk falls behind by more than `maxPendingBytes`, new events are dropped and counted
/// (`droppedEvents`) rather than blocking the worker thread. `flush()` waits for the buffer to be written.
public final class SecurityLog: SecurityLogSink {
    public static let defaultMaxPendingBytes = 1 << 20

    public let directory: String
    public let retentionDays: Int
    public let maxPendingBytes: Int
    private let clock: @Sendable () -> UInt64
    private let queue = DispatchQueue(label: "atrium.security-log")

    private struct Pending {
        var lines: [(day: UTCCalendar.Day, text: String)] = []
        var bytes = 0
        var drainScheduled = false
        var dropped: UInt64 = 0
        var closed = false
    }

    /// Touched only on `queue` (the lock is uncontended; it makes the sharing explicit to the compiler).
    private struct Output {
        var descriptor: Int32 = -1
        var day: UTCCalendar.Day?
        var writeFailures: UInt64 = 0
        var deletedFiles: [String] = []
    }

    private let pending = Mutex(Pending())
    private let output = Mutex(Output())

    /// Creates `directory` if needed and deletes expired files.
    /// - Parameters:
    ///   - retentionDays: at least 1.
    ///   - clock: wall-clock unix time in microseconds (tests pass a fake one).
    public init(
        directory: String, retentionDays: Int, maxPendingBytes: Int = defaultMaxPendingBytes,
        clock: @escaping @Sendable () -> UInt64 = SecurityLog.wallClockMicros
    ) throws(SecurityLogError) {
        guard retentionDays >= 1 else { throw SecurityLogError(description: "security log retention must be at least 1 day") }
        self.directory = directory
        self.retentionDays = retentionDays
        self.maxPendingBytes = max(4096, maxPendingBytes)
        self.clock = clock
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw SecurityLogError(description: "cannot create security log directory \(directory): \(error.localizedDescription)")
        }
        let today = UTCCalendar.Day(unixMicros: clock())
        let deleted = Self.prune(directory: directory, today: today, retentionDays: retentionDays)
        output.withLock { $0.deletedFiles = deleted }
    }

    deinit {
        output.withLock { out in
            if out.descriptor >= 0 { _ = libcClose(out.descriptor) }
        }
    }

    /// Unix time in microseconds from CLOCK_REALTIME.
    @Sendable public static func wallClockMicros() -> UInt64 {
        var ts = timespec()
        // clock_gettime with a valid clock id and a stack timespec cannot fail.
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(max(0, ts.tv_sec)) &* 1_000_000 &+ UInt64(ts.tv_nsec / 1000)
    }

    public func record(_ event: String, _ fields: KeyValuePairs<String, String>) {
        let now = clock()
        let text = SecurityLogLine.format(unixMicros: now, event: event, fields: fields) + "\n"
        let day = UTCCalendar.Day(unixMicros: now)
        let schedule = pending.withLock { p -> Bool in
            guard !p.closed, p.bytes + text.utf8.count <= maxPendingBytes else {
                p.dropped &+= 1
                return false
            }
            p.lines.append((day, text))
            p.bytes += text.utf8.count
            guard !p.drainScheduled else { return false }
            p.drainScheduled = true
            return true
        }
        if schedule { queue.async { self.drain() } }
    }

    /// Blocks until every event recorded before the call is written (not fsync'd).
    public func flush() {
        queue.sync { drain() }
    }

    /// Flushes and closes the current file; later events are dropped (counted).
    public func close() {
        pending.withLock { $0.closed = true }
        queue.sync {
            drain()
            output.withLock { out in
                if out.descriptor >= 0 { _ = libcClose(out.descriptor) }
                out.descriptor = -1
                out.day = nil
            }
        }
    }

    /// Events dropped because the buffer was full or the log closed.
    public var droppedEvents: UInt64 { pending.withLock { $0.dropped } }
    /// Failed opens or writes (the events concerned are lost; the log keeps trying with later events).
    public var writeFailures: UInt64 { queue.sync { output.withLock { $0.writeFailures } } }
    /// Files deleted by retention so far (names, oldest first within each pruning).
    public var deletedFiles: [String] { queue.sync { output.withLock { $0.deletedFiles } } }

    /// "security-YYYY-MM-DD.log".
    public static func fileName(for day: UTCCalendar.Day) -> String { "security-\(day.text).log" }

    // MARK: On `queue`

    private func drain() {
        let lines = pending.withLock { p -> [(day: UTCCalendar.Day, text: String)] in
            defer {
                p.lines = []
                p.bytes = 0
                p.drainScheduled = false
            }
            return p.lines
        }
        guard !lines.isEmpty else { return }
        output.withLock { out in
            for line in lines {
                if out.day != line.day { switchFile(to: line.day, &out) }
                guard out.descriptor >= 0 else {
                    out.writeFailures &+= 1
                    continue
                }
                if !Self.writeAll(out.descriptor, line.text) { out.writeFailures &+= 1 }
            }
        }
    }

    private func switchFile(to day: UTCCalendar.Day, _ out: inout Output) {
        if out.descriptor >= 0 { _ = libcClose(out.descriptor) }
        out.day = day
        let path = directory + "/" + Self.fileName(for: day)
        // C call: opens (creating with mode 0600) for appending; the path string outlives the call.
        out.descriptor = libcOpen(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if out.descriptor < 0 { out.writeFailures &+= 1 }
        out.deletedFiles += Self.prune(directory: directory, today: day, retentionDays: retentionDays)
    }

    private static func writeAll(_ descriptor: Int32, _ text: String) -> Bool {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                // C call: writes at most the remaining bytes from inside the buffer.
                let n = libcWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// Deletes `security-YYYY-MM-DD.log` files dated `retentionDays` or more days before `today`.
    static func prune(directory: String, today: UTCCalendar.Day, retentionDays: Int) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var deleted: [String] = []
        for name in names.sorted() where name.hasPrefix("security-") && name.hasSuffix(".log") {
            let middle = name.dropFirst("security-".count).dropLast(".log".count)
            guard let day = UTCCalendar.Day(text: middle), Self.fileName(for: day) == name else { continue }
            guard day.number <= today.number - Int64(retentionDays) else { continue }
            if (try? FileManager.default.removeItem(atPath: directory + "/" + name)) != nil { deleted.append(name) }
        }
        return deleted
    }
}

// The libc calls under names that do not collide with the methods above.
@inline(__always) private func libcOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
@inline(__always) private func libcClose(_ fd: Int32) -> Int32 { close(fd) }
@inline(__always) private func libcWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
