import HostSupport
import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything a command needs after the flags, the environment and the config file have
/// been layered: flag, then `OOMWATCH_…` variable, then config file, then default.
struct Settings: Sendable {
    static let defaultServer = "http://127.0.0.1:8080"
    static let defaultTimeoutSeconds = 10.0

    /// The collector's base URL, without a trailing slash.
    var server: String
    var token: String?
    var format: OutputFormat
    var caFile: String?
    /// Seconds to wait for a whole answer.
    var timeoutSeconds = Settings.defaultTimeoutSeconds
    var nowMicroseconds: Int64
    var times: Times
    var style: Style
    /// Columns to fit tables to; `nil` for no limit.
    var width: Int?

    /// Resolves `options` against `environment` and the config file. `readFile` returns a
    /// file's text, or `nil` when it does not exist.
    static func resolve(
        _ options: GlobalOptions,
        environment: [String: String],
        isTerminal: Bool,
        terminalWidth: Int?,
        clockMicroseconds: Int64,
        readFile: (String) throws(CLIError) -> String?
    ) throws(CLIError) -> Settings {
        let (file, filePath) = try loadConfig(options, environment: environment, readFile: readFile)
        let layers = ConfigLayers(file: file, filePath: filePath, environment: environment)

        var server = layers.string("server", flag: options.server, default: defaultServer) ?? defaultServer
        guard server.hasPrefix("http://") || server.hasPrefix("https://") else {
            let origin = layers.raw("server", flag: options.server)?.origin ?? "server"
            throw .usage("\(origin): '\(server)' is not a URL: use http://HOST:PORT or https://HOST:PORT")
        }
        while server.hasSuffix("/") { server.removeLast() }
        if let apiPath = server.firstRange(of: "/api/v1") {
            let origin = layers.raw("server", flag: options.server)?.origin ?? "server"
            let base = String(server[..<apiPath.lowerBound])
            throw .usage(
                "\(origin): '\(server)' includes the API path: drop the path and use the collector's base URL, \(base)")
        }

        let token = try resolveToken(options, layers: layers, readFile: readFile)

        var format = OutputFormat.table
        if let (value, origin) = layers.raw("format", flag: options.format?.rawValue) {
            guard let parsed = OutputFormat(rawValue: value) else {
                throw .usage("\(origin): '\(value)' is not an output format: use table, json or csv")
            }
            format = parsed
        }

        var now = clockMicroseconds
        if let (value, origin) = layers.raw("now", flag: options.now) {
            guard let parsed = RFC3339.parse(value) else {
                throw .usage("\(origin): '\(value)' is not an RFC 3339 time")
            }
            now = parsed
        }

        var timeout = defaultTimeoutSeconds
        if let (value, origin) = layers.raw("timeout", flag: options.timeout.map { String($0) }) {
            guard let parsed = Double(value), parsed > 0, parsed <= 3600 else {
                throw .usage("\(origin): '\(value)' is not a timeout: use seconds between 0.1 and 3600")
            }
            timeout = parsed
        }

        let caFile = layers.string("ca_file", flag: options.caFile)
        do {
            // `token` and `token_file` are read from the file directly (resolveToken).
            try layers.checkUnknownKeys(also: ["token", "token_file"])
        } catch {
            throw .usage(error.message)
        }

        let colour = Style.colorWanted(isTerminal: isTerminal, environment: environment, noColorFlag: options.noColor)
        return Settings(
            server: server,
            token: token,
            format: format,
            caFile: caFile,
            timeoutSeconds: timeout,
            nowMicroseconds: now,
            times: Times(nowMicroseconds: now, absolute: options.absoluteTimes),
            style: Style(enabled: colour),
            width: terminalWidth
        )
    }

    /// The config file: `--config`, `OOMWATCH_CONFIG`, else the user's config directory
    /// (`$XDG_CONFIG_HOME/oomwatch/config.yaml`, `~/.config/oomwatch/config.yaml`). A
    /// missing default file is fine; a missing named one is an error.
    static func loadConfig(
        _ options: GlobalOptions, environment: [String: String],
        readFile: (String) throws(CLIError) -> String?
    ) throws(CLIError) -> (ConfigFile, String?) {
        let named = options.config ?? environment["OOMWATCH_CONFIG"]
        guard let path = named ?? defaultConfigPath(environment: environment) else {
            return (ConfigFile(), nil)
        }
        guard let text = try readFile(path) else {
            if named != nil { throw .failure("config file \(path) does not exist") }
            return (ConfigFile(), nil)
        }
        do {
            return (try ConfigFile.parse(text), path)
        } catch {
            throw .failure("config file \(path): \(error)")
        }
    }

    static func defaultConfigPath(environment: [String: String]) -> String? {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return xdg + "/oomwatch/config.yaml"
        }
        if let home = environment["HOME"], !home.isEmpty {
            return home + "/.config/oomwatch/config.yaml"
        }
        return nil
    }

    /// The token: `--token`, `--token-file`, `OOMWATCH_TOKEN`, `OOMWATCH_TOKEN_FILE`, then
    /// the file's `token` and `token_file`. `nil` when none is set (the collector will
    /// answer 401, and the error says how to set one).
    static func resolveToken(
        _ options: GlobalOptions, layers: ConfigLayers,
        readFile: (String) throws(CLIError) -> String?
    ) throws(CLIError) -> String? {
        if let token = options.token { return token }
        if let path = options.tokenFile { return try readToken(path, origin: "--token-file", readFile: readFile) }
        // An empty variable (`OOMWATCH_TOKEN= oomwatch …`) counts as unset.
        if let token = layers.environment["OOMWATCH_TOKEN"], !token.isEmpty { return token }
        if let path = layers.environment["OOMWATCH_TOKEN_FILE"], !path.isEmpty {
            return try readToken(path, origin: "OOMWATCH_TOKEN_FILE", readFile: readFile)
        }
        if let token = layers.file.string("token") { return token }
        if let path = layers.file.string("token_file") {
            let expanded = path.hasPrefix("~/") ? (layers.environment["HOME"] ?? "") + path.dropFirst(1) : path
            return try readToken(expanded, origin: "token_file", readFile: readFile)
        }
        return nil
    }

    private static func readToken(
        _ path: String, origin: String, readFile: (String) throws(CLIError) -> String?
    ) throws(CLIError) -> String {
        guard let text = try readFile(path) else {
            throw .failure("\(origin): token file \(path) does not exist")
        }
        let token = text.split(whereSeparator: \.isNewline).first.map {
            String(
                $0.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" })
                    .reversed())
        }
        guard let token, !token.isEmpty else {
            throw .failure("\(origin): token file \(path) is empty")
        }
        return token
    }

    /// Resolves from the real process: environment, terminal, clock, files.
    static func current(_ options: GlobalOptions) throws(CLIError) -> Settings {
        let environment = ProcessInfo.processInfo.environment
        return try resolve(
            options,
            environment: environment,
            isTerminal: Terminal.stdoutIsTerminal,
            terminalWidth: Terminal.width(environment: environment),
            clockMicroseconds: HostClock.nowMicros(),
            readFile: Files.readText
        )
    }
}

/// Small file reads for config and token files.
enum Files {
    /// The file's text, `nil` when it does not exist; other failures throw.
    static func readText(_ path: String) throws(CLIError) -> String? {
        // Config and token files are small; refuse anything absurd.
        let limit = 1 << 20
        var reader = FileReader(initialCapacity: 4096)
        let bytes: ArraySlice<UInt8>
        do {
            bytes = try reader.read(path, limit: limit + 1)
        } catch  where error.isMissing {
            return nil
        } catch {
            throw .failure("cannot read \(error)")
        }
        if bytes.count > limit { throw .failure("\(path) is larger than 1 MiB") }
        return String(decoding: bytes, as: UTF8.self)
    }
}
