import Testing
@testable import AtriumWire

@Suite struct SnapshotPackerTests {
    let codec = Fixtures.hallCodec

    private func avatars(_ n: Int, rng: inout SeededRNG) -> [AvatarState] {
        (0..<n).map { i in AvatarState(id: UInt16(i + 1), lastInputSequence: rng.u32(), pose: rng.pose(in: codec.bounds)) }
    }

    @Test func zeroAvatarsGiveOneEmptyPart() throws {
        let parts = SnapshotPacker.pack(sequence: 9, serverTimeMicros: 10, avatars: [], codec: codec)
        #expect(parts.count == 1)
        #expect(parts[0].count == 21)
        #expect(try ServerMessage.decode(parts[0], codec: codec)
                == .snapshot(Snapshot(sequence: 9, serverTimeMicros: 10, baseline: 0, partIndex: 0, partCount: 1, avatars: [])))
    }

    @Test func partsFitAndCarryEveryAvatarOnce() throws {
        var rng = SeededRNG(seed: 30)
        for trial in 0..<150 {
            let maxBytes = [1200, 1200, 600, 300, 100, 58][trial % 6]
            let list = avatars(rng.int(0...(trial % 10 == 0 ? 2000 : 120)), rng: &rng)
            let parts = SnapshotPacker.pack(sequence: UInt32(trial + 1), serverTimeMicros: 77, avatars: list, codec: codec, maxBytes: maxBytes)
            #expect(!parts.isEmpty && parts.count <= 255)
            var seen: [AvatarState] = []
            for (index, bytes) in parts.enumerated() {
                #expect(bytes.count <= maxBytes)
                guard case .snapshot(let s) = try ServerMessage.decode(bytes, codec: codec) else { Issue.record("not a snapshot"); continue }
                #expect(s.sequence == UInt32(trial + 1) && s.serverTimeMicros == 77 && s.baseline == 0)
                #expect(Int(s.partIndex) == index && Int(s.partCount) == parts.count)
                seen += s.avatars
            }
            if parts.count < 255 {
                #expect(seen.map(\.id) == list.map(\.id))  // each exactly once, in order
                #expect(seen == list.map { AvatarState(id: $0.id, lastInputSequence: $0.lastInputSequence, pose: codec.roundTrip($0.pose)) })
            }
            // As few parts as fit: no part could have taken the first avatar of the next one.
            var start = 0
            for bytes in parts.dropLast() {
                guard case .snapshot(let s) = try ServerMessage.decode(bytes, codec: codec) else { continue }
                let used = Snapshot.headerBits + s.avatars.reduce(0) { $0 + Snapshot.avatarHeaderBits + codec.bitCount(of: $1.pose) }
                let next = list[start + s.avatars.count]
                #expect(used + Snapshot.avatarHeaderBits + codec.bitCount(of: next.pose) > maxBytes * 8)
                start += s.avatars.count
            }
        }
    }

    @Test func fullHandsHallFitsThirtySixPerPart() throws {
        var rng = SeededRNG(seed: 31)
        let hand = HandPose(position: Vec3(0, 1, 0), rotation: .identity)
        let list = (0..<100).map { i in
            AvatarState(id: UInt16(i + 1), lastInputSequence: 1,
                        pose: AvatarPose(headPosition: rng.point(in: codec.bounds), headRotation: rng.unitQuat(), leftHand: hand, rightHand: hand))
        }
        let parts = SnapshotPacker.pack(sequence: 1, serverTimeMicros: 0, avatars: list, codec: codec)
        // (1200 × 8 − 168) / (48 + 214) = 36 avatars per part.
        #expect(parts.count == 3)
        #expect(SnapshotPacker.capacity(codec: codec) == 36 * 255)
    }

    @Test func moreThan255PartsLeavesTheRestOut() throws {
        var rng = SeededRNG(seed: 32)
        let list = avatars(300, rng: &rng)
        // 55 bytes (440 bits) hold exactly one avatar: header 168 + one 138…262-bit avatar.
        let parts = SnapshotPacker.pack(sequence: 1, serverTimeMicros: 0, avatars: list, codec: codec, maxBytes: 55)
        #expect(parts.count == 255)
        var ids: [UInt16] = []
        for p in parts {
            guard case .snapshot(let s) = try ServerMessage.decode(p, codec: codec) else { continue }
            #expect(s.partCount == 255)
            ids += s.avatars.map(\.id)
        }
        #expect(ids == list.prefix(255).map(\.id))
    }
}
