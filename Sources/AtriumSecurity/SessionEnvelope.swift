/// The sealed-datagram layout shared by `SessionSealer` and `SessionOpener` (docs/PROTOCOL.md §18.3):
///
///     datagram = seq u64 LE ‖ ciphertext ‖ tag (16)
///     nonce    = direction label (4: "C2S\0" / "S2C\0") ‖ seq u64 LE
///     AAD      = version (1) ‖ direction (0 c→s, 1 s→c) ‖ ENet channel
///
/// The sequence is authenticated through the nonce, the direction and channel through the AAD.
public enum SessionEnvelope {
    public static let version: UInt8 = 1
    public static let sequenceByteCount = 8
    public static let tagByteCount = 16
    /// Bytes a sealed datagram adds to its plaintext.
    public static let overhead = sequenceByteCount + tagByteCount
    /// Sequences accepted out of order behind the highest one seen on the same channel.
    public static let replayWindow: UInt64 = 256

    static func nonce(direction: SessionDirection, sequence: UInt64) -> [UInt8] {
        Framing(direction).withNonceAndAAD(sequence: sequence, channel: 0) { nonce, _ in Array(nonce) }
    }

    static func aad(direction: SessionDirection, channel: UInt8) -> [UInt8] {
        Framing(direction).withNonceAndAAD(sequence: 0, channel: channel) { _, aad in Array(aad) }
    }

    /// What every nonce and AAD of one direction share, kept by its sealer or opener. Each datagram's nonce and
    /// AAD are then built on the stack: sealing and opening run for every datagram (tens of thousands a second
    /// on a server), and nonce and AAD arrays rewritten in place cost a uniqueness check and a heap object each
    /// (its own cache line, per session) every time.
    struct Framing {
        /// The 4 nonce label bytes as one word whose in-memory bytes are the label.
        let label: UInt32
        let direction: UInt8

        init(_ direction: SessionDirection) {
            label = direction.nonceLabel.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            self.direction = direction.rawValue
        }

        /// Calls `body` with the 12-byte nonce and the 3-byte AAD of the datagram `sequence` on `channel`; the
        /// pointers are valid only inside `body`.
        @inline(__always)
        func withNonceAndAAD<R>(
            sequence: UInt64, channel: UInt8, _ body: (_ nonce: UnsafeRawBufferPointer, _ aad: UnsafeRawBufferPointer) -> R
        ) -> R {
            // Three 4-byte words, so the tuple is 12 contiguous bytes (a (UInt32, UInt64) pair would be padded):
            // the label, then the sequence little-endian in two halves.
            let nonce = (
                label, UInt32(truncatingIfNeeded: sequence).littleEndian, UInt32(truncatingIfNeeded: sequence >> 32).littleEndian
            )
            let aad = (SessionEnvelope.version, direction, channel)
            return withUnsafeBytes(of: nonce) { nonce in withUnsafeBytes(of: aad) { aad in body(nonce, aad) } }
        }
    }
}
