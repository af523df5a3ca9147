import AtriumYAML

/// A configuration value that could not be used, with the key and the source it came from.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Layers configuration: embedded defaults < file < environment (`ATRIUM_…`) < command-line flags.
public enum ConfigurationLoader {
    /// - Parameters:
    ///   - fileText: the YAML text of the configuration file, if one is used.
    ///   - filePath: its path, for messages.
    ///   - environment: the process environment; only `ATRIUM_…` names matching a key are read.
    ///   - flags: key name (`bind_address`) → raw value given on the command line.
    public static func load(
        fileText: String?, filePath: String, environment: [String: String], flags: [String: String]
    ) throws(ConfigurationError) -> ServerConfiguration {
        var config = ServerConfiguration()
        let byName = Dictionary(uniqueKeysWithValues: ServerConfiguration.keys.map { ($0.name, $0) })

        if let fileText {
            do {
                let root = try YAMLDocument.parse(fileText, file: filePath, allowEmpty: true)
                // A file of only comments is an empty configuration, not an error.
                if !root.isNull {
                    let mapping = try root.mapping(allowedKeys: Set(byName.keys))
                    for name in mapping.keys {
                        guard let key = byName[name], let value = mapping.optional(name) else { continue }
                        let raw = try value.string()
                        do {
                            try key.apply(&config, raw)
                        } catch {
                            throw value.error(error.message)
                        }
                    }
                }
            } catch let error as DocumentError {
                throw ConfigurationError(message: "configuration error: \(error)")
            } catch {
                throw ConfigurationError(message: "configuration error: \(filePath): \(error)")
            }
        }
        return try applyOverrides(config, environment: environment, flags: flags)
    }

    private static func applyOverrides(
        _ base: ServerConfiguration, environment: [String: String], flags: [String: String]
    ) throws(ConfigurationError) -> ServerConfiguration {
        var config = base
        for key in ServerConfiguration.keys {
            if let raw = environment[key.environmentName] {
                do {
                    try key.apply(&config, raw)
                } catch {
                    throw ConfigurationError(
                        message: "configuration error: \(key.name) from environment \(key.environmentName): \(error.message)")
                }
            }
        }
        for (name, raw) in flags {
            guard let key = ServerConfiguration.keys.first(where: { $0.name == name }) else {
                throw ConfigurationError(message: "configuration error: unknown key '\(name)'")
            }
            do {
                try key.apply(&config, raw)
            } catch {
                throw ConfigurationError(
                    message: "configuration error: \(key.name) from flag \(key.flagName): \(error.message)")
            }
        }
        return config
    }
}
