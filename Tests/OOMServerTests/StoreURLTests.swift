import OOMKit
import OOMPostgres
import OOMServer
import Testing

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `--db` / `OOMWATCH_DB` / `db:`: which store, PostgreSQL URLs as libpq reads them, and
/// no password in any message or log text.
@Suite struct StoreURLTests {
    struct Expected: Sendable, CustomStringConvertible {
        var url: String
        var host: String
        var port = 5432
        var user = "oomwatch"
        var database = "oomwatch"
        var password: String? = nil
        var mode = PostgresStoreConfiguration.SSLMode.verifyFull
        var socket: String? = nil
        var ca: String? = nil
        var description: String { url }
    }

    @Test(arguments: [
        Expected(
            url: "postgres://oomwatch@db.example:5433/oomwatch?sslmode=require", host: "db.example", port: 5433,
            mode: .require),
        Expected(url: "postgresql://oomwatch@[::1]/oomwatch", host: "::1"),
        Expected(
            url:
                "postgres://oomwatch:p%40ss%3Aword@pg/oomwatch?sslmode=verify-full&sslrootcert=/etc/oomwatch/pg-ca.pem",
            host: "pg", password: "p@ss:word", ca: "/etc/oomwatch/pg-ca.pem"),
        Expected(
            url: "postgres://oomwatch@/oomwatch?host=/run/postgresql&sslmode=disable", host: "/run/postgresql",
            mode: .disable, socket: "/run/postgresql/.s.PGSQL.5432"),
        Expected(
            url: "postgres://oomwatch@%2Ftmp%2Fpg:6000/oom%20watch?sslmode=disable", host: "/tmp/pg", port: 6000,
            database: "oom watch", mode: .disable, socket: "/tmp/pg/.s.PGSQL.6000"),
        Expected(
            url: "POSTGRES://ops@10.0.0.5:5432/fleet?sslmode=VERIFY-CA", host: "10.0.0.5", user: "ops",
            database: "fleet", mode: .verifyCA),
    ])
    func postgresURLs(expected: Expected) throws {
        let location = try StoreLocation.parse(expected.url, origin: "--db")
        guard case .postgres(let c, let read) = location else {
            Issue.record("\(expected.url) is not PostgreSQL: \(location)")
            return
        }
        #expect(read == nil)
        #expect(c.host == expected.host)
        #expect(c.port == expected.port)
        #expect(c.user == expected.user)
        #expect(c.database == expected.database)
        #expect(c.password == expected.password)
        #expect(c.sslMode == expected.mode)
        #expect(c.unixSocketPath == expected.socket)
        #expect(c.sslRootCertificate == expected.ca)
        if let password = expected.password {
            #expect(!location.description.contains(password))
        }
    }

    @Test(arguments: [
        ("/var/lib/oomwatch/oomwatch.sqlite", "/var/lib/oomwatch/oomwatch.sqlite"),
        ("sqlite:/var/lib/oomwatch/oomwatch.sqlite", "/var/lib/oomwatch/oomwatch.sqlite"),
        ("sqlite:///var/lib/oomwatch/oomwatch.sqlite", "/var/lib/oomwatch/oomwatch.sqlite"),
        ("data/oomwatch.sqlite", "data/oomwatch.sqlite"),
        ("SQLite:relative.db", "relative.db"),
    ])
    func sqliteLocations(text: String, path: String) throws {
        #expect(try StoreLocation.parse(text, origin: "--db") == .sqlite(path: path))
    }

    /// Every bad URL fails at start with what to do, and the message never carries the
    /// password it was given.
    @Test(arguments: [
        ("postgres://oomwatch:hunter2@db:99999/oomwatch", "the port `99999` is not a number from 1 to 65535"),
        ("postgres://oomwatch:hunter2@db/oomwatch?sslmode=allow", "sslmode `allow` is not one of disable, prefer"),
        ("postgres://oomwatch:hunter2@db/oomwatch?sslmod=disable", "unknown parameter `sslmod`; did you mean sslmode?"),
        ("postgres://oomwatch:hunter2@db", "no database name"),
        ("postgres://oomwatch:hunter2@db/", "no database name"),
        ("postgres://db/oomwatch", "no user"),
        ("postgres://oomwatch:hunter2@/oomwatch", "no host"),
        (
            "postgres://oomwatch:hunter2@db/oomwatch?sslmode=disable&sslrootcert=/ca.pem",
            "sslmode=disable turns TLS off"
        ),
        ("postgres://oomwatch:hunter2@db/oomwatch?connect_timeout=soon", "connect_timeout `soon`"),
        ("postgres://oomwatch:hunter2@[::1/oomwatch", "unclosed ["),
        ("mysql://oomwatch:hunter2@db/oomwatch", "mysql:// is not a store oomwatch knows"),
        ("sqlite:", "sqlite: needs a path"),
        ("  ", "empty"),
    ])
    func badURLsSayWhatIsWrongWithoutThePassword(text: String, expected: String) {
        do {
            let location = try StoreLocation.parse(text, origin: "OOMWATCH_DB")
            Issue.record("\(text) was accepted as \(location)")
        } catch {
            #expect(error.message.hasPrefix("OOMWATCH_DB: "), "\(error.message)")
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("hunter2"), "\(error.message)")
        }
    }

    @Test func redaction() {
        #expect(
            DatabaseURL.redacted("connect to postgres://oomwatch:hunter2@db:5432/oomwatch failed: timeout")
                == "connect to postgres://oomwatch:***@db:5432/oomwatch failed: timeout")
        #expect(
            DatabaseURL.redacted("a postgres://u:x@a/b and postgresql://v:y@c?sslmode=disable")
                == "a postgres://u:***@a/b and postgresql://v:***@c?sslmode=disable")
        // A password holding an @ is still hidden whole.
        #expect(DatabaseURL.redacted("postgres://u:p@ss@db/x") == "postgres://u:***@db/x")
        for unchanged in ["postgres://oomwatch@db/oomwatch", "/var/lib/x.sqlite", "http://h:8080/api", "no url here"] {
            #expect(DatabaseURL.redacted(unchanged) == unchanged)
        }
        let location = StoreLocation.postgres(
            PostgresStoreConfiguration(host: "db", user: "oomwatch", database: "oomwatch", password: "hunter2"),
            read: PostgresStoreConfiguration(
                host: "replica", user: "oomwatch", database: "oomwatch", password: "hunter2"))
        #expect(!location.description.contains("hunter2"))
        #expect(location.description.contains("replica"))
    }
}

/// The store rows of the collector's settings table: `db`, `db.url`, `db.path`,
/// `db.read_url`, `db.password_file`, `db.pool_size`.
@Suite struct StoreSettingsTests {
    static let url = "postgres://oomwatch@db:5432/oomwatch?sslmode=disable"

    func resolve(
        _ values: [String: String] = [:], environment: [String: String] = [:],
        flags: CollectorConfiguration.Flags = CollectorConfiguration.Flags()
    ) throws(SettingsError) -> CollectorConfiguration {
        let layers = ConfigLayers(
            file: ConfigFile(values: values), filePath: "/etc/oomwatch/collector.yaml", environment: environment)
        return try CollectorConfiguration.resolve(layers: layers, flags: flags)
    }

    func message(_ body: () throws(SettingsError) -> CollectorConfiguration) -> String {
        do {
            _ = try body()
            return ""
        } catch {
            return error.message
        }
    }

    /// A file in a fresh directory under /tmp, removed at the end of the test.
    func withFile(_ text: String, _ body: (String) throws -> Void) throws {
        let dir = "/tmp/oomwatch-store-settings-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/db.password"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try body(path)
    }

    @Test func precedenceOfTheStoreKeys() throws {
        #expect(try resolve().postgres == nil)
        #expect(try resolve(["db.path": "/a.sqlite"]).databasePath == "/a.sqlite")
        #expect(try resolve(["db.url": Self.url, "db.path": "/a.sqlite"]).postgres?.host == "db")
        #expect(
            try resolve(["db": "sqlite:/b.sqlite", "db.url": Self.url]).storeLocation == .sqlite(path: "/b.sqlite"))
        let environment = ["OOMWATCH_DB": Self.url.replacingOccurrences(of: "@db:", with: "@envdb:")]
        #expect(try resolve(["db.path": "/a.sqlite"], environment: environment).postgres?.host == "envdb")
        var flags = CollectorConfiguration.Flags()
        flags.db = "/flag.sqlite"
        let fromFlag = try resolve(["db.url": Self.url], environment: environment, flags: flags)
        #expect(fromFlag.storeLocation == .sqlite(path: "/flag.sqlite"))
        // `db:` as a scalar is a known key, not a typo.
        #expect(try resolve(["db": Self.url]).postgres?.database == "oomwatch")
    }

    @Test func passwordFromFileThenURLThenPGPASSWORD() throws {
        try withFile("s3cret-from-file\n") { path in
            var flags = CollectorConfiguration.Flags()
            flags.db = "postgres://oomwatch:from-url@db/oomwatch?sslmode=disable"
            flags.dbPasswordFile = path
            #expect(
                try resolve(environment: ["PGPASSWORD": "from-env"], flags: flags).postgres?.password
                    == "s3cret-from-file")
            flags.dbPasswordFile = nil
            #expect(try resolve(environment: ["PGPASSWORD": "from-env"], flags: flags).postgres?.password == "from-url")
            flags.db = Self.url
            #expect(try resolve(environment: ["PGPASSWORD": "from-env"], flags: flags).postgres?.password == "from-env")
            #expect(try resolve(flags: flags).postgres?.password == nil)
            // The file's key and variable work like the flag.
            let fromKey = try resolve(["db.url": Self.url, "db.password_file": path])
            #expect(fromKey.postgres?.password == "s3cret-from-file")
            let fromVariable = try resolve(["db.url": Self.url], environment: ["OOMWATCH_DB_PASSWORD_FILE": path])
            #expect(fromVariable.postgres?.password == "s3cret-from-file")
        }
        var flags = CollectorConfiguration.Flags()
        flags.db = Self.url
        flags.dbPasswordFile = "/nonexistent/db.password"
        let text = message { () throws(SettingsError) in try resolve(flags: flags) }
        #expect(text == "--db-password-file: cannot read the password file /nonexistent/db.password")
        try withFile("\n") { path in
            flags.dbPasswordFile = path
            let text = message { () throws(SettingsError) in try resolve(flags: flags) }
            #expect(text.contains("is empty"), "\(text)")
        }
    }

    @Test func replicaAndPool() throws {
        var flags = CollectorConfiguration.Flags()
        flags.db = "postgres://oomwatch:pw@primary/oomwatch?sslmode=disable"
        flags.dbRead = "postgres://oomwatch@replica:5433/oomwatch?sslmode=require"
        flags.dbPoolSize = 4
        let c = try resolve(flags: flags)
        #expect(c.postgres?.host == "primary")
        #expect(c.postgresRead?.host == "replica" && c.postgresRead?.port == 5433)
        // The replica logs in as the primary's role unless its URL says otherwise.
        #expect(c.postgresRead?.password == "pw")
        #expect(c.postgres?.poolSize == 4 && c.postgresRead?.poolSize == 4)
        if case .postgres(_, let read) = c.storeLocation {
            #expect(read?.host == "replica")
        } else {
            Issue.record("not PostgreSQL: \(c.storeLocation)")
        }
        #expect(
            try resolve(["db.url": Self.url, "db.read_url": Self.url, "db.pool_size": "2"]).postgresRead?.poolSize == 2)

        flags.dbPoolSize = 0
        #expect(message { () throws(SettingsError) in try resolve(flags: flags) }.contains("db.pool_size: 0"))
        flags.dbPoolSize = nil
        flags.db = "/a.sqlite"
        #expect(
            message { () throws(SettingsError) in try resolve(flags: flags) }
                == "--db-read: a replica needs --db postgres://…: a SQLite collector reads its own file")
        flags.db = Self.url
        flags.dbRead = "/replica.sqlite"
        #expect(
            message { () throws(SettingsError) in try resolve(flags: flags) }
                == "--db-read: the replica must be a postgres:// URL")
        #expect(
            message { () throws(SettingsError) in try resolve(["db.pool_size": "many", "db.url": Self.url]) }
                .contains("db.pool_size: `many` is not a whole number"))
    }
}
