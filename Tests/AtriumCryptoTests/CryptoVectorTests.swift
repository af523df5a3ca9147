import Testing
import AtriumCrypto

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

@Suite struct SHA256Tests {
    @Test func publishedVectors() {
        #expect(hexString(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hexString(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hexString(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func acceptsNonContiguousCollections() {
        let text = "abc"
        #expect(SHA256.hash(text.utf8) == SHA256.hash(Array(text.utf8)))
        #expect(SHA256.hash([UInt8](repeating: 0x61, count: 1000)[10..<13]) == SHA256.hash(Array("aaa".utf8)))
        #expect(SHA256.hash((0..<3).lazy.map { _ in UInt8(0x61) }) == SHA256.hash(Array("aaa".utf8)))
    }
}

@Suite struct HMACSHA256Tests {
    // RFC 4231 §4.2–4.5, 4.7, 4.8 (test case 5 checks truncation and is not applicable).
    @Test(arguments: [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(UInt8(1)...UInt8(25)), [UInt8](repeating: 0xcd, count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ([UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([UInt8](repeating: 0xaa, count: 131),
         Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func rfc4231(key: [UInt8], message: [UInt8], expected: String) {
        #expect(hexString(HMACSHA256.authenticate(key: key, message: message)) == expected)
    }

    @Test func emptyKeyAndMessage() {
        // HMAC-SHA256("", "") is a well-known constant.
        #expect(hexString(HMACSHA256.authenticate(key: [], message: [UInt8]()))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }
}

@Suite struct HKDFSHA256Tests {
    @Test func rfc5869Case1() {
        let okm = HKDFSHA256.derive(
            inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), salt: hex("000102030405060708090a0b0c"),
            info: hex("f0f1f2f3f4f5f6f7f8f9"), outputByteCount: 42)
        #expect(hexString(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func rfc5869Case2LongInputs() {
        let okm = HKDFSHA256.derive(
            inputKeyMaterial: Array(UInt8(0x00)...UInt8(0x4f)), salt: Array(UInt8(0x60)...UInt8(0xaf)),
            info: Array(UInt8(0xb0)...UInt8(0xff)), outputByteCount: 82)
        #expect(hexString(okm) == """
            b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87
            """)
    }

    @Test func rfc5869Case3EmptySaltAndInfo() {
        let okm = HKDFSHA256.derive(
            inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], outputByteCount: 42)
        #expect(hexString(okm) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func lengthsAndPrefixProperty() {
        let ikm = Array("secret".utf8)
        let long = HKDFSHA256.derive(inputKeyMaterial: ikm, salt: [1], info: [2], outputByteCount: HKDFSHA256.maximumOutputByteCount)
        #expect(long.count == 8160)
        let short = HKDFSHA256.derive(inputKeyMaterial: ikm, salt: [1], info: [2], outputByteCount: 33)
        #expect(Array(long.prefix(33)) == short)
        #expect(HKDFSHA256.derive(inputKeyMaterial: ikm, salt: [1], info: [2], outputByteCount: 0).isEmpty)
    }
}

@Suite struct RandomAndCompareTests {
    @Test func secureRandomReturnsRequestedLengthAndVaries() {
        #expect(SecureRandom.bytes(0).isEmpty)
        let a = SecureRandom.bytes(32), b = SecureRandom.bytes(32)
        #expect(a.count == 32 && b.count == 32)
        #expect(a != b)
        // 4096 random bytes should contain most byte values.
        #expect(Set(SecureRandom.bytes(4096)).count > 200)
    }

    @Test func constantTimeEqualsSemantics() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!constantTimeEquals([0], []))
    }
}
