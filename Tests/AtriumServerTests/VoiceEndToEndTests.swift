import AtriumClient
import AtriumTransport
import AtriumVoice
import AtriumWire
import Foundation
import Testing

@testable import AtriumServer

/// Voice through a real node (PROTOCOL.md §17): relay by the interest rules, mutes and blocks at the relay,
/// RFC 6716 checks, mix mode and its capacity.
@Suite(.serialized) struct VoiceEndToEndTests {
    static let loop = try! VoiceLoop(seed: 7, seconds: 2)

    /// Sends `count` voiced frames from `speaker` (20 ms apart in sequence) and pumps everyone for a moment;
    /// returns the frames each listener got from `speakerId`.
    func talk(
        _ speaker: AtriumConnection, speakerId: UInt16, frames count: Int, listeners: [AtriumConnection], from start: UInt16 = 0
    ) -> [Int] {
        var heard = Array(repeating: 0, count: listeners.count)
        let voiced = Self.loop.frames.filter(\.voiced)
        for k in 0..<count {
            let frame = voiced[k % voiced.count]
            speaker.sendVoice(VoiceFrame(sequence: start &+ UInt16(k), level: VoiceLevel(rawValue: frame.level), opus: frame.opus))
            let until = MonotonicClock.nowMicros() + 20_000
            while MonotonicClock.nowMicros() < until {
                for (i, listener) in listeners.enumerated() {
                    for event in listener.pump(timeoutMilliseconds: 1) {
                        if case .voiceBundle(let bundle) = event {
                            // Only this call's frames (earlier ones may still sit in a listener's queue); the mixed
                            // stream has its own sequence, so count all of it.
                            heard[i] += bundle.frames.filter {
                                $0.speakerId == speakerId && (speakerId == VoiceBundle.mixedSpeakerId || $0.sequence >= start)
                            }.count
                        }
                    }
                }
                speaker.pump()
            }
        }
        // Let the last ticks arrive.
        pump(listeners + [speaker], seconds: 0.2) { false }
        return heard
    }

    @Test func nearListenersHearAndBlocksAndMutesAreEnforced() async throws {
        let node = try startTestNode()
        let alice = try AtriumConnection()
        let bob = try AtriumConnection()
        let carol = try AtriumConnection()
        let a = try alice.join(server: node.address, worldId: "expo-hall", displayName: "alice")
        _ = try bob.join(server: node.address, worldId: "expo-hall", displayName: "bob")
        _ = try carol.join(server: node.address, worldId: "expo-hall", displayName: "carol")

        // Everyone spawned at the entrance, well within hearing range.
        let heard = talk(alice, speakerId: a.clientId, frames: 25, listeners: [bob, carol])
        #expect(heard[0] >= 20 && heard[1] >= 20, "\(heard)")

        // Bob blocks Alice: Carol still hears her, Bob does not.
        bob.sendVoiceControl(VoiceControl(action: .block, target: a.clientId))
        pump([bob], seconds: 0.2) { false }
        let afterBlock = talk(alice, speakerId: a.clientId, frames: 15, listeners: [bob, carol], from: 100)
        #expect(afterBlock[0] == 0 && afterBlock[1] >= 10, "\(afterBlock)")

        // Alice mutes herself: nobody hears her.
        alice.sendVoiceControl(VoiceControl(action: .muteSelf))
        pump([alice], seconds: 0.2) { false }
        let muted = talk(alice, speakerId: a.clientId, frames: 15, listeners: [bob, carol], from: 200)
        #expect(muted == [0, 0])
        #expect(pump([alice, bob, carol], seconds: 2) { node.statistics.voice.framesMuted >= 10 })
        await node.shutdown()
    }

    @Test func onlyModeratorsMuteOthersAndBadOpusIsDropped() async throws {
        let node = try startTestNode()
        let speaker = try AtriumConnection()
        let visitor = try AtriumConnection()
        let moderator = try AtriumConnection()
        let s = try speaker.join(server: node.address, worldId: "expo-hall", displayName: "speaker")
        _ = try visitor.join(server: node.address, worldId: "expo-hall", displayName: "visitor")
        _ = try moderator.join(server: node.address, worldId: "expo-hall", displayName: "mod", role: .moderator)

        visitor.sendVoiceControl(VoiceControl(action: .moderatorMute, target: s.clientId))
        pump([visitor], seconds: 0.2) { false }
        #expect(talk(speaker, speakerId: s.clientId, frames: 10, listeners: [moderator])[0] >= 5, "a visitor cannot mute others")

        moderator.sendVoiceControl(VoiceControl(action: .moderatorMute, target: s.clientId))
        pump([moderator], seconds: 0.2) { false }
        #expect(talk(speaker, speakerId: s.clientId, frames: 10, listeners: [visitor], from: 50)[0] == 0)

        // A packet that breaks RFC 6716 (code 3 with zero frames) is dropped and counted.
        let before = node.statistics.voice.framesInvalid
        speaker.sendVoice(VoiceFrame(sequence: 999, level: VoiceLevel(voiceActivity: true, minusDBov: 10), opus: [0x03, 0x00]))
        #expect(pump([speaker], seconds: 2) { node.statistics.voice.framesInvalid > before })
        await node.shutdown()
    }

    @Test func mixModeIsGrantedWithinCapacity() async throws {
        let node = try startTestNode { $0.voiceMixCapacity = 1 }
        let speaker = try AtriumConnection()
        let mixed = try AtriumConnection()
        let refused = try AtriumConnection()
        let s = try speaker.join(server: node.address, worldId: "expo-hall", displayName: "speaker")
        _ = try mixed.join(server: node.address, worldId: "expo-hall", displayName: "mixed")
        _ = try refused.join(server: node.address, worldId: "expo-hall", displayName: "refused")

        var grants: [VoiceModeGrant] = []
        func collect(until count: Int) {
            let deadline = MonotonicClock.nowMicros() + 3_000_000
            while grants.count < count && MonotonicClock.nowMicros() < deadline {
                for client in [mixed, refused] {
                    for event in client.pump(timeoutMilliseconds: 2) { if case .voiceMode(let g) = event { grants.append(g) } }
                }
            }
        }
        mixed.requestVoiceMode(.mix)
        collect(until: 1)
        refused.requestVoiceMode(.mix)
        collect(until: 2)
        #expect(grants.contains(VoiceModeGrant(mode: .mix, reason: .asRequested)))
        #expect(grants.contains(VoiceModeGrant(mode: .relay, reason: .mixCapacityFull)))

        // The mixed listener gets the server's stream (speaker 0), the other one the speaker's own frames.
        let mixedHeard = talk(speaker, speakerId: VoiceBundle.mixedSpeakerId, frames: 25, listeners: [mixed, refused])
        let relayHeard = talk(speaker, speakerId: s.clientId, frames: 25, listeners: [mixed, refused], from: 300)
        #expect(mixedHeard[0] >= 15 && mixedHeard[1] == 0, "\(mixedHeard)")
        #expect(relayHeard[0] == 0 && relayHeard[1] >= 15, "\(relayHeard)")
        await node.shutdown()
    }
}
