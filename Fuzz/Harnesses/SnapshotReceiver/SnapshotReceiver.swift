import FuzzSupport
import AtriumWire

// Snapshot deltas through a client's SnapshotReceiver: the input is a sequence of SNAPSHOT messages, each
// prefixed by a 2-byte little-endian length, fed in order to one receiver (so baselines, parts and acknowledgements
// interact). Never traps.
let codec = PoseCodec(bounds: WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 10, 100)))

@main
enum SnapshotReceiverFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            let input = UnsafeBufferPointer(start: data, count: size)
            var receiver = AtriumWire.SnapshotReceiver()
            var offset = 0
            while offset < input.count {
                guard input.count - offset >= 2 else { break }
                let length = Int(input[offset]) | Int(input[offset + 1]) << 8
                offset += 2
                let end = min(input.count, offset + length)
                let message = Array(input[offset..<end])
                offset = end
                if case .snapshot(let snapshot)? = try? ServerMessage.decode(message, codec: codec) {
                    _ = try? receiver.receive(snapshot, codec: codec)
                } else {
                    _ = try? receiver.receive(message, codec: codec)
                }
            }
            return 0
        }
    }
}
