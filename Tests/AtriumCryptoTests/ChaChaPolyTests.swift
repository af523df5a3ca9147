import Testing
import AtriumCrypto

@Suite struct ChaChaPolyTests {
    // RFC 8439 §2.8.2.
    static let key = Array(UInt8(0x80)...UInt8(0x9f))
    static let nonce = hex("070000004041424344454647")
    static let aad = hex("50515253c0c1c2c3c4c5c6c7")
    static let plaintext = Array(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    static let ciphertext = hex("""
        d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
        3ff4def08e4b7a9de576d26586cec64b6116
        """)
    static let tag = hex("1ae10b594f09e26a7e902ecbd0600691")

    @Test func rfc8439Section2_8_2() throws {
        let sealed = try ChaChaPoly.seal(key: Self.key, nonce: Self.nonce, aad: Self.aad, plaintext: Self.plaintext)
        #expect(sealed == Self.ciphertext + Self.tag)
        let opened = try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: Self.aad, ciphertext: sealed)
        #expect(opened == Self.plaintext)
    }

    @Test func tamperingAnyByteOfCiphertextTagOrAADFails() throws {
        let sealed = Self.ciphertext + Self.tag
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed) {
                try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: Self.aad, ciphertext: tampered)
            }
        }
        for index in Self.aad.indices {
            var aad = Self.aad
            aad[index] ^= 0x80
            #expect(throws: CryptoError.authenticationFailed) {
                try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: aad, ciphertext: sealed)
            }
        }
        // Dropped or extra AAD, wrong key, wrong nonce, truncated box.
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: [], ciphertext: sealed)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: Self.aad + [0], ciphertext: sealed)
        }
        var otherKey = Self.key
        otherKey[0] ^= 1
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(key: otherKey, nonce: Self.nonce, aad: Self.aad, ciphertext: sealed)
        }
        var otherNonce = Self.nonce
        otherNonce[11] ^= 1
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(key: Self.key, nonce: otherNonce, aad: Self.aad, ciphertext: sealed)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: Self.aad, ciphertext: Array(sealed.dropLast()))
        }
    }

    @Test func emptyPlaintextAndAADRoundTrip() throws {
        let key = SecureRandom.bytes(32), nonce = SecureRandom.bytes(12)
        let sealed = try ChaChaPoly.seal(key: key, nonce: nonce, aad: [], plaintext: [])
        #expect(sealed.count == 16)
        #expect(try ChaChaPoly.open(key: key, nonce: nonce, aad: [], ciphertext: sealed) == [])
        let big = SecureRandom.bytes(100_000)
        let sealedBig = try ChaChaPoly.seal(key: key, nonce: nonce, aad: [1, 2], plaintext: big)
        #expect(try ChaChaPoly.open(key: key, nonce: nonce, aad: [1, 2], ciphertext: sealedBig) == big)
    }

    @Test func rejectsBadSizes() {
        #expect(throws: CryptoError.invalidKeyLength(expected: 32, actual: 31)) {
            try ChaChaPoly.seal(key: [UInt8](repeating: 0, count: 31), nonce: Self.nonce, aad: [], plaintext: [])
        }
        #expect(throws: CryptoError.invalidNonceLength(expected: 12, actual: 8)) {
            try ChaChaPoly.seal(key: Self.key, nonce: [UInt8](repeating: 0, count: 8), aad: [], plaintext: [])
        }
        #expect(throws: CryptoError.ciphertextTooShort(minimum: 16, actual: 15)) {
            try ChaChaPoly.open(key: Self.key, nonce: Self.nonce, aad: [], ciphertext: [UInt8](repeating: 0, count: 15))
        }
    }
}
