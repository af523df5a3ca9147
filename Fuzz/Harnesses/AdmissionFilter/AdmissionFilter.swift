import FuzzSupport
import AtriumSecurity
import AtriumTransport

// The server's admission filter on arbitrary datagrams. The first 8 input bytes pick the source address,
// port and clock (so limiter and cookie paths are reached); the rest is the datagram. Properties: no trap,
// no reply larger than the datagram, and a CONNECT passes only with the cookie of its source.
let cookies = ConnectCookie(secret: Array(repeating: 0x5A, count: 32), windowSeconds: 10)
// libFuzzer calls the harness from a single thread, so this shared, stateful filter is never raced.
nonisolated(unsafe) let filter = AdmissionFilter(
    cookies: cookies, limiter: .init(attempts: 3, windowSeconds: 5, banSeconds: 5, maximumAddresses: 256),
    inspector: ENetDatagramInspector(maximumPacketSize: 4096, channelLimit: 3, peerLimit: 64))

@main
enum AdmissionFilterFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            guard size >= 8 else { return 0 }
            let head = UnsafeBufferPointer(start: data, count: 8)
            let source = IPv4Endpoint(host: 0x0A00_0000 | UInt32(head[0]) << 8 | UInt32(head[1]), port: UInt16(head[2]) << 8 | UInt16(head[3]))
            let now = (UInt64(head[4]) << 24 | UInt64(head[5]) << 16 | UInt64(head[6]) << 8 | UInt64(head[7])) * 1000
            let datagram = UnsafeRawBufferPointer(start: data + 8, count: size - 8)
            switch filter.inspect(datagram, from: source, nowMicros: now) {
            case .reply(let reply):
                if reply.count > datagram.count { fatalError("reply larger than its datagram") }
            case .pass:
                if case .accept(connect: let connect?) = filter.inspector.inspect(datagram),
                   !cookies.verify(connect.data, from: source, nowMicros: now) {
                    fatalError("a CONNECT without a valid cookie passed")
                }
            case .drop:
                break
            }
            return 0
        }
    }
}
