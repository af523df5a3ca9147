import FuzzSupport
import AtriumWire

// Client → server messages (what the server decodes from untrusted peers): never traps, and whatever
// decodes re-encodes to a message that decodes to the same value.
let codec = PoseCodec(bounds: WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 10, 100)))

@main
enum ClientMessageFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            let bytes = Array(UnsafeBufferPointer(start: data, count: size))
            guard let message = try? ClientMessage.decode(bytes, codec: codec) else { return 0 }
            let reencoded = message.encode(codec: codec)
            guard let again = try? ClientMessage.decode(reencoded, codec: codec) else {
                fatalError("a decoded client message re-encodes to bytes that do not decode: \(message)")
            }
            // Dequantized rotations can land one step off when quantized again (smallest-three), so a POSE
            // must only keep its size and fields other than the pose; everything else round-trips exactly.
            switch (message, again) {
            case (.pose(let a), .pose(let b)):
                if a.inputSequence != b.inputSequence || a.clientTimeMs != b.clientTimeMs || a.ackSnapshot != b.ackSnapshot
                    || (a.pose.leftHand == nil) != (b.pose.leftHand == nil) || (a.pose.rightHand == nil) != (b.pose.rightHand == nil)
                {
                    fatalError("POSE does not round-trip: \(a) vs \(b)")
                }
            default:
                if again != message { fatalError("client message does not round-trip: \(message)") }
            }
            return 0
        }
    }
}
