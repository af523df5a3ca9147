import AtriumSecurity
import FuzzSupport

// Connect-token opening (the server's first look at an unauthenticated peer's first packet): never traps; an
// input opens only under the development key it was sealed with (the corpus holds real tokens), and a token
// that opens has valid fields.
@main
enum ConnectTokenFuzz {
    static func main() {
        fuzzMain { data, size in
            guard let data else { return 0 }
            let bytes = Array(UnsafeBufferPointer(start: data, count: size))
            if let token = try? TokenKeyring.development.open(bytes, nowSeconds: 0) {
                do {
                    try token.validate()
                } catch {
                    fatalError("an opened token has invalid fields: \(error)")
                }
            }
            return 0
        }
    }
}
