import CENet

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide ENet setup and small helpers shared by the transport types.
enum ENetRuntime {
    /// `enet_initialize` runs exactly once per process: Swift initialises a
    /// global `let` lazily under `swift_once`, which is thread-safe. ENet is
    /// never deinitialised; on Unix `enet_deinitialize` does nothing anyway.
    private static let initializationResult: Int32 = {
        // C call: enet_initialize takes no arguments and only sets up global state.
        enet_initialize()
    }()

    static func initialize() throws(TransportError) {
        guard initializationResult == 0 else {
            throw TransportError("enet_initialize failed with \(initializationResult)")
        }
    }

    /// Resolves `address` into ENet's IPv4-only `ENetAddress`.
    ///
    /// libenet 1.3.17 (Debian) stores an address as `{ enet_uint32 host; enet_uint16 port; }`:
    /// it cannot represent IPv6, so IPv6 literals are rejected here with a clear error.
    static func resolve(_ address: TransportAddress, purpose: String) throws(TransportError) -> ENetAddress {
        if address.isIPv6Literal {
            throw TransportError(
                "cannot \(purpose) \(address): IPv6 is not supported by libenet 1.3.17 (ENetAddress holds an IPv4 address only)"
            )
        }
        var result = ENetAddress(host: 0, port: address.port)
        let name = address.host
        if name.isEmpty || name == "0.0.0.0" || name == "*" {
            result.host = UInt32(ENET_HOST_ANY)
            return result
        }
        // C calls: both functions read the NUL-terminated C string Swift passes for
        // `name` (valid for the duration of the call) and write only into `result`.
        if enet_address_set_host_ip(&result, name) == 0 { return result }
        if enet_address_set_host(&result, name) == 0 { return result }
        throw TransportError("cannot \(purpose) \(address): host name does not resolve to an IPv4 address")
    }

    /// Numeric dotted-quad text for an ENet address.
    static func string(for address: ENetAddress) -> TransportAddress {
        var copy = address
        var buffer = [CChar](repeating: 0, count: 64)
        // C call: the buffer holds 64 bytes and we pass its true length, so
        // enet_address_get_host_ip (inet_ntop) cannot overrun it; it NUL-terminates on success.
        let rc = buffer.withUnsafeMutableBufferPointer { enet_address_get_host_ip(&copy, $0.baseAddress, $0.count) }
        guard rc == 0 else { return TransportAddress(host: "?", port: address.port) }
        let text = buffer.withUnsafeBufferPointer { buf -> String in
            // The buffer is NUL-terminated (see above); decode up to the terminator.
            let bytes = buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self)
        }
        return TransportAddress(host: text, port: address.port)
    }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC), for impairment scheduling and service deadlines.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    // C call: clock_gettime writes only into the timespec we own; CLOCK_MONOTONIC always exists.
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
