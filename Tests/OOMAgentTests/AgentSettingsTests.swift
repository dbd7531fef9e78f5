import OOMKit
import Testing

@testable import OOMAgent

/// The agent's settings table (`AgentConfig.resolve`): precedence, and a mistyped value
/// is an error naming the key and where it came from, never the default.
@Suite struct AgentSettingsTests {
    func resolve(
        _ text: String, environment: [String: String] = [:], flags: AgentConfig.Flags = AgentConfig.Flags()
    ) throws -> AgentConfig {
        let layers = ConfigLayers(
            file: try ConfigFile.parse(text), filePath: "/etc/oomwatch/agent.yaml", environment: environment)
        return try AgentConfig.resolve(layers: layers, flags: flags)
    }

    func message(_ body: () throws -> AgentConfig) -> String {
        do {
            _ = try body()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("log_level: inf\n", [String: String](), "/etc/oomwatch/agent.yaml key log_level: `inf`"),
        ("", ["OOMWATCH_LOG_LEVEL": "verbose"], "OOMWATCH_LOG_LEVEL: `verbose`"),
        ("oom_score_adj: of\n", [:], "/etc/oomwatch/agent.yaml key oom_score_adj: `of`"),
        ("sources:\n  kmsg: ture\n", [:], "/etc/oomwatch/agent.yaml key sources.kmsg: `ture`"),
        ("upload:\n  verify_tls: nope\n", [:], "key upload.verify_tls: `nope` is not true or false"),
    ])
    func typoIsAnErrorNamingKeyAndOrigin(text: String, environment: [String: String], expected: String) {
        let text = message { try resolve(text, environment: environment) }
        #expect(text.contains(expected), "\(text)")
    }

    @Test func flagTypoNamesTheFlag() {
        var flags = AgentConfig.Flags()
        flags.logLevel = "warn"
        let text = message { try resolve("", flags: flags) }
        #expect(text.hasPrefix("--log-level: `warn` is not one of trace, debug"), "\(text)")
    }

    @Test func enumeratedValuesAndPrecedence() throws {
        #expect(try resolve("log_level: Debug\n").logLevel == "debug")
        #expect(try resolve("oom_score_adj: off\n").oomScoreAdj == nil)
        #expect(try resolve("oom_score_adj: -500\n").oomScoreAdj == -500)
        #expect(try resolve("").oomScoreAdj == -900)
        let file = "log_level: error\ninterval: 30\n"
        #expect(try resolve(file).logLevel == "error")
        #expect(try resolve(file, environment: ["OOMWATCH_LOG_LEVEL": "notice"]).logLevel == "notice")
        var flags = AgentConfig.Flags()
        flags.logLevel = "trace"
        flags.interval = 5
        let flagged = try resolve(
            file, environment: ["OOMWATCH_LOG_LEVEL": "notice", "OOMWATCH_INTERVAL": "20"], flags: flags)
        #expect(flagged.logLevel == "trace")
        #expect(flagged.intervalSeconds == 5)
        #expect(try resolve(file, environment: ["OOMWATCH_INTERVAL": "20"]).intervalSeconds == 20)
        #expect(try resolve(file).intervalSeconds == 30)
    }

    @Test(arguments: [
        (
            "interval: 5\nupload:\n  verifytls: false\n",
            "/etc/oomwatch/agent.yaml line 3: upload.verifytls: unknown setting; did you mean upload.verify_tls?"
        ),
        ("log_levl: info\n", "/etc/oomwatch/agent.yaml line 1: log_levl: unknown setting; did you mean log_level?"),
        ("critical_service:\n  - sshd\n", "line 1: critical_service: unknown setting; did you mean critical_services?"),
        ("spool:\n  max: 64\n", "line 2: spool.max: unknown setting; did you mean spool.max_mb?"),
        ("colour: blue\n", "/etc/oomwatch/agent.yaml line 1: colour: unknown setting"),
    ])
    func unknownKeyNamesFileLineAndNearestKey(text: String, expected: String) {
        let text = message { try resolve(text) }
        #expect(text.hasSuffix(expected), "\(text)")
    }

    /// The shipped agent.yaml sets only keys the settings table reads.
    @Test func shippedExampleSetsOnlyKnownKeys() throws {
        let repo = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let bytes = try #require(try FileIO.readAll("/" + repo + "/agent-config/agent.yaml"))
        let c = try resolve(String(decoding: bytes, as: UTF8.self))
        #expect(c.collector == "https://oomwatch.example.internal:8443")
    }
}
