import AtriumWire

/// SplitMix64: small, fast, seeded; the same sequence on every platform.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    /// A 200 × 10 × 200 m hall, the size check of the design.
    static let hall = WorldBounds(min: Vec3(-100, 0, -100), max: Vec3(100, 10, 100))
    static let hallCodec = PoseCodec(bounds: hall)
    static let hash: [UInt8] = (0..<32).map { UInt8($0) }
}

extension SeededRNG {
    mutating func float(_ range: ClosedRange<Float>) -> Float { Float.random(in: range, using: &self) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func bool() -> Bool { Bool.random(using: &self) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    /// Uniformly distributed unit quaternion (Marsaglia), sometimes with negative w.
    mutating func unitQuat() -> Quat {
        while true {
            let x = float(-1...1), y = float(-1...1), z = float(-1...1), w = float(-1...1)
            let n = x * x + y * y + z * z + w * w
            if n > 0.01 && n <= 1 {
                let s = n.squareRoot()
                return Quat(x: x / s, y: y / s, z: z / s, w: w / s)
            }
        }
    }

    mutating func point(in b: WorldBounds) -> Vec3 {
        Vec3(float(b.min.x...b.max.x), float(b.min.y...b.max.y), float(b.min.z...b.max.z))
    }

    /// A pose inside `bounds` with hands within 1 m of the head on each axis.
    mutating func pose(in b: WorldBounds) -> AvatarPose {
        let head = point(in: b)
        func hand(_ rng: inout SeededRNG) -> HandPose {
            HandPose(position: head + Vec3(rng.float(-1...1), rng.float(-1...1), rng.float(-1...1)), rotation: rng.unitQuat())
        }
        return AvatarPose(
            headPosition: head, headRotation: unitQuat(),
            leftHand: bool() ? hand(&self) : nil, rightHand: bool() ? hand(&self) : nil,
            handRaised: bool(), speaking: bool())
    }

    mutating func worldId() -> String {
        let chars = Array("abcdefghijklmnopqrstuvwxyz0123456789-")
        return String((0..<int(1...64)).map { _ in chars[int(0...chars.count - 1)] })
    }

    /// Valid UTF-8 of `minBytes...maxBytes` bytes mixing 1-, 2-, 3- and 4-byte scalars.
    mutating func text(minBytes: Int, maxBytes: Int, allowControls: Bool) -> String {
        let pool: [Character] = ["a", "Z", " ", "0", "é", "ß", "日", "本", "€", "😀", "🦊", "-", "'"]
            + (allowControls ? ["\n", "\t", "\u{0}", "\u{7F}"] : [])
        let target = int(minBytes...maxBytes)
        var s = ""
        while true {
            let c = pool[int(0...pool.count - 1)]
            if s.utf8.count + c.utf8.count > target { break }
            s.append(c)
        }
        while s.utf8.count < minBytes { s.append("a") }
        return s
    }

    mutating func displayName() -> String { text(minBytes: 1, maxBytes: 32, allowControls: false) }
    mutating func chat() -> String { text(minBytes: 1, maxBytes: 500, allowControls: true) }
    mutating func detail() -> String { text(minBytes: 0, maxBytes: 200, allowControls: true) }
    mutating func role() -> Role { Role.allCases[int(0...Role.allCases.count - 1)] }
    mutating func reason() -> ReasonCode { ReasonCode.allCases[int(0...ReasonCode.allCases.count - 1)] }
    mutating func u16() -> UInt16 { UInt16.random(in: 0...UInt16.max, using: &self) }
    mutating func u32() -> UInt32 { UInt32.random(in: 0...UInt32.max, using: &self) }
    mutating func u64() -> UInt64 { next() }

    mutating func clientMessage(codec: PoseCodec) -> ClientMessage {
        switch int(0...3) {
        case 0:
            .hello(Hello(minVersion: u16(), maxVersion: u16(), requestedRole: role(), worldId: worldId(), displayName: displayName()))
        case 1:
            .pose(PoseInput(inputSequence: u32(), clientTimeMs: u32(), ackSnapshot: u32(), pose: pose(in: codec.bounds)))
        case 2:
            .chat(ChatSend(text: chat()))
        default:
            .ping(Ping(clientTimeMicros: u64()))
        }
    }

    mutating func bounds() -> WorldBounds {
        let lo = Vec3(float(-500...500), float(-50...50), float(-500...500))
        return WorldBounds(min: lo, max: lo + Vec3(float(0...400), float(0...40), float(0...400)))
    }

    mutating func serverMessage(codec: PoseCodec) -> ServerMessage {
        switch int(0...9) {
        case 0:
            .welcome(Welcome(
                version: u16(), clientId: UInt16(int(1...65535)), role: role(), tickRateHz: u16(), serverTimeMicros: u64(),
                worldId: worldId(), worldContentHash: (0..<32).map { _ in UInt8.random(in: 0...255, using: &self) },
                bounds: bounds(), capacity: u16()))
        case 1:
            .deny(Deny(reason: reason(), serverMinVersion: u16(), serverMaxVersion: u16(), detail: detail()))
        case 2: {
            // A baseline-0 part: self-contained (delta parts are covered by the DeltaSnapshot tests).
            let count = UInt8(int(1...255))
            var ids = Set<UInt16>()
            for _ in 0..<int(0...40) { ids.insert(UInt16(int(1...65535))) }
            let entries = ids.sorted().map { SnapshotEntry.full(ViewEntry(id: $0, lastInputSequence: u32(), pose: codec.quantize(pose(in: codec.bounds)))) }
            let bytes = DeltaSnapshot.encode(
                sequence: UInt32(int(1...Int(UInt32.max))), serverTimeMicros: u64(), baseline: .empty, entries: entries, codec: codec,
                partIndex: UInt8(int(0...Int(count) - 1)), partCount: count).bytes
            return .snapshot(try! Snapshot(bytes))
        }()
        case 3:
            .avatarJoined(AvatarJoined(avatarId: u16(), role: role(), displayName: displayName()))
        case 4:
            .avatarLeft(AvatarLeft(avatarId: u16(), reason: reason()))
        case 5:
            .chat(ChatRelay(fromAvatarId: u16(), text: chat()))
        case 6:
            .pong(Pong(clientTimeMicros: u64(), serverTimeMicros: u64()))
        case 7:
            .roster((0..<int(1...255)).map { _ in AvatarJoined(avatarId: u16(), role: role(), displayName: displayName()) })
        case 8:
            .departed((0..<int(1...255)).map { _ in AvatarLeft(avatarId: u16(), reason: reason()) })
        default:
            .closing(Closing(reason: reason(), detail: detail()))
        }
    }
}

/// What a receiver sees for a message: poses replaced by the codec's round trip.
func received(_ m: ClientMessage, codec: PoseCodec) -> ClientMessage {
    guard case .pose(var p) = m else { return m }
    p.pose = codec.roundTrip(p.pose)
    return .pose(p)
}

/// Server messages carry no floats a receiver would see differently (a SNAPSHOT is its bytes).
func received(_ m: ServerMessage, codec: PoseCodec) -> ServerMessage { m }

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined(separator: " ")
}
