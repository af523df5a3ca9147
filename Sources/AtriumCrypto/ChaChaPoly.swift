/// ChaCha20-Poly1305 AEAD (RFC 8439) via `EVP_chacha20_poly1305`.
///
/// `seal` returns ciphertext followed by the 16-byte tag; `open` takes the same
/// layout. Nonces must never repeat under one key. These one-shot calls create a
/// `ChaChaPolyContext` per call; hot paths keep one context per key instead.
public enum ChaChaPoly {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16

    public static func seal(key: [UInt8], nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        try ChaChaPolyContext(key: key, operation: .seal).seal(nonce: nonce, aad: aad, plaintext: plaintext)
    }

    public static func open(key: [UInt8], nonce: [UInt8], aad: [UInt8], ciphertext sealed: [UInt8]) throws(CryptoError) -> [UInt8] {
        try ChaChaPolyContext(key: key, operation: .open).open(nonce: nonce, aad: aad, ciphertext: sealed)
    }
}
