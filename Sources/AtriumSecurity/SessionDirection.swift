/// Which way a sealed datagram travels. Each direction has its own key (from the connect token) and its own
/// nonce label and AAD byte, so a datagram can never be reflected back to its sender or moved to the other
/// direction, even by a client that set both keys equal.
public enum SessionDirection: UInt8, Sendable, CaseIterable {
    case clientToServer = 0
    case serverToClient = 1

    /// The first 4 nonce bytes: ASCII "C2S\0" or "S2C\0".
    public var nonceLabel: [UInt8] {
        switch self {
        case .clientToServer: [0x43, 0x32, 0x53, 0x00]
        case .serverToClient: [0x53, 0x32, 0x43, 0x00]
        }
    }
}
