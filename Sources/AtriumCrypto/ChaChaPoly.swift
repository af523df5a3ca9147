import COpenSSL

/// ChaCha20-Poly1305 AEAD (RFC 8439) via `EVP_chacha20_poly1305`.
///
/// `seal` returns ciphertext followed by the 16-byte tag; `open` takes the same
/// layout. Nonces must never repeat under one key.
public enum ChaChaPoly {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16

    public static func seal(key: [UInt8], nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        try validate(key: key, nonce: nonce, aad: aad, data: plaintext)
        let context = try Context(encrypt: true, key: key, nonce: nonce)
        try context.feedAAD(aad)
        var output = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        try context.update(plaintext, into: &output)
        try context.finish()
        try context.readTag(into: &output, at: plaintext.count)
        return output
    }

    public static func open(key: [UInt8], nonce: [UInt8], aad: [UInt8], ciphertext sealed: [UInt8]) throws(CryptoError) -> [UInt8] {
        try validate(key: key, nonce: nonce, aad: aad, data: sealed)
        guard sealed.count >= tagByteCount else {
            throw .ciphertextTooShort(minimum: tagByteCount, actual: sealed.count)
        }
        let ciphertext = Array(sealed.prefix(sealed.count - tagByteCount))
        let tag = Array(sealed.suffix(tagByteCount))
        let context = try Context(encrypt: false, key: key, nonce: nonce)
        try context.feedAAD(aad)
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + tagByteCount)
        try context.update(ciphertext, into: &plaintext)
        try context.setTag(tag)
        guard context.finishDecrypt() else {
            // Never hand out unauthenticated plaintext.
            for i in plaintext.indices { plaintext[i] = 0 }
            throw .authenticationFailed
        }
        return Array(plaintext.prefix(ciphertext.count))
    }

    private static func validate(key: [UInt8], nonce: [UInt8], aad: [UInt8], data: [UInt8]) throws(CryptoError) {
        guard key.count == keyByteCount else { throw .invalidKeyLength(expected: keyByteCount, actual: key.count) }
        guard nonce.count == nonceByteCount else { throw .invalidNonceLength(expected: nonceByteCount, actual: nonce.count) }
        let limit = Int(Int32.max) - tagByteCount
        guard aad.count <= limit else { throw .inputTooLarge(aad.count) }
        guard data.count <= limit else { throw .inputTooLarge(data.count) }
    }

    /// Owns one EVP_CIPHER_CTX for one seal/open.
    private final class Context {
        let pointer: OpaquePointer
        let encrypt: Bool

        init(encrypt: Bool, key: [UInt8], nonce: [UInt8]) throws(CryptoError) {
            // C call: allocates a context that deinit frees.
            guard let pointer = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new") }
            self.pointer = pointer
            self.encrypt = encrypt
            let mode: Int32 = encrypt ? 1 : 0
            // C calls: select the cipher, set the 12-byte IV length, then key (32 bytes) and
            // nonce (12 bytes, both validated by the caller), read from closure-scoped pointers.
            guard EVP_CipherInit_ex(pointer, EVP_chacha20_poly1305(), nil, nil, nil, mode) == 1 else {
                throw .openSSL("EVP_CipherInit_ex")
            }
            guard EVP_CIPHER_CTX_ctrl(pointer, EVP_CTRL_AEAD_SET_IVLEN, Int32(nonce.count), nil) == 1 else {
                throw .openSSL("EVP_CTRL_AEAD_SET_IVLEN")
            }
            let ok = key.withUnsafeBytes { k in
                nonce.withUnsafeBytes { n in EVP_CipherInit_ex(pointer, nil, nil, k.cBytes, n.cBytes, mode) }
            }
            guard ok == 1 else { throw .openSSL("EVP_CipherInit_ex(key, nonce)") }
        }

        deinit {
            // C call: frees the context (and wipes its key schedule) exactly once.
            EVP_CIPHER_CTX_free(pointer)
        }

        func feedAAD(_ aad: [UInt8]) throws(CryptoError) {
            guard !aad.isEmpty else { return }
            var written: Int32 = 0
            // C call: a NULL output pointer tells OpenSSL these bytes are AAD; it reads aad.count bytes.
            let ok = aad.withUnsafeBytes { EVP_CipherUpdate(pointer, nil, &written, $0.cBytes, Int32($0.count)) }
            guard ok == 1 else { throw .openSSL("EVP_CipherUpdate(aad)") }
        }

        func update(_ input: [UInt8], into output: inout [UInt8]) throws(CryptoError) {
            guard !input.isEmpty else { return }
            precondition(output.count >= input.count)
            var written: Int32 = 0
            // C call: a stream cipher writes exactly input.count bytes; output has at least that.
            let ok = input.withUnsafeBytes { i in
                output.withUnsafeMutableBufferPointer { o in
                    EVP_CipherUpdate(pointer, o.baseAddress, &written, i.cBytes, Int32(i.count))
                }
            }
            guard ok == 1, Int(written) == input.count else { throw .openSSL("EVP_CipherUpdate") }
        }

        func finish() throws(CryptoError) {
            var scratch = [UInt8](repeating: 0, count: 32)
            var written: Int32 = 0
            // C call: ChaCha20-Poly1305 has no buffered block, so nothing (at most 0 bytes) is written.
            let ok = scratch.withUnsafeMutableBufferPointer { EVP_CipherFinal_ex(pointer, $0.baseAddress, &written) }
            guard ok == 1 else { throw .openSSL("EVP_CipherFinal_ex") }
        }

        /// Returns false when the tag does not verify.
        func finishDecrypt() -> Bool {
            var scratch = [UInt8](repeating: 0, count: 32)
            var written: Int32 = 0
            // C call: as in finish(); for decryption the return value is the tag check.
            let ok = scratch.withUnsafeMutableBufferPointer { EVP_CipherFinal_ex(pointer, $0.baseAddress, &written) }
            // A failed check leaves an entry on OpenSSL's error queue: clear it so it does not leak
            // into an unrelated later error message on this thread.
            if ok != 1 { ERR_clear_error() }
            return ok == 1
        }

        func readTag(into output: inout [UInt8], at offset: Int) throws(CryptoError) {
            precondition(output.count >= offset + ChaChaPoly.tagByteCount)
            // C call: writes exactly 16 bytes at `offset`, inside the buffer (checked above).
            let ok = output.withUnsafeMutableBufferPointer {
                EVP_CIPHER_CTX_ctrl(pointer, EVP_CTRL_AEAD_GET_TAG, Int32(ChaChaPoly.tagByteCount), $0.baseAddress! + offset)
            }
            guard ok == 1 else { throw .openSSL("EVP_CTRL_AEAD_GET_TAG") }
        }

        func setTag(_ tag: [UInt8]) throws(CryptoError) {
            var copy = tag
            // C call: OpenSSL copies the 16 tag bytes out of `copy` (its API takes void *, not const).
            let ok = copy.withUnsafeMutableBytes {
                EVP_CIPHER_CTX_ctrl(pointer, EVP_CTRL_AEAD_SET_TAG, Int32($0.count), $0.baseAddress)
            }
            guard ok == 1 else { throw .openSSL("EVP_CTRL_AEAD_SET_TAG") }
        }
    }
}
