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
        var nonce = direction.nonceLabel
        withUnsafeBytes(of: sequence.littleEndian) { nonce.append(contentsOf: $0) }
        return nonce
    }

    static func aad(direction: SessionDirection, channel: UInt8) -> [UInt8] {
        [version, direction.rawValue, channel]
    }
}
