/// Where security events go: the daily-file `SecurityLog`, or `MemorySecurityLog` in tests and embedded
/// servers. Unlike ordinary logs, security events may carry raw addresses (they are the audit trail that
/// abuse handling needs); that is why they are kept apart, with their own retention.
///
/// `record` must be cheap and must not block on I/O: it is called from the node's worker thread.
public protocol SecurityLogSink: AnyObject, Sendable {
    /// One event: a name (`token_rejected`, `rate_limit_disconnect`, ...) and key=value fields in order.
    /// The sink stamps the time.
    func record(_ event: String, _ fields: KeyValuePairs<String, String>)
}

/// Formats one security log line: `ISO-8601-UTC event key=value key="quoted value"`.
///
/// Names and keys keep only `[A-Za-z0-9_.-]` (anything else becomes `_`). A value is written bare when it
/// is non-empty and contains only printable ASCII other than space, `"`, `\` and `=`; otherwise it is quoted,
/// with `"`, `\`, `\n`, `\r`, `\t` escaped and other control characters written as `\u{XX}`. A line is
/// therefore always one line, and no field value can forge another field or event (log injection).
public enum SecurityLogLine {
    public static func format(unixMicros: UInt64, event: String, fields: KeyValuePairs<String, String>) -> String {
        var line = UTCCalendar.iso8601(unixMicros: unixMicros)
        line += " "
        line += name(event)
        for (key, value) in fields {
            line += " "
            line += name(key)
            line += "="
            line += quoted(value)
        }
        return line
    }

    static func name(_ text: String) -> String {
        guard !text.isEmpty else { return "_" }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            switch scalar {
            case "A"..."Z", "a"..."z", "0"..."9", "_", ".", "-": scalar
            default: "_"
            }
        }))
    }

    static func quoted(_ value: String) -> String {
        let bare = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value < 0x7F && scalar != "\"" && scalar != "\\" && scalar != "="
        }
        if bare { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
