import Foundation
import Testing
@testable import AtriumWire

/// Checks every `<!-- example: NAME -->` + ```hex block of docs/PROTOCOL.md against the Swift codec:
/// the encoder must produce exactly the documented bytes, and decoding them must give the value back.
@Suite struct ProtocolDocTests {
    enum Example {
        case client(ClientMessage)
        case server(ServerMessage)
        /// A SNAPSHOT part and the baseline view it is encoded against (decoding needs it).
        case snapshot(sequence: UInt32, serverTimeMicros: UInt64, baseline: SnapshotView, entries: [SnapshotEntry])
    }

    static let bounds = WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 10, 100))
    static let codec = PoseCodec(bounds: bounds)

    static let poseNoHands = AvatarPose(
        headPosition: Vec3(1.5, 1.6, -2.25), headRotation: Quat(x: 0, y: 0.70710677, z: 0, w: 0.70710677),
        speaking: true)
    static let poseBothHands = AvatarPose(
        headPosition: Vec3(-3.2, 1.7, 12.5), headRotation: Quat(x: 0, y: 0.38268343, z: 0, w: 0.9238795),
        leftHand: HandPose(position: Vec3(-3.45, 1.2, 12.3), rotation: .identity),
        rightHand: HandPose(position: Vec3(-2.9, 1.95, 12.2), rotation: Quat(x: 0.5, y: 0.5, z: 0.5, w: 0.5)),
        handRaised: true)
    static let poseRightHand = AvatarPose(
        headPosition: Vec3(20, 1.55, 30), headRotation: .identity,
        rightHand: HandPose(position: Vec3(20.3, 1.1, 29.75), rotation: .identity))

    /// 15.4's pose a few ticks later (avatar 7 in 15.7): moved (+20, +10, −50 mm), turned to 92° about y, still speaking.
    static let poseNoHandsLater = AvatarPose(
        headPosition: Vec3(1.52, 1.61, -2.3), headRotation: Quat(x: 0, y: 0.7193398, z: 0, w: 0.6946584), speaking: true)

    /// Entries of the baseline-0 SNAPSHOT 1001 (15.6): avatars 7 and 9, both full.
    static let snapshot1001: [SnapshotEntry] = [
        .full(ViewEntry(id: 7, lastInputSequence: 42, pose: codec.quantize(poseNoHands))),
        .full(ViewEntry(id: 9, lastInputSequence: 17, pose: codec.quantize(poseRightHand))),
    ]
    /// The view after SNAPSHOT 1001: the baseline of the delta example (15.7).
    static let view1001 = DeltaSnapshot.apply(snapshot1001, to: .empty, sequence: 1001)

    /// The Swift value of every documented example.
    static let examples: [String: Example] = [
        "hello": .client(.hello(Hello(minVersion: 5, maxVersion: 5, requestedRole: .visitor, worldId: "expo-hall", displayName: "Zoë"))),
        "welcome": .server(.welcome(Welcome(
            version: 5, clientId: 7, role: .visitor, tickRateHz: 30, serverTimeMicros: 1_234_567_890, worldId: "expo-hall",
            worldContentHash: (0..<32).map { UInt8($0) }, bounds: bounds, capacity: 200))),
        "deny": .server(.deny(Deny(reason: .versionMismatch, serverMinVersion: 5, serverMaxVersion: 5, detail: "server speaks 5..5"))),
        "pose_no_hands": .client(.pose(PoseInput(inputSequence: 42, clientTimeMs: 123_456, ackSnapshot: 41, pose: poseNoHands))),
        "pose_both_hands": .client(.pose(PoseInput(inputSequence: 43, clientTimeMs: 123_489, ackSnapshot: 42, pose: poseBothHands))),
        "snapshot": .snapshot(sequence: 1001, serverTimeMicros: 33_366_666, baseline: .empty, entries: snapshot1001),
        // Against view1001: avatar 7 updated, 9 leaves, 12 enters.
        "snapshot_delta": .snapshot(sequence: 1004, serverTimeMicros: 33_466_666, baseline: view1001, entries: [
            .update(ViewEntry(id: 7, lastInputSequence: 45, pose: codec.quantize(poseNoHandsLater))),
            .leave(9),
            .full(ViewEntry(id: 12, lastInputSequence: 3, pose: codec.quantize(poseBothHands))),
        ]),
        "avatar_joined": .server(.avatarJoined(AvatarJoined(avatarId: 9, role: .presenter, displayName: "Bo"))),
        "avatar_left": .server(.avatarLeft(AvatarLeft(avatarId: 9, reason: .timeout))),
        "departed": .server(.departed([AvatarLeft(avatarId: 9, reason: .timeout), AvatarLeft(avatarId: 12, reason: .none)])),
        "roster": .server(.roster([
            AvatarJoined(avatarId: 9, role: .presenter, displayName: "Bo"),
            AvatarJoined(avatarId: 12, role: .visitor, displayName: "Zoë"),
        ])),
        "chat": .client(.chat(ChatSend(text: "hello 👋"))),
        "chat_relay": .server(.chat(ChatRelay(fromAvatarId: 7, text: "hi all"))),
        "ping": .client(.ping(Ping(clientTimeMicros: 1_000_000))),
        "pong": .server(.pong(Pong(clientTimeMicros: 1_000_000, serverTimeMicros: 987_654_321))),
        "closing": .server(.closing(Closing(reason: .malformedMessage, detail: "bad POSE"))),
        // Voice (§17).
        "voice": .client(.voice(VoiceFrame(sequence: 513, level: VoiceLevel(rawValue: 0x97), opus: [0x48, 0x8A, 0x1C, 0x37, 0xF0]))),
        "voice_bundle": .server(.voiceBundle(VoiceBundle(frames: [
            .init(speakerId: 7, sequence: 513, level: VoiceLevel(voiceActivity: true, minusDBov: 23), opus: [0x48, 0x8A, 0x1C, 0x37, 0xF0]),
            .init(speakerId: VoiceBundle.mixedSpeakerId, sequence: 40, level: VoiceLevel(voiceActivity: true, minusDBov: 35), opus: [0xFC, 0xFF]),
            .init(speakerId: 12, sequence: 2000, level: VoiceLevel(voiceActivity: true, minusDBov: 20), opus: [0x48, 0x0B], resumes: true),
        ]))),
        "voice_setup": .client(.voiceSetup(VoiceSetup(requestedMode: .mix))),
        "voice_mode": .server(.voiceMode(VoiceModeGrant(mode: .relay, reason: .mixCapacityFull))),
        "voice_control": .client(.voiceControl(VoiceControl(action: .block, target: 9))),
    ]

    /// docs/PROTOCOL.md, found from this file: Tests/AtriumWireTests/<file>.swift → package root.
    static func protocolDocument(filePath: String = #filePath) throws -> String {
        let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
    }

    struct ParseError: Error, CustomStringConvertible { var description: String }

    /// name → bytes, in document order.
    static func documentedExamples(_ text: String) throws -> [(name: String, bytes: [UInt8])] {
        var result: [(String, [UInt8])] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var i = 0
        while i < lines.count {
            let line = lines[i]
            i += 1
            guard line.hasPrefix("<!-- example:"), line.hasSuffix("-->") else { continue }
            let name = line.dropFirst("<!-- example:".count).dropLast("-->".count).trimmingCharacters(in: .whitespaces)
            guard i < lines.count, lines[i] == "```hex" else { throw ParseError(description: "example \(name): no ```hex block right after the marker") }
            i += 1
            var bytes: [UInt8] = []
            while i < lines.count, lines[i] != "```" {
                for token in lines[i].split(separator: " ") {
                    guard token.count == 2, let b = UInt8(token, radix: 16) else {
                        throw ParseError(description: "example \(name): bad hex token '\(token)'")
                    }
                    bytes.append(b)
                }
                i += 1
            }
            guard i < lines.count else { throw ParseError(description: "example \(name): unterminated block") }
            i += 1
            result.append((name, bytes))
        }
        return result
    }

    @Test func documentedExamplesMatchTheCodec() throws {
        // §18's token_…, envelope_… and cookie_… examples are the session layer's, checked by SecurityDocTests.
        let documented = try Self.documentedExamples(Self.protocolDocument()).filter {
            !$0.name.hasPrefix("token_") && !$0.name.hasPrefix("envelope_") && !$0.name.hasPrefix("cookie_")
        }
        let names = documented.map(\.name)
        #expect(Set(names).count == names.count, "duplicate example names: \(names)")
        #expect(Set(names) == Set(Self.examples.keys),
                "documented without Swift value: \(Set(names).subtracting(Self.examples.keys).sorted()); Swift value without documented bytes: \(Set(Self.examples.keys).subtracting(names).sorted())")
        let codec = Self.codec
        for (name, bytes) in documented {
            guard let example = Self.examples[name] else { continue }
            switch example {
            case .client(let m):
                let encoded = m.encode(codec: codec)
                #expect(encoded == bytes, "\(name): encoder gives\n\(hex(encoded))")
                #expect(try ClientMessage.decode(bytes, codec: codec) == received(m, codec: codec), "\(name)")
            case .server(let m):
                let encoded = m.encode(codec: codec)
                #expect(encoded == bytes, "\(name): encoder gives\n\(hex(encoded))")
                #expect(try ServerMessage.decode(bytes, codec: codec) == received(m, codec: codec), "\(name)")
            case .snapshot(let sequence, let time, let baseline, let entries):
                let (encoded, view) = DeltaSnapshot.encode(
                    sequence: sequence, serverTimeMicros: time, baseline: baseline, entries: entries, codec: codec)
                #expect(encoded == bytes, "\(name): encoder gives\n\(hex(encoded))")
                let header = SnapshotHeader(
                    sequence: sequence, serverTimeMicros: time, baseline: baseline.sequence, partIndex: 0, partCount: 1,
                    entryCount: UInt16(entries.count))
                let decoded = try DeltaSnapshot.decode(bytes, baseline: baseline, codec: codec)
                #expect(decoded.header == header && decoded.entries == entries, "\(name)")
                #expect(DeltaSnapshot.apply(decoded.entries, to: baseline, sequence: sequence) == view)
                guard case .snapshot(let s) = try ServerMessage.decode(bytes, codec: codec) else { Issue.record("\(name)"); continue }
                #expect(s.header == header && s.bytes == bytes)
            }
        }
    }

    @Test func requiredExamplesAreDocumented() throws {
        let names = Set(try Self.documentedExamples(Self.protocolDocument()).map(\.name))
        for required in ["hello", "welcome", "deny", "pose_no_hands", "pose_both_hands", "snapshot", "snapshot_delta", "avatar_joined",
                         "avatar_left", "chat", "chat_relay", "ping", "pong", "closing",
                         "voice", "voice_bundle", "voice_setup", "voice_mode", "voice_control"] {
            #expect(names.contains(required), "missing example \(required)")
        }
    }

    @Test func examplePosesAreTheDocumentedShapes() {
        #expect(Self.codec.bitCount(of: Self.poseNoHands) == 90)
        #expect(Self.codec.bitCount(of: Self.poseBothHands) == 214)
        #expect(Self.codec.bitCount(of: Self.poseRightHand) == 152)
        // The delta example: the documented codes and sizes.
        let before = Self.codec.quantize(Self.poseNoHands), after = Self.codec.quantize(Self.poseNoHandsLater)
        #expect((after.x, after.y, after.z) == (101_520, 1610, 97_750 - 50))
        #expect(after.head == QuantizedRotation(index: 1, a: 511, b: 511, c: 1013) && before.head.c == 1022)
        #expect(Self.codec.deltaBits(from: before, to: after) == 43)
        #expect(Self.view1001.avatars.map(\.id) == [7, 9])
        // The documented WELCOME bounds build the same codec.
        guard case .server(.welcome(let w)) = Self.examples["welcome"] else { Issue.record(); return }
        #expect(w.bounds == Self.codec.bounds)
    }
}
