import AtriumTransport
import AtriumWire
import AtriumWorld
import Testing

@_spi(Benchmarks) @testable import AtriumServer

/// Who is told about whom (PROTOCOL.md §10.9, §10.10): the joiner gets everyone present in ROSTER messages
/// after WELCOME, everyone else gets each tick's newcomers in one ROSTER and its departures in one DEPARTED,
/// and an arrival is always announced before its departure.
@Suite struct RosterTests {
    /// What each client (by peer slot) has been told, in order.
    final class Clients {
        var known: [UInt16: [UInt16]] = [:]
        var events: [UInt16: [String]] = [:]
        var controlMessages: [UInt16: Int] = [:]
        var outbox: Outbox {
            Outbox { [unowned self] peer, bytes, channel in
                guard channel == .control, let message = try? ServerMessage.decode(bytes, codec: nil) else { return }
                controlMessages[peer.slot, default: 0] += 1
                switch message {
                case .roster(let entries):
                    for entry in entries {
                        known[peer.slot, default: []].append(entry.avatarId)
                        events[peer.slot, default: []].append("+\(entry.avatarId)")
                    }
                case .departed(let entries):
                    for left in entries {
                        known[peer.slot, default: []].removeAll { $0 == left.avatarId }
                        events[peer.slot, default: []].append("-\(left.avatarId)")
                    }
                default: break
                }
            }
        }
    }

    static func shard() throws -> Shard {
        let (worlds, errors) = LoadedWorld.loadDirectory(packageRoot.appendingPathComponent("Worlds").path)
        #expect(errors.isEmpty)
        let world = try #require(worlds.first { $0.definition.id == "expo-hall" })
        return Shard(world: world, limits: MovementLimits(maxSpeed: 5, maxReach: 1), snapshotMaxBytes: 1200)
    }

    @discardableResult
    static func admit(_ shard: Shard, _ slot: UInt16, name: String? = nil, _ clients: Clients) throws -> Avatar {
        try #require(
            shard.admit(
                peer: PeerHandle(slot: slot, connectID: UInt32(slot) + 1), displayName: name ?? "bot-\(slot)",
                role: .visitor, version: ProtocolVersion.current, nowMicros: 0, outbox: clients.outbox))
    }

    /// Joins in bursts, ticks and leaves in between: every client ends up knowing exactly the others present,
    /// each once, and never hears of a departure before the arrival.
    @Test func everyClientKnowsExactlyTheOthersPresent() throws {
        let shard = try Self.shard()
        let clients = Clients()
        var present: [UInt16: UInt16] = [:]  // slot → avatar id
        var slot: UInt16 = 0
        for round in 0..<6 {
            for _ in 0..<(round * 7 + 3) {
                present[slot] = try Self.admit(shard, slot, clients).id
                slot += 1
            }
            // Someone who joined this very tick leaves before any announcement, and an older one too.
            if round >= 2 {
                let leaving = [slot - 1, slot - UInt16(round * 7)]
                for s in leaving {
                    shard.remove(present[s]!, reason: .none)
                    present.removeValue(forKey: s)
                }
            }
            shard.tick(nowMicros: UInt64(round + 1) * 33_333, outbox: clients.outbox) { _, _ in }
        }
        for (slot, id) in present {
            let known = clients.known[slot] ?? []
            #expect(Set(known).count == known.count, "client \(slot) was told about someone twice")
            #expect(Set(known) == Set(present.values).subtracting([id]), "client \(slot)")
        }
        for (_, events) in clients.events {
            for (index, event) in events.enumerated() where event.hasPrefix("-") {
                #expect(events[..<index].contains("+" + event.dropFirst()), "a departure came before its arrival")
            }
        }
    }

    /// Forty joiners in one tick: each of the 100 clients already present gets one ROSTER for all of them,
    /// and a joiner's own roster of 139 avatars comes in one message (not one per avatar).
    @Test func aTicksArrivalsAreOneMessagePerClient() throws {
        let shard = try Self.shard()
        let clients = Clients()
        for slot in 0..<100 { try Self.admit(shard, UInt16(slot), name: "b\(slot)", clients) }
        shard.tick(nowMicros: 33_333, outbox: clients.outbox) { _, _ in }
        clients.controlMessages.removeAll()
        for slot in 100..<140 { try Self.admit(shard, UInt16(slot), name: "b\(slot)", clients) }
        shard.tick(nowMicros: 66_666, outbox: clients.outbox) { _, _ in }
        for slot in 0..<100 { #expect(clients.controlMessages[UInt16(slot)] == 1) }
        // The last joiner: WELCOME and one ROSTER of the 139 before it; nobody joined after it.
        #expect(clients.controlMessages[139] == 2)
        #expect(clients.known[139]?.count == 139)
    }

    /// A crowd leaving between two ticks: each client left gets one DEPARTED for all of them (not one
    /// AVATAR_LEFT per leaver), and nobody hears of a departure of someone it was never told about.
    @Test func aTicksDeparturesAreOneMessagePerClient() throws {
        let shard = try Self.shard()
        let clients = Clients()
        for slot in 0..<100 { try Self.admit(shard, UInt16(slot), clients) }
        shard.tick(nowMicros: 33_333, outbox: clients.outbox) { _, _ in }
        clients.controlMessages.removeAll()
        for id in 1...60 { shard.remove(UInt16(id), reason: .timeout) }
        // A newcomer after the departures: its roster has the 40 left, and it hears of no departure.
        try Self.admit(shard, 100, clients)
        shard.tick(nowMicros: 66_666, outbox: clients.outbox) { _, _ in }
        for slot in 60..<100 {
            #expect(clients.controlMessages[UInt16(slot)] == 2, "one ROSTER (the newcomer) and one DEPARTED")
            #expect(clients.known[UInt16(slot)]?.count == 40)
        }
        #expect(clients.known[100]?.count == 40)
        #expect(clients.events[100]?.contains { $0.hasPrefix("-") } == false)
        let sent = Departed.messages((1...600).map { AvatarLeft(avatarId: UInt16($0), reason: .none) })
        #expect(sent.count == 3 && sent.allSatisfy { $0.count <= 2 + 255 * 3 })
    }

    /// Long names and many avatars: ROSTER messages stay within one datagram.
    @Test func rostersAreSplitToFitADatagram() throws {
        let shard = try Self.shard()
        let clients = Clients()
        let long = String(repeating: "n", count: WireLimits.maxDisplayNameBytes)
        var sizes: [Int] = []
        let sizing = Outbox { _, bytes, channel in if channel == .control, bytes.first == 0x89 { sizes.append(bytes.count) } }
        for slot in 0..<300 {
            _ = try #require(
                shard.admit(
                    peer: PeerHandle(slot: UInt16(slot), connectID: 1), displayName: long,
                    role: .visitor, version: ProtocolVersion.current, nowMicros: 0, outbox: slot == 299 ? sizing : clients.outbox))
        }
        #expect(sizes.count >= 9)
        #expect(sizes.allSatisfy { $0 <= Roster.maxMessageBytes })
        let entries = Roster.messages((0..<600).map { AvatarJoined(avatarId: UInt16($0 + 1), role: .visitor, displayName: "a") })
        #expect(entries.count == 3)
        let counts = try entries.map { bytes -> Int in
            guard case .roster(let list) = try ServerMessage.decode(bytes, codec: nil) else { return -1 }
            return list.count
        }
        // (1200 − 2) ÷ 5 bytes an entry: the datagram's size binds before the 255 of the u8 count.
        #expect(counts == [239, 239, 122])
    }
}
