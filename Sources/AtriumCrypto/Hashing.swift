import COpenSSL

/// SHA-256 (FIPS 180-4) via OpenSSL's EVP digest API.
public enum SHA256 {
    public static let byteCount = 32

    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        let ok: Int32
        do {
            ok = try withContiguousBytes(bytes) { (input: UnsafeRawBufferPointer) throws(CryptoError) -> Int32 in
                // C call: reads input.count bytes from a pointer valid for this closure and
                // writes exactly 32 bytes into `digest`, which has room for 32.
                digest.withUnsafeMutableBufferPointer {
                    EVP_Digest(input.cBytes, input.count, $0.baseAddress, &length, EVP_sha256(), nil)
                }
            }
        } catch {
            preconditionFailure("unreachable: digest closure does not throw")
        }
        // EVP_Digest only fails on allocation failure or a broken provider; neither is recoverable here.
        precondition(ok == 1 && length == UInt32(byteCount), "\(CryptoError.openSSL("EVP_Digest"))")
        return digest
    }
}

/// HMAC-SHA-256 (RFC 2104) via OpenSSL's one-shot `HMAC`.
public enum HMACSHA256 {
    public static let byteCount = 32

    public static func authenticate(key: [UInt8], message: some Collection<UInt8>) -> [UInt8] {
        precondition(key.count <= Int(Int32.max), "HMAC key too large")
        var mac = [UInt8](repeating: 0, count: byteCount)
        var length: UInt32 = 0
        var ok = false
        do {
            try withContiguousBytes(message) { (input: UnsafeRawBufferPointer) throws(CryptoError) in
                key.withUnsafeBytes { keyBytes in
                    mac.withUnsafeMutableBufferPointer { out in
                        // C call: reads key.count and input.count bytes from pointers valid in these
                        // closures (never NULL, see cBytes) and writes 32 bytes into `mac` (room for 32).
                        ok = HMAC(EVP_sha256(), keyBytes.cBytes, Int32(keyBytes.count),
                                  input.cBytes, input.count, out.baseAddress, &length) != nil
                    }
                }
            }
        } catch {
            preconditionFailure("unreachable: HMAC closure does not throw")
        }
        precondition(ok && length == UInt32(byteCount), "\(CryptoError.openSSL("HMAC"))")
        return mac
    }
}

/// HKDF-SHA-256 (RFC 5869, extract-and-expand) via `EVP_PKEY_HKDF`.
public enum HKDFSHA256 {
    /// RFC 5869 limit: 255 hash lengths.
    public static let maximumOutputByteCount = 255 * 32

    /// - Precondition: `0 <= outputByteCount <= 8160` (RFC 5869's limit for SHA-256).
    public static func derive(inputKeyMaterial: [UInt8], salt: [UInt8], info: [UInt8], outputByteCount: Int) -> [UInt8] {
        precondition((0...maximumOutputByteCount).contains(outputByteCount), "HKDF output length \(outputByteCount) outside 0...\(maximumOutputByteCount)")
        if outputByteCount == 0 { return [] }
        precondition(inputKeyMaterial.count < Int(Int32.max) && salt.count < Int(Int32.max) && info.count < Int(Int32.max))
        do {
            return try deriveChecked(inputKeyMaterial, salt, info, outputByteCount)
        } catch {
            // Only allocation or provider failures get here; there is no meaningful recovery.
            preconditionFailure("\(error)")
        }
    }

    private static func deriveChecked(_ ikm: [UInt8], _ salt: [UInt8], _ info: [UInt8], _ count: Int) throws(CryptoError) -> [UInt8] {
        // C call: allocates a fresh context we free below in `defer`.
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nil) else { throw .openSSL("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(context) }
        // C calls below: each copies (set1/add1) the bytes it is given from pointers that are
        // valid within their closures and never NULL (cBytes); lengths fit in Int32 (checked).
        guard EVP_PKEY_derive_init(context) == 1 else { throw .openSSL("EVP_PKEY_derive_init") }
        guard EVP_PKEY_CTX_set_hkdf_md(context, EVP_sha256()) == 1 else { throw .openSSL("EVP_PKEY_CTX_set_hkdf_md") }
        let saltOK = salt.withUnsafeBytes { EVP_PKEY_CTX_set1_hkdf_salt(context, $0.cBytes, Int32($0.count)) }
        guard saltOK == 1 else { throw .openSSL("EVP_PKEY_CTX_set1_hkdf_salt") }
        let keyOK = ikm.withUnsafeBytes { EVP_PKEY_CTX_set1_hkdf_key(context, $0.cBytes, Int32($0.count)) }
        guard keyOK == 1 else { throw .openSSL("EVP_PKEY_CTX_set1_hkdf_key") }
        if !info.isEmpty {
            let infoOK = info.withUnsafeBytes { EVP_PKEY_CTX_add1_hkdf_info(context, $0.cBytes, Int32($0.count)) }
            guard infoOK == 1 else { throw .openSSL("EVP_PKEY_CTX_add1_hkdf_info") }
        }
        var output = [UInt8](repeating: 0, count: count)
        var length = count
        // C call: writes at most `length` (= output.count) bytes into `output`.
        let ok = output.withUnsafeMutableBufferPointer { EVP_PKEY_derive(context, $0.baseAddress, &length) }
        guard ok == 1, length == count else { throw .openSSL("EVP_PKEY_derive") }
        return output
    }
}

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`).
public enum SecureRandom {
    /// Traps if the system cannot supply secure randomness: continuing with
    /// predictable keys or nonces would be worse than stopping.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0 && count <= Int(Int32.max), "invalid random byte count \(count)")
        var output = [UInt8](repeating: 0, count: count)
        if count == 0 { return output }
        // C call: writes exactly `count` bytes into `output`, which holds `count`.
        let ok = output.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        precondition(ok == 1, "\(CryptoError.openSSL("RAND_bytes"))")
        return output
    }
}

/// Compares two byte strings in time that depends only on their length (`CRYPTO_memcmp`).
/// Different lengths return false immediately (lengths are not treated as secret).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { x in
        b.withUnsafeBytes { y in
            // C call: reads a.count bytes from each buffer; both have exactly that many.
            CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0
        }
    }
}
