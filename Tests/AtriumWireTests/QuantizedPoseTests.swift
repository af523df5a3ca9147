import Testing
@testable import AtriumWire

/// The PoseBits encoder of v1, kept verbatim as a reference: v2 writes PoseBits through `quantize` and
/// must produce exactly these bits.
private func v1Encode(_ pose: AvatarPose, codec: PoseCodec, into w: inout BitWriter) {
    w.write(UInt64(pose.flags.rawValue), bits: 8)
    let head = codec.positions.write(pose.headPosition, into: &w)
    let packedHead = SmallestThree.pack(DQuat(pose.headRotation), bits: 10)
    SmallestThree.write(packedHead, bits: 10, into: &w)
    guard pose.leftHand != nil || pose.rightHand != nil else { return }
    let headRotation = DQuat(SmallestThree.unpack(packedHead, bits: 10).float)
    for hand in [pose.leftHand, pose.rightHand].compactMap({ $0 }) {
        func offset(_ v: Float, _ base: Float) -> UInt64 {
            let scaled = (Double(v) - Double(base)) * 1000
            let r = scaled.isNaN ? 0 : scaled.rounded(.toNearestOrAwayFromZero)
            return UInt64(quantizeClamped(r + 1024, 0, 2047))
        }
        w.write(offset(hand.position.x, head.x), bits: 11)
        w.write(offset(hand.position.y, head.y), bits: 11)
        w.write(offset(hand.position.z, head.z), bits: 11)
        SmallestThree.write(SmallestThree.pack(headRotation.conjugate * DQuat(hand.rotation), bits: 9), bits: 9, into: &w)
    }
}

/// The PoseBits decoder of v1, verbatim.
private func v1Decode(codec: PoseCodec, from r: inout BitReader) throws -> AvatarPose {
    let flags = PoseFlags(rawValue: UInt8(truncatingIfNeeded: try r.read(bits: 8)))
    let head = try codec.positions.read(from: &r, field: "headPosition")
    let headRotation = SmallestThree.unpack(try SmallestThree.read(bits: 10, from: &r), bits: 10).float
    var pose = AvatarPose(headPosition: head, headRotation: headRotation, handRaised: flags.contains(.handRaised), speaking: flags.contains(.speaking))
    func hand() throws -> HandPose {
        let ox = try r.read(bits: 11), oy = try r.read(bits: 11), oz = try r.read(bits: 11)
        let relative = SmallestThree.unpack(try SmallestThree.read(bits: 9, from: &r), bits: 9)
        func position(_ q: UInt64, _ base: Float) -> Float { Float(Double(base) + Double(Int64(q) - 1024) / 1000) }
        return HandPose(position: Vec3(position(ox, head.x), position(oy, head.y), position(oz, head.z)),
                        rotation: (DQuat(headRotation) * relative).normalized.float)
    }
    if flags.contains(.leftHandPresent) { pose.leftHand = try hand() }
    if flags.contains(.rightHandPresent) { pose.rightHand = try hand() }
    return pose
}

extension SeededRNG {
    /// Any quantized pose that is valid for `codec` (every code in its field).
    mutating func quantizedPose(codec: PoseCodec) -> QuantizedPose {
        func rotation(_ bits: Int) -> QuantizedRotation {
            let top = (1 << bits) - 1
            return QuantizedRotation(index: UInt8(int(0...3)), a: UInt16(int(0...top)), b: UInt16(int(0...top)), c: UInt16(int(0...top)))
        }
        func hand() -> QuantizedHand {
            QuantizedHand(x: UInt16(int(0...2047)), y: UInt16(int(0...2047)), z: UInt16(int(0...2047)), rotation: rotation(9))
        }
        let e = codec.positions.maxValue
        return QuantizedPose(
            flags: UInt8(int(0...255)), x: UInt32(int(0...Int(e.x))), y: UInt32(int(0...Int(e.y))), z: UInt32(int(0...Int(e.z))),
            head: rotation(10), left: bool() ? hand() : nil, right: bool() ? hand() : nil)
    }

    /// `base` moved a little or a lot: each code kept, nudged by a random delta of random size, or replaced.
    mutating func nudged(_ base: QuantizedPose, codec: PoseCodec) -> QuantizedPose {
        var p = base
        func nudge(_ v: Int, max: Int) -> Int {
            switch int(0...5) {
            case 0: return v
            case 1: return Swift.min(max, Swift.max(0, v + int(-8...8)))
            case 2: return Swift.min(max, Swift.max(0, v + int(-300...300)))
            case 3: return int(0...max)
            default: return Swift.min(max, Swift.max(0, v + int(-40...40)))
            }
        }
        let e = codec.positions.maxValue
        p.x = UInt32(nudge(Int(p.x), max: Int(e.x)))
        p.y = UInt32(nudge(Int(p.y), max: Int(e.y)))
        p.z = UInt32(nudge(Int(p.z), max: Int(e.z)))
        func rotation(_ r: inout QuantizedRotation, bits: Int) {
            if chance(0.05) { r.index = UInt8(int(0...3)) }
            for i in 0..<3 { r[component: i] = UInt16(nudge(Int(r[component: i]), max: (1 << bits) - 1)) }
        }
        rotation(&p.head, bits: 10)
        func hand(_ h: QuantizedHand?) -> QuantizedHand? {
            if chance(0.1) { return h == nil ? quantizedPose(codec: codec).left ?? QuantizedHand(x: 1024, y: 1024, z: 1024, rotation: .identity(bits: 9)) : nil }
            guard var h else { return nil }
            for axis in 0..<3 { h[axis: axis] = UInt16(nudge(Int(h[axis: axis]), max: 2047)) }
            rotation(&h.rotation, bits: 9)
            return h
        }
        p.left = hand(p.left)
        p.right = hand(p.right)
        if chance(0.1) { p.flags ^= UInt8(int(0...15)) }
        return p
    }
}

@Suite struct QuantizedPoseTests {
    let codec = Fixtures.hallCodec

    @Test func poseBitsAreExactlyV1() throws {
        var rng = SeededRNG(seed: 40)
        for i in 0..<5000 {
            let codec = i % 2 == 0 ? codec : PoseCodec(bounds: rng.bounds())
            var pose = rng.pose(in: codec.bounds)
            if i % 7 == 0 { pose.headPosition = Vec3(.nan, 1e9, -.infinity) }
            if i % 11 == 0 {
                pose.leftHand = HandPose(position: Vec3(.nan, .infinity, -1e30), rotation: Quat(x: .nan, y: 0, z: 0, w: 1))
                pose.rightHand = HandPose(position: pose.headPosition + Vec3(0.0005, -0.0005, 1.0235), rotation: Quat(x: 0, y: 0, z: 0, w: 0))
            }
            var reference = BitWriter()
            v1Encode(pose, codec: codec, into: &reference)
            var w = BitWriter()
            codec.encode(pose, into: &w)
            #expect(w.bitCount == reference.bitCount && w.bytes == reference.bytes)
            #expect(codec.fullBits(codec.quantize(pose)) == w.bitCount && codec.bitCount(of: pose) == w.bitCount)
            var r1 = BitReader(w.bytes), r2 = BitReader(w.bytes)
            #expect(try codec.decode(from: &r1) == v1Decode(codec: codec, from: &r2))
            #expect(codec.dequantize(codec.quantize(pose)) == codec.roundTrip(pose))
        }
    }

    @Test func quantizedRoundTrips() throws {
        var rng = SeededRNG(seed: 41)
        var stable = 0
        for _ in 0..<5000 {
            // Integers → bits → integers is exact for every valid pose.
            let q = rng.quantizedPose(codec: codec)
            var w = BitWriter()
            codec.writeFull(q, into: &w)
            #expect(w.bitCount == codec.fullBits(q))
            var r = BitReader(w.bytes)
            #expect(try codec.readFull(from: &r) == q)
            // Pose → integers → pose → integers: positions, flags and offsets always; rotations nearly always
            // (PROTOCOL.md §8.3: two nearly equal largest components may swap).
            let p = codec.quantize(rng.pose(in: codec.bounds))
            let again = codec.quantize(codec.dequantize(p))
            #expect(again.flags == p.flags && again.x == p.x && again.y == p.y && again.z == p.z)
            #expect(again.left.map { [$0.x, $0.y, $0.z] } == p.left.map { [$0.x, $0.y, $0.z] })
            #expect(again.right.map { [$0.x, $0.y, $0.z] } == p.right.map { [$0.x, $0.y, $0.z] })
            if again == p { stable += 1 }
        }
        #expect(stable >= 4900)
    }

    @Test func flagsStayCanonical() {
        let hand = QuantizedHand(x: 1024, y: 1024, z: 1024, rotation: .identity(bits: 9))
        var q = QuantizedPose(flags: 0xFF, x: 0, y: 0, z: 0, head: .identity(bits: 10))
        #expect(q.flags == 0x0C && q.handRaised && q.speaking)
        q.left = hand
        #expect(q.flags == 0x0D)
        q.flags = 0x02  // cannot remove the left hand or invent a right one
        #expect(q.flags == 0x01)
        q.right = hand
        q.left = nil
        #expect(q.flags == 0x02)
        #expect(QuantizedPose(flags: 3, x: 0, y: 0, z: 0, head: .identity(bits: 10)).flags == 0)
        #expect(codec.quantize(AvatarPose(headPosition: .zero, headRotation: .identity)).head == .identity(bits: 10))
    }

    @Test func eliasGamma() throws {
        // Bit patterns, in stream order: 1 → "1", 2 → "01" + "0", 5 → "001" + "10" (low bits of 5 = 01, LSB first).
        func bits(_ n: UInt64) -> String {
            var w = BitWriter()
            EliasGamma.write(n, into: &w)
            var r = BitReader(w.bytes)
            return (0..<w.bitCount).map { _ in (try? r.read(bits: 1)) == 1 ? "1" : "0" }.joined()
        }
        #expect(bits(1) == "1")
        #expect(bits(2) == "010")
        #expect(bits(3) == "011")
        #expect(bits(5) == "00110")
        #expect(bits(6) == "00101")
        #expect(bits(UInt64(UInt32.max)).count == 63)
        var rng = SeededRNG(seed: 42)
        for _ in 0..<5000 {
            let n = rng.bool() ? UInt64(rng.int(1...70)) : max(1, UInt64(rng.u32()) >> UInt64(rng.int(0...31)))
            var w = BitWriter()
            EliasGamma.write(n, into: &w)
            #expect(w.bitCount == EliasGamma.bitCount(n))
            var r = BitReader(w.bytes)
            #expect(try EliasGamma.read(from: &r, field: "n") == n)
        }
        // 32 zero bits: n ≥ 2^32, refused; 31 zero bits then a one: the largest value needs all 31 low bits.
        #expect(throws: WireError.invalidField(field: "n", value: 32)) {
            var r = BitReader([0, 0, 0, 0, 1])
            _ = try EliasGamma.read(from: &r, field: "n")
        }
        #expect(throws: WireError.truncated) {
            var r = BitReader([0, 0, 0, 0x80])
            _ = try EliasGamma.read(from: &r, field: "n")
        }
    }
}

@Suite struct PoseDeltaTests {
    let codec = Fixtures.hallCodec

    private func roundTrip(_ base: QuantizedPose, _ pose: QuantizedPose) throws -> (QuantizedPose, Int) {
        var w = BitWriter()
        codec.writeDelta(from: base, to: pose, layout: .v2, into: &w)
        #expect(w.bitCount == codec.deltaBits(from: base, to: pose))
        var r = BitReader(w.bytes)
        let decoded = try codec.readDelta(from: &r, base: base)
        #expect(r.bitPosition == w.bitCount)
        return (decoded, w.bitCount)
    }

    @Test func randomDeltasRoundTrip() throws {
        var rng = SeededRNG(seed: 50)
        for _ in 0..<20_000 {
            let base = rng.quantizedPose(codec: codec)
            let pose = rng.chance(0.5) ? rng.nudged(base, codec: codec) : rng.quantizedPose(codec: codec)
            #expect(try roundTrip(base, pose).0 == pose)
        }
    }

    @Test func simulatedMotionRoundTrips() throws {
        for kind in MotionKind.allCases {
            for track in simulatedPoses(kind: kind, count: 3, ticks: 300, seed: 51, codec: codec) {
                for t in 4..<track.count {
                    #expect(try roundTrip(track[t - 3], track[t]).0 == track[t])
                }
            }
        }
    }

    @Test func unchangedPoseIsOneBit() throws {
        var rng = SeededRNG(seed: 52)
        for _ in 0..<100 {
            let q = rng.quantizedPose(codec: codec)
            let (decoded, bits) = try roundTrip(q, q)
            #expect(decoded == q && bits == 1)
        }
    }

    @Test func classBoundaries() throws {
        // Head x with small/medium/large = 4/7/8: zigzag 0…15 small (1 + 4 bits), 16…143 medium (2 + 7),
        // 144…399 large (3 + 8), beyond raw (3 + 18).
        let base = QuantizedPose(flags: 0, x: 100_000, y: 1600, z: 100_000, head: .identity(bits: 10))
        let rest = 1 + 1 + (1 + 2) + (1 + 4) + 3 * (1 + 3)  // changed, special, y and z unchanged, head rotation
        for (d, bits) in [(-8, 5), (7, 5), (8, 2 + 7), (-9, 9), (71, 9), (-72, 9), (72, 11), (-200, 11), (199, 11),
                          (200, 21), (-200_000 + 100_000 - 1, 21)] {
            var pose = base
            pose.x = UInt32(100_000 + (d < -100_000 ? -100_000 : d))
            let (decoded, total) = try roundTrip(base, pose)
            #expect(decoded == pose)
            #expect(total == rest + bits, "d = \(d)")
        }
    }

    @Test func handsAppearAndDisappear() throws {
        let hand = QuantizedHand(x: 1000, y: 600, z: 1100, rotation: QuantizedRotation(index: 3, a: 250, b: 260, c: 255))
        let base = QuantizedPose(flags: 0, x: 5, y: 6, z: 7, head: .identity(bits: 10), left: hand)
        var gone = base
        gone.left = nil
        var appeared = base
        appeared.right = hand
        for pose in [gone, appeared] {
            #expect(try roundTrip(base, pose).0 == pose)
        }
        // Disappearing costs only the special flags: changed, special, u4 flags, head index bit, then the
        // unchanged codes (position 5 + 3 + 5, head rotation 3 × 4).
        #expect(codec.deltaBits(from: base, to: gone) == 1 + 1 + 4 + 1 + 13 + 12)
        // Appearing: the same plus the left hand's index bit, its unchanged codes (6 × 5) and the full new hand.
        #expect(codec.deltaBits(from: base, to: appeared) == 1 + 1 + 4 + 1 + 1 + 13 + 12 + 30 + 62)
    }

    @Test func rotationIndexChangeIsWrittenInFull() throws {
        let base = QuantizedPose(flags: 8, x: 5, y: 6, z: 7, head: QuantizedRotation(index: 3, a: 511, b: 1022, c: 511))
        var pose = base
        pose.head = QuantizedRotation(index: 1, a: 511, b: 511, c: 1020)
        let (decoded, bits) = try roundTrip(base, pose)
        #expect(decoded == pose)
        // changed, special, flags, head index bit, 3 unchanged position codes, full rotation.
        #expect(bits == 1 + 1 + 4 + 1 + (1 + 4) + (1 + 2) + (1 + 4) + 32)
    }

    @Test func deltasLeavingTheFieldAreRejected() {
        let base = QuantizedPose(flags: 0, x: 0, y: 10_000, z: 200_000, head: .identity(bits: 10))
        // x: small class, zigzag 1 = d −1 → −1.
        for (axis, z, field) in [(0, 1, "headPosition.x"), (1, 2, "headPosition.y"), (2, 2, "headPosition.z")] {
            var w = BitWriter()
            w.write(1, bits: 1); w.write(0, bits: 1)  // changed, not special
            for a in 0..<3 {
                let widths = a == 1 ? PoseDeltaLayout.v2.positionVertical : PoseDeltaLayout.v2.positionHorizontal
                w.write(0, bits: 1)
                w.write(a == axis ? UInt64(z) : 0, bits: widths.small)
            }
            w.write(0, bits: 64)
            var r = BitReader(w.bytes)
            #expect(throws: WireError.self) { _ = try codec.readDelta(from: &r, base: base) }
            var r2 = BitReader(w.bytes)
            do {
                _ = try codec.readDelta(from: &r2, base: base)
            } catch {
                guard case .invalidField(let f, _) = error else { Issue.record("\(error)"); continue }
                #expect(f == field)
            }
        }
        // A raw head position above E.
        var w = BitWriter()
        w.write(1, bits: 1); w.write(0, bits: 1)
        w.write(0b111, bits: 3); w.write(200_001, bits: 18)
        w.write(0, bits: 64)
        var r = BitReader(w.bytes)
        #expect(throws: WireError.invalidField(field: "headPosition.x", value: 200_001)) { _ = try codec.readDelta(from: &r, base: base) }
    }
}
