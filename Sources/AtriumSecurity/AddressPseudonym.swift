import AtriumCrypto

/// Names a network address in ordinary logs without revealing it: a keyed hash (HMAC-SHA256 under a
/// per-process or configured secret, first 6 bytes in hex). The same address gives the same name for
/// as long as the key lives, so log lines can be correlated, but the address cannot be recovered or
/// confirmed without the key. Raw addresses go only to the security log.
public struct AddressPseudonym: Sendable {
    private let key: [UInt8]

    /// - Parameter key: at least 16 bytes; a fresh random key when nil (names then change per run).
    public init(key: [UInt8]? = nil) {
        self.key = key ?? SecureRandom.bytes(32)
    }

    /// "addr-" followed by 12 hex digits.
    public func name(ipv4 host: UInt32, port: UInt16) -> String {
        var message: [UInt8] = []
        message.reserveCapacity(6)
        withUnsafeBytes(of: host.bigEndian) { message.append(contentsOf: $0) }
        withUnsafeBytes(of: port.bigEndian) { message.append(contentsOf: $0) }
        return "addr-" + hex(HMACSHA256.authenticate(key: key, message: message).prefix(6))
    }

    /// The same name for an address given as text (e.g. "127.0.0.1:7777"), for places that hold only text.
    public func name(_ address: String) -> String {
        "addr-" + hex(HMACSHA256.authenticate(key: key, message: Array(address.utf8)).prefix(6))
    }

    private func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        var text = ""
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }
}
