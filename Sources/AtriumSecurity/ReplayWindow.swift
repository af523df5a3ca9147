/// A 256-entry sliding replay window: the highest accepted sequence, and a bitmap (a ring indexed by
/// sequence mod 256) of which of the 256 sequences up to it were accepted. `check` never changes state;
/// the opener calls `accept` only after the tag verified.
struct ReplayWindow: Sendable {
    /// Anything below is rejected as too old (an opener that starts mid-stream).
    let floor: UInt64
    private(set) var highest: UInt64 = 0
    private(set) var hasAccepted = false
    private var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init(floor: UInt64) { self.floor = floor }

    func check(_ sequence: UInt64) -> SessionError? {
        if sequence < floor { return .tooOld(sequence: sequence) }
        if !hasAccepted || sequence > highest { return nil }
        if highest - sequence >= SessionEnvelope.replayWindow { return .tooOld(sequence: sequence) }
        return bit(sequence) ? .replayed(sequence: sequence) : nil
    }

    /// - Precondition: `check(sequence) == nil`.
    mutating func accept(_ sequence: UInt64) {
        if !hasAccepted {
            hasAccepted = true
            highest = sequence
        } else if sequence > highest {
            let advance = sequence - highest
            if advance >= SessionEnvelope.replayWindow {
                bits = (0, 0, 0, 0)
            } else {
                // Slots for the sequences skipped over now stand for new, not yet received, sequences.
                for k in 1...advance { setBit(highest &+ k, false) }
            }
            highest = sequence
        }
        setBit(sequence, true)
    }

    private func bit(_ sequence: UInt64) -> Bool {
        let index = Int(sequence & 255)
        let mask = UInt64(1) << UInt64(index & 63)
        switch index >> 6 {
        case 0: return bits.0 & mask != 0
        case 1: return bits.1 & mask != 0
        case 2: return bits.2 & mask != 0
        default: return bits.3 & mask != 0
        }
    }

    private mutating func setBit(_ sequence: UInt64, _ value: Bool) {
        let index = Int(sequence & 255)
        let mask = UInt64(1) << UInt64(index & 63)
        func apply(_ word: inout UInt64) { word = value ? word | mask : word & ~mask }
        switch index >> 6 {
        case 0: apply(&bits.0)
        case 1: apply(&bits.1)
        case 2: apply(&bits.2)
        default: apply(&bits.3)
        }
    }
}
