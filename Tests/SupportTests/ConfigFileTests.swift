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
}
