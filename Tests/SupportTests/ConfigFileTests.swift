import OOMKit
import Testing

@Suite struct ConfigFileTests {
    @Test func nestedMapsListsCommentsAndQuotes() throws {
        let text = """
            # agent settings
            collector: "https://collector.example:8443"   # trailing comment
            interval: 5
            upload:
              ca_file: /etc/oomwatch/ca.pem
              gzip: true
              retry:
                max_backoff: 300
            sources:
              - meminfo
              - 'pressure'
            hostname: 'web #1'
            """
        let file = try ConfigFile.parse(text)
        #expect(file.string("collector") == "https://collector.example:8443")
        #expect(file.string("interval") == "5")
        #expect(file.string("upload.ca_file") == "/etc/oomwatch/ca.pem")
        #expect(file.string("upload.retry.max_backoff") == "300")
        #expect(file.list("sources") == ["meminfo", "pressure"])
        #expect(file.string("hostname") == "web #1")
    }

    @Test(arguments: [
        ("a: [1, 2]", 1), ("ok: 1\n\tbad: 2", 2), ("just words", 1), ("k: \"open", 1), ("k: &anchor x", 1),
    ])
    func unsupportedSyntaxNamesTheLine(text: String, line: Int) {
        #expect(throws: ConfigFileError.self) { try ConfigFile.parse(text) }
        do {
            _ = try ConfigFile.parse(text)
        } catch {
            #expect(error.line == line)
        }
    }

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let file = try ConfigFile.parse("interval: 10\nupload:\n  ca_file: /file.pem\n")
        let layers = ConfigLayers(
            file: file, environment: ["OOMWATCH_INTERVAL": "7", "OOMWATCH_UPLOAD_CA_FILE": "/env.pem"])
        #expect(try layers.int("interval", flag: 3, default: 1) == 3)
        #expect(try layers.int("interval", default: 1) == 7)
        #expect(layers.string("upload.ca_file") == "/env.pem")
        let fileOnly = ConfigLayers(file: file, environment: [:])
        #expect(try fileOnly.int("interval", default: 1) == 10)
        #expect(try fileOnly.int("missing", default: 1) == 1)
        #expect(try fileOnly.bool("upload.gzip", default: true))
    }

    @Test func badValueSaysWhereItCameFrom() throws {
        let layers = ConfigLayers(environment: ["OOMWATCH_INTERVAL": "soon"])
        do {
            _ = try layers.int("interval", default: 1)
            Issue.record("accepted a non-number")
        } catch {
            #expect(error.description.contains("OOMWATCH_INTERVAL"))
            #expect(error.description.contains("soon"))
        }
    }

    @Test func keysRememberTheirLine() throws {
        let file = try ConfigFile.parse("# settings\ninterval: 5\ndb:\n  synchronus: full\nlist:\n  - a\n  - b\n")
        #expect(file.lines == ["interval": 2, "db": 3, "db.synchronus": 4, "list": 5])
        #expect(file.keys == ["interval", "db.synchronus", "list"])
        // Lines are for messages only: the same settings compare equal.
        #expect(file == ConfigFile(values: ["interval": "5", "db.synchronus": "full"], lists: ["list": ["a", "b"]]))
    }

    @Test(arguments: [
        ("db.synchronus", "db.synchronous"), ("synchronous", "db.synchronous"), ("intervall", "interval"),
        ("upload.ca_fil", "upload.ca_file"), ("colour", nil), ("advice.trend_hour", "advice.trend_hours"),
    ])
    func nearestKey(typo: String, expected: String?) {
        let known: Set<String> = ["db.synchronous", "interval", "upload.ca_file", "advice.trend_hours", "log.level"]
        #expect(ConfigKeys.nearest(to: typo, in: known) == expected)
    }

    @Test func unknownFileKeyIsAnErrorWithFileLineAndSuggestion() throws {
        let file = try ConfigFile.parse("interval: 5\ndb:\n  synchronus: full\n  path: /x\n")
        let layers = ConfigLayers(file: file, filePath: "/etc/oomwatch/c.yaml", environment: [:])
        _ = try layers.int("interval", default: 1)
        _ = layers.string("db.path")
        _ = try layers.choice("db.synchronous", allowed: ["full", "normal"], default: "full")
        #expect(layers.knownKeys() == ["interval", "db.path", "db.synchronous"])
        do {
            try layers.checkUnknownKeys()
            Issue.record("accepted db.synchronus")
        } catch {
            #expect(
                error.message
                    == "/etc/oomwatch/c.yaml line 3: db.synchronus: unknown setting; did you mean db.synchronous?")
        }
        // Every key read (or declared read elsewhere): no error.
        let clean = ConfigLayers(file: file, environment: [:])
        _ = clean.string("interval")
        try clean.checkUnknownKeys(also: ["db.synchronus", "db.path"])
    }

    @Test func unknownVariableIsAWarningOnlyWhenCloseToASetting() {
        let environment = [
            "OOMWATCH_DB_SYNCHRONUS": "full", "OOMWATCH_DB_SYNCHRONOUS": "full", "OOMWATCH_BIN_DIR": "/bin",
            "OOMWATCH_CONFIG": "/c.yaml", "OOMWATCH_CONFIGG": "/c.yaml", "HOME": "/root",
        ]
        let layers = ConfigLayers(environment: environment)
        _ = layers.string("db.synchronous")
        #expect(
            layers.environmentWarnings(also: ["OOMWATCH_CONFIG"]) == [
                "environment variable OOMWATCH_CONFIGG sets nothing; did you mean OOMWATCH_CONFIG?",
                "environment variable OOMWATCH_DB_SYNCHRONUS sets nothing; did you mean OOMWATCH_DB_SYNCHRONOUS?",
            ])
    }
}
