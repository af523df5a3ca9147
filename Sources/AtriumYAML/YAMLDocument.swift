import Yams

/// Where something stands in a text file; lines and columns count from 1.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A problem in a configuration, world or scenario file, always with file and line.
public struct DocumentError: Error, Sendable, CustomStringConvertible, Equatable {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    /// `file:line:column: message` — the shape compilers use, so editors can jump to it.
    public var description: String { "\(location): \(message)" }
}

/// Entry point: parse YAML text into a value that remembers where each part came from.
public enum YAMLDocument {
    /// Parses the first document of `text`. An empty document is an error unless `allowEmpty`, when it
    /// reads as a null value.
    public static func parse(_ text: String, file: String, allowEmpty: Bool = false) throws(DocumentError) -> YAMLValue {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw translate(error, file: file, text: text)
        } catch {
            throw DocumentError(SourceLocation(file: file, line: 1, column: 1), "cannot read YAML: \(error)")
        }
        guard let root else {
            if allowEmpty { return YAMLValue(node: Node("", .implicit, .plain), file: file, path: "") }
            throw DocumentError(SourceLocation(file: file, line: 1, column: 1), "the file is empty")
        }
        return YAMLValue(node: root, file: file, path: "")
    }

    /// The line (1-based) where `key:` appears for the second time at or after `startLine`, if it does.
    static func secondOccurrenceLine(of key: String, in text: String, after startLine: Int) -> Int? {
        var seen = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where index + 1 >= startLine {
            var line = Substring(raw).drop(while: { $0 == " " || $0 == "\t" })
            if line.hasPrefix("- ") { line = line.dropFirst(2).drop(while: { $0 == " " }) }
            for candidate in [key + ":", "\"\(key)\":", "'\(key)':"] where line.hasPrefix(candidate) {
                seen += 1
                if seen == 2 { return index + 1 }
            }
        }
        return nil
    }

    private static func translate(_ error: YamlError, file: String, text: String) -> DocumentError {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return DocumentError(at(mark), "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams points at the mapping; point at the repeated key instead, which is what a person must fix.
            let line = duplicates.first.flatMap { secondOccurrenceLine(of: $0, in: text, after: context.mark.line) }
            let location = line.map { SourceLocation(file: file, line: $0, column: 1) } ?? at(context.mark)
            return DocumentError(location, "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))")
        case .reader(let problem, _, _, _):
            return DocumentError(SourceLocation(file: file, line: 1, column: 1), "cannot read text: \(problem)")
        default:
            return DocumentError(SourceLocation(file: file, line: 1, column: 1), "YAML error: \(error)")
        }
    }
}

/// One node of a parsed document with typed, located accessors. Every accessor either
/// returns a value of the asked type or throws a `DocumentError` naming the file, line and key path.
public struct YAMLValue {
    let node: Node
    public let file: String
    /// Dotted key path from the root, e.g. `zones[3].shape.radius`; empty for the root.
    public let path: String

    init(node: Node, file: String, path: String) {
        self.node = node
        self.file = file
        self.path = path
    }

    public var location: SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    var what: String { path.isEmpty ? "the document" : "'\(path)'" }

    public func error(_ message: String) -> DocumentError {
        DocumentError(location, path.isEmpty ? message : "\(path): \(message)")
    }

    private var kindName: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s): return s.string.isEmpty ? "an empty value" : "'\(s.string)'"
        }
    }

    private func scalarText(expecting type: String) throws(DocumentError) -> String {
        guard case .scalar(let scalar) = node else {
            throw error("expected \(type), found \(kindName)")
        }
        return scalar.string
    }

    public var isNull: Bool {
        if case .scalar(let s) = node { return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) }
        return false
    }

    public func string() throws(DocumentError) -> String {
        let text = try scalarText(expecting: "a string")
        if case .scalar(let s) = node, s.style == .plain, isNull {
            throw error("expected a string, found an empty value")
        }
        return text
    }

    public func bool() throws(DocumentError) -> Bool {
        let text = try scalarText(expecting: "true or false")
        switch text {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: throw error("expected true or false, found '\(text)'")
        }
    }

    public func int(in range: ClosedRange<Int>? = nil) throws(DocumentError) -> Int {
        let text = try scalarText(expecting: "a whole number")
        guard let value = Int(String(text.filter { $0 != "_" })) else {
            throw error("expected a whole number, found '\(text)'")
        }
        if let range, !range.contains(value) {
            throw error("\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func double(in range: ClosedRange<Double>? = nil) throws(DocumentError) -> Double {
        let text = try scalarText(expecting: "a number")
        guard let value = Double(String(text.filter { $0 != "_" })), value.isFinite else {
            throw error("expected a finite number, found '\(text)'")
        }
        if let range, !range.contains(value) {
            throw error("\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func float(in range: ClosedRange<Double>? = nil) throws(DocumentError) -> Float {
        Float(try double(in: range))
    }

    /// A string that must be one of `E`'s raw values.
    public func oneOf<E: RawRepresentable & CaseIterable>(_ type: E.Type) throws(DocumentError) -> E
    where E.RawValue == String {
        let text = try string()
        guard let value = E(rawValue: text) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw error("'\(text)' is not one of: \(allowed)")
        }
        return value
    }

    public func sequence() throws(DocumentError) -> [YAMLValue] {
        guard case .sequence(let seq) = node else { throw error("expected a list, found \(kindName)") }
        return seq.enumerated().map { YAMLValue(node: $1, file: file, path: "\(path)[\($0)]") }
    }

    /// A mapping whose keys must all be in `allowedKeys`; an unknown key is an error at its own line.
    public func mapping(allowedKeys: Set<String>) throws(DocumentError) -> YAMLMapping {
        guard case .mapping(let map) = node else { throw error("expected a mapping, found \(kindName)") }
        var entries: [(key: String, keyLocation: SourceLocation, value: YAMLValue)] = []
        for (keyNode, valueNode) in map {
            let keyValue = YAMLValue(node: keyNode, file: file, path: path)
            guard case .scalar(let keyScalar) = keyNode else { throw keyValue.error("keys must be plain names") }
            let key = keyScalar.string
            guard allowedKeys.contains(key) else {
                let known = allowedKeys.sorted().joined(separator: ", ")
                throw DocumentError(
                    keyValue.location,
                    "unknown key '\(path.isEmpty ? key : path + "." + key)' (known keys: \(known))")
            }
            if entries.contains(where: { $0.key == key }) {
                throw DocumentError(keyValue.location, "duplicate key '\(key)'")
            }
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            entries.append((key, keyValue.location, YAMLValue(node: valueNode, file: file, path: childPath)))
        }
        return YAMLMapping(owner: self, entries: entries)
    }
}

/// A checked mapping: look keys up as required or optional.
public struct YAMLMapping {
    public let owner: YAMLValue
    let entries: [(key: String, keyLocation: SourceLocation, value: YAMLValue)]

    public var keys: [String] { entries.map(\.key) }
    public var location: SourceLocation { owner.location }

    public func optional(_ key: String) -> YAMLValue? {
        entries.first(where: { $0.key == key })?.value
    }

    public func required(_ key: String) throws(DocumentError) -> YAMLValue {
        guard let value = optional(key) else {
            let name = owner.path.isEmpty ? key : "\(owner.path).\(key)"
            throw DocumentError(owner.location, "missing required key '\(name)'")
        }
        return value
    }
}
