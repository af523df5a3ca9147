/// A host name or IP literal plus a UDP port.
///
/// `host` holds an IPv6 literal without brackets (`"::1"`); `description`
/// adds them back (`"[::1]:7777"`). Parsing never resolves names; that happens
/// when the address is handed to ``TransportHost``.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// True when `host` is an IPv6 literal (it contains a colon).
    public var isIPv6Literal: Bool { host.contains(":") }

    public var description: String {
        isIPv6Literal ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses `"127.0.0.1:7777"`, `"localhost:7777"` or `"[::1]:7777"`.
    ///
    /// Returns nil for a missing or out-of-range port, an empty host, or an
    /// unbracketed host that itself contains a colon (`"::1:7777"` is ambiguous).
    public static func parse(_ text: String) -> TransportAddress? {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portPart = rest.dropFirst()
            guard hostPart.contains(":") else { return nil }  // brackets are for IPv6 only
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return nil }
        }
        guard !hostPart.isEmpty, !hostPart.contains(where: { $0.isWhitespace }) else { return nil }
        guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(portPart)
        else { return nil }
        return TransportAddress(host: String(hostPart), port: port)
    }
}
