import AtriumCrypto
import AtriumWorld
import AtriumYAML

#if canImport(Glibc)
import Glibc
#endif

/// A validated world plus the hash of the exact bytes it came from (sent in WELCOME so clients can check
/// they hold the same content).
public struct LoadedWorld: Sendable {
    public let definition: WorldDefinition
    public let path: String
    public let contentHash: [UInt8]

    public init(definition: WorldDefinition, path: String, contentHash: [UInt8]) {
        self.definition = definition
        self.path = path
        self.contentHash = contentHash
    }

    /// Loads every world in `directory`. Any broken file is an error for the whole set: a node never serves a
    /// partial catalogue silently.
    public static func loadDirectory(_ directory: String) -> (worlds: [LoadedWorld], errors: [DocumentError]) {
        let (found, errors) = WorldLoader.loadDirectory(directory)
        var worlds: [LoadedWorld] = []
        var allErrors = errors
        for (path, definition) in found {
            guard let bytes = readFile(path) else {
                allErrors.append(DocumentError(SourceLocation(file: path, line: 1, column: 1), "cannot read file"))
                continue
            }
            worlds.append(LoadedWorld(definition: definition, path: path, contentHash: SHA256.hash(bytes)))
        }
        if found.isEmpty && errors.isEmpty {
            allErrors.append(
                DocumentError(SourceLocation(file: directory, line: 1, column: 1), "no world files (*.yaml) found"))
        }
        return (worlds, allErrors)
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count { break }
        }
        return ferror(file) == 0 ? bytes : nil
    }
}
