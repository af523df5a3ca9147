import AtriumCrypto

/// Opens one direction of a session, with a 256-entry sliding replay window per ENet channel.
///
/// Why per channel: the sender numbers all its datagrams in one sequence (so nonces are unique), but ENet
/// delivers channels independently — a reliable control message retransmitted after 500 ms arrives behind
/// hundreds of newer state and voice datagrams. One window for all channels would reject it as too old after
/// ENet had already acknowledged it, losing a reliable message. A datagram authenticates only on the channel
/// it was sealed for (the channel is in the AAD), so a window per channel still rejects every replay.
///
/// Order of checks: length (`.truncated`), replay window (`.tooOld`, `.replayed` — a cheap check before any
/// crypto), tag (`.forged`). The window moves only after the tag verified, so a rejected datagram — altered,
/// replayed, too old, on the wrong channel — changes nothing. Like `SessionSealer`, copies share state.
/// Not thread-safe.
public struct SessionOpener {
    private final class State {
        let context: ChaChaPolyContext
        let floor: UInt64
        /// One window per channel seen, created on the first authenticated datagram of that channel (so at
        /// most 256, and only the key holder can create them). Linear search: Atrium uses 3 channels.
        var windows: [(channel: UInt8, window: ReplayWindow)] = []
        var nonce: [UInt8]
        var aad: [UInt8]

        init(context: ChaChaPolyContext, direction: SessionDirection, floor: UInt64) {
            self.context = context
            self.floor = floor
            nonce = SessionEnvelope.nonce(direction: direction, sequence: 0)
            aad = SessionEnvelope.aad(direction: direction, channel: 0)
        }
    }

    public let direction: SessionDirection
    private let state: State

    /// - Parameter sequence: the lowest sequence accepted (0 for a new session; tests start near 2^64).
    public init(key: SecretKey, direction: SessionDirection, startingAt sequence: UInt64 = 0) throws(SessionError) {
        self.direction = direction
        do {
            state = State(context: try ChaChaPolyContext(key: key.bytes, operation: .open), direction: direction, floor: sequence)
        } catch {
            throw .cryptoFailure(error)
        }
    }

    /// The highest sequence accepted so far, on any channel.
    public var highestSequence: UInt64? { state.windows.filter(\.window.hasAccepted).map(\.window.highest).max() }

    /// The highest sequence accepted so far on `channel`.
    public func highestSequence(channel: UInt8) -> UInt64? {
        guard let w = state.windows.first(where: { $0.channel == channel })?.window, w.hasAccepted else { return nil }
        return w.highest
    }

    public mutating func open(_ datagram: [UInt8], channel: UInt8) throws(SessionError) -> [UInt8] {
        var result: Result<[UInt8], SessionError> = .failure(.truncated(length: 0))
        datagram.withUnsafeBytes { bytes in
            result = Result { () throws(SessionError) -> [UInt8] in try open(bytes, channel: channel) }
        }
        return try result.get()
    }

    /// The same over a borrowed buffer (e.g. an ENet packet's data), without copying the datagram first.
    public mutating func open(_ datagram: UnsafeRawBufferPointer, channel: UInt8) throws(SessionError) -> [UInt8] {
        guard datagram.count >= SessionEnvelope.overhead else { throw .truncated(length: datagram.count) }
        guard datagram.count <= Int(Int32.max) else { throw .tooLarge(length: datagram.count) }
        let state = self.state
        let sequence = UInt64.loadLE(datagram, at: 0)
        let slot = state.windows.firstIndex { $0.channel == channel }
        let window = slot.map { state.windows[$0].window } ?? ReplayWindow(floor: state.floor)
        if let rejection = window.check(sequence) { throw rejection }
        state.nonce.withUnsafeMutableBytes { $0.storeBytes(of: sequence.littleEndian, toByteOffset: 4, as: UInt64.self) }
        state.aad[2] = channel
        let sealed = UnsafeRawBufferPointer(rebasing: datagram[SessionEnvelope.sequenceByteCount...])
        var failure: CryptoError?
        let plaintext = [UInt8](unsafeUninitializedCapacity: datagram.count - SessionEnvelope.overhead) { buffer, count in
            // OpenSSL writes exactly sealed.count - 16 bytes (the buffer's capacity), or zeroes them on failure.
            failure = state.nonce.withUnsafeBytes { nonce in
                state.aad.withUnsafeBytes { aad in
                    capture { () throws(CryptoError) in
                        try state.context.open(nonce: nonce, aad: aad, sealed: sealed, into: UnsafeMutableRawBufferPointer(buffer))
                    }
                }
            }
            count = failure == nil ? buffer.count : 0
        }
        switch failure {
        case nil: break
        case .authenticationFailed?: throw .forged
        case let other?: throw .cryptoFailure(other)
        }
        if let slot {
            state.windows[slot].window.accept(sequence)
        } else {
            var fresh = window
            fresh.accept(sequence)
            state.windows.append((channel, fresh))
        }
        return plaintext
    }
}
