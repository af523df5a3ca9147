import AtriumTransport

/// The server's inbound filter (``InboundDatagramFilter``): nothing reaches ENet's connection
/// handling without a valid connect cookie, and nothing malformed reaches ENet at all.
///
/// Per datagram, before ENet parses it:
/// 1. a cookie request (``ConnectCookieDatagram``) → a 20-byte reply with the cookie for its source
///    (the request is 32 bytes), unless the source is banned by the ``ConnectLimiter``; malformed → drop;
/// 2. anything else goes through ``ENetDatagramInspector``: rejected → drop;
/// 3. a CONNECT whose connect data is not a valid cookie for its source → drop, silently: ENet never
///    allocates a peer, so it never answers or retransmits;
/// 4. a CONNECT with a valid cookie → the limiter decides (retransmissions are not counted);
/// 5. everything else passes (ENet itself ignores datagrams for peers that do not exist).
///
/// Only the cookie request is ever answered, and the host refuses any reply larger than its datagram.
public final class AdmissionFilter: InboundDatagramFilter {
    /// Counters beyond the host's per-reason drop counts.
    public struct Counters: Sendable, Equatable {
        public var cookieRequests: UInt64 = 0
        public var cookiesIssued: UInt64 = 0
        public var connectsAdmitted: UInt64 = 0
        public var connectRetransmissions: UInt64 = 0
        public var connectsWithoutCookie: UInt64 = 0
        public var connectsRefused: UInt64 = 0
        public var inspectorRejections: [ENetDatagramRejection: UInt64] = [:]
        public var passed: UInt64 = 0
        public init() {}
    }

    public let cookies: ConnectCookie
    public private(set) var limiter: ConnectLimiter
    public var inspector: ENetDatagramInspector
    public private(set) var counters = Counters()

    public init(cookies: ConnectCookie, limiter: ConnectLimiter.Policy = .init(), inspector: ENetDatagramInspector) {
        self.cookies = cookies
        self.limiter = ConnectLimiter(policy: limiter)
        self.inspector = inspector
    }

    /// A filter whose inspector matches `host`'s packet size, channel and peer limits.
    public convenience init(for host: TransportHost, cookies: ConnectCookie, limiter: ConnectLimiter.Policy = .init()) {
        self.init(
            cookies: cookies, limiter: limiter,
            inspector: ENetDatagramInspector(
                maximumPacketSize: host.maximumPacketSize, channelLimit: host.channelLimit, peerLimit: host.peerLimit))
    }

    public func inspect(_ bytes: UnsafeRawBufferPointer, from source: IPv4Endpoint, nowMicros: UInt64) -> InboundVerdict {
        if ConnectCookieDatagram.hasMagic(bytes) {
            counters.cookieRequests &+= 1
            let nonce: UInt64
            do { nonce = try ConnectCookieDatagram.parseRequest(bytes) } catch { return .drop(.malformedCookieRequest) }
            if limiter.isBanned(source.host, nowMicros: nowMicros) { return .drop(.banned) }
            counters.cookiesIssued &+= 1
            return .reply(
                ConnectCookieDatagram.reply(
                    nonce: nonce, cookie: cookies.issue(for: source, nowMicros: nowMicros),
                    secondsValid: cookies.secondsValid(nowMicros: nowMicros)))
        }
        switch inspector.inspect(bytes) {
        case .reject(let rejection):
            counters.inspectorRejections[rejection, default: 0] &+= 1
            return .drop(InboundDropReason.enet(rejection))
        case .accept(connect: nil):
            counters.passed &+= 1
            return .pass
        case .accept(connect: let connect?):
            guard cookies.verify(connect.data, from: source, nowMicros: nowMicros) else {
                counters.connectsWithoutCookie &+= 1
                return .drop(.noValidCookie)
            }
            switch limiter.admit(source, connectID: connect.connectID, nowMicros: nowMicros) {
            case .allowed:
                counters.connectsAdmitted &+= 1
            case .repeated:
                counters.connectRetransmissions &+= 1
            case .refused:
                counters.connectsRefused &+= 1
                return .drop(.connectLimited)
            case .tableFull:
                counters.connectsRefused &+= 1
                return .drop(.limiterFull)
            }
            counters.passed &+= 1
            return .pass
        }
    }
}

extension InboundDropReason {
    public static let malformedCookieRequest = InboundDropReason("cookie-request-malformed")
    public static let banned = InboundDropReason("banned")
    public static let noValidCookie = InboundDropReason("connect-without-valid-cookie")
    public static let connectLimited = InboundDropReason("connect-rate-limited")
    public static let limiterFull = InboundDropReason("connect-limiter-full")
    public static let cookieReplyConsumed = InboundDropReason("cookie-reply-consumed")
    public static let unsolicitedCookieReply = InboundDropReason("cookie-reply-unsolicited")
    public static let connectToClient = InboundDropReason("connect-to-client")

    /// One reason per ``ENetDatagramRejection``, prefixed "enet-".
    public static func enet(_ rejection: ENetDatagramRejection) -> InboundDropReason {
        enetReasons[rejection] ?? InboundDropReason("enet-" + rejection.rawValue)
    }

    // Built once so the drop path does not build strings.
    private static let enetReasons: [ENetDatagramRejection: InboundDropReason] = Dictionary(
        uniqueKeysWithValues: ENetDatagramRejection.allCases.map { ($0, InboundDropReason("enet-" + $0.rawValue)) })
}
