import Foundation
import Testing
@testable import AtriumSecurity

/// Checks every `<!-- example: NAME -->` + ```hex block of docs/PROTOCOL.md against the Swift code:
/// sealing the documented inputs gives exactly the documented bytes, and opening them gives the inputs back.
@Suite struct SecurityDocTests {
    /// The token of §2.4 (values listed there).
    static let exampleToken = ConnectToken(
        tokenId: Array(0x00...0x0F), userId: "user-42", displayName: "Zoë", role: 0, worldId: "expo-hall",
        issuedAt: 1_780_000_000, expiresAt: 1_780_000_060, serverAddresses: ["127.0.0.1:7777"],
        clientToServerKey: SecretKey(Array(0x20...0x3F))!, serverToClientKey: SecretKey(Array(0x40...0x5F))!)
    static let exampleTokenNonce: [UInt8] = Array(0xA0...0xAB)
    /// §3.5: a PING (clientTimeMicros 1000000, PROTOCOL.md §15.12) sealed client → server with sequence 5 on channel 1.
    static let ping: [UInt8] = [0x04, 0x40, 0x42, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x00]

    static func document(filePath: String = #filePath) throws -> String {
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
    }

    struct ParseError: Error, CustomStringConvertible { var description: String }

    static func examples(_ text: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var i = 0
        while i < lines.count {
            let line = lines[i]
            i += 1
            guard line.hasPrefix("<!-- example:"), line.hasSuffix("-->") else { continue }
            let name = line.dropFirst("<!-- example:".count).dropLast("-->".count).trimmingCharacters(in: .whitespaces)
            guard i < lines.count, lines[i] == "```hex" else { throw ParseError(description: "\(name): no ```hex block after the marker") }
            i += 1
            var bytes: [UInt8] = []
            while i < lines.count, lines[i] != "```" {
                for token in lines[i].split(separator: " ") {
                    guard token.count == 2, let b = UInt8(token, radix: 16) else { throw ParseError(description: "\(name): bad hex '\(token)'") }
                    bytes.append(b)
                }
                i += 1
            }
            guard i < lines.count else { throw ParseError(description: "\(name): unterminated block") }
            i += 1
            guard result[name] == nil else { throw ParseError(description: "\(name) documented twice") }
            result[name] = bytes
        }
        return result
    }

    static func spaced(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 16).map { start in
            bytes[start..<min(start + 16, bytes.count)].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// Session-layer examples are named token_… and envelope_…; the rest of PROTOCOL.md's examples are messages.
    static func isSessionExample(_ name: String) -> Bool {
        name.hasPrefix("token_") || name.hasPrefix("envelope_") || name.hasPrefix("cookie_")
    }

    @Test func examplesAreExactlyTheDocumentedOnes() throws {
        // §18's examples (the message examples of §15 are ProtocolDocTests').
        let documented = try Self.examples(Self.document())
        #expect(Set(documented.keys.filter(Self.isSessionExample)) == ["token_dev", "envelope_ping", "cookie_request", "cookie_reply"])
    }

    @Test func tokenUnderTheDevelopmentKey() throws {
        let bytes = try #require(try Self.examples(Self.document())["token_dev"])
        let sealed = try TokenKeyring.development.seal(Self.exampleToken, nonce: Self.exampleTokenNonce)
        #expect(sealed == bytes, "sealing gives\n\(Self.spaced(sealed))")
        #expect(try TokenKeyring.development.open(bytes, nowSeconds: 1_780_000_000) == Self.exampleToken)
        #expect(throws: TokenError.expired(expiresAt: 1_780_000_060, now: 1_780_000_060)) {
            try TokenKeyring.development.open(bytes, nowSeconds: 1_780_000_060)
        }
    }

    @Test func envelopeExample() throws {
        let bytes = try #require(try Self.examples(Self.document())["envelope_ping"])
        var sealer = try SessionSealer(key: Self.exampleToken.clientToServerKey, direction: .clientToServer, startingAt: 5)
        let sealed = try sealer.seal(Self.ping, channel: 1)
        #expect(sealed == bytes, "sealing gives\n\(Self.spaced(sealed))")
        var opener = try SessionOpener(key: Self.exampleToken.clientToServerKey, direction: .clientToServer)
        let opened = try opener.open(bytes, channel: 1)
        #expect(opened == Self.ping)
    }

    @Test func documentStatesTheDevelopmentKeyAndLimits() throws {
        let text = try Self.document()
        #expect(text.contains("07433ef8e0e3979d1ed059b0225b8da33df075427b406ce7d9a24d34a7669c89"))
        #expect(text.contains("atrium-development-token-key-v1"))
        #expect(text.contains("\(TokenKeyring.maxSealedByteCount) bytes"))
    }

    @Test func cookieRequestAndReplyExamples() throws {
        let documented = try Self.examples(Self.document())
        let request = try #require(documented["cookie_request"])
        let reply = try #require(documented["cookie_reply"])
        #expect(ConnectCookieDatagram.request(nonce: 0x0102_0304_0506_0708) == request)
        #expect(ConnectCookieDatagram.reply(nonce: 0x0102_0304_0506_0708, cookie: 0xAABB_CCDD, secondsValid: 15) == reply)
        #expect(try ConnectCookieDatagram.parseRequest(request) == 0x0102_0304_0506_0708)
        #expect(request.count >= reply.count, "no reply is larger than its request")
    }
}
