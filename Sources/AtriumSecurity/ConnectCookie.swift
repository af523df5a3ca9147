import AtriumCrypto
import AtriumTransport

/// Stateless connect cookies: proof that a client can receive datagrams at the address it connects
/// from, checked before ENet allocates anything for a CONNECT.
///
/// cookie = first 4 bytes (read big-endian) of
/// HMAC-SHA256(secret, "atrium-connect-cookie-v1" ‖ IPv4 (4 bytes, network order) ‖ port (2, big-endian)
/// ‖ window (8, big-endian)), where window = ⌊now / windowSeconds⌋ on the server's monotonic clock.
/// The server keeps no state per cookie; a cookie verifies in the window it was issued in and the next
/// one, so it is valid for at least `windowSeconds` and at most twice that.
///
/// 32 bits are enough here: a guess succeeds with probability 2⁻³¹ per CONNECT, and the cookie only
/// admits a connection attempt (authentication happens later, in HELLO).
public struct ConnectCookie: Sendable {
    public static let label = Array("atrium-connect-cookie-v1".utf8)
    public static let defaultWindowSeconds: UInt32 = 10

    public let windowSeconds: UInt32
    private let secret: [UInt8]

    /// - Parameters:
    ///   - secret: at least 16 bytes; a fresh random 32-byte secret when nil (cookies then die with the process).
    ///   - windowSeconds: 1…3600.
    public init(secret: [UInt8]? = nil, windowSeconds: UInt32 = ConnectCookie.defaultWindowSeconds) {
        precondition(secret.map { $0.count >= 16 } ?? true, "cookie secret shorter than 16 bytes")
        self.secret = secret ?? SecureRandom.bytes(32)
        self.windowSeconds = min(max(windowSeconds, 1), 3600)
    }

    public func window(nowMicros: UInt64) -> UInt64 { nowMicros / (UInt64(windowSeconds) * 1_000_000) }

    /// The cookie for `source` in the window containing `nowMicros`.
    public func issue(for source: IPv4Endpoint, nowMicros: UInt64) -> UInt32 {
        cookie(for: source, window: window(nowMicros: nowMicros))
    }

    /// Whole seconds a cookie issued now stays valid at least (to the end of the next window).
    public func secondsValid(nowMicros: UInt64) -> UInt16 {
        let period = UInt64(windowSeconds) * 1_000_000
        let left = period - nowMicros % period + period
        return UInt16(clamping: left / 1_000_000)
    }

    /// True when `cookie` was issued for `source` in the current or the previous window.
    public func verify(_ cookie: UInt32, from source: IPv4Endpoint, nowMicros: UInt64) -> Bool {
        let current = window(nowMicros: nowMicros)
        // Both windows are always computed so the time taken does not say which one matched.
        let now = matches(cookie, self.cookie(for: source, window: current))
        let previous = current > 0 && matches(cookie, self.cookie(for: source, window: current - 1))
        return now || previous
    }

    public func cookie(for source: IPv4Endpoint, window: UInt64) -> UInt32 {
        var message = Self.label
        message.reserveCapacity(Self.label.count + 14)
        withUnsafeBytes(of: source.host.bigEndian) { message.append(contentsOf: $0) }
        withUnsafeBytes(of: source.port.bigEndian) { message.append(contentsOf: $0) }
        withUnsafeBytes(of: window.bigEndian) { message.append(contentsOf: $0) }
        let mac = HMACSHA256.authenticate(key: secret, message: message)
        return UInt32(mac[0]) << 24 | UInt32(mac[1]) << 16 | UInt32(mac[2]) << 8 | UInt32(mac[3])
    }

    private func matches(_ a: UInt32, _ b: UInt32) -> Bool {
        constantTimeEquals(bytes(a), bytes(b))
    }

    private func bytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}

// MARK: - Datagrams

/// The two datagrams of the cookie step, sent outside ENet on the same UDP socket.
///
/// Both start with `FF FF 41 54` ("AT"). ENet would read `FF FF` as peer 0xFFF with the compressed and
/// sent-time flags; Atrium never compresses, so ``ENetDatagramInspector`` rejects it as ENet traffic
/// and the two can never be confused. Numbers are little-endian, as everywhere in Atrium's own formats.
///
/// Request (client → server), exactly 32 bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `FF FF 41 54` |
/// | 4 | 1 | kind `01` (request) |
/// | 5 | 1 | format version `01` |
/// | 6 | 8 | client nonce (random, echoed) |
/// | 14 | 18 | zero padding, so a request is never smaller than the reply |
///
/// Reply (server → client), exactly 20 bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `FF FF 41 54` |
/// | 4 | 1 | kind `02` (reply) |
/// | 5 | 1 | format version `01` |
/// | 6 | 8 | the request's client nonce |
/// | 14 | 4 | cookie, u32 — pass it as `enet_host_connect`'s `data` |
/// | 18 | 2 | seconds the cookie stays valid at least, u16 |
public enum ConnectCookieDatagram {
    public static let magic: [UInt8] = [0xFF, 0xFF, 0x41, 0x54]
    public static let version: UInt8 = 1
    public static let kindRequest: UInt8 = 1
    public static let kindReply: UInt8 = 2
    public static let requestSize = 32
    public static let replySize = 20

    /// True when the datagram starts with the cookie magic (whatever follows).
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0xFF && bytes[1] == 0xFF && bytes[2] == 0x41 && bytes[3] == 0x54
    }

    public static func request(nonce: UInt64) -> [UInt8] {
        var bytes = magic + [kindRequest, version]
        appendLE(nonce, to: &bytes)
        bytes += [UInt8](repeating: 0, count: requestSize - bytes.count)
        return bytes
    }

    public static func reply(nonce: UInt64, cookie: UInt32, secondsValid: UInt16) -> [UInt8] {
        var bytes = magic + [kindReply, version]
        appendLE(nonce, to: &bytes)
        appendLE(UInt64(cookie), to: &bytes, count: 4)
        appendLE(UInt64(secondsValid), to: &bytes, count: 2)
        return bytes
    }

    /// The nonce of a well-formed request.
    public static func parseRequest(_ bytes: UnsafeRawBufferPointer) throws(ConnectCookieDatagramError) -> UInt64 {
        try checkHead(bytes, kind: kindRequest, size: requestSize)
        for index in 14..<requestSize where bytes[index] != 0 { throw .badPadding }
        return readLE(bytes, at: 6, count: 8)
    }

    public static func parseRequest(_ bytes: [UInt8]) throws(ConnectCookieDatagramError) -> UInt64 {
        // withUnsafeBytes is untyped-rethrows, so the typed error travels out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(ConnectCookieDatagramError) in try parseRequest(raw) } }.get()
    }

    public static func parseReply(
        _ bytes: UnsafeRawBufferPointer
    ) throws(ConnectCookieDatagramError) -> (nonce: UInt64, cookie: UInt32, secondsValid: UInt16) {
        try checkHead(bytes, kind: kindReply, size: replySize)
        return (readLE(bytes, at: 6, count: 8), UInt32(readLE(bytes, at: 14, count: 4)), UInt16(readLE(bytes, at: 18, count: 2)))
    }

    public static func parseReply(
        _ bytes: [UInt8]
    ) throws(ConnectCookieDatagramError) -> (nonce: UInt64, cookie: UInt32, secondsValid: UInt16) {
        try bytes.withUnsafeBytes { raw in Result { () throws(ConnectCookieDatagramError) in try parseReply(raw) } }.get()
    }

    private static func checkHead(_ bytes: UnsafeRawBufferPointer, kind: UInt8, size: Int) throws(ConnectCookieDatagramError) {
        guard hasMagic(bytes) else { throw .notCookieDatagram }
        guard bytes.count >= 6 else { throw .wrongSize }
        guard bytes[4] == kind else { throw .wrongKind }
        guard bytes[5] == version else { throw .unsupportedVersion }
        guard bytes.count == size else { throw .wrongSize }
    }

    private static func appendLE(_ value: UInt64, to bytes: inout [UInt8], count: Int = 8) {
        for index in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    // Callers checked the size, so `at + count <= bytes.count`.
    private static func readLE(_ bytes: UnsafeRawBufferPointer, at: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(bytes[at + index]) << (8 * index) }
        return value
    }
}

public enum ConnectCookieDatagramError: String, Error, Sendable, CaseIterable {
    case notCookieDatagram = "not-cookie-datagram"
    case wrongKind = "wrong-kind"
    case unsupportedVersion = "unsupported-version"
    case wrongSize = "wrong-size"
    case badPadding = "bad-padding"
}
