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
        let framing: SessionEnvelope.Framing
        /// Replay windows indexed by channel, for channels 0 ..< windowCount: grown only by an authenticated
        /// datagram on a higher channel (so at most 256, and only the key holder can grow them; Atrium uses 3,
        /// 168 bytes). A buffer owned here rather than an array of (channel, window) pairs: opening is per
        /// datagram, and the array cost a search and a uniqueness check every time.
        private(set) var windows: UnsafeMutablePointer<ReplayWindow>
        private(set) var windowCount = 0

        init(context: ChaChaPolyContext, direction: SessionDirection, floor: UInt64) {
            self.context = context
            self.floor = floor
            framing = SessionEnvelope.Framing(direction)
            windows = .allocate(capacity: 0)
        }

        deinit {
            windows.deinitialize(count: windowCount)
            windows.deallocate()
        }

        /// The channel's window; a fresh one (nothing accepted) for a channel not seen yet.
        func window(_ channel: UInt8) -> ReplayWindow {
            Int(channel) < windowCount ? windows[Int(channel)] : ReplayWindow(floor: floor)
        }

        /// Accepts `sequence` on `channel`; only after its tag verified (precondition of `ReplayWindow.accept`).
        func accept(_ sequence: UInt64, channel: UInt8) {
            let index = Int(channel)
            if index >= windowCount {
                let grown = UnsafeMutablePointer<ReplayWindow>.allocate(capacity: index + 1)
                grown.moveInitialize(from: windows, count: windowCount)
                (grown + windowCount).initialize(repeating: ReplayWindow(floor: floor), count: index + 1 - windowCount)
                windows.deallocate()
                windows = grown
                windowCount = index + 1
            }
            windows[index].accept(sequence)
        }

        var accepted: UnsafeBufferPointer<ReplayWindow> { UnsafeBufferPointer(start: windows, count: windowCount) }
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
    public var highestSequence: UInt64? { state.accepted.filter(\.hasAccepted).map(\.highest).max() }

    /// The highest sequence accepted so far on `channel`.
    public func highestSequence(channel: UInt8) -> UInt64? {
        let w = state.window(channel)
        return w.hasAccepted ? w.highest : nil
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
        let length = try Self.plaintextLength(datagram)
        var failure: SessionError?
        let plaintext = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            failure = open(checked: datagram, channel: channel, into: UnsafeMutableRawBufferPointer(buffer))
            count = failure == nil ? length : 0
        }
        if let failure { throw failure }
        return plaintext
    }

    /// Opens `datagram` into `plaintext`, replacing its contents and reusing its capacity: a receiver that keeps
    /// one array for every datagram (and does not keep the message) allocates nothing per datagram. On a throw
    /// `plaintext` is left empty: nothing unauthenticated is ever handed out.
    public mutating func open(_ datagram: UnsafeRawBufferPointer, channel: UInt8, into plaintext: inout [UInt8]) throws(SessionError) {
        let length: Int
        do throws(SessionError) {
            length = try Self.plaintextLength(datagram)
        } catch {
            plaintext.removeAll(keepingCapacity: true)
            throw error
        }
        if plaintext.count > length {
            plaintext.removeLast(plaintext.count - length)
        } else if plaintext.count < length {
            plaintext.append(contentsOf: repeatElement(0, count: length - plaintext.count))
        }
        let failure = plaintext.withUnsafeMutableBytes { open(checked: datagram, channel: channel, into: $0) }
        if let failure {
            plaintext.removeAll(keepingCapacity: true)
            throw failure
        }
    }

    /// The plaintext size of `datagram`, or why it cannot be one (the first of the checks).
    private static func plaintextLength(_ datagram: UnsafeRawBufferPointer) throws(SessionError) -> Int {
        guard datagram.count >= SessionEnvelope.overhead else { throw .truncated(length: datagram.count) }
        guard datagram.count <= Int(Int32.max) else { throw .tooLarge(length: datagram.count) }
        return datagram.count - SessionEnvelope.overhead
    }

    /// The replay check, then the tag check and decryption into `output` (exactly the plaintext's size, not
    /// overlapping `datagram`); the window moves only when both passed. Returns why the datagram was refused.
    private func open(checked datagram: UnsafeRawBufferPointer, channel: UInt8, into output: UnsafeMutableRawBufferPointer) -> SessionError? {
        let state = self.state
        let sequence = UInt64.loadLE(datagram, at: 0)
        if let rejection = state.window(channel).check(sequence) { return rejection }
        let sealed = UnsafeRawBufferPointer(rebasing: datagram[SessionEnvelope.sequenceByteCount...])
        // OpenSSL writes exactly sealed.count - 16 bytes (the output's size), or zeroes them on failure.
        let failure = state.framing.withNonceAndAAD(sequence: sequence, channel: channel) { nonce, aad in
            capture { () throws(CryptoError) in try state.context.open(nonce: nonce, aad: aad, sealed: sealed, into: output) }
        }
        switch failure {
        case nil:
            state.accept(sequence, channel: channel)
            return nil
        case .authenticationFailed?: return .forged
        case let other?: return .cryptoFailure(other)
        }
    }
}
