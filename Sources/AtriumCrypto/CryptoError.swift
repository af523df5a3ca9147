import COpenSSL

/// Errors from AtriumCrypto.
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidKeyLength(expected: Int, actual: Int)
    case invalidNonceLength(expected: Int, actual: Int)
    /// A sealed box shorter than its tag.
    case ciphertextTooShort(minimum: Int, actual: Int)
    /// The tag did not verify: wrong key/nonce/aad, or tampered ciphertext/tag.
    case authenticationFailed
    /// An input too large for OpenSSL's `int` length parameters.
    case inputTooLarge(Int)
    /// An OpenSSL call failed; `message` is the library's error queue text.
    case openSSL(function: String, message: String)

    public var description: String {
        switch self {
        case let .invalidKeyLength(expected, actual): "invalid key length \(actual), expected \(expected)"
        case let .invalidNonceLength(expected, actual): "invalid nonce length \(actual), expected \(expected)"
        case let .ciphertextTooShort(minimum, actual): "ciphertext of \(actual) bytes is shorter than \(minimum)"
        case .authenticationFailed: "authentication failed"
        case let .inputTooLarge(count): "input of \(count) bytes is too large"
        case let .openSSL(function, message): "\(function) failed: \(message)"
        }
    }

    /// Drains OpenSSL's thread-local error queue into one error.
    static func openSSL(_ function: String) -> CryptoError {
        var messages: [String] = []
        // Bounded: the queue holds at most ERR_NUM_ERRORS (16) entries per thread.
        for _ in 0..<16 {
            // C call: pops one code from this thread's error queue (0 = empty).
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            // C call: writes at most buffer.count bytes, always NUL-terminated.
            buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
            messages.append(String(decoding: bytes, as: UTF8.self))
        }
        return .openSSL(function: function, message: messages.isEmpty ? "unknown error" : messages.joined(separator: "; "))
    }
}

/// Runs `body` over contiguous bytes of any collection (copying only when needed).
@inline(__always)
func withContiguousBytes<C: Collection<UInt8>, R>(_ bytes: C, _ body: (UnsafeRawBufferPointer) throws(CryptoError) -> R) throws(CryptoError) -> R {
    // Both paths hand `body` a pointer that is valid only for the duration of the call.
    let result: Result<R, CryptoError>? = bytes.withContiguousStorageIfAvailable { buffer in
        Result { () throws(CryptoError) -> R in try body(UnsafeRawBufferPointer(buffer)) }
    }
    if let result { return try result.get() }
    return try Array(bytes).withUnsafeBytes { buffer in
        Result { () throws(CryptoError) -> R in try body(buffer) }
    }.get()
}

/// A non-null pointer for OpenSSL inputs that may be empty (some APIs reject NULL even with length 0).
/// `nonisolated(unsafe)` is sound: the pointer is initialised once (swift_once), never
/// reassigned, and OpenSSL only ever reads zero bytes through it.
nonisolated(unsafe) let emptyInput: UnsafeRawPointer = {
    // A static one-byte allocation that is never freed or written: always valid to pass as input.
    let pointer = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    pointer.storeBytes(of: 0, as: UInt8.self)
    return UnsafeRawPointer(pointer)
}()

extension UnsafeRawBufferPointer {
    /// The base address as `const unsigned char *`, never NULL.
    var cBytes: UnsafePointer<UInt8> {
        // Raw memory viewed as bytes: UInt8 can alias any memory; count stays as is.
        (baseAddress ?? emptyInput).assumingMemoryBound(to: UInt8.self)
    }
}
