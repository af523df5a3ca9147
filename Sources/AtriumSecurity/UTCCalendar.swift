/// Proleptic Gregorian calendar arithmetic in UTC for log timestamps and daily file names, done with
/// integers (no DateFormatter: it is slow, locale-dependent and not meant for a hot path).
public enum UTCCalendar {
    public struct Day: Sendable, Hashable, Comparable {
        /// Days since 1970-01-01.
        public var number: Int64
        public init(number: Int64) { self.number = number }
        public init(unixMicros: UInt64) { number = Int64(unixMicros / 86_400_000_000) }

        public static func < (a: Day, b: Day) -> Bool { a.number < b.number }

        /// (year, month 1...12, day 1...31).
        public var civil: (year: Int64, month: Int, day: Int) {
            // Days → civil date over 400-year eras of 146,097 days, with years starting in March so the
            // leap day falls at the end of the year.
            let z = number + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let doe = z - era * 146_097
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
            let mp = (5 * doy + 2) / 153
            let d = Int(doy - (153 * mp + 2) / 5 + 1)
            let m = Int(mp < 10 ? mp + 3 : mp - 9)
            return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
        }

        /// The inverse of `civil`; nil for an impossible date (month 13, February 30, ...).
        public init?(year: Int64, month: Int, day: Int) {
            guard (1...12).contains(month), (1...31).contains(day) else { return nil }
            let y = year - (month <= 2 ? 1 : 0)
            let era = (y >= 0 ? y : y - 399) / 400
            let yoe = y - era * 400
            let doy = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            number = era * 146_097 + doe - 719_468
            let check = civil
            guard check.year == year, check.month == month, check.day == day else { return nil }
        }

        /// "YYYY-MM-DD".
        public var text: String {
            let (y, m, d) = civil
            return pad(y, 4) + "-" + pad(Int64(m), 2) + "-" + pad(Int64(d), 2)
        }

        /// Parses "YYYY-MM-DD" (exactly that shape).
        public init?(text: Substring) {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                  parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let y = Int64(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
            else { return nil }
            self.init(year: y, month: m, day: d)
        }
    }

    /// ISO-8601 UTC with milliseconds: "2026-05-10T12:34:56.789Z".
    public static func iso8601(unixMicros: UInt64) -> String {
        let day = Day(unixMicros: unixMicros)
        let inDay = unixMicros % 86_400_000_000
        let seconds = inDay / 1_000_000
        let millis = inDay % 1_000_000 / 1000
        return day.text + "T" + pad(Int64(seconds / 3600), 2) + ":" + pad(Int64(seconds / 60 % 60), 2) + ":"
            + pad(Int64(seconds % 60), 2) + "." + pad(Int64(millis), 3) + "Z"
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
