import FuzzSupport
import AtriumWire

// Server → client messages (what a client decodes): never traps; decodable messages round-trip.
let codec = PoseCodec(bounds: WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 10, 100)))

@main
enum ServerMessageFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            let bytes = Array(UnsafeBufferPointer(start: data, count: size))
            guard let message = try? ServerMessage.decode(bytes, codec: codec) else { return 0 }
            let again = try? ServerMessage.decode(message.encode(codec: codec), codec: codec)
            if again != message { fatalError("server message does not round-trip: \(message)") }
            return 0
        }
    }
}
