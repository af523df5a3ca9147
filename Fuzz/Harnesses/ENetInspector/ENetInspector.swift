import FuzzSupport
import AtriumTransport

// Any datagram: the inspector must return a verdict, never trap, and agree with itself under other limits.
let strict = ENetDatagramInspector(maximumPacketSize: 4096, channelLimit: 3, peerLimit: 64)
let loose = ENetDatagramInspector(maximumPacketSize: 1 << 25, channelLimit: 255, peerLimit: 4095)

@main
enum ENetInspectorFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            let bytes = UnsafeRawBufferPointer(start: data, count: size)
            let verdict = strict.inspect(bytes)
            // Whatever the strict limits accept, looser limits accept too, with the same CONNECT.
            if case .accept(let connect) = verdict, loose.inspect(bytes) != .accept(connect: connect) {
                fatalError("accepted under strict limits but not under loose ones")
            }
            return 0
        }
    }
}
