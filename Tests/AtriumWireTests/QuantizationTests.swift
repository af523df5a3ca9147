import Testing
@testable import AtriumWire

private let degree: Float = .pi / 180

/// Worst-case angle error of smallest-three with b bits: each stored component is off by at most half a
/// step, δ = 1/(2√2·H) with H = 2^(b−1) − 1; the rebuilt largest component then moves by up to 3δ, and
/// the rotation angle by 2·√12·δ = √6/H (0.275° for 10 bits, 0.550° for 9 bits). 2% slack for 2nd order.
private func maxAngleError(bits: Int) -> Float {
    Float(6.0.squareRoot() / Double((1 << (bits - 1)) - 1) * 1.02)
}

private func roundTripRotation(_ q: Quat, bits: Int) throws -> Quat {
    var w = BitWriter()
    SmallestThree.encode(q, bits: bits, into: &w)
    #expect(w.bitCount == 2 + 3 * bits)
    var r = BitReader(w.bytes)
    return try SmallestThree.decode(bits: bits, from: &r)
}

private func rotationBits(_ q: Quat, bits: Int) -> [UInt8] {
    var w = BitWriter()
    SmallestThree.encode(q, bits: bits, into: &w)
    return w.bytes
}

private func isUnit(_ q: Quat) -> Bool { abs(q.lengthSquared - 1) < 1e-5 }

@Suite struct PositionQuantizationTests {
    @Test func bitsPerAxisOfTheHall() {
        let q = PositionQuantizer(bounds: Fixtures.hall)
        #expect(q.bitsPerAxis.x == 18 && q.bitsPerAxis.y == 14 && q.bitsPerAxis.z == 18)
        #expect(q.maxValue.x == 200_000 && q.maxValue.y == 10_000 && q.maxValue.z == 200_000)
        #expect(Fixtures.hallCodec.baseBitCount == 8 + 50 + 32)
        #expect(Fixtures.hallCodec.maxBitCount == 214)
    }

    @Test func degenerateAxesUseOneBit() {
        let q = PositionQuantizer(bounds: WorldBounds(min: Vec3(0, 5, 0), max: Vec3(1, 5, 0.0005)))
        #expect(q.bitsPerAxis.x == 10)  // E = 1000
        #expect(q.bitsPerAxis.y == 1)   // E = 0
        #expect(q.bitsPerAxis.z == 1)   // E = 1
    }

    @Test func errorIsAtMostHalfAMillimetreInsideBounds() {
        var rng = SeededRNG(seed: 2)
        for _ in 0..<5000 {
            let bounds = rng.bounds()
            let quantizer = PositionQuantizer(bounds: bounds)
            let p = rng.point(in: bounds)
            let d = quantizer.dequantize(quantizer.quantize(p))
            // 0.5 mm plus the f32 rounding of coordinates up to ~1000 m (ulp 6e-5 m).
            let tolerance: Float = 0.0005 + 1.2e-4
            #expect(abs(d.x - p.x) <= tolerance && abs(d.y - p.y) <= tolerance && abs(d.z - p.z) <= tolerance,
                    "\(p) → \(d) in \(bounds)")
        }
    }

    @Test func hallErrorBound() {
        var rng = SeededRNG(seed: 3)
        let quantizer = PositionQuantizer(bounds: Fixtures.hall)
        var worst: Float = 0
        for _ in 0..<20000 {
            let p = rng.point(in: Fixtures.hall)
            let d = quantizer.dequantize(quantizer.quantize(p))
            worst = max(worst, abs(d.x - p.x), abs(d.y - p.y), abs(d.z - p.z))
        }
        #expect(worst <= 0.0005 + 1e-5)  // ulp(100 m) = 7.6e-6 m
    }

    @Test func outsideBoundsClamps() {
        let quantizer = PositionQuantizer(bounds: Fixtures.hall)
        let d = quantizer.dequantize(quantizer.quantize(Vec3(-250, 42, 1e30)))
        #expect(d == Vec3(-100, 10, 100))
        #expect(Fixtures.hall.clamp(Vec3(-250, 42, 1e30)) == Vec3(-100, 10, 100))
        #expect(quantizer.dequantize(quantizer.quantize(Vec3(-.infinity, .infinity, 0))) == Vec3(-100, 10, 0))
    }

    @Test func nanEncodesAsLowerBound() {
        let quantizer = PositionQuantizer(bounds: Fixtures.hall)
        let q = quantizer.quantize(Vec3(.nan, .nan, .signalingNaN))
        #expect(q.x == 0 && q.y == 0 && q.z == 0)
        #expect(Fixtures.hall.clamp(Vec3(.nan, 1, 1)) == Vec3(-100, 1, 1))
        #expect(!Fixtures.hall.contains(Vec3(.nan, 1, 1)))
        #expect(Fixtures.hall.contains(Vec3(100, 10, -100)))
    }

    @Test func boundsValidity() {
        #expect(Fixtures.hall.isValid)
        #expect(WorldBounds(min: .zero, max: .zero).isValid)
        #expect(!WorldBounds(min: Vec3(1, 0, 0), max: Vec3(0, 1, 1)).isValid)
        #expect(!WorldBounds(min: Vec3(.nan, 0, 0), max: Vec3(1, 1, 1)).isValid)
        #expect(!WorldBounds(min: .zero, max: Vec3(.infinity, 1, 1)).isValid)
        #expect(!WorldBounds(min: Vec3(-3e6, 0, 0), max: Vec3(3e6, 1, 1)).isValid)
        // Invalid bounds still give a working codec (never traps, ≤ 32 bits per axis).
        let weird = PositionQuantizer(bounds: WorldBounds(min: Vec3(-3e38, .nan, 5), max: Vec3(3e38, 1, -5)))
        #expect(weird.bitsPerAxis.x == 32 && weird.bitsPerAxis.y == 1 && weird.bitsPerAxis.z == 1)
        _ = weird.dequantize(weird.quantize(Vec3(.nan, .infinity, 0)))
    }
}

@Suite struct SmallestThreeTests {
    @Test func identityIsExact() throws {
        #expect(try roundTripRotation(.identity, bits: 10) == .identity)
        #expect(try roundTripRotation(.identity, bits: 9) == .identity)
    }

    @Test func negatedQuaternionEncodesTheSame() throws {
        var rng = SeededRNG(seed: 4)
        for _ in 0..<2000 {
            let q = rng.unitQuat()
            let n = Quat(x: -q.x, y: -q.y, z: -q.z, w: -q.w)
            #expect(rotationBits(q, bits: 10) == rotationBits(n, bits: 10))
        }
        // Negative w: the decoded quaternion has a non-negative largest component.
        let d = try roundTripRotation(Quat(x: 0, y: 0, z: 0, w: -1), bits: 10)
        #expect(d == .identity)
    }

    @Test func halfTurns() throws {
        let cases = [
            Quat(x: 1, y: 0, z: 0, w: 0), Quat(x: 0, y: 1, z: 0, w: 0), Quat(x: 0, y: 0, z: 1, w: 0),
            Quat(x: 0, y: -1, z: 0, w: 0), Quat(x: 0.70710677, y: -0.70710677, z: 0, w: 0),
            Quat(axis: Vec3(0.6, 0, 0.8), angle: .pi), Quat.yaw(.pi), Quat.yaw(-.pi),
        ]
        for q in cases {
            let d = try roundTripRotation(q, bits: 10)
            #expect(isUnit(d))
            #expect(Quat.angle(q, d) < maxAngleError(bits: 10), "\(q) → \(d)")
        }
        // A pure axis half turn is exact.
        #expect(try roundTripRotation(Quat(x: 0, y: -1, z: 0, w: 0), bits: 9) == Quat(x: 0, y: 1, z: 0, w: 0))
    }

    @Test func tiesPickTheLowestIndex() throws {
        // |x| = |y| = |z| = |w|: index 0 (x) is dropped.
        var w = BitWriter()
        SmallestThree.encode(Quat(x: -0.5, y: 0.5, z: 0.5, w: 0.5), bits: 10, into: &w)
        var r = BitReader(w.bytes)
        #expect(try r.read(bits: 2) == 0)
        // x negative → all negated: y, z, w become −0.5 → q = round(−0.5 × √2 × 511) + 511 = −361 + 511 = 150.
        #expect(try r.read(bits: 10) == 150)
        // yaw 90°: y == w → y (index 1) is dropped.
        var w2 = BitWriter()
        SmallestThree.encode(Quat(x: 0, y: 0.70710677, z: 0, w: 0.70710677), bits: 10, into: &w2)
        var r2 = BitReader(w2.bytes)
        #expect(try r2.read(bits: 2) == 1)
    }

    @Test func nonFiniteAndZeroEncodeAsIdentity() throws {
        for q in [Quat(x: .nan, y: 0, z: 0, w: 1), Quat(x: 0, y: .infinity, z: 0, w: 1), Quat(x: 0, y: 0, z: 0, w: 0)] {
            #expect(try roundTripRotation(q, bits: 10) == .identity)
        }
        // Not normalised: normalised first.
        let d = try roundTripRotation(Quat(x: 0, y: 0, z: 0, w: 7), bits: 10)
        #expect(d == .identity)
        let big = try roundTripRotation(Quat(x: 3e38, y: 3e38, z: 0, w: 0), bits: 10)
        #expect(Quat.angle(big, Quat(x: 0.70710677, y: 0.70710677, z: 0, w: 0)) < maxAngleError(bits: 10))
    }

    @Test func angleErrorBounds() throws {
        var rng = SeededRNG(seed: 5)
        var worst10: Float = 0, worst9: Float = 0
        for _ in 0..<20000 {
            let q = rng.unitQuat()
            worst10 = max(worst10, Quat.angle(q, try roundTripRotation(q, bits: 10)))
            worst9 = max(worst9, Quat.angle(q, try roundTripRotation(q, bits: 9)))
        }
        #expect(worst10 < maxAngleError(bits: 10), "10 bits: \(worst10 / degree)°")
        #expect(worst9 < maxAngleError(bits: 9), "9 bits: \(worst9 / degree)°")
        #expect(maxAngleError(bits: 10) < 0.29 * degree && maxAngleError(bits: 9) < 0.57 * degree)
    }

    @Test func everyBitPatternDecodesToAUnitQuaternion() throws {
        for bits in [2, 3, 9, 10] {
            var rng = SeededRNG(seed: UInt64(bits))
            for _ in 0..<3000 {
                var w = BitWriter()
                w.write(rng.next(), bits: 2 + 3 * bits)
                var r = BitReader(w.bytes)
                let q = try SmallestThree.decode(bits: bits, from: &r)
                #expect(q.isFinite && isUnit(q))
            }
        }
    }
}

@Suite struct PoseCodecTests {
    let codec = Fixtures.hallCodec

    @Test func bitCounts() {
        var rng = SeededRNG(seed: 6)
        for _ in 0..<500 {
            let pose = rng.pose(in: codec.bounds)
            var w = BitWriter()
            codec.encode(pose, into: &w)
            #expect(w.bitCount == codec.bitCount(of: pose))
        }
        let head = AvatarPose(headPosition: .zero, headRotation: .identity)
        #expect(codec.bitCount(of: head) == 90)
        var both = head
        both.leftHand = HandPose(position: .zero, rotation: .identity)
        both.rightHand = both.leftHand
        #expect(codec.bitCount(of: both) == 214)
    }

    @Test func poseErrorBounds() {
        var rng = SeededRNG(seed: 7)
        var worstHead: Float = 0, worstHand: Float = 0, worstHeadAngle: Float = 0, worstHandAngle: Float = 0
        for _ in 0..<10000 {
            let pose = rng.pose(in: codec.bounds)
            let seen = codec.roundTrip(pose)
            #expect(seen.handRaised == pose.handRaised && seen.speaking == pose.speaking)
            #expect((seen.leftHand == nil) == (pose.leftHand == nil) && (seen.rightHand == nil) == (pose.rightHand == nil))
            let dh = seen.headPosition - pose.headPosition
            worstHead = max(worstHead, abs(dh.x), abs(dh.y), abs(dh.z))
            worstHeadAngle = max(worstHeadAngle, Quat.angle(seen.headRotation, pose.headRotation))
            for (a, b) in [(pose.leftHand, seen.leftHand), (pose.rightHand, seen.rightHand)] {
                guard let a, let b else { continue }
                let d = b.position - a.position
                worstHand = max(worstHand, abs(d.x), abs(d.y), abs(d.z))
                worstHandAngle = max(worstHandAngle, Quat.angle(a.rotation, b.rotation))
            }
        }
        #expect(worstHead <= 0.0005 + 1e-5)
        // Hands are relative to the decoded head: their error does not include the head's.
        #expect(worstHand <= 0.0005 + 2e-5, "hand \(worstHand)")
        #expect(worstHeadAngle < maxAngleError(bits: 10))
        // Hand rotations are relative to the decoded head: only the 9-bit error (plus f32 rounding).
        #expect(worstHandAngle < maxAngleError(bits: 9) + 1e-4, "hand angle \(worstHandAngle / degree)°")
    }

    @Test func roundTripIsNearlyIdempotent() {
        var rng = SeededRNG(seed: 8)
        var changed = 0
        let n = 5000
        for _ in 0..<n {
            let once = codec.roundTrip(rng.pose(in: codec.bounds))
            let twice = codec.roundTrip(once)
            #expect(twice.headPosition == once.headPosition)
            #expect(twice.leftHand?.position == once.leftHand?.position && twice.rightHand?.position == once.rightHand?.position)
            #expect(Quat.angle(twice.headRotation, once.headRotation) < maxAngleError(bits: 10))
            for (a, b) in [(once.leftHand, twice.leftHand), (once.rightHand, twice.rightHand)] {
                if let a, let b { #expect(Quat.angle(a.rotation, b.rotation) < maxAngleError(bits: 9) + 1e-4) }
            }
            if twice != once { changed += 1 }
        }
        // Only rotations whose two largest components nearly tie re-encode differently.
        #expect(changed * 100 < n, "\(changed) of \(n) changed")
    }

    @Test func quarterTurnsAboutAxesAreExactToF32() throws {
        let h: Float = 0.70710677
        for q in [Quat(x: h, y: 0, z: 0, w: h), Quat(x: 0, y: h, z: 0, w: -h), Quat(x: 0, y: 0, z: h, w: h), Quat(x: h, y: h, z: 0, w: 0)] {
            let pose = codec.roundTrip(AvatarPose(headPosition: .zero, headRotation: q))
            #expect(Quat.angle(pose.headRotation, q) < 1e-3, "\(q) → \(pose.headRotation)")
        }
    }

    @Test func handsBeyondReachClamp() {
        let head = Vec3(0, 1.6, 0)
        let pose = AvatarPose(
            headPosition: head, headRotation: .identity,
            leftHand: HandPose(position: head + Vec3(5, -5, 1.0234), rotation: .identity),
            rightHand: HandPose(position: head + Vec3(-1.0246, 1.023, 0), rotation: .identity))
        let seen = codec.roundTrip(pose)
        let l = seen.leftHand!.position - seen.headPosition
        let r = seen.rightHand!.position - seen.headPosition
        #expect(abs(l.x - 1.023) < 1e-5 && abs(l.y + 1.024) < 1e-5 && abs(l.z - 1.023) < 1e-5)
        #expect(abs(r.x + 1.024) < 1e-5 && abs(r.y - 1.023) < 1e-5 && abs(r.z) < 1e-5)
    }

    @Test func nanPoseEncodesWithoutTrapping() {
        let nanPose = AvatarPose(
            headPosition: Vec3(.nan, .infinity, -.infinity), headRotation: Quat(x: .nan, y: .nan, z: .nan, w: .nan),
            leftHand: HandPose(position: Vec3(.nan, .infinity, -.infinity), rotation: Quat(x: .infinity, y: 0, z: 0, w: 0)),
            rightHand: HandPose(position: Vec3(.greatestFiniteMagnitude, 0, 0), rotation: Quat(x: 0, y: 0, z: 0, w: 0)))
        let seen = codec.roundTrip(nanPose)
        #expect(seen.headPosition == Vec3(-100, 10, -100))
        #expect(seen.headRotation == .identity)
        #expect(Vec3.distance(seen.leftHand!.position, Vec3(-100, 11.023, -101.024)) < 1e-5)
        #expect(seen.leftHand!.rotation == .identity)
        #expect(seen.rightHand!.position.isFinite)
        let bytes = ClientMessage.pose(PoseInput(inputSequence: 1, clientTimeMs: 2, ackSnapshot: 3, pose: nanPose)).encode(codec: codec)
        #expect(throws: Never.self) { try ClientMessage.decode(bytes, codec: codec) }
    }

    @Test func reservedFlagBitsAreIgnored() throws {
        var w = BitWriter()
        codec.encode(AvatarPose(headPosition: .zero, headRotation: .identity, speaking: true), into: &w)
        var bytes = w.bytes
        bytes[0] |= 0xF0
        var r = BitReader(bytes)
        let pose = try codec.decode(from: &r)
        #expect(pose == AvatarPose(headPosition: .zero, headRotation: .identity, speaking: true))
    }

    @Test func positionBeyondBoundsIsRejected() throws {
        var w = BitWriter()
        w.write(0, bits: 8)
        w.write(200_001, bits: 18)  // E = 200000
        w.write(0, bits: 14 + 18 + 32)
        var r = BitReader(w.bytes)
        #expect(throws: WireError.invalidField(field: "headPosition.x", value: 200_001)) { try codec.decode(from: &r) }
    }
}
