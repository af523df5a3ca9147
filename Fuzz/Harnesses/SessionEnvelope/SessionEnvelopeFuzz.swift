import AtriumSecurity
import FuzzSupport

// Sealed-datagram opening with a fixed key: never traps, anything that opens is shorter by exactly the
// envelope overhead, and a datagram that opened is rejected when presented again (replay).
@main
enum SessionEnvelopeFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data, size > 0 else { return 0 }
            let bytes = Array(UnsafeBufferPointer(start: data, count: size))
            // The first byte picks the channel, the rest is the datagram.
            let channel = bytes[0] % 3
            let datagram = Array(bytes.dropFirst())
            // The key of PROTOCOL.md §18.3.5's example (`20 21 … 3f`), so the seed opens.
            var opener = try! SessionOpener(key: SecretKey(Array(0x20...0x3F))!, direction: .clientToServer)
            if let message = try? opener.open(datagram, channel: channel) {
                if message.count + SessionEnvelope.overhead != datagram.count { fatalError("length mismatch") }
                if (try? opener.open(datagram, channel: channel)) != nil { fatalError("replay accepted") }
            }
            return 0
        }
    }
}
