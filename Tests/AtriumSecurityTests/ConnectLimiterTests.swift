import AtriumSecurity
import AtriumTransport
import Testing

@Suite struct ConnectLimiterTests {
    let second: UInt64 = 1_000_000
    let address: UInt32 = 0x0A00_0001

    @Test func tenAttemptsInTheWindowThenBannedForTheBanTime() {
        var limiter = ConnectLimiter()  // 10 / 120 s / 300 s
        let start = 1_000 * second
        for id in UInt32(1)...10 {
            #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: id, nowMicros: start + UInt64(id) * second) == .allowed)
        }
        // Retransmissions of an allowed attempt are not counted; the same connectID from another port
        // is another attempt (connectIDs of different client hosts can collide).
        for _ in 0..<20 { #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: 10, nowMicros: start + 11 * second) == .repeated) }
        #expect(limiter.admit(IPv4Endpoint(host: address, port: 5001), connectID: 10, nowMicros: start + 11 * second) == .refused)
        #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: 11, nowMicros: start + 12 * second) == .refused)
        #expect(limiter.isBanned(address, nowMicros: start + 12 * second))
        #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: 12, nowMicros: start + 200 * second) == .refused)
        #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: 10, nowMicros: start + 200 * second) == .refused)  // banned: even repeats
        #expect(!limiter.isBanned(address + 1, nowMicros: start + 12 * second))
        #expect(limiter.admit(IPv4Endpoint(host: address + 1, port: 5000), connectID: 1, nowMicros: start + 12 * second) == .allowed)
        // Ban over (300 s after the 11th attempt) and the window restarted.
        #expect(!limiter.isBanned(address, nowMicros: start + 313 * second))
        #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: 13, nowMicros: start + 313 * second) == .allowed)
    }

    @Test func attemptsSpreadOverMoreThanTheWindowAreFine() {
        var limiter = ConnectLimiter(policy: .init(attempts: 3, windowSeconds: 10, banSeconds: 60))
        for id in UInt32(1)...30 {
            #expect(limiter.admit(IPv4Endpoint(host: address, port: 5000), connectID: id, nowMicros: UInt64(id) * 4 * second) == .allowed)
        }
    }

    @Test func boundedTableSweepsExpiredEntriesAndRefusesWhenFullOfLiveOnes() {
        var limiter = ConnectLimiter(policy: .init(attempts: 1, windowSeconds: 10, banSeconds: 10, maximumAddresses: 100))
        for host in UInt32(0)..<100 { #expect(limiter.admit(IPv4Endpoint(host: host, port: 5000), connectID: 1, nowMicros: second) == .allowed) }
        #expect(limiter.trackedAddresses == 100)
        #expect(limiter.admit(IPv4Endpoint(host: 500, port: 5000), connectID: 1, nowMicros: 2 * second) == .tableFull)
        #expect(limiter.trackedAddresses == 100)
        // After the window the old entries are swept to make room.
        #expect(limiter.admit(IPv4Endpoint(host: 500, port: 5000), connectID: 1, nowMicros: 20 * second) == .allowed)
        #expect(limiter.trackedAddresses == 1)
    }

    @Test func exemptAddressesAreNeverLimitedOrRecorded() {
        var limiter = ConnectLimiter(policy: .init(attempts: 1, exempt: [0x7F00_0001]))
        for id in UInt32(1)...50 { #expect(limiter.admit(IPv4Endpoint(host: 0x7F00_0001, port: 5000), connectID: id, nowMicros: second) == .allowed) }
        #expect(limiter.trackedAddresses == 0)
    }
}
