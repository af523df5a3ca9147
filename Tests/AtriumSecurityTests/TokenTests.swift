import AtriumCrypto
import Testing
@testable import AtriumSecurity

@Suite struct TokenTests {
    static let now: UInt64 = 1_780_000_000
    static let keyA = SecretKey([UInt8](repeating: 0xA1, count: 32))!
    static let keyB = SecretKey([UInt8](repeating: 0xB2, count: 32))!

    static func issue(_ ring: TokenKeyring, lifetime: UInt64 = 60) throws -> (sealed: [UInt8], token: ConnectToken) {
        try ring.issue(
            userId: "user-42", displayName: "Zoë", role: 1, worldId: "expo-hall",
            serverAddresses: ["127.0.0.1:7777", "10.0.0.2:7778"], nowSeconds: now, lifetimeSeconds: lifetime)
    }

    @Test func roundTrip() throws {
        let ring = try TokenKeyring(keys: [7: Self.keyA], currentKeyId: 7)
        let (sealed, token) = try Self.issue(ring)
        #expect(sealed.count <= TokenKeyring.maxSealedByteCount)
        #expect(Array(sealed.prefix(4)) == [0x41, 0x54, 0x4B, 1])
        #expect(Array(sealed[4..<8]) == [7, 0, 0, 0])
        let opened = try ring.open(sealed, nowSeconds: Self.now + 59)
        #expect(opened == token)
        #expect(opened.userId == "user-42" && opened.displayName == "Zoë" && opened.role == 1 && opened.worldId == "expo-hall")
        #expect(opened.expiresAt == Self.now + 60 && opened.issuedAt == Self.now)
        #expect(opened.serverAddresses == ["127.0.0.1:7777", "10.0.0.2:7778"])
        #expect(opened.clientToServerKey != opened.serverToClientKey)
        // Two issues differ in id, keys and nonce.
        let (other, otherToken) = try Self.issue(ring)
        #expect(other != sealed && otherToken.tokenId != token.tokenId)
    }

    @Test func expired() throws {
        let ring = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        let (sealed, _) = try Self.issue(ring, lifetime: 60)
        #expect(throws: TokenError.expired(expiresAt: Self.now + 60, now: Self.now + 60)) {
            try ring.open(sealed, nowSeconds: Self.now + 60)
        }
        #expect(throws: TokenError.expired(expiresAt: Self.now + 60, now: Self.now + 3600)) {
            try ring.open(sealed, nowSeconds: Self.now + 3600)
        }
    }

    /// Every single-bit flip is rejected, with the error the header region predicts.
    @Test func everyBitFlipIsRejected() throws {
        let ring = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        let (sealed, _) = try Self.issue(ring)
        for index in sealed.indices {
            for bit in 0..<8 {
                var tampered = sealed
                tampered[index] ^= UInt8(1) << UInt8(bit)
                let expected: TokenError
                switch index {
                case 0..<3: expected = .malformed("bad magic")
                case 3: expected = .unsupportedVersion(1 ^ UInt8(1) << UInt8(bit))
                case 4..<8: expected = .unknownKey(UInt32(1) ^ (UInt32(1) << UInt32((index - 4) * 8 + bit)))
                default: expected = .forged  // expiresAt, nonce, ciphertext, tag
                }
                #expect(throws: expected) { try ring.open(tampered, nowSeconds: Self.now) }
            }
        }
    }

    @Test func foreignKeyAndUnknownKeyId() throws {
        let mine = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        let theirs = try TokenKeyring(keys: [1: Self.keyB], currentKeyId: 1)
        let (sealed, _) = try Self.issue(theirs)
        #expect(throws: TokenError.forged) { try mine.open(sealed, nowSeconds: Self.now) }
        let elsewhere = try TokenKeyring(keys: [9: Self.keyA], currentKeyId: 9)
        let (sealed9, _) = try Self.issue(elsewhere)
        #expect(throws: TokenError.unknownKey(9)) { try mine.open(sealed9, nowSeconds: Self.now) }
    }

    @Test func truncatedAndOversized() throws {
        let ring = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        let (sealed, _) = try Self.issue(ring)
        #expect(throws: TokenError.malformed("too short")) { try ring.open([], nowSeconds: Self.now) }
        #expect(throws: TokenError.malformed("too short")) { try ring.open(Array(sealed.prefix(43)), nowSeconds: Self.now) }
        // Cut anywhere after the header: the tag no longer verifies.
        for length in [44, sealed.count / 2, sealed.count - 1] {
            #expect(throws: TokenError.forged) { try ring.open(Array(sealed.prefix(length)), nowSeconds: Self.now) }
        }
        #expect(throws: TokenError.forged) { try ring.open(sealed + [0], nowSeconds: Self.now) }
        let huge = sealed + [UInt8](repeating: 0, count: TokenKeyring.maxSealedByteCount)
        #expect(throws: TokenError.malformed("too long")) { try ring.open(huge, nowSeconds: Self.now) }
    }

    @Test func rotation() throws {
        let old = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        let (oldToken, _) = try Self.issue(old)
        let rotated = try TokenKeyring.parse("1:\(hexText(Self.keyA.bytes)), 2:\(hexText(Self.keyB.bytes))")
        #expect(rotated.currentKeyId == 2 && rotated.keyIds == [1, 2])
        #expect(try rotated.open(oldToken, nowSeconds: Self.now).userId == "user-42")
        let (newToken, _) = try Self.issue(rotated)
        #expect(Array(newToken[4..<8]) == [2, 0, 0, 0])
        #expect(throws: TokenError.unknownKey(2)) { try old.open(newToken, nowSeconds: Self.now) }
        // After retiring key 1, old tokens no longer open.
        let retired = try TokenKeyring.parse("2:\(hexText(Self.keyB.bytes))")
        #expect(throws: TokenError.unknownKey(1)) { try retired.open(oldToken, nowSeconds: Self.now) }
        #expect(try retired.open(newToken, nowSeconds: Self.now).worldId == "expo-hall")
    }

    @Test func keyTextParsing() throws {
        // The same key as hex, standard base64 with and without padding, and URL-safe base64.
        let bytes = (0..<32).map { UInt8(truncatingIfNeeded: $0 * 7 + 250) }
        let hex = hexText(bytes)
        let b64 = "+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNM="
        let urlSafe = "-gEIDxYdJCsyOUBHTlVcY2pxeH-GjZSboqmwt77FzNM="
        let reference = try TokenKeyring(keys: [4: SecretKey(bytes)!], currentKeyId: 4)
        let (sealed, _) = try Self.issue(reference)
        for text in [hex, hex.uppercased(), b64, String(b64.dropLast()), urlSafe] {
            let ring = try TokenKeyring.parse("4:\(text)")
            #expect(try ring.open(sealed, nowSeconds: Self.now).role == 1, "\(text)")
        }
        let ring = try TokenKeyring.parse("3:\(hex);4:\(b64)\n5:\(urlSafe)\t 6:\(hex)", currentKeyId: 4)
        #expect(ring.keyIds == [3, 4, 5, 6] && ring.currentKeyId == 4)
        #expect(throws: KeyringError.empty) { try TokenKeyring.parse(" , ") }
        #expect(throws: KeyringError.badEntry(index: 0, reason: "expected keyId:secret")) { try TokenKeyring.parse(hex) }
        #expect(throws: KeyringError.badEntry(index: 1, reason: "key id is not a decimal u32")) { try TokenKeyring.parse("1:\(hex),x:\(hex)") }
        #expect(throws: KeyringError.badEntry(index: 0, reason: "secret is not 32 bytes of hex or base64")) { try TokenKeyring.parse("1:abcd") }
        #expect(throws: KeyringError.duplicateKeyId(1)) { try TokenKeyring.parse("1:\(hex),1:\(b64)") }
        #expect(throws: KeyringError.unknownCurrentKey(8)) { try TokenKeyring.parse("1:\(hex)", currentKeyId: 8) }
    }

    @Test func secretsAreNeverPrinted() throws {
        let hex = hexText(Self.keyA.bytes)
        let ring = try TokenKeyring.parse("1:\(hex)")
        let (_, token) = try Self.issue(ring)
        var dumped = ""
        dump(ring, to: &dumped)
        dump(token, to: &dumped)
        let texts = [ring.description, ring.debugDescription, "\(ring)", String(reflecting: ring), Self.keyA.description,
                     String(reflecting: Self.keyA), token.description, "\(token)", dumped,
                     "\(KeyringError.badEntry(index: 0, reason: "x"))"]
        for text in texts {
            #expect(!text.lowercased().contains("a1a1a1"), "\(text)")
            #expect(!text.contains(hexText(token.clientToServerKey.bytes)) && !text.contains(hexText(token.serverToClientKey.bytes)))
            #expect(!text.contains(String(describing: token.clientToServerKey.bytes)))
        }
        // A malformed key entry names its position, never the text.
        do {
            _ = try TokenKeyring.parse("1:SECRETSECRETSECRET")
            Issue.record("accepted a bad key")
        } catch {
            #expect(!error.description.contains("SECRET"))
        }
    }

    @Test func developmentKey() throws {
        #expect(hexText(SecretKey.development.bytes) == "07433ef8e0e3979d1ed059b0225b8da33df075427b406ce7d9a24d34a7669c89")
        #expect(SecretKey.development.isDevelopmentKey && !Self.keyA.isDevelopmentKey)
        #expect(TokenKeyring.development.usesDevelopmentKey && TokenKeyring.development.currentKeyId == 0)
        #expect(try TokenKeyring.parse("5:07433ef8e0e3979d1ed059b0225b8da33df075427b406ce7d9a24d34a7669c89,6:\(hexText(Self.keyA.bytes))").usesDevelopmentKey)
        #expect(try !TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1).usesDevelopmentKey)
        #expect(TokenKeyring.development.description.contains("development key"))
    }

    @Test func issuingValidatesFields() throws {
        let ring = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        func issue(user: String = "u", name: String = "n", world: String = "w", servers: [String] = ["127.0.0.1:1"], lifetime: UInt64 = 60) throws {
            _ = try ring.issue(userId: user, displayName: name, role: 0, worldId: world, serverAddresses: servers,
                               nowSeconds: Self.now, lifetimeSeconds: lifetime)
        }
        try issue()
        try issue(user: String(repeating: "u", count: 64), name: String(repeating: "é", count: 16), world: String(repeating: "w", count: 64))
        for bad: () throws -> Void in [
            { try issue(user: "") }, { try issue(user: String(repeating: "u", count: 65)) },
            { try issue(name: String(repeating: "é", count: 17)) }, { try issue(name: "bad\nname") }, { try issue(name: "a\u{7F}") },
            { try issue(world: "") }, { try issue(servers: []) }, { try issue(servers: ["nope"]) },
            { try issue(servers: Array(repeating: "127.0.0.1:1", count: 9)) }, { try issue(lifetime: 0) },
        ] {
            #expect(throws: TokenError.self) { try bad() }
        }
        // Every field at its maximum would exceed 600 bytes: refused at issue time, never truncated.
        let longAddress = String(repeating: "h", count: 58) + ":65535"
        #expect(throws: TokenError.invalidField("sealed token would exceed 600 bytes")) {
            try issue(user: String(repeating: "u", count: 64), name: String(repeating: "n", count: 32),
                      world: String(repeating: "w", count: 64), servers: Array(repeating: longAddress, count: 8))
        }
    }

    @Test func authenticBodyThatBreaksRulesIsMalformed() throws {
        // A token sealed with the right key but a body that does not decode (e.g. a buggy issuer): malformed.
        var header: [UInt8] = TokenKeyring.magic + [1, 1, 0, 0, 0]
        withUnsafeBytes(of: (Self.now + 60).littleEndian) { header += $0 }
        let nonce = [UInt8](repeating: 3, count: 12)
        header += nonce
        let ring = try TokenKeyring(keys: [1: Self.keyA], currentKeyId: 1)
        for body in [[UInt8](), [UInt8](repeating: 0, count: 30), [UInt8](repeating: 0xFF, count: 200)] {
            let sealed = header + (try ChaChaPoly.seal(key: Self.keyA.bytes, nonce: nonce, aad: header, plaintext: body))
            #expect(throws: TokenError.self) { try ring.open(sealed, nowSeconds: Self.now) }
            do { _ = try ring.open(sealed, nowSeconds: Self.now) } catch {
                #expect(error.reasonCode == "malformed")
            }
        }
    }
}
