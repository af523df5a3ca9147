// Quantization of positions and rotations. All arithmetic is done in binary64 ("double") from the f32
// inputs, in the order written in docs/PROTOCOL.md, so that any IEEE-754 implementation produces the same
// bits. Results handed back to callers are rounded to f32 once, at the end.

/// The axis-aligned box a world's positions are quantized in (sent in WELCOME).
public struct WorldBounds: Equatable, Sendable {
    public var min: Vec3
    public var max: Vec3

    public init(min: Vec3, max: Vec3) {
        self.min = min
        self.max = max
    }

    /// Largest quantized value per axis the format allows: positions are at most 32 bits per axis.
    public static let maxQuantizedExtent: UInt64 = UInt64(UInt32.max)

    /// True when every coordinate is finite, min ≤ max on each axis and each axis spans at most
    /// 4 294 967.295 m (so it quantizes to ≤ 32 bits at 1 mm). WELCOME decoding rejects other bounds.
    public var isValid: Bool {
        Self.axisExtent(min.x, max.x) != nil && Self.axisExtent(min.y, max.y) != nil && Self.axisExtent(min.z, max.z) != nil
    }

    /// Inclusive on both ends; false for NaN.
    public func contains(_ p: Vec3) -> Bool {
        p.x >= min.x && p.x <= max.x && p.y >= min.y && p.y <= max.y && p.z >= min.z && p.z <= max.z
    }

    /// The nearest point inside the bounds. A NaN coordinate becomes the lower bound.
    public func clamp(_ p: Vec3) -> Vec3 {
        Vec3(Self.clamp(p.x, min.x, max.x), Self.clamp(p.y, min.y, max.y), Self.clamp(p.z, min.z, max.z))
    }

    static func clamp(_ v: Float, _ lo: Float, _ hi: Float) -> Float {
        if !(v >= lo) { return lo }  // also NaN
        if v > hi { return hi }
        return v
    }

    /// E = ceil((hi − lo) × 1000) if the axis is valid, else nil.
    static func axisExtent(_ lo: Float, _ hi: Float) -> UInt64? {
        guard lo.isFinite, hi.isFinite, lo <= hi else { return nil }
        let e = ((Double(hi) - Double(lo)) * 1000).rounded(.up)
        guard e <= Double(maxQuantizedExtent) else { return nil }
        return UInt64(e)
    }
}

/// Rounds to the nearest integer, halves away from zero, and clamps to lo...hi. NaN counts as 0.
@inline(__always)
func quantizeClamped(_ scaled: Double, _ lo: Int64, _ hi: Int64) -> Int64 {
    let r = scaled.isNaN ? 0 : scaled.rounded(.toNearestOrAwayFromZero)
    if r <= Double(lo) { return lo }
    if r >= Double(hi) { return hi }
    return Int64(r)
}

/// Head positions: 1 mm steps inside the world bounds.
///
/// Per axis with bounds [lo, hi]: E = ceil((hi − lo) × 1000); bits = max(1, bit length of E);
/// q = clamp(round((v − lo) × 1000), 0, E); decoded v = lo + q / 1000.
public struct PositionQuantizer: Sendable {
    /// Bounds as given. An invalid axis (non-finite, min > max) is quantized as the single point
    /// `min` (or 0 if `min` is not finite); an axis wider than the format allows is cut to 2^32 − 1 mm.
    public let bounds: WorldBounds
    public let bitsPerAxis: (x: Int, y: Int, z: Int)
    /// E per axis: the largest quantized value.
    public let maxValue: (x: UInt32, y: UInt32, z: UInt32)
    /// Lower bound per axis, as used for quantizing.
    let lo: (x: Double, y: Double, z: Double)

    public init(bounds: WorldBounds) {
        self.bounds = bounds
        func axis(_ lo: Float, _ hi: Float) -> (lo: Double, e: UInt32, bits: Int) {
            let base: Float = lo.isFinite ? lo : 0
            let e: UInt64
            if let valid = WorldBounds.axisExtent(lo, hi) {
                e = valid
            } else if lo.isFinite, hi.isFinite, hi > lo {
                e = WorldBounds.maxQuantizedExtent  // too wide: cut
            } else {
                e = 0
            }
            let bits = Swift.max(1, 64 - e.leadingZeroBitCount)
            return (Double(base), UInt32(e), bits)
        }
        let ax = axis(bounds.min.x, bounds.max.x)
        let ay = axis(bounds.min.y, bounds.max.y)
        let az = axis(bounds.min.z, bounds.max.z)
        lo = (ax.lo, ay.lo, az.lo)
        maxValue = (ax.e, ay.e, az.e)
        bitsPerAxis = (ax.bits, ay.bits, az.bits)
    }

    /// Bits of one quantized position.
    public var totalBits: Int { bitsPerAxis.x + bitsPerAxis.y + bitsPerAxis.z }

    static func quantize(_ v: Float, lo: Double, e: UInt32) -> UInt32 {
        UInt32(quantizeClamped((Double(v) - lo) * 1000, 0, Int64(e)))
    }

    static func dequantize(_ q: UInt32, lo: Double) -> Float {
        Float(lo + Double(q) / 1000)
    }

    /// Quantized values; out-of-bounds positions clamp, NaN coordinates become 0.
    public func quantize(_ p: Vec3) -> (x: UInt32, y: UInt32, z: UInt32) {
        (Self.quantize(p.x, lo: lo.x, e: maxValue.x),
         Self.quantize(p.y, lo: lo.y, e: maxValue.y),
         Self.quantize(p.z, lo: lo.z, e: maxValue.z))
    }

    /// The position a receiver sees for quantized values (values above E are clamped to E).
    public func dequantize(_ q: (x: UInt32, y: UInt32, z: UInt32)) -> Vec3 {
        Vec3(Self.dequantize(Swift.min(q.x, maxValue.x), lo: lo.x),
             Self.dequantize(Swift.min(q.y, maxValue.y), lo: lo.y),
             Self.dequantize(Swift.min(q.z, maxValue.z), lo: lo.z))
    }

    /// Writes x, y, z and returns the decoded position (what the receiver will see).
    @discardableResult
    func write(_ p: Vec3, into w: inout BitWriter) -> Vec3 {
        let q = quantize(p)
        w.write(UInt64(q.x), bits: bitsPerAxis.x)
        w.write(UInt64(q.y), bits: bitsPerAxis.y)
        w.write(UInt64(q.z), bits: bitsPerAxis.z)
        return Vec3(Self.dequantize(q.x, lo: lo.x), Self.dequantize(q.y, lo: lo.y), Self.dequantize(q.z, lo: lo.z))
    }

    /// Reads x, y, z. A value above E is `invalidField` (a sender using other bounds, or garbage).
    func read(from r: inout BitReader, field: String) throws(WireError) -> Vec3 {
        let qx = try r.read(bits: bitsPerAxis.x)
        let qy = try r.read(bits: bitsPerAxis.y)
        let qz = try r.read(bits: bitsPerAxis.z)
        guard qx <= UInt64(maxValue.x) else { throw .invalidField(field: field + ".x", value: qx) }
        guard qy <= UInt64(maxValue.y) else { throw .invalidField(field: field + ".y", value: qy) }
        guard qz <= UInt64(maxValue.z) else { throw .invalidField(field: field + ".z", value: qz) }
        return Vec3(Self.dequantize(UInt32(qx), lo: lo.x), Self.dequantize(UInt32(qy), lo: lo.y), Self.dequantize(UInt32(qz), lo: lo.z))
    }
}

/// A quaternion in binary64, used for the intermediate steps of rotation quantization.
struct DQuat {
    var x: Double, y: Double, z: Double, w: Double

    init(x: Double, y: Double, z: Double, w: Double) {
        self.x = x; self.y = y; self.z = z; self.w = w
    }

    init(_ q: Quat) {
        self.init(x: Double(q.x), y: Double(q.y), z: Double(q.z), w: Double(q.w))
    }

    subscript(i: Int) -> Double {
        switch i {
        case 0: x
        case 1: y
        case 2: z
        default: w
        }
    }

    /// Hamilton product a ⊗ b.
    static func * (a: DQuat, b: DQuat) -> DQuat {
        DQuat(
            x: a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
            y: a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
            z: a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
            w: a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z
        )
    }

    var conjugate: DQuat { DQuat(x: -x, y: -y, z: -z, w: w) }

    /// Unit length; identity if the length is zero or not finite.
    var normalized: DQuat {
        let n = (x * x + y * y + z * z + w * w).squareRoot()
        guard n > 0, n.isFinite else { return DQuat(x: 0, y: 0, z: 0, w: 1) }
        return DQuat(x: x / n, y: y / n, z: z / n, w: w / n)
    }

    var float: Quat { Quat(x: Float(x), y: Float(y), z: Float(z), w: Float(w)) }
}

/// Smallest-three quaternion compression: the index of the largest component (u2), then the other three
/// components, each in b bits.
///
/// A component c ∈ [−1/√2, 1/√2] is stored as q = clamp(round(c × √2 × H), −H, H) + H with H = 2^(b−1) − 1,
/// so q ∈ 0...2^b − 2 and c = 0 is exact (q = H): the identity and axis-aligned half turns survive
/// unchanged. Decoded c = (q − H) / H / √2.
public enum SmallestThree {
    /// √2 as binary64 (the exact constant of the format).
    static let s: Double = 1.4142135623730951

    /// Bits written for b bits per component.
    public static func bitCount(bits: Int) -> Int { 2 + 3 * bits }

    /// Encoded form: index of the dropped component and the three quantized others, in index order.
    struct Packed {
        var index: Int
        var a: UInt32, b: UInt32, c: UInt32
    }

    static func pack(_ input: DQuat, bits: Int) -> Packed {
        let q = input.normalized  // non-finite or zero → identity
        var largest = 0
        var best = abs(q.x)
        if abs(q.y) > best { largest = 1; best = abs(q.y) }
        if abs(q.z) > best { largest = 2; best = abs(q.z) }
        if abs(q.w) > best { largest = 3; best = abs(q.w) }
        let sign: Double = q[largest] < 0 ? -1 : 1
        let h = Int64((1 << (bits - 1)) - 1)
        let hd = Double(h)
        func comp(_ c: Double) -> UInt32 {
            UInt32(quantizeClamped(c * sign * s * hd, -h, h) + h)
        }
        switch largest {
        case 0: return Packed(index: 0, a: comp(q.y), b: comp(q.z), c: comp(q.w))
        case 1: return Packed(index: 1, a: comp(q.x), b: comp(q.z), c: comp(q.w))
        case 2: return Packed(index: 2, a: comp(q.x), b: comp(q.y), c: comp(q.w))
        default: return Packed(index: 3, a: comp(q.x), b: comp(q.y), c: comp(q.z))
        }
    }

    /// The unit quaternion a receiver rebuilds (binary64, normalised). Any bit pattern is accepted
    /// (q = 2^b − 1 gives a component slightly above 1/√2; normalisation absorbs it).
    static func unpack(_ p: Packed, bits: Int) -> DQuat {
        let hd = Double((1 << (bits - 1)) - 1)
        // bits == 1 means H = 0: every component decodes as 0.
        func comp(_ q: UInt32) -> Double { hd == 0 ? 0 : (Double(q) - hd) / hd / s }
        let a = comp(p.a), b = comp(p.b), c = comp(p.c)
        let d = Swift.max(0, 1 - (a * a + b * b + c * c)).squareRoot()
        let q: DQuat
        switch p.index {
        case 0: q = DQuat(x: d, y: a, z: b, w: c)
        case 1: q = DQuat(x: a, y: d, z: b, w: c)
        case 2: q = DQuat(x: a, y: b, z: d, w: c)
        default: q = DQuat(x: a, y: b, z: c, w: d)
        }
        // Never zero: if a² + b² + c² < 1 then d > 0, else the three are not all zero.
        return q.normalized
    }

    static func write(_ p: Packed, bits: Int, into w: inout BitWriter) {
        w.write(UInt64(p.index), bits: 2)
        w.write(UInt64(p.a), bits: bits)
        w.write(UInt64(p.b), bits: bits)
        w.write(UInt64(p.c), bits: bits)
    }

    static func read(bits: Int, from r: inout BitReader) throws(WireError) -> Packed {
        let i = try r.read(bits: 2)
        let a = try r.read(bits: bits)
        let b = try r.read(bits: bits)
        let c = try r.read(bits: bits)
        return Packed(index: Int(i), a: UInt32(truncatingIfNeeded: a), b: UInt32(truncatingIfNeeded: b), c: UInt32(truncatingIfNeeded: c))
    }

    /// Encodes `q` (normalised first; a zero or non-finite quaternion encodes as identity) with `bits`
    /// bits per component (2...31).
    public static func encode(_ q: Quat, bits: Int, into w: inout BitWriter) {
        precondition(bits >= 2 && bits <= 31, "SmallestThree: bits must be 2...31")
        write(pack(DQuat(q), bits: bits), bits: bits, into: &w)
    }

    /// Decodes a rotation written by `encode`. Any bit pattern decodes to a unit quaternion.
    public static func decode(bits: Int, from r: inout BitReader) throws(WireError) -> Quat {
        precondition(bits >= 2 && bits <= 31, "SmallestThree: bits must be 2...31")
        return unpack(try read(bits: bits, from: &r), bits: bits).float
    }
}
