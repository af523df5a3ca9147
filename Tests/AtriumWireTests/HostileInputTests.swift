import Testing
@testable import AtriumWire

/// Builds raw messages field by field, so tests can write what the encoders never would.
private func raw(_ build: (inout BitWriter) -> Void) -> [UInt8] {
    var w = BitWriter()
    build(&w)
    return w.bytes
}

private extension BitWriter {
    mutating func writeRawString8(_ bytes: [UInt8]) {
        writeU8(UInt8(bytes.count))
        writeBytes(bytes)
    }
    mutating func writeRawString16(_ bytes: [UInt8]) {
        writeU16(UInt16(bytes.count))
        writeBytes(bytes)
    }
}

private func hello(role: UInt8 = 0, worldId: [UInt8] = Array("expo".utf8), name: [UInt8] = Array("Ana".utf8)) -> [UInt8] {
    raw { w in
        w.writeU8(0x01); w.writeU16(1); w.writeU16(1); w.writeU8(role)
        w.writeRawString8(worldId); w.writeRawString8(name)
    }
}

private func snapshotHeader(baseline: UInt32 = 0, partIndex: UInt8 = 0, partCount: UInt8 = 1, count: UInt16 = 0) -> [UInt8] {
    raw { w in
        w.writeU8(0x83); w.writeU32(1); w.writeU64(2); w.writeU32(baseline)
        w.writeU8(partIndex); w.writeU8(partCount); w.writeU16(count)
    }
}

/// The whole message checked: `ServerMessage.decode`, then for a SNAPSHOT its entries, which it leaves encoded
/// (the snapshots of `SeededRNG.serverMessage` have baseline 0; any other baseline throws `baselineMismatch`).
private func decodeWhole(_ bytes: [UInt8], codec: PoseCodec) throws(WireError) -> ServerMessage {
    let m = try ServerMessage.decode(bytes, codec: codec)
    if case .snapshot(let s) = m { _ = try s.entries(baseline: .empty, codec: codec) }
    return m
}

@Suite struct HostileInputTests {
    let codec = Fixtures.hallCodec

    @Test func everyPrefixIsTruncated() {
        var rng = SeededRNG(seed: 20)
        for _ in 0..<400 {
            let c = rng.clientMessage(codec: codec).encode(codec: codec)
            for n in 0..<c.count {
                #expect(throws: WireError.truncated) { try ClientMessage.decode(Array(c[..<n]), codec: codec) }
            }
            let s = rng.serverMessage(codec: codec).encode(codec: codec)
            for n in 0..<s.count {
                #expect(throws: WireError.truncated) { try decodeWhole(Array(s[..<n]), codec: codec) }
            }
        }
    }

    @Test func trailingBytes() {
        let ping = ClientMessage.ping(Ping(clientTimeMicros: 5)).encode(codec: nil)
        #expect(throws: WireError.trailingBytes(1)) { try ClientMessage.decode(ping + [0], codec: nil) }
        #expect(throws: WireError.trailingBytes(3)) { try ClientMessage.decode(ping + [1, 2, 3], codec: nil) }
        let pose = ClientMessage.pose(PoseInput(inputSequence: 1, clientTimeMs: 1, ackSnapshot: 0,
                                                pose: AvatarPose(headPosition: .zero, headRotation: .identity))).encode(codec: codec)
        #expect(throws: WireError.trailingBytes(1)) { try ClientMessage.decode(pose + [0], codec: codec) }
        let left = ServerMessage.avatarLeft(AvatarLeft(avatarId: 1, reason: .none)).encode(codec: nil)
        #expect(throws: WireError.trailingBytes(2)) { try ServerMessage.decode(left + [0, 0], codec: nil) }
    }

    @Test func unknownMessageTypes() {
        #expect(throws: WireError.truncated) { try ClientMessage.decode([], codec: nil) }
        for t: UInt8 in [0x00, 0x05, 0x80, 0x81, 0x88, 0xFF] {
            #expect(throws: WireError.unknownMessageType(t)) { try ClientMessage.decode([t, 0, 0, 0, 0, 0, 0, 0, 0], codec: codec) }
        }
        for t: UInt8 in [0x00, 0x01, 0x04, 0x80, 0x8B, 0xFF] {
            #expect(throws: WireError.unknownMessageType(t)) { try ServerMessage.decode([t, 0, 0, 0, 0, 0, 0, 0, 0], codec: codec) }
        }
    }

    /// DEPARTED: a count of 0, fewer entries than counted, an unknown reason or bytes after the last.
    @Test func malformedDepartures() {
        let two = ServerMessage.departed([
            AvatarLeft(avatarId: 9, reason: .timeout), AvatarLeft(avatarId: 12, reason: .none),
        ]).encode(codec: nil)
        #expect((try? ServerMessage.decode(two, codec: nil)) == .departed([
            AvatarLeft(avatarId: 9, reason: .timeout), AvatarLeft(avatarId: 12, reason: .none),
        ]))
        #expect(throws: WireError.invalidField(field: "count", value: 0)) { try ServerMessage.decode([0x8A, 0], codec: nil) }
        var more = two
        more[1] = 3
        #expect(throws: WireError.truncated) { try ServerMessage.decode(more, codec: nil) }
        #expect(throws: WireError.trailingBytes(1)) { try ServerMessage.decode(two + [0], codec: nil) }
        var badReason = two
        badReason[4] = 0xEE
        #expect(throws: WireError.invalidField(field: "reason", value: 0xEE)) { try ServerMessage.decode(badReason, codec: nil) }
    }

    /// ROSTER: a count of 0, fewer entries than counted, a bad entry or bytes after the last are all refused.
    @Test func malformedRosters() {
        let two = ServerMessage.roster([
            AvatarJoined(avatarId: 9, role: .presenter, displayName: "Bo"),
            AvatarJoined(avatarId: 12, role: .visitor, displayName: "Zoë"),
        ]).encode(codec: nil)
        #expect((try? ServerMessage.decode(two, codec: nil)) != nil)
        #expect(throws: WireError.invalidField(field: "count", value: 0)) { try ServerMessage.decode([0x89, 0], codec: nil) }
        var more = two
        more[1] = 3
        #expect(throws: WireError.truncated) { try ServerMessage.decode(more, codec: nil) }
        #expect(throws: WireError.trailingBytes(1)) { try ServerMessage.decode(two + [0], codec: nil) }
        var badRole = two
        badRole[4] = 0xEE
        #expect(throws: (any Error).self) { try ServerMessage.decode(badRole, codec: nil) }
        var emptyName = two
        emptyName[5] = 0
        #expect(throws: (any Error).self) { try ServerMessage.decode(emptyName, codec: nil) }
    }

    @Test func badUTF8() {
        let bad: [[UInt8]] = [[0xC3, 0x28], [0xFF], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x61, 0x80]]
        for b in bad {
            #expect(throws: WireError.invalidString(field: "displayName")) { try ClientMessage.decode(hello(name: b), codec: nil) }
            #expect(throws: WireError.invalidString(field: "text")) {
                try ClientMessage.decode(raw { w in w.writeU8(0x03); w.writeRawString16(b) }, codec: nil)
            }
            #expect(throws: WireError.invalidString(field: "text")) {
                try ServerMessage.decode(raw { w in w.writeU8(0x86); w.writeU16(1); w.writeRawString16(b) }, codec: nil)
            }
            #expect(throws: WireError.invalidString(field: "detail")) {
                try ServerMessage.decode(raw { w in w.writeU8(0x88); w.writeU8(1); w.writeRawString8(b) }, codec: nil)
            }
            #expect(throws: WireError.invalidString(field: "displayName")) {
                try ServerMessage.decode(raw { w in w.writeU8(0x84); w.writeU16(1); w.writeU8(0); w.writeRawString8(b) }, codec: nil)
            }
        }
    }

    @Test func overlongStrings() {
        #expect(throws: WireError.stringTooLong(field: "displayName", length: 33, limit: 32)) {
            try ClientMessage.decode(hello(name: Array(repeating: 0x61, count: 33)), codec: nil)
        }
        #expect(throws: WireError.stringTooLong(field: "worldId", length: 65, limit: 64)) {
            try ClientMessage.decode(hello(worldId: Array(repeating: 0x61, count: 65)), codec: nil)
        }
        #expect(throws: WireError.stringTooLong(field: "text", length: 501, limit: 500)) {
            try ClientMessage.decode(raw { w in w.writeU8(0x03); w.writeRawString16(Array(repeating: 0x61, count: 501)) }, codec: nil)
        }
        // The length alone is enough: no need for the bytes to be there.
        #expect(throws: WireError.stringTooLong(field: "text", length: 65535, limit: 500)) {
            try ClientMessage.decode([0x03, 0xFF, 0xFF], codec: nil)
        }
        #expect(throws: WireError.stringTooLong(field: "detail", length: 201, limit: 200)) {
            try ServerMessage.decode(raw { w in w.writeU8(0x82); w.writeU8(2); w.writeU16(1); w.writeU16(1); w.writeRawString8(Array(repeating: 0x61, count: 201)) }, codec: nil)
        }
        // Limits themselves are fine.
        #expect(throws: Never.self) { try ClientMessage.decode(hello(worldId: Array(repeating: 0x61, count: 64), name: Array(repeating: 0x61, count: 32)), codec: nil) }
    }

    @Test func emptyStrings() {
        #expect(throws: WireError.invalidString(field: "displayName")) { try ClientMessage.decode(hello(name: []), codec: nil) }
        #expect(throws: WireError.invalidString(field: "worldId")) { try ClientMessage.decode(hello(worldId: []), codec: nil) }
        #expect(throws: WireError.invalidString(field: "text")) { try ClientMessage.decode([0x03, 0, 0], codec: nil) }
        #expect(throws: Never.self) { try ServerMessage.decode([0x88, 0, 0], codec: nil) }  // empty detail is fine
    }

    @Test func controlCharactersInNames() {
        for name in ["a\u{0}b", "\u{7}", "tab\there", "new\nline", "del\u{7F}", "c1\u{85}", "\u{9F}x"] {
            #expect(throws: WireError.invalidString(field: "displayName")) { try ClientMessage.decode(hello(name: Array(name.utf8)), codec: nil) }
        }
        #expect(throws: Never.self) { try ClientMessage.decode(hello(name: Array("Zoë 日本 😀".utf8)), codec: nil) }
    }

    @Test func worldIdCharset() {
        for id in ["Expo", "expo hall", "expo_hall", "expö", "expo.hall", "expo/1", "EXPO"] {
            #expect(throws: WireError.invalidString(field: "worldId")) { try ClientMessage.decode(hello(worldId: Array(id.utf8)), codec: nil) }
        }
        #expect(throws: Never.self) { try ClientMessage.decode(hello(worldId: Array("expo-hall-2024".utf8)), codec: nil) }
    }

    @Test func unknownCodes() {
        #expect(throws: WireError.invalidField(field: "requestedRole", value: 8)) { try ClientMessage.decode(hello(role: 8), codec: nil) }
        #expect(throws: WireError.invalidField(field: "requestedRole", value: 255)) { try ClientMessage.decode(hello(role: 255), codec: nil) }
        #expect(throws: WireError.invalidField(field: "reason", value: 16)) { try ServerMessage.decode([0x85, 1, 0, 16], codec: nil) }
        #expect(throws: WireError.invalidField(field: "reason", value: 200)) { try ServerMessage.decode([0x88, 200, 0], codec: nil) }
        #expect(throws: WireError.invalidField(field: "reason", value: 16)) { try ServerMessage.decode([0x82, 16, 1, 0, 1, 0, 0], codec: nil) }
        #expect(throws: WireError.invalidField(field: "role", value: 9)) { try ServerMessage.decode([0x84, 1, 0, 9, 1, 0x61], codec: nil) }
    }

    @Test func snapshotHeaderRules() {
        #expect(throws: Never.self) { try ServerMessage.decode(snapshotHeader(), codec: codec) }
        #expect(throws: Never.self) { try ServerMessage.decode(snapshotHeader(partIndex: 254, partCount: 255), codec: codec) }
        #expect(throws: WireError.invalidField(field: "partIndex", value: 1)) {
            try ServerMessage.decode(snapshotHeader(partIndex: 1, partCount: 1), codec: codec)
        }
        #expect(throws: WireError.invalidField(field: "partIndex", value: 255)) {
            try ServerMessage.decode(snapshotHeader(partIndex: 255, partCount: 255), codec: codec)
        }
        #expect(throws: WireError.invalidField(field: "partCount", value: 0)) {
            try ServerMessage.decode(snapshotHeader(partIndex: 0, partCount: 0), codec: codec)
        }
        // The header's sequence is 1: no baseline but 0 is older.
        #expect(throws: WireError.invalidField(field: "baseline", value: 7)) {
            try ServerMessage.decode(snapshotHeader(baseline: 7), codec: codec)
        }
        // A huge entry count with no entries behind it: the header alone is fine (ServerMessage.decode reads no
        // further); the entries are truncated, found without reserving memory for them.
        #expect(throws: Never.self) { try ServerMessage.decode(snapshotHeader(count: 65535), codec: codec) }
        #expect(throws: WireError.truncated) { try decodeWhole(snapshotHeader(count: 65535), codec: codec) }
    }

    @Test func missingWorldContext() {
        let pose = ClientMessage.pose(PoseInput(inputSequence: 1, clientTimeMs: 1, ackSnapshot: 0,
                                                pose: AvatarPose(headPosition: .zero, headRotation: .identity))).encode(codec: codec)
        #expect(throws: WireError.missingWorldContext) { try ClientMessage.decode(pose, codec: nil) }
        // A SNAPSHOT header needs no world: ServerMessage.decode reads only the header.
        #expect(throws: Never.self) { try ServerMessage.decode(snapshotHeader(), codec: nil) }
        #expect(throws: WireError.missingWorldContext) { try ClientMessage.decode([0x02], codec: nil) }
    }

    @Test func welcomeRules() {
        func welcome(clientId: UInt16 = 1, min: Vec3 = Vec3(-1, -1, -1), max: Vec3 = Vec3(1, 1, 1)) -> [UInt8] {
            raw { w in
                w.writeU8(0x81); w.writeU16(1); w.writeU16(clientId); w.writeU8(0); w.writeU16(20); w.writeU64(0)
                w.writeRawString8(Array("w".utf8)); w.writeBytes(Fixtures.hash)
                w.writeF32(min.x); w.writeF32(min.y); w.writeF32(min.z); w.writeF32(max.x); w.writeF32(max.y); w.writeF32(max.z)
                w.writeU16(8)
            }
        }
        #expect(throws: Never.self) { try ServerMessage.decode(welcome(), codec: nil) }
        #expect(throws: WireError.invalidField(field: "clientId", value: 0)) { try ServerMessage.decode(welcome(clientId: 0), codec: nil) }
        let nan = Float.nan
        #expect(throws: WireError.invalidField(field: "bounds.min.y", value: UInt64(nan.bitPattern))) {
            try ServerMessage.decode(welcome(min: Vec3(0, nan, 0)), codec: nil)
        }
        #expect(throws: WireError.invalidField(field: "bounds.max.z", value: UInt64(Float.infinity.bitPattern))) {
            try ServerMessage.decode(welcome(max: Vec3(1, 1, .infinity)), codec: nil)
        }
        #expect(throws: WireError.invalidField(field: "bounds.max.x", value: UInt64(Float(-2).bitPattern))) {
            try ServerMessage.decode(welcome(max: Vec3(-2, 1, 1)), codec: nil)
        }
        #expect(throws: WireError.invalidField(field: "bounds.max.x", value: UInt64(Float(3e6).bitPattern))) {
            try ServerMessage.decode(welcome(min: Vec3(-3e6, 0, 0), max: Vec3(3e6, 1, 1)), codec: nil)
        }
    }

    /// Random bytes, biased towards valid type bytes and plausible lengths, never trap.
    @Test func randomBytesNeverTrap() {
        var rng = SeededRNG(seed: 21)
        let clientTypes: [UInt8] = [1, 2, 3, 4]
        let serverTypes: [UInt8] = [0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88]
        var decoded = 0
        for i in 0..<300_000 {
            let length = rng.int(0...(i % 10 == 0 ? 400 : 48))
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if !bytes.isEmpty && rng.chance(0.9) {
                bytes[0] = i & 1 == 0 ? clientTypes[rng.int(0...3)] : serverTypes[rng.int(0...7)]
            }
            if (try? ClientMessage.decode(bytes, codec: codec)) != nil { decoded += 1 }
            if (try? decodeWhole(bytes, codec: codec)) != nil { decoded += 1 }
        }
        #expect(decoded > 0)  // some random inputs are valid messages (PING, PONG, …)
    }

    /// Bit flips and byte edits of valid messages reach deep into the decoders.
    @Test func mutatedMessagesNeverTrap() {
        var rng = SeededRNG(seed: 22)
        for _ in 0..<20_000 {
            var c = rng.clientMessage(codec: codec).encode(codec: codec)
            var s = rng.serverMessage(codec: codec).encode(codec: codec)
            for _ in 0..<rng.int(1...4) {
                c[rng.int(0...c.count - 1)] ^= UInt8(1) << UInt8(rng.int(0...7))
                s[rng.int(0...s.count - 1)] ^= UInt8(1) << UInt8(rng.int(0...7))
            }
            if rng.chance(0.2) { c = Array(c.prefix(rng.int(0...c.count))) + [UInt8](repeating: 0xFF, count: rng.int(0...3)) }
            if rng.chance(0.2) { s = Array(s.prefix(rng.int(0...s.count))) + [UInt8](repeating: 0xFF, count: rng.int(0...3)) }
            _ = try? ClientMessage.decode(c, codec: codec)
            _ = try? decodeWhole(s, codec: codec)
        }
    }
}
