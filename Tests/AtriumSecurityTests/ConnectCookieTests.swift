import AtriumCrypto
import AtriumSecurity
import AtriumTransport
import Testing

@Suite struct ConnectCookieTests {
    let cookies = ConnectCookie(secret: Array(repeating: 3, count: 32), windowSeconds: 10)
    let source = IPv4Endpoint(host: 0x0A00_0001, port: 40_000)
    let second: UInt64 = 1_000_000

    @Test func validInItsWindowAndTheNextOnlyAndBoundToAddressAndPort() {
        let issuedAt = 1_000 * second + 3 * second  // window 100, 3 s in
        let cookie = cookies.issue(for: source, nowMicros: issuedAt)
        #expect(cookies.verify(cookie, from: source, nowMicros: issuedAt))
        #expect(cookies.verify(cookie, from: source, nowMicros: 1_019 * second))  // next window
        #expect(!cookies.verify(cookie, from: source, nowMicros: 1_020 * second))  // expired
        #expect(!cookies.verify(cookie, from: source, nowMicros: 999 * second))  // before issue
        #expect(!cookies.verify(cookie, from: IPv4Endpoint(host: 0x0A00_0001, port: 40_001), nowMicros: issuedAt))
        #expect(!cookies.verify(cookie, from: IPv4Endpoint(host: 0x0A00_0002, port: 40_000), nowMicros: issuedAt))
        #expect(!cookies.verify(cookie ^ 1, from: source, nowMicros: issuedAt))
        let other = ConnectCookie(secret: Array(repeating: 4, count: 32), windowSeconds: 10)
        #expect(!other.verify(cookie, from: source, nowMicros: issuedAt))
        #expect(cookies.secondsValid(nowMicros: issuedAt) == 17)
    }

    @Test func cookieIsTheDocumentedHMAC() {
        // First 4 bytes of HMAC-SHA256(secret, label ‖ 0A 00 00 01 ‖ 9C 40 ‖ window u64 BE), big-endian.
        var message = Array("atrium-connect-cookie-v1".utf8)
        message += [0x0A, 0x00, 0x00, 0x01, 0x9C, 0x40, 0, 0, 0, 0, 0, 0, 0, 100]
        let mac = HMACReference.mac(key: Array(repeating: 3, count: 32), message: message)
        let expected = UInt32(mac[0]) << 24 | UInt32(mac[1]) << 16 | UInt32(mac[2]) << 8 | UInt32(mac[3])
        #expect(cookies.cookie(for: source, window: 100) == expected)
        #expect(cookies.issue(for: source, nowMicros: 1_005 * second) == expected)
    }

    @Test func requestAndReplyLayoutsAndSizes() throws {
        let request = ConnectCookieDatagram.request(nonce: 0x0102_0304_0506_0708)
        #expect(request.count == 32)
        #expect(Array(request.prefix(14)) == [0xFF, 0xFF, 0x41, 0x54, 1, 1, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(request.dropFirst(14).allSatisfy { $0 == 0 })
        #expect(try ConnectCookieDatagram.parseRequest(request) == 0x0102_0304_0506_0708)

        let reply = ConnectCookieDatagram.reply(nonce: 0x0102_0304_0506_0708, cookie: 0xAABB_CCDD, secondsValid: 15)
        #expect(reply == [0xFF, 0xFF, 0x41, 0x54, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1, 0xDD, 0xCC, 0xBB, 0xAA, 15, 0])
        #expect(reply.count <= request.count)
        let parsed = try ConnectCookieDatagram.parseReply(reply)
        #expect(parsed.nonce == 0x0102_0304_0506_0708 && parsed.cookie == 0xAABB_CCDD && parsed.secondsValid == 15)

        #expect(throws: ConnectCookieDatagramError.wrongKind) { try ConnectCookieDatagram.parseRequest(reply) }
        #expect(throws: ConnectCookieDatagramError.wrongKind) { try ConnectCookieDatagram.parseReply(request) }
        #expect(throws: ConnectCookieDatagramError.wrongSize) { try ConnectCookieDatagram.parseRequest(Array(request.dropLast())) }
        #expect(throws: ConnectCookieDatagramError.wrongSize) { try ConnectCookieDatagram.parseRequest(request + [0]) }
        #expect(throws: ConnectCookieDatagramError.notCookieDatagram) { try ConnectCookieDatagram.parseRequest([0xFF, 0xFF, 0x41]) }
        #expect(throws: ConnectCookieDatagramError.wrongSize) { try ConnectCookieDatagram.parseRequest([0xFF, 0xFF, 0x41, 0x54, 1]) }
        var padded = request
        padded[31] = 1
        #expect(throws: ConnectCookieDatagramError.badPadding) { try ConnectCookieDatagram.parseRequest(padded) }
        var version = request
        version[5] = 2
        #expect(throws: ConnectCookieDatagramError.unsupportedVersion) { try ConnectCookieDatagram.parseRequest(version) }
    }

    @Test func cookieDatagramsAreNeverAcceptedAsENet() {
        let inspector = ENetDatagramInspector()
        #expect(inspector.inspect(ConnectCookieDatagram.request(nonce: 1)) == .reject(.compressed))
        #expect(inspector.inspect(ConnectCookieDatagram.reply(nonce: 1, cookie: 2, secondsValid: 3)) == .reject(.compressed))
    }
}

/// HMAC-SHA256 from its definition over AtriumCrypto's SHA256 (RFC 2104), to check the cookie's construction
/// independently of the HMAC the code uses.
enum HMACReference {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = SHA256.hash(block.map { $0 ^ 0x36 } + message)
        return SHA256.hash(block.map { $0 ^ 0x5C } + inner)
    }
}
