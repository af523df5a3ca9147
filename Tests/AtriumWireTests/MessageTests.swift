import Testing
@testable import AtriumWire

@Suite struct MessageRoundTripTests {
    let codec = Fixtures.hallCodec

    @Test func clientMessagesRoundTrip() throws {
        var rng = SeededRNG(seed: 10)
        for _ in 0..<3000 {
            let m = rng.clientMessage(codec: codec)
            let bytes = m.encode(codec: codec)
            #expect(bytes.first == m.type.rawValue)
            let decoded = try ClientMessage.decode(bytes, codec: codec)
            #expect(decoded == received(m, codec: codec))
        }
    }

    @Test func serverMessagesRoundTrip() throws {
        var rng = SeededRNG(seed: 11)
        for _ in 0..<3000 {
            let m = rng.serverMessage(codec: codec)
            let bytes = m.encode(codec: codec)
            #expect(bytes.first == m.type.rawValue)
            let decoded = try ServerMessage.decode(bytes, codec: codec)
            #expect(decoded == received(m, codec: codec))
        }
    }

    @Test func posesRoundTripInRandomWorlds() throws {
        var rng = SeededRNG(seed: 12)
        for _ in 0..<2000 {
            let codec = PoseCodec(bounds: rng.bounds())
            let m = ClientMessage.pose(PoseInput(inputSequence: rng.u32(), clientTimeMs: rng.u32(), ackSnapshot: rng.u32(), pose: rng.pose(in: codec.bounds)))
            #expect(try ClientMessage.decode(m.encode(codec: codec), codec: codec) == received(m, codec: codec))
        }
    }

    @Test func messageSizes() {
        let pose = AvatarPose(headPosition: .zero, headRotation: .identity)
        var both = pose
        both.leftHand = HandPose(position: .zero, rotation: .identity)
        both.rightHand = both.leftHand
        #expect(ClientMessage.pose(PoseInput(inputSequence: 0, clientTimeMs: 0, ackSnapshot: 0, pose: pose)).encode(codec: codec).count == 25)
        #expect(ClientMessage.pose(PoseInput(inputSequence: 0, clientTimeMs: 0, ackSnapshot: 0, pose: both)).encode(codec: codec).count == 40)
        #expect(ClientMessage.ping(Ping(clientTimeMicros: 0)).encode(codec: nil).count == 9)
        #expect(ServerMessage.pong(Pong(clientTimeMicros: 0, serverTimeMicros: 0)).encode(codec: nil).count == 17)
    }

    @Test func channelsAndReliability() {
        let pose = AvatarPose(headPosition: .zero, headRotation: .identity)
        let client: [(ClientMessage, Channel)] = [
            (.hello(Hello(minVersion: 1, maxVersion: 1, requestedRole: .visitor, worldId: "w", displayName: "n")), .control),
            (.pose(PoseInput(inputSequence: 0, clientTimeMs: 0, ackSnapshot: 0, pose: pose)), .state),
            (.chat(ChatSend(text: "hi")), .control),
            (.ping(Ping(clientTimeMicros: 0)), .state),
        ]
        for (m, ch) in client {
            #expect(m.channel == ch && m.isReliable == (ch == .control))
        }
        let server: [(ServerMessage, Channel)] = [
            (.welcome(Welcome(version: 1, clientId: 1, role: .visitor, tickRateHz: 20, serverTimeMicros: 0, worldId: "w",
                              worldContentHash: Fixtures.hash, bounds: Fixtures.hall, capacity: 10)), .control),
            (.deny(Deny(reason: .worldFull, serverMinVersion: 1, serverMaxVersion: 1, detail: "")), .control),
            (.snapshot(try! Snapshot(DeltaSnapshot.encode(sequence: 1, serverTimeMicros: 0, baseline: .empty, entries: [], codec: codec).bytes)), .state),
            (.avatarJoined(AvatarJoined(avatarId: 1, role: .visitor, displayName: "n")), .control),
            (.roster([AvatarJoined(avatarId: 1, role: .visitor, displayName: "n")]), .control),
            (.departed([AvatarLeft(avatarId: 1, reason: .none)]), .control),
            (.avatarLeft(AvatarLeft(avatarId: 1, reason: .none)), .control),
            (.chat(ChatRelay(fromAvatarId: 1, text: "hi")), .control),
            (.pong(Pong(clientTimeMicros: 0, serverTimeMicros: 0)), .state),
            (.closing(Closing(reason: .kicked, detail: "")), .control),
        ]
        for (m, ch) in server {
            #expect(m.channel == ch && m.isReliable == (ch == .control))
        }
    }

    @Test func encodersCutOverlongStrings() throws {
        let long = String(repeating: "é", count: 300)  // 600 bytes
        let hello = ClientMessage.hello(Hello(minVersion: 1, maxVersion: 1, requestedRole: .student, worldId: "w", displayName: long))
        guard case .hello(let h) = try ClientMessage.decode(hello.encode(codec: nil), codec: nil) else { Issue.record(); return }
        #expect(h.displayName == String(repeating: "é", count: 16))
        let chat = ClientMessage.chat(ChatSend(text: long))
        guard case .chat(let c) = try ClientMessage.decode(chat.encode(codec: nil), codec: nil) else { Issue.record(); return }
        #expect(c.text == String(repeating: "é", count: 250))
        let closing = ServerMessage.closing(Closing(reason: .kicked, detail: long))
        guard case .closing(let d) = try ServerMessage.decode(closing.encode(codec: nil), codec: nil) else { Issue.record(); return }
        #expect(d.detail == String(repeating: "é", count: 100))
    }

    @Test func versionNegotiation() {
        // v5 only: a v4 client would not know ROSTER, so it is refused.
        #expect(ProtocolVersion.current == 5 && ProtocolVersion.supported == 5...5)
        #expect(ProtocolVersion.negotiate(clientMin: 5, clientMax: 5) == 5)
        #expect(ProtocolVersion.negotiate(clientMin: 1, clientMax: 6) == 5)
        #expect(ProtocolVersion.negotiate(clientMin: 1, clientMax: 4) == nil)
        #expect(ProtocolVersion.negotiate(clientMin: 0, clientMax: 1) == nil)
        #expect(ProtocolVersion.negotiate(clientMin: 6, clientMax: 7) == nil)
        #expect(ProtocolVersion.negotiate(clientMin: 0, clientMax: 0) == nil)
        #expect(ProtocolVersion.negotiate(clientMin: 4, clientMax: 3) == nil)
    }

    @Test func peekVersionRangeOfAFutureHello() {
        // A later client might append fields: the range is still readable.
        var bytes = ClientMessage.hello(Hello(minVersion: 2, maxVersion: 3, requestedRole: .visitor, worldId: "w", displayName: "n")).encode(codec: nil)
        bytes += [1, 2, 3]
        #expect(throws: WireError.trailingBytes(3)) { try ClientMessage.decode(bytes, codec: nil) }
        let range = Hello.peekVersionRange(bytes)
        #expect(range?.min == 2 && range?.max == 3)
        #expect(Hello.peekVersionRange([1, 2, 3]) == nil)
        #expect(Hello.peekVersionRange([4, 1, 0, 1, 0]) == nil)
    }

    @Test func codeTables() {
        #expect(Role.allCases.map(\.rawValue) == Array(0...7))
        #expect(Role(name: "village_head") == .villageHead && Role(name: "villageHead") == nil)
        for r in Role.allCases { #expect(Role(name: r.name) == r) }
        #expect(ReasonCode.allCases.map(\.rawValue) == Array(0...15))
        for r in ReasonCode.allCases {
            #expect(ReasonCode(name: r.name) == r)
            #expect(ReasonCode(disconnectData: r.disconnectData) == r)
        }
        #expect(ReasonCode.serverFull.name == "server_full")
        #expect(ReasonCode(disconnectData: 16) == nil && ReasonCode(disconnectData: 0x100) == nil)
        #expect(Channel.count == 3 && Channel.allCases.count == 3)
    }

    @Test func validationHelpers() {
        #expect(WireLimits.isValidWorldId("expo-hall-2"))
        #expect(!WireLimits.isValidWorldId("") && !WireLimits.isValidWorldId("Expo") && !WireLimits.isValidWorldId(String(repeating: "a", count: 65)))
        #expect(WireLimits.isValidDisplayName("Zoë 日本 😀"))
        #expect(!WireLimits.isValidDisplayName("") && !WireLimits.isValidDisplayName("a\tb") && !WireLimits.isValidDisplayName("a\u{85}"))
        #expect(!WireLimits.isValidDisplayName(String(repeating: "é", count: 17)))
        #expect(WireLimits.isValidChatText("line\nline") && !WireLimits.isValidChatText(""))
        #expect(WireLimits.isValidDetail("") && !WireLimits.isValidDetail(String(repeating: "x", count: 201)))
    }
}
