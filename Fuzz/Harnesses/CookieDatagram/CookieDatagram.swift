import FuzzSupport
import AtriumSecurity

// Cookie request/reply parsing: never traps, and whatever parses re-encodes to the same bytes.
@main
enum CookieDatagramFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            let bytes = Array(UnsafeBufferPointer(start: data, count: size))
            if let nonce = try? ConnectCookieDatagram.parseRequest(bytes), ConnectCookieDatagram.request(nonce: nonce) != bytes {
                fatalError("request does not round-trip")
            }
            if let reply = try? ConnectCookieDatagram.parseReply(bytes),
               ConnectCookieDatagram.reply(nonce: reply.nonce, cookie: reply.cookie, secondsValid: reply.secondsValid) != bytes {
                fatalError("reply does not round-trip")
            }
            return 0
        }
    }
}
