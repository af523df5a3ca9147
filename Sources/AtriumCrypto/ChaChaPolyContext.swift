import COpenSSL

/// A reusable ChaCha20-Poly1305 (RFC 8439) context: one `EVP_CIPHER_CTX` created once for one key and one
/// operation, re-initialised with a fresh nonce for every message. Sealing ~30,000 small datagrams a second,
/// allocating a context, expanding the key and freeing it per packet costs more than the cipher itself.
///
/// Not thread-safe (the OpenSSL context is mutable state): keep one per key and direction, used by one thread
/// at a time. The class is deliberately not `Sendable`.
///
/// Nonces must never repeat under one key; the context does not check that (callers own nonce discipline).
public final class ChaChaPolyContext {
    public enum Operation: Sendable { case seal, open }

    public let operation: Operation
    private let pointer: OpaquePointer

    public init(key: [UInt8], operation: Operation) throws(CryptoError) {
        guard key.count == ChaChaPoly.keyByteCount else {
            throw .invalidKeyLength(expected: ChaChaPoly.keyByteCount, actual: key.count)
        }
        // C call: allocates a context that deinit frees (also on the throwing paths below, since
        // `pointer` is stored before any of them).
        guard let pointer = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new") }
        self.pointer = pointer
        self.operation = operation
        let mode: Int32 = operation == .seal ? 1 : 0
        // C calls: select the cipher, set the 12-byte IV length (the cipher's default, set explicitly so a
        // provider change cannot alter it), then the 32-byte key read from a closure-scoped pointer. The nonce
        // is supplied per message in `start(nonce:)`.
        guard EVP_CipherInit_ex(pointer, EVP_chacha20_poly1305(), nil, nil, nil, mode) == 1 else {
            throw .openSSL("EVP_CipherInit_ex")
        }
        guard EVP_CIPHER_CTX_ctrl(pointer, EVP_CTRL_AEAD_SET_IVLEN, Int32(ChaChaPoly.nonceByteCount), nil) == 1 else {
            throw .openSSL("EVP_CTRL_AEAD_SET_IVLEN")
        }
        let ok = key.withUnsafeBytes { EVP_CipherInit_ex(pointer, nil, nil, $0.cBytes, nil, mode) }
        guard ok == 1 else { throw .openSSL("EVP_CipherInit_ex(key)") }
    }

    deinit {
        // C call: frees the context and wipes its key schedule, exactly once.
        EVP_CIPHER_CTX_free(pointer)
    }

    // MARK: Buffer API (no allocation)

    /// Seals `plaintext` into `output`: ciphertext (plaintext.count bytes) then the 16-byte tag.
    /// - Precondition: `output.count >= plaintext.count + 16`; `output` does not overlap the inputs.
    public func seal(
        nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        precondition(operation == .seal, "a context created for .open cannot seal")
        try validate(nonce: nonce, aad: aad, data: plaintext)
        precondition(output.count >= plaintext.count + ChaChaPoly.tagByteCount, "seal output too small")
        try start(nonce: nonce)
        try feedAAD(aad)
        try update(plaintext, into: output)
        guard finalCall() else { throw .openSSL("EVP_CipherFinal_ex") }
        // C call: writes exactly 16 bytes right after the ciphertext, inside `output` (checked above).
        let tag = output.baseAddress! + plaintext.count
        guard EVP_CIPHER_CTX_ctrl(pointer, EVP_CTRL_AEAD_GET_TAG, Int32(ChaChaPoly.tagByteCount), tag) == 1 else {
            throw .openSSL("EVP_CTRL_AEAD_GET_TAG")
        }
    }

    /// Opens `sealed` (ciphertext then 16-byte tag) into `output` and returns the plaintext length
    /// (`sealed.count - 16`). On a tag mismatch throws `.authenticationFailed` and leaves `output` zeroed:
    /// unauthenticated plaintext is never handed out.
    /// - Precondition: `output.count >= sealed.count - 16`; `output` does not overlap the inputs.
    @discardableResult
    public func open(
        nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, sealed: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) -> Int {
        precondition(operation == .open, "a context created for .seal cannot open")
        try validate(nonce: nonce, aad: aad, data: sealed)
        guard sealed.count >= ChaChaPoly.tagByteCount else {
            throw .ciphertextTooShort(minimum: ChaChaPoly.tagByteCount, actual: sealed.count)
        }
        let length = sealed.count - ChaChaPoly.tagByteCount
        precondition(output.count >= length, "open output too small")
        try start(nonce: nonce)
        try feedAAD(aad)
        try update(UnsafeRawBufferPointer(rebasing: sealed[0..<length]), into: output)
        // C call: OpenSSL copies the 16 tag bytes (its API takes void *, but only reads for SET_TAG).
        let tag = UnsafeMutableRawPointer(mutating: sealed.baseAddress! + length)
        guard EVP_CIPHER_CTX_ctrl(pointer, EVP_CTRL_AEAD_SET_TAG, Int32(ChaChaPoly.tagByteCount), tag) == 1 else {
            throw .openSSL("EVP_CTRL_AEAD_SET_TAG")
        }
        guard finalCall() else {
            // A failed check leaves an entry on this thread's OpenSSL error queue: clear it so it does not
            // surface in an unrelated later error message.
            ERR_clear_error()
            if length > 0 { UnsafeMutableRawBufferPointer(rebasing: output[0..<length]).initializeMemory(as: UInt8.self, repeating: 0) }
            throw .authenticationFailed
        }
        return length
    }

    // MARK: Array API

    /// Ciphertext followed by the 16-byte tag.
    public func seal(nonce: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(CryptoError) -> [UInt8] {
        var failure: CryptoError?
        let output = [UInt8](unsafeUninitializedCapacity: plaintext.count + ChaChaPoly.tagByteCount) { buffer, count in
            // Pointers from withUnsafeBytes are valid only inside these closures; errors are carried out as values
            // because the Array closures rethrow untyped errors.
            failure = nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    plaintext.withUnsafeBytes { p in
                        Self.capture { () throws(CryptoError) in try seal(nonce: n, aad: a, plaintext: p, into: UnsafeMutableRawBufferPointer(buffer)) }
                    }
                }
            }
            count = failure == nil ? buffer.count : 0
        }
        if let failure { throw failure }
        return output
    }

    /// The plaintext of `ciphertext` (which ends with the 16-byte tag).
    public func open(nonce: [UInt8], aad: [UInt8], ciphertext sealed: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= ChaChaPoly.tagByteCount else {
            throw .ciphertextTooShort(minimum: ChaChaPoly.tagByteCount, actual: sealed.count)
        }
        var failure: CryptoError?
        let output = [UInt8](unsafeUninitializedCapacity: sealed.count - ChaChaPoly.tagByteCount) { buffer, count in
            failure = nonce.withUnsafeBytes { n in
                aad.withUnsafeBytes { a in
                    sealed.withUnsafeBytes { s in
                        Self.capture { () throws(CryptoError) in try open(nonce: n, aad: a, sealed: s, into: UnsafeMutableRawBufferPointer(buffer)) }
                    }
                }
            }
            // open() zero-fills on failure, so `buffer` is initialised either way.
            count = failure == nil ? buffer.count : 0
        }
        if let failure { throw failure }
        return output
    }

    private static func capture(_ body: () throws(CryptoError) -> Void) -> CryptoError? {
        do { try body(); return nil } catch { return error }
    }

    // MARK: C boundary helpers

    private func validate(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) throws(CryptoError) {
        guard nonce.count == ChaChaPoly.nonceByteCount else {
            throw .invalidNonceLength(expected: ChaChaPoly.nonceByteCount, actual: nonce.count)
        }
        // OpenSSL's length parameters are C ints.
        let limit = Int(Int32.max) - ChaChaPoly.tagByteCount
        guard aad.count <= limit else { throw .inputTooLarge(aad.count) }
        guard data.count <= limit else { throw .inputTooLarge(data.count) }
    }

    /// Re-keys nothing: only the nonce changes, which resets the Poly1305 state and the AAD/text counters.
    private func start(nonce: UnsafeRawBufferPointer) throws(CryptoError) {
        // C call: cipher and key stay (NULL), enc = -1 keeps the operation; reads 12 nonce bytes (validated).
        guard EVP_CipherInit_ex(pointer, nil, nil, nil, nonce.cBytes, -1) == 1 else {
            throw .openSSL("EVP_CipherInit_ex(nonce)")
        }
    }

    private func feedAAD(_ aad: UnsafeRawBufferPointer) throws(CryptoError) {
        guard !aad.isEmpty else { return }
        var written: Int32 = 0
        // C call: a NULL output pointer tells OpenSSL these bytes are AAD; it reads aad.count bytes.
        guard EVP_CipherUpdate(pointer, nil, &written, aad.cBytes, Int32(aad.count)) == 1 else {
            throw .openSSL("EVP_CipherUpdate(aad)")
        }
    }

    private func update(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        guard !input.isEmpty else { return }
        var written: Int32 = 0
        // C call: a stream cipher writes exactly input.count bytes; callers checked output holds that many.
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard EVP_CipherUpdate(pointer, out, &written, input.cBytes, Int32(input.count)) == 1, Int(written) == input.count else {
            throw .openSSL("EVP_CipherUpdate")
        }
    }

    /// EVP_CipherFinal_ex: computes the tag when sealing; when opening, its result is the tag check.
    private func finalCall() -> Bool {
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var written: Int32 = 0
        // C call: ChaCha20-Poly1305 has no buffered block, so Final writes nothing; it still wants a valid
        // output pointer, given a 32-byte stack scratch that outlives the call.
        let ok = withUnsafeMutableBytes(of: &scratch) {
            EVP_CipherFinal_ex(pointer, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &written)
        }
        return ok == 1 && written == 0
    }
}
