import OOMKit
import OOMServer
import Testing

/// The collector's settings table (`CollectorConfiguration.resolve`): precedence, and a
/// mistyped value is an error naming the key and where it came from, never the default.
@Suite struct CollectorSettingsTests {
    static let path = "/etc/oomwatch/collector.yaml"

    func resolve(
        _ values: [String: String], environment: [String: String] = [:],
        flags: CollectorConfiguration.Flags = CollectorConfiguration.Flags()
    ) throws(SettingsError) -> CollectorConfiguration {
        let layers = ConfigLayers(file: ConfigFile(values: values), filePath: Self.path, environment: environment)
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

    @Test(arguments: [
        (["db.synchronous": "ful"], [String: String](), "\(path) key db.synchronous: `ful` is not one of full, normal"),
        ([:], ["OOMWATCH_DB_SYNCHRONOUS": "off"], "OOMWATCH_DB_SYNCHRONOUS: `off` is not one of full, normal"),
        (["log.level": "verbose"], [:], "\(path) key log.level: `verbose` is not one of trace"),
        (["limits.rate_per_token": "lots"], [:], "\(path) key limits.rate_per_token: `lots` is not a number"),
        (["advice.trend_hours": "a day"], [:], "\(path) key advice.trend_hours: `a day`"),
    ])
    func typoIsAnErrorNamingKeyAndOrigin(values: [String: String], environment: [String: String], expected: String) {
        let text = message { () throws(SettingsError) in try resolve(values, environment: environment) }
        #expect(text.contains(expected), "\(text)")
    }

    @Test func flagTypoNamesTheFlag() {
        var flags = CollectorConfiguration.Flags()
        flags.logLevel = "warn"
        let text = message { () throws(SettingsError) in try resolve([:], flags: flags) }
        #expect(text.hasPrefix("--log-level: `warn` is not one of"), "\(text)")
    }

    @Test func enumeratedValuesAndPrecedence() throws {
        #expect(try resolve([:]).synchronousFull)
        #expect(try !resolve(["db.synchronous": "normal"]).synchronousFull)
        #expect(try !resolve(["db.synchronous": "NORMAL"]).synchronousFull)
        #expect(try resolve(["log.level": "Debug"]).logLevel == "debug")

        let file = ["retention.snapshot_days": "7", "listen": "0.0.0.0:9000", "db.path": "/file.sqlite"]
        let fromFile = try resolve(file)
        #expect(fromFile.retention.snapshotDays == 7)
        #expect(fromFile.host == "0.0.0.0" && fromFile.port == 9000)
        #expect(fromFile.databasePath == "/file.sqlite")
        let environment = ["OOMWATCH_RETENTION_SNAPSHOT_DAYS": "3", "OOMWATCH_LISTEN": "[::1]:9001"]
        let fromEnvironment = try resolve(file, environment: environment)
        #expect(fromEnvironment.retention.snapshotDays == 3)
        #expect(fromEnvironment.host == "::1" && fromEnvironment.port == 9001)
        var flags = CollectorConfiguration.Flags()
        flags.snapshotRetentionDays = 1
        flags.listen = "127.0.0.1:9002"
        flags.db = "/flag.sqlite"
        let fromFlags = try resolve(file, environment: environment, flags: flags)
        #expect(fromFlags.retention.snapshotDays == 1)
        #expect(fromFlags.port == 9002)
        #expect(fromFlags.databasePath == "/flag.sqlite")
        // Defaults: the data directory from the environment.
        let defaults = try resolve([:], environment: ["STATE_DIRECTORY": "/var/lib/oomwatch:/other"])
        #expect(defaults.databasePath == "/var/lib/oomwatch/oomwatch.sqlite")
        #expect(defaults.tokensFile == "/var/lib/oomwatch/tokens")
        #expect(defaults.host == "127.0.0.1" && defaults.port == 8080)
    }

    @Test func thePaceIsSetAndBounded() throws {
        let defaults = try resolve([:])
        #expect(defaults.pacePostsPerSecond == 1000 && defaults.maxUploadIntervalSeconds == 120)
        let set = try resolve(
            ["ingest.pace_posts_per_second": "200"], environment: ["OOMWATCH_INGEST_MAX_UPLOAD_INTERVAL_S": "300"])
        #expect(set.pacePostsPerSecond == 200 && set.maxUploadIntervalSeconds == 300)
        #expect(try resolve(["ingest.pace_posts_per_second": "0"]).pacePostsPerSecond == 0)
        for values in [["ingest.pace_posts_per_second": "-1"], ["ingest.max_upload_interval_s": "3600"]] {
            let text = message { () throws(SettingsError) in try resolve(values) }
            #expect(text.contains("ingest.max_upload_interval_s 1 - 600"), "\(text)")
        }
    }

    /// `db.cache_hosts` sizes the writer's cache for the fleet: every bound grows with it,
    /// by default it holds 100,000 hosts.
    @Test func theWritersCacheIsSizedForTheFleet() throws {
        #expect(try resolve([:]).cacheHosts == 100_000)
        #expect(try resolve(["db.cache_hosts": "250000"]).cacheHosts == 250_000)
        let text = message { () throws(SettingsError) in try resolve(["db.cache_hosts": "0"]) }
        #expect(text.contains("must be positive"), "\(text)")
    }

    @Test func combinationsAreChecked() {
        #expect(
            message { () throws(SettingsError) in try resolve(["tls.cert": "/c.pem"]) }
                == "tls.cert and tls.key go together")
        #expect(
            message { () throws(SettingsError) in try resolve(["listen": "8080"]) }
                == "listen: expected HOST:PORT, got 8080")
    }
}
