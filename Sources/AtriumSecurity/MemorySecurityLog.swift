import Synchronization

/// A `SecurityLogSink` that keeps events in memory (tests, and servers run without a log directory).
/// Bounded: beyond `capacity` events the oldest are discarded.
public final class MemorySecurityLog: SecurityLogSink {
    public struct Entry: Sendable {
        public var unixMicros: UInt64
        public var event: String
        public var fields: [(key: String, value: String)]
        /// The formatted line, exactly as `SecurityLog` would write it (without the newline).
        public var line: String

        public subscript(field key: String) -> String? { fields.first { $0.key == key }?.value }
    }

    public let capacity: Int
    private let clock: @Sendable () -> UInt64
    private let state = Mutex<[Entry]>([])

    public init(capacity: Int = 10_000, clock: @escaping @Sendable () -> UInt64 = SecurityLog.wallClockMicros) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.clock = clock
    }

    public func record(_ event: String, _ fields: KeyValuePairs<String, String>) {
        let now = clock()
        let entry = Entry(
            unixMicros: now, event: event, fields: fields.map { ($0.key, $0.value) },
            line: SecurityLogLine.format(unixMicros: now, event: event, fields: fields))
        state.withLock { entries in
            if entries.count >= capacity { entries.removeFirst(entries.count - capacity + 1) }
            entries.append(entry)
        }
    }

    public var entries: [Entry] { state.withLock { $0 } }
    public var lines: [String] { entries.map(\.line) }
}
