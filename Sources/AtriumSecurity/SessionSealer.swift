import AtriumCrypto

/// Seals one direction of a session: `seq u64 LE ‖ ciphertext ‖ tag16` (layout in `SessionEnvelope`).
///
/// Sequences count up from the starting sequence, one per datagram, and never wrap: after sealing
/// UInt64.max every further `seal` throws `.sequenceExhausted` (the peer must reconnect with a new token and
/// keys). Copies of a sealer share one counter and one OpenSSL context (reference-backed state), so copying
/// a sealer — e.g. with the `Session` struct that holds it — can never make two datagrams with the same
/// nonce. Not thread-safe: seal from one thread at a time.
public struct SessionSealer {
    private final class State {
        let context: ChaChaPolyContext
        var next: UInt64
        var exhausted = false
        let framing: SessionEnvelope.Framing

        init(context: ChaChaPolyContext, direction: SessionDirection, next: UInt64) {
            self.context = context
            self.next = next
            framing = SessionEnvelope.Framing(direction)
        }
    }

    public let direction: SessionDirection
    private let state: State

    /// - Parameter sequence: the first sequence to use (0 for a new session; tests start near 2^64).
    public init(key: SecretKey, direction: SessionDirection, startingAt sequence: UInt64 = 0) throws(SessionError) {
        self.direction = direction
        do {
            state = State(context: try ChaChaPolyContext(key: key.bytes, operation: .seal), direction: direction, next: sequence)
        } catch {
            throw .cryptoFailure(error)
        }
    }

    /// The sequence the next datagram will carry, or nil once UInt64.max has been used.
    public var nextSequence: UInt64? { state.exhausted ? nil : state.next }

    public mutating func seal(_ plaintext: [UInt8], channel: UInt8) throws(SessionError) -> [UInt8] {
        var failure: SessionError?
        let datagram = [UInt8](unsafeUninitializedCapacity: SessionEnvelope.overhead + plaintext.count) { buffer, count in
            failure = plaintext.withUnsafeBytes { input in
                capture { () throws(SessionError) in
                    try seal(input, channel: channel, into: UnsafeMutableRawBufferPointer(buffer))
                }
            }
            count = failure == nil ? buffer.count : 0
        }
        if let failure { throw failure }
        return datagram
    }

    /// Seals `plaintext` into `datagram`, which holds exactly `SessionEnvelope.overhead + plaintext.count` bytes
    /// (precondition) and does not overlap it: for sealing straight into a transport packet. On a throw
    /// nothing was used up and `datagram` must not be sent.
    public mutating func seal(
        _ plaintext: UnsafeRawBufferPointer, channel: UInt8, into datagram: UnsafeMutableRawBufferPointer
    ) throws(SessionError) {
        guard !state.exhausted else { throw .sequenceExhausted }
        let limit = Int(Int32.max) - SessionEnvelope.overhead
        guard plaintext.count <= limit else { throw .tooLarge(length: plaintext.count) }
        precondition(datagram.count == SessionEnvelope.overhead + plaintext.count, "SessionSealer.seal: wrong datagram size")
        let state = self.state
        let sequence = state.next
        datagram.storeBytes(of: sequence.littleEndian, as: UInt64.self)
        // Pointers are valid only inside the closure; OpenSSL writes ciphertext ‖ tag after the 8 sequence bytes.
        let failure = state.framing.withNonceAndAAD(sequence: sequence, channel: channel) { nonce, aad in
            capture { () throws(CryptoError) in
                try state.context.seal(
                    nonce: nonce, aad: aad, plaintext: plaintext,
                    into: UnsafeMutableRawBufferPointer(rebasing: datagram[SessionEnvelope.sequenceByteCount...]))
            }
        }
        if let failure { throw .cryptoFailure(failure) }
        // Advance only once the datagram exists; UInt64.max is used once and then the sealer is spent.
        if sequence == .max { state.exhausted = true } else { state.next = sequence + 1 }
    }
}

/// Runs a typed-throwing body inside the stdlib's untyped-rethrowing pointer closures, carrying the error out.
func capture<E: Error>(_ body: () throws(E) -> Void) -> E? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}
