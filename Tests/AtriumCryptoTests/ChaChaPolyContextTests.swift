import AtriumCrypto
import Testing

@Suite struct ChaChaPolyContextTests {
    // RFC 8439 Appendix A.5 (the AEAD decryption vector).
    static let a5Key = hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0")
    static let a5Nonce = hex("000000000102030405060708")
    static let a5AAD = hex("f33388860000000000004e91")
    static let a5Plaintext = hex("""
        496e7465726e65742d4472616674732061726520647261667420646f63756d656e74732076616c696420666f72206120
        6d6178696d756d206f6620736978206d6f6e74687320616e64206d617920626520757064617465642c207265706c6163
        65642c206f72206f62736f6c65746564206279206f7468657220646f63756d656e747320617420616e792074696d652e
        20497420697320696e617070726f70726961746520746f2075736520496e7465726e65742d4472616674732061732072
        65666572656e6365206d6174657269616c206f7220746f2063697465207468656d206f74686572207468616e20617320
        2fe2809c776f726b20696e2070726f67726573732e2fe2809d
        """)
    static let a5Sealed = hex("""
        64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0
        bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
        9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e9
        9040c5a40433225ee282a1b0a06c523eaf4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
        0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a1049e617d91d361094fa68f0ff77987130
        305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b
        eead9d67890cbb22392336fea1851f38
        """)

    @Test func rfc8439VectorsThroughOneContextEach() throws {
        let sealer = try ChaChaPolyContext(key: ChaChaPolyTests.key, operation: .seal)
        let opener = try ChaChaPolyContext(key: ChaChaPolyTests.key, operation: .open)
        let expected = ChaChaPolyTests.ciphertext + ChaChaPolyTests.tag
        // Twice through the same contexts: re-initialising with the nonce must reset all per-message state.
        for _ in 0..<2 {
            #expect(try sealer.seal(nonce: ChaChaPolyTests.nonce, aad: ChaChaPolyTests.aad, plaintext: ChaChaPolyTests.plaintext) == expected)
            #expect(try opener.open(nonce: ChaChaPolyTests.nonce, aad: ChaChaPolyTests.aad, ciphertext: expected) == ChaChaPolyTests.plaintext)
        }
    }

    @Test func rfc8439AppendixA5() throws {
        #expect(Self.a5Plaintext.count == 265 && Self.a5Sealed.count == 265 + 16)
        #expect(String(decoding: Self.a5Plaintext.prefix(14), as: UTF8.self) == "Internet-Draft")
        let opener = try ChaChaPolyContext(key: Self.a5Key, operation: .open)
        #expect(try opener.open(nonce: Self.a5Nonce, aad: Self.a5AAD, ciphertext: Self.a5Sealed) == Self.a5Plaintext)
        let sealer = try ChaChaPolyContext(key: Self.a5Key, operation: .seal)
        #expect(try sealer.seal(nonce: Self.a5Nonce, aad: Self.a5AAD, plaintext: Self.a5Plaintext) == Self.a5Sealed)
        #expect(try ChaChaPoly.seal(key: Self.a5Key, nonce: Self.a5Nonce, aad: Self.a5AAD, plaintext: Self.a5Plaintext) == Self.a5Sealed)
    }

    @Test func failedOpenDoesNotPoisonTheContext() throws {
        let opener = try ChaChaPolyContext(key: Self.a5Key, operation: .open)
        var tampered = Self.a5Sealed
        tampered[100] ^= 0x10
        #expect(throws: CryptoError.authenticationFailed) {
            try opener.open(nonce: Self.a5Nonce, aad: Self.a5AAD, ciphertext: tampered)
        }
        #expect(try opener.open(nonce: Self.a5Nonce, aad: Self.a5AAD, ciphertext: Self.a5Sealed) == Self.a5Plaintext)
    }

    @Test func manyMessagesMatchFreshOneShotCalls() throws {
        let key = SecureRandom.bytes(32)
        let sealer = try ChaChaPolyContext(key: key, operation: .seal)
        let opener = try ChaChaPolyContext(key: key, operation: .open)
        for length in [0, 1, 15, 16, 17, 63, 64, 65, 700, 1400] {
            let nonce = SecureRandom.bytes(12), aad = SecureRandom.bytes(length % 7), plaintext = SecureRandom.bytes(length)
            let sealed = try sealer.seal(nonce: nonce, aad: aad, plaintext: plaintext)
            #expect(sealed == (try ChaChaPoly.seal(key: key, nonce: nonce, aad: aad, plaintext: plaintext)))
            #expect(try opener.open(nonce: nonce, aad: aad, ciphertext: sealed) == plaintext)
        }
    }

    @Test func bufferAPIWritesInPlaceAndZeroesOnFailure() throws {
        let sealer = try ChaChaPolyContext(key: Self.a5Key, operation: .seal)
        let opener = try ChaChaPolyContext(key: Self.a5Key, operation: .open)
        // Seal into the middle of a larger buffer: the bytes around it must stay untouched.
        var output = [UInt8](repeating: 0xEE, count: 4 + Self.a5Sealed.count + 4)
        try Self.a5Nonce.withUnsafeBytes { n in
            try Self.a5AAD.withUnsafeBytes { a in
                try Self.a5Plaintext.withUnsafeBytes { p in
                    try output.withUnsafeMutableBytes { o in
                        try sealer.seal(nonce: n, aad: a, plaintext: p, into: UnsafeMutableRawBufferPointer(rebasing: o[4..<(4 + Self.a5Sealed.count)]))
                    }
                }
            }
        }
        #expect(Array(output[4..<(4 + Self.a5Sealed.count)]) == Self.a5Sealed)
        #expect(output.prefix(4).allSatisfy { $0 == 0xEE } && output.suffix(4).allSatisfy { $0 == 0xEE })

        var plain = [UInt8](repeating: 0xEE, count: Self.a5Plaintext.count)
        var tampered = Self.a5Sealed
        tampered[tampered.count - 1] ^= 1
        var failure: CryptoError?
        do {
            try Self.a5Nonce.withUnsafeBytes { n in
                try Self.a5AAD.withUnsafeBytes { a in
                    try tampered.withUnsafeBytes { s in
                        try plain.withUnsafeMutableBytes { o in _ = try opener.open(nonce: n, aad: a, sealed: s, into: o) }
                    }
                }
            }
        } catch let error as CryptoError { failure = error }
        #expect(failure == .authenticationFailed)
        #expect(plain.allSatisfy { $0 == 0 })
    }

    @Test func rejectsBadSizes() throws {
        #expect(throws: CryptoError.invalidKeyLength(expected: 32, actual: 16)) {
            try ChaChaPolyContext(key: [UInt8](repeating: 1, count: 16), operation: .seal)
        }
        let sealer = try ChaChaPolyContext(key: Self.a5Key, operation: .seal)
        #expect(throws: CryptoError.invalidNonceLength(expected: 12, actual: 11)) {
            try sealer.seal(nonce: [UInt8](repeating: 0, count: 11), aad: [], plaintext: [1])
        }
        let opener = try ChaChaPolyContext(key: Self.a5Key, operation: .open)
        #expect(throws: CryptoError.ciphertextTooShort(minimum: 16, actual: 3)) {
            try opener.open(nonce: Self.a5Nonce, aad: [], ciphertext: [1, 2, 3])
        }
    }
}
