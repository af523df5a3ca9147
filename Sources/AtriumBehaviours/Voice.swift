#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// When a bot talks: bursts of speech separated by pauses.
///
/// An ordinary bot talks in 1–5 s bursts; its pauses are drawn so that on average it talks `duty` of the time
/// (uniform between half and one and a half times the mean pause 3 s × (1 − duty) / duty). A speaker (presenter,
/// teacher, the village head at the podium) talks in 2–8 s bursts with 0.5–2 s pauses: 80 % of the time.
struct Voice: Sendable {
    enum Profile: Sendable, Equatable {
        case ordinary(duty: Double)
        case speaker
    }

    private(set) var profile: Profile
    private(set) var talking = false
    /// When the current burst or pause ends.
    private var until: Double = 0

    /// Gaps longer than this restart the process instead of replaying the missed bursts.
    static let catchUpLimit: Double = 60

    init(_ profile: Profile, now: Double, random: inout SeededRandom) {
        self.profile = profile
        restart(now: now, random: &random)
    }

    /// Share of time talking.
    var duty: Double {
        switch profile {
        case .ordinary(let d): return d.isFinite ? min(1, max(0, d)) : 0
        case .speaker: return 0.8
        }
    }

    private func burst(_ random: inout SeededRandom) -> Double {
        switch profile {
        case .ordinary: random.uniform(1.0...5.0)
        case .speaker: random.uniform(2.0...8.0)
        }
    }

    private func pause(_ random: inout SeededRandom) -> Double {
        switch profile {
        case .ordinary:
            let d = duty
            let mean = 3 * (1 - d) / d
            return random.uniform((0.5 * mean)...(1.5 * mean))
        case .speaker:
            return random.uniform(0.5...2.0)
        }
    }

    /// Starts in a random phase, talking with probability `duty`, partway through the burst or pause.
    private mutating func restart(now: Double, random: inout SeededRandom) {
        let d = duty
        if d <= 0 {
            talking = false
            until = .infinity
        } else if d >= 1 {
            talking = true
            until = .infinity
        } else {
            talking = random.chance(d)
            until = now + random.unitDouble() * (talking ? burst(&random) : pause(&random))
        }
    }

    mutating func update(now: Double, random: inout SeededRandom) -> Bool {
        if now - until > Self.catchUpLimit {
            restart(now: now, random: &random)
        }
        while now >= until {
            talking.toggle()
            until += talking ? burst(&random) : pause(&random)
        }
        return talking
    }

    /// Changes profile at `now`. A new speaker starts talking; someone who stops being a speaker falls silent.
    mutating func change(to profile: Profile, now: Double, random: inout SeededRandom) {
        guard profile != self.profile else { return }
        self.profile = profile
        let d = duty
        if d <= 0 || d >= 1 {
            restart(now: now, random: &random)
        } else if profile == .speaker {
            talking = true
            until = now + burst(&random)
        } else {
            talking = false
            until = now + pause(&random)
        }
    }
}

/// Where the head wanders on its own: glances aside and, for listeners, nods.
struct Attention: Sendable {
    private var nextGlance: Double
    private var glanceEnd: Double = -1
    private var glanceYaw: Float = 0
    private var nextNod: Double
    private var nodStart: Double = -10

    init(now: Double, random: inout SeededRandom) {
        nextGlance = now + random.uniform(2.0...10.0)
        nextNod = now + random.uniform(5.0...20.0)
    }

    /// Head yaw offset and pitch offset for now. `listening`: seated or standing still, facing something.
    mutating func update(now: Double, listening: Bool, random: inout SeededRandom) -> (yaw: Float, nod: Float) {
        if now >= nextGlance {
            let length = random.uniform(0.8...2.5)
            glanceEnd = now + length
            glanceYaw = random.sign() * random.uniform(Float(0.4)...Float(1.0))
            nextGlance = glanceEnd + (listening ? random.uniform(6.0...18.0) : random.uniform(3.0...10.0))
        }
        var nod: Float = 0
        if listening {
            if now >= nextNod {
                nodStart = now
                nextNod = now + random.uniform(8.0...25.0)
            }
            let u = now - nodStart
            if u >= 0 && u < 1.4 { nod = -0.12 * Float(0.5 - 0.5 * cos(2 * Double.pi * u / 0.7)) }
        } else if now >= nextNod {
            nextNod = now + random.uniform(8.0...25.0)
        }
        return (now < glanceEnd ? glanceYaw : 0, nod)
    }
}
