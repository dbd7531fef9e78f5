public import OOMKit
public import OOMPostgres

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension StoreLocation: CustomStringConvertible {
    /// Parses the `db` setting: `postgres://…` (or `postgresql://…`) is PostgreSQL,
    /// `sqlite:PATH` or a plain path is SQLite. `origin` names where the value came from
    /// (`--db`, `OOMWATCH_DB`, the file's key) in the error, which never repeats a password.
    public static func parse(_ text: String, origin: String) throws(SettingsError) -> StoreLocation {
        let value = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        guard !value.isEmpty else {
            throw SettingsError("\(origin): empty: give a file path, sqlite:PATH or postgres://USER@HOST:PORT/DB")
        }
        if let rest = value.dropPrefix("sqlite:") {
            // sqlite:///var/lib/x and sqlite:/var/lib/x both name /var/lib/x.
            let path = rest.hasPrefix("//") ? String(rest.dropFirst(2)) : rest
            guard !path.isEmpty else {
                throw SettingsError("\(origin): sqlite: needs a path, as in sqlite:/var/lib/oomwatch/oomwatch.sqlite")
            }
            return .sqlite(path: path)
        }
        if let scheme = value.range(of: "://").map({ value[..<$0.lowerBound].lowercased() }),
            !scheme.contains("/")
        {
            guard scheme == "postgres" || scheme == "postgresql" else {
                throw SettingsError(
                    "\(origin): \(scheme):// is not a store oomwatch knows: use a file path, sqlite:PATH or "
                        + "postgres://USER@HOST:PORT/DB?sslmode=verify-full")
            }
            return .postgres(try PostgresStoreConfiguration.parse(url: value, origin: origin))
        }
        return .sqlite(path: value)
    }

    /// The store, safe to log: a PostgreSQL URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let primary, let read):
            primary.description + (read.map { " (queries from \($0.description))" } ?? "")
        }
    }
}

extension PostgresStoreConfiguration {
    /// The query parameters a URL may carry, libpq's names.
    static let urlParameters = ["sslmode", "sslrootcert", "host", "connect_timeout"]

    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…&sslrootcert=FILE]`.
    ///
    /// As with libpq: the port defaults to 5432, `host=/DIR` (or a percent-encoded path as
    /// the host) connects to the unix socket `DIR/.s.PGSQL.PORT`, `sslmode` is one of
    /// disable, prefer, require, verify-ca, verify-full (verify-full when absent: TLS with
    /// the certificate and host name checked), `sslrootcert` is the CA file. Errors name
    /// `origin` and show the URL with its password replaced by `***`.
    public static func parse(url text: String, origin: String) throws(SettingsError) -> PostgresStoreConfiguration {
        let shown = DatabaseURL.redacted(text)
        func fail(_ problem: String) -> SettingsError {
            SettingsError("\(origin): \(shown): \(problem)")
        }
        guard let schemeEnd = text.range(of: "://") else { throw fail("not a postgres:// URL") }
        var rest = Substring(text[schemeEnd.upperBound...])
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw fail("no database name: postgres://USER@HOST:PORT/DATABASE")
        }
        let authority = rest[..<slash]
        guard let database = DatabaseURL.percentDecoded(rest[rest.index(after: slash)...]), !database.isEmpty,
            !database.contains("/")
        else { throw fail("no database name: postgres://USER@HOST:PORT/DATABASE") }
        guard let at = authority.lastIndex(of: "@") else {
            throw fail("no user: postgres://USER@HOST:PORT/DATABASE (the password goes in db.password_file)")
        }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        let userPart = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? userInfo
        guard let user = DatabaseURL.percentDecoded(userPart), !user.isEmpty else {
            throw fail("no user: postgres://USER@HOST:PORT/DATABASE")
        }
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            guard let decoded = DatabaseURL.percentDecoded(userInfo[userInfo.index(after: colon)...]) else {
                throw fail("the password is not valid percent-encoding")
            }
            password = decoded
        }

        // Host and port: [v6]:port, name:port, name, or nothing (a socket from host=).
        var host = ""
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unclosed [ in the host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("expected :PORT after ]") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = DatabaseURL.percentDecoded(hostPort[..<colon]) ?? ""
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = DatabaseURL.percentDecoded(hostPort) ?? ""
        }
        var port = 5432
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw fail("the port `\(portText)` is not a number from 1 to 65535")
            }
            port = number
        }

        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let key = String(pair.prefix(while: { $0 != "=" }))
            let raw = pair.dropFirst(key.count + 1)
            guard Self.urlParameters.contains(key) else {
                let near = ConfigKeys.nearest(to: key, in: Set(Self.urlParameters)).map { "; did you mean \($0)?" }
                throw fail(
                    "unknown parameter `\(key)`\(near ?? "") (known: \(Self.urlParameters.joined(separator: ", ")))")
            }
            guard let value = DatabaseURL.percentDecoded(raw) else {
                throw fail("`\(key)` is not valid percent-encoding")
            }
            parameters[key] = value
        }
        if let socketHost = parameters["host"] { host = socketHost }
        guard !host.isEmpty else { throw fail("no host: postgres://USER@HOST:PORT/DATABASE") }

        var configuration = PostgresStoreConfiguration(host: host, port: port, user: user, database: database)
        configuration.password = password
        if host.hasPrefix("/") {
            // libpq's convention: a host that is a path is the socket's directory.
            configuration.unixSocketPath = host + "/.s.PGSQL.\(port)"
        }
        if let mode = parameters["sslmode"] {
            guard let parsed = SSLMode(rawValue: mode.lowercased()) else {
                throw fail(
                    "sslmode `\(mode)` is not one of " + SSLMode.allCases.map(\.rawValue).joined(separator: ", "))
            }
            configuration.sslMode = parsed
        }
        if let ca = parameters["sslrootcert"] {
            guard !ca.isEmpty else { throw fail("sslrootcert needs a file: sslrootcert=/etc/oomwatch/pg-ca.pem") }
            configuration.sslRootCertificate = ca
        }
        if configuration.sslRootCertificate != nil, configuration.sslMode == .disable {
            throw fail("sslrootcert is given but sslmode=disable turns TLS off: use sslmode=verify-full")
        }
        if let timeout = parameters["connect_timeout"] {
            guard let seconds = Double(timeout), seconds > 0 else {
                throw fail("connect_timeout `\(timeout)` is not a positive number of seconds")
            }
            configuration.connectTimeoutSeconds = seconds
        }
        return configuration
    }
}

/// Database URLs as text: for log lines and error messages, which must never carry a
/// password.
public enum DatabaseURL {
    /// `text` with the password of every `scheme://user:password@` in it replaced by
    /// `***`; anything else unchanged.
    public static func redacted(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            out += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority ends at the first /, ? or # (or a space in running text).
            let end = rest.firstIndex(where: { "/?# \n\"'".contains($0) }) ?? rest.endIndex
            let authority = rest[..<end]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                out += authority[...colon] + "***" + authority[at...]
            } else {
                out += authority
            }
            rest = rest[end...]
        }
        return out + rest
    }

    /// `%XX` decoded (nil for a broken escape or bytes that are not UTF-8).
    static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8.makeIterator()
        while let byte = utf8.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.next().flatMap(hexValue), let low = utf8.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension CollectorConfiguration {
    /// The store settings of the table in ``resolve(layers:flags:)``:
    /// - where: `db` (`--db`, `OOMWATCH_DB`, `db:` as a scalar), else `db.url`, else
    ///   `db.path`, else the data directory's oomwatch.sqlite;
    /// - `db.read_url` (`--db-read`): a streaming replica for the queries (PostgreSQL only);
    /// - the password: `db.password_file` (`--db-password-file`), else the URL's, else
    ///   `PGPASSWORD`;
    /// - `db.pool_size` (`--db-pool-size`): connections per store, each of primary and replica.
    mutating func resolveStore(_ layers: ConfigLayers, flags: Flags) throws(SettingsError) {
        // Each key looked up, so none of them reads as unknown when another one wins.
        let candidates = [
            layers.raw("db", flag: flags.db, flagName: "--db"), layers.raw("db.url"), layers.raw("db.path"),
        ]
        let chosen = candidates.compactMap { $0 }.first
        let readURL = layers.raw("db.read_url", flag: flags.dbRead, flagName: "--db-read")
        let passwordFile = layers.raw("db.password_file", flag: flags.dbPasswordFile, flagName: "--db-password-file")
        let poolSize: Int
        do {
            poolSize = try layers.int("db.pool_size", flag: flags.dbPoolSize, default: 16)
        } catch {
            throw SettingsError(error.description)
        }
        guard (1...1000).contains(poolSize) else {
            throw SettingsError("db.pool_size: \(poolSize) connections? Use 1 to 1000 (default 16)")
        }
        guard let chosen else {
            databasePath = Self.dataDirectory(layers) + "/oomwatch.sqlite"
            if let readURL {
                throw SettingsError(
                    "\(readURL.origin): a replica needs --db postgres://…: a SQLite collector reads its own file")
            }
            return
        }
        switch try StoreLocation.parse(chosen.value, origin: chosen.origin) {
        case .sqlite(let path):
            databasePath = path
            if let readURL {
                throw SettingsError(
                    "\(readURL.origin): a replica needs --db postgres://…: a SQLite collector reads its own file")
            }
        case .postgres(var primary, _):
            let password = try Self.password(file: passwordFile, url: primary.password, layers: layers)
            primary.password = password
            primary.poolSize = poolSize
            postgres = primary
            if let readURL {
                guard case .postgres(var replica, _) = try StoreLocation.parse(readURL.value, origin: readURL.origin)
                else {
                    throw SettingsError("\(readURL.origin): the replica must be a postgres:// URL")
                }
                replica.password = replica.password ?? password
                replica.poolSize = poolSize
                postgresRead = replica
            }
        }
    }

    /// The database password: from the file (its first line), else the URL's, else
    /// `PGPASSWORD`; nil when none is set (a trust or peer login).
    static func password(
        file: (value: String, origin: String)?, url: String?, layers: ConfigLayers
    ) throws(SettingsError) -> String? {
        if let file {
            guard let data = FileManager.default.contents(atPath: file.value) else {
                throw SettingsError("\(file.origin): cannot read the password file \(file.value)")
            }
            let password =
                String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .first.map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) } ?? ""
            guard !password.isEmpty else {
                throw SettingsError("\(file.origin): the password file \(file.value) is empty")
            }
            return password
        }
        if let url { return url }
        if let environment = layers.environment["PGPASSWORD"], !environment.isEmpty { return environment }
        return nil
    }
}

extension String {
    /// The rest after `prefix` (compared case-insensitively), or nil.
    fileprivate func dropPrefix(_ prefix: String) -> String? {
        guard lowercased().hasPrefix(prefix) else { return nil }
        return String(dropFirst(prefix.count))
    }
}
