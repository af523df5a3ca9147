/// A JSON value whose objects keep their key order, so that output is stable and grouped for humans.
enum JSONNode: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONNode])
    case object([(key: String, value: JSONNode)])

    /// A measurement: a finite number, or null for not measured (nil, NaN, ±inf).
    static func number(_ v: Double?) -> JSONNode {
        guard let v, v.isFinite else { return .null }
        return .double(v)
    }

    static func strings(_ items: [String]) -> JSONNode { .array(items.map(JSONNode.string)) }

    // MARK: Serialization

    /// Pretty-printed with two-space indentation. Objects inside arrays whose values are all scalars
    /// (timeline points) are written on one line each, so a long run stays readable.
    func serialized() -> String {
        var out = ""
        write(to: &out, indent: 0, inArray: false)
        out.append("\n")
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    private func write(to out: inout String, indent: Int, inArray: Bool) {
        switch self {
        case .null: out.append("null")
        case .bool(let b): out.append(b ? "true" : "false")
        case .int(let i): out.append(String(i))
        case .uint(let u): out.append(String(u))
        case .double(let d): out.append(JSONNode.format(d))
        case .string(let s): JSONNode.writeString(s, to: &out)
        case .array(let items):
            if items.isEmpty { out.append("[]"); return }
            if items.allSatisfy(\.isScalar) {
                out.append("[")
                for (i, item) in items.enumerated() {
                    if i > 0 { out.append(", ") }
                    item.write(to: &out, indent: indent, inArray: true)
                }
                out.append("]")
                return
            }
            out.append("[\n")
            for (i, item) in items.enumerated() {
                out.append(String(repeating: " ", count: indent + 2))
                item.write(to: &out, indent: indent + 2, inArray: true)
                out.append(i == items.count - 1 ? "\n" : ",\n")
            }
            out.append(String(repeating: " ", count: indent))
            out.append("]")
        case .object(let members):
            if members.isEmpty { out.append("{}"); return }
            if inArray && members.allSatisfy({ $0.value.isScalar }) {
                out.append("{")
                for (i, m) in members.enumerated() {
                    if i > 0 { out.append(", ") }
                    JSONNode.writeString(m.key, to: &out)
                    out.append(": ")
                    m.value.write(to: &out, indent: indent, inArray: false)
                }
                out.append("}")
                return
            }
            out.append("{\n")
            for (i, m) in members.enumerated() {
                out.append(String(repeating: " ", count: indent + 2))
                JSONNode.writeString(m.key, to: &out)
                out.append(": ")
                m.value.write(to: &out, indent: indent + 2, inArray: false)
                out.append(i == members.count - 1 ? "\n" : ",\n")
            }
            out.append(String(repeating: " ", count: indent))
            out.append("}")
        }
    }

    /// Shortest text that reads back as the same Double; integral values without ".0". Never NaN/inf
    /// (callers build doubles through `number(_:)`; a stray non-finite value is written as null).
    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), Swift.abs(d) < 1e15 { return String(Int64(d)) }
        // Swift's description is the shortest round-tripping form: "91.2", "1e-05", "1.5e+20" — all valid JSON.
        return d.description
    }

    static func writeString(_ s: String, to out: inout String) {
        out.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case "\u{08}": out.append("\\b")
            case "\u{0C}": out.append("\\f")
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16, uppercase: false)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }

    // MARK: Flattening

    /// Every numeric leaf (including null slots and booleans as 0/1) as dotted key → value, in document order.
    /// Strings and arrays are not metrics and are skipped, as are the top-level keys in `skipping`.
    func numericLeaves(skipping: Set<String> = []) -> [(key: String, value: Double?)] {
        var out: [(key: String, value: Double?)] = []
        collect(prefix: "", skipping: skipping, into: &out)
        return out
    }

    private func collect(prefix: String, skipping: Set<String>, into out: inout [(key: String, value: Double?)]) {
        switch self {
        case .null: out.append((prefix, nil))
        case .bool(let b): out.append((prefix, b ? 1 : 0))
        case .int(let i): out.append((prefix, Double(i)))
        case .uint(let u): out.append((prefix, Double(u)))
        case .double(let d): out.append((prefix, d.isFinite ? d : nil))
        case .string, .array: break
        case .object(let members):
            for m in members {
                let key = prefix.isEmpty ? m.key : prefix + "." + m.key
                if skipping.contains(key) { continue }
                m.value.collect(prefix: key, skipping: skipping, into: &out)
            }
        }
    }
}
