import Testing
import AtriumVoice

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deterministic test signals.
enum Signal {
    static func sine(hz: Double, seconds: Double, sampleRate: Int = 48000, amplitude: Double = 0.5) -> [Int16] {
        (0..<Int(seconds * Double(sampleRate))).map {
            Int16(amplitude * 32767 * sin(2 * .pi * hz * Double($0) / Double(sampleRate)))
        }
    }

    /// Several tones plus seeded noise: gives the encoder something to spend bits on.
    static func rich(seconds: Double, sampleRate: Int = 48000, seed: UInt64 = 1) -> [Int16] {
        var state = seed
        return (0..<Int(seconds * Double(sampleRate))).map { n in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Double(Int64(bitPattern: state) >> 40) / Double(1 << 23)
            let t = Double(n) / Double(sampleRate)
            let v = 0.2 * sin(2 * .pi * 220 * t) + 0.15 * sin(2 * .pi * 1330 * t) + 0.1 * sin(2 * .pi * 3100 * t) + 0.1 * noise
            return Int16(max(-1, min(1, v)) * 32767)
        }
    }

    static func frames(_ pcm: [Int16], size: Int) -> [[Int16]] {
        stride(from: 0, to: pcm.count - size + 1, by: size).map { Array(pcm[$0..<$0 + size]) }
    }

    static func rms(_ x: ArraySlice<Int16>) -> Double {
        (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(x.count, 1))).squareRoot()
    }

    /// Normalised cross-correlation of `a[i + lag]` against `b[i]` over `range`.
    static func correlation(_ a: [Int16], _ b: [Int16], lag: Int, range: Range<Int>) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for i in range {
            let x = Double(a[i + lag]), y = Double(b[i])
            ab += x * y; aa += x * x; bb += y * y
        }
        return ab / max((aa * bb).squareRoot(), 1)
    }
}

@Suite struct OpusVoiceTests {
    @Test func sineSurvivesEncodeDecodeWithTheRightPitchEnergyAndDelay() throws {
        let encoder = try OpusVoiceEncoder()
        let decoder = try OpusVoiceDecoder()
        let input = Signal.sine(hz: 440, seconds: 1)
        var output: [Int16] = []
        var packets: [[UInt8]] = []
        for frame in Signal.frames(input, size: 960) {
            let packet = try encoder.encode(frame)
            packets.append(packet)
            output += try decoder.decode(packet)
        }
        #expect(packets.count == 50)
        #expect(output.count == 48000)
        let lookahead = encoder.lookaheadSamples
        #expect(lookahead > 0 && lookahead < 960)

        // Steady state: skip the first 100 ms (encoder start-up) and leave room for the delay.
        let steady = 4800..<(48000 - 1500)

        // Pitch: zero crossings of the decoded signal.
        var crossings = 0
        for i in steady.dropFirst() where (output[i - 1] < 0) != (output[i] < 0) { crossings += 1 }
        let hz = Double(crossings) / 2 / (Double(steady.count) / 48000)

        // Energy.
        let ratio = Signal.rms(output[steady]) / Signal.rms(input[steady])

        // Waveform: a sine repeats every ~109 samples, so search one period around the
        // lookahead for the best alignment (the delay itself is checked on a non-periodic signal).
        let period = Int(48000.0 / 440) + 1
        var best = -1.0
        for lag in (lookahead - period / 2)...(lookahead + period / 2) {
            best = max(best, Signal.correlation(output, input, lag: lag, range: steady))
        }
        #expect(abs(hz - 440) < 5, "zero-crossing pitch \(hz) Hz")
        #expect(ratio > 0.7 && ratio < 1.3, "energy ratio \(ratio)")
        #expect(best > 0.9, "correlation \(best)")
    }

    @Test func decodedOutputIsDelayedByTheLookahead() throws {
        // Tones plus noise: the cross-correlation has one clear peak at the codec delay.
        let encoder = try OpusVoiceEncoder(bitrate: 96_000, application: .audio)
        let decoder = try OpusVoiceDecoder()
        let input = Signal.rich(seconds: 1, seed: 9)
        var output: [Int16] = []
        for frame in Signal.frames(input, size: 960) { output += try decoder.decode(encoder.encode(frame)) }
        let steady = 4800..<(48000 - 1500)
        var bestLag = 0, best = -1.0
        for lag in 0..<1400 {
            let c = Signal.correlation(output, input, lag: lag, range: steady)
            if c > best { best = c; bestLag = lag }
        }
        #expect(abs(bestLag - encoder.lookaheadSamples) <= 4, "peak at \(bestLag), lookahead \(encoder.lookaheadSamples)")
        #expect(best > 0.8)
    }

    @Test func higherBitrateMakesBiggerPackets() throws {
        let signal = Signal.rich(seconds: 1)
        func averageSize(_ bitrate: Int32) throws -> Double {
            let encoder = try OpusVoiceEncoder(bitrate: bitrate)
            let sizes = try Signal.frames(signal, size: 960).map { try encoder.encode($0).count }
            return Double(sizes.reduce(0, +)) / Double(sizes.count)
        }
        let low = try averageSize(12_000), high = try averageSize(64_000)
        // 20 ms frames: 12 kb/s ≈ 30 bytes, 64 kb/s ≈ 160 bytes.
        #expect(low > 15 && low < 45)
        #expect(high > 110 && high < 210)
        #expect(high > 3 * low)
    }
}
