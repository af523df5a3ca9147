import Foundation
import Synchronization
import Testing
@testable import AtriumSecurity

/// A settable clock for the log (unix micros).
final class FakeWallClock: Sendable {
    private let micros: Mutex<UInt64>
    init(_ micros: UInt64) { self.micros = Mutex(micros) }
    var now: UInt64 { micros.withLock { $0 } }
    func set(_ value: UInt64) { micros.withLock { $0 = value } }
    var clock: @Sendable () -> UInt64 { { self.now } }
}

@Suite struct SecurityLogTests {
    static let day = UInt64(86_400_000_000)
    /// 2026-05-10T12:34:56.789Z.
    static let t0: UInt64 = 1_778_416_496_789_000

    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "atrium-seclog-" + hexText((0..<6).map { _ in UInt8.random(in: 0...255) })
        return path
    }

    @Test func calendar() {
        #expect(UTCCalendar.iso8601(unixMicros: 0) == "1970-01-01T00:00:00.000Z")
        #expect(UTCCalendar.iso8601(unixMicros: Self.t0) == "2026-05-10T12:34:56.789Z")
        #expect(UTCCalendar.iso8601(unixMicros: 951_782_400_000_000) == "2000-02-29T00:00:00.000Z")
        #expect(UTCCalendar.iso8601(unixMicros: 4_107_542_399_999_999) == "2100-02-28T23:59:59.999Z")
        for n: Int64 in [0, 1, 59, 10_957, 11_016, 20_583, 47_540, 100_000] {
            let day = UTCCalendar.Day(number: n)
            #expect(UTCCalendar.Day(text: Substring(day.text)) == day)
        }
        #expect(UTCCalendar.Day(text: "2026-02-29") == nil && UTCCalendar.Day(text: "2024-02-29") != nil)
        #expect(UTCCalendar.Day(text: "2026-13-01") == nil && UTCCalendar.Day(text: "26-01-01") == nil && UTCCalendar.Day(text: "2026-1-011") == nil)
    }

    @Test func lineFormatCannotBeInjected() {
        let line = SecurityLogLine.format(unixMicros: Self.t0, event: "token rejected\n", fields: [
            "reason": "expired", "address": "1.2.3.4:5", "name": "Zoë \"x\" y=1\nfake_event a=b", "bad key": "", "ctl": "\u{1B}[31m",
        ])
        #expect(line == #"2026-05-10T12:34:56.789Z token_rejected_ reason=expired address=1.2.3.4:5 name="Zoë \"x\" y=1\nfake_event a=b" bad_key="" ctl="\u{1b}[31m""#)
        #expect(!line.contains("\n"))
    }

    @Test func memorySinkKeepsStructuredEntries() {
        let clock = FakeWallClock(Self.t0)
        let sink = MemorySecurityLog(capacity: 2, clock: clock.clock)
        sink.record("a", ["k": "1"])
        sink.record("b", ["k": "2"])
        sink.record("c", ["k": "3", "address": "5.6.7.8:9"])
        #expect(sink.entries.map(\.event) == ["b", "c"])
        #expect(sink.entries.last?[field: "address"] == "5.6.7.8:9")
        #expect(sink.lines.last == "2026-05-10T12:34:56.789Z c k=3 address=5.6.7.8:9")
    }

    @Test func writesDailyFilesAndAppliesRetention() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Old files: 2026-05-01 ... 2026-05-09, plus files retention must never touch.
        for d in 1...9 { _ = FileManager.default.createFile(atPath: directory + "/security-2026-05-0\(d).log", contents: Data("old\n".utf8)) }
        for other in ["notes.txt", "security-2026-05-01.log.bak", "security-20260501.log", "security-2026-02-30.log"] {
            _ = FileManager.default.createFile(atPath: directory + "/" + other, contents: Data())
        }
        let clock = FakeWallClock(Self.t0)
        let log = try SecurityLog(directory: directory, retentionDays: 3, clock: clock.clock)
        // Opening on 05-10 with 3 days: keep 05-08, 05-09 (and today), delete 05-01 ... 05-07.
        #expect(log.deletedFiles == (1...7).map { "security-2026-05-0\($0).log" })
        log.record("token_rejected", ["reason": "forged", "address": "203.0.113.9:40000"])
        log.record("rate_limit_disconnect", ["kind": "chat"])
        log.flush()
        let today = try String(contentsOfFile: directory + "/security-2026-05-10.log", encoding: .utf8)
        #expect(today == """
            2026-05-10T12:34:56.789Z token_rejected reason=forged address=203.0.113.9:40000
            2026-05-10T12:34:56.789Z rate_limit_disconnect kind=chat

            """)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/security-2026-05-10.log")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        // The day changes: a new file, and 05-08 falls out of the 3 days (05-09, 05-10, 05-11 stay).
        clock.set(Self.t0 + Self.day)
        log.record("token_rejected", ["reason": "expired"])
        log.flush()
        #expect(FileManager.default.fileExists(atPath: directory + "/security-2026-05-11.log"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/security-2026-05-08.log"))
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names == ["notes.txt", "security-2026-02-30.log", "security-2026-05-01.log.bak", "security-2026-05-09.log",
                          "security-2026-05-10.log", "security-2026-05-11.log", "security-20260501.log"])
        log.close()
        log.record("after_close", [:])
        #expect(log.droppedEvents == 1 && log.writeFailures == 0)

        // Reopening appends to today's file.
        let again = try SecurityLog(directory: directory, retentionDays: 3, clock: clock.clock)
        again.record("node_started", [:])
        again.flush()
        let lines = try String(contentsOfFile: directory + "/security-2026-05-11.log", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[1].hasSuffix(" node_started"))
    }

    @Test func recordDoesNotBlockAndBoundsTheBuffer() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try SecurityLog(directory: directory, retentionDays: 1, maxPendingBytes: 4096, clock: FakeWallClock(Self.t0).clock)
        for i in 0..<2000 { log.record("burst", ["i": String(i), "pad": String(repeating: "x", count: 60)]) }
        log.flush()
        let written = try String(contentsOfFile: directory + "/security-2026-05-10.log", encoding: .utf8).split(separator: "\n").count
        #expect(UInt64(written) + log.droppedEvents == 2000)
        #expect(written > 0)
    }

    @Test func rejectsBadSettings() {
        #expect(throws: SecurityLogError.self) { try SecurityLog(directory: Self.temporaryDirectory(), retentionDays: 0) }
        #expect(throws: SecurityLogError.self) { try SecurityLog(directory: "/proc/atrium-not-allowed", retentionDays: 1) }
    }
}
