import Foundation
import Testing

extension Faults {
    /// The real binaries refuse a mistyped enumerated setting before doing anything, with
    /// a message naming the key and where the value came from (file, variable or flag),
    /// and a non-zero exit: never a silent fall back to the default.
    @Test func mistypedEnumeratedSettingStopsEachBinary() throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("settings")
        defer { dir.remove() }
        dir.write("collector.yaml", "db:\n  synchronous: ful\n")
        dir.write("agent.yaml", "log_level: inf\n")
        let cases: [(String, [String], [String: String], String)] = [
            (
                bin.collector, ["--config", dir.path + "/collector.yaml", "--db", dir.path + "/db.sqlite"], [:],
                "\(dir.path)/collector.yaml key db.synchronous: `ful` is not one of full, normal"
            ),
            (
                bin.collector, ["--db", dir.path + "/db.sqlite"], ["OOMWATCH_LOG_LEVEL": "verbose"],
                "OOMWATCH_LOG_LEVEL: `verbose` is not one of trace"
            ),
            (
                bin.agent, ["snapshot", "--config", dir.path + "/agent.yaml"], [:],
                "\(dir.path)/agent.yaml key log_level: `inf` is not one of trace"
            ),
            (
                bin.agent, ["snapshot", "--config", dir.path + "/agent.yaml", "--log-level", "warn"], [:],
                "--log-level: `warn` is not one of trace"
            ),
        ]
        for (binary, arguments, environment, expected) in cases {
            let (status, output) = try runAgent(binary, arguments, environment: environment)
            #expect(status != 0, "\(arguments): exit \(status)")
            #expect(output.contains(expected), "\(arguments): \(output)")
        }
        // Nothing was started: the database the collector would have opened is not there.
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/db.sqlite"))
    }

    /// A mistyped key name, which each binary used to ignore silently, stops it before it
    /// does anything, with the file, the key's line and the nearest key it knows; a
    /// mistyped `OOMWATCH_*` variable only warns (the environment is shared).
    @Test func mistypedKeyNameStopsEachBinary() throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("settings-keys")
        defer { dir.remove() }
        dir.write("collector.yaml", "listen: 127.0.0.1:0\ndb:\n  synchronus: full\n")
        dir.write("agent.yaml", "interval: 5\nupload:\n  verifytls: false\n")
        dir.write("cli.yaml", "server: http://127.0.0.1:1\nfromat: json\n")
        let cli = URL(fileURLWithPath: bin.agent).deletingLastPathComponent().path + "/oomwatch"
        var cases: [(String, [String], String)] = [
            (
                bin.collector, ["--config", dir.path + "/collector.yaml", "--db", dir.path + "/db.sqlite"],
                "\(dir.path)/collector.yaml line 3: db.synchronus: unknown setting; did you mean db.synchronous?"
            ),
            (
                bin.agent, ["snapshot", "--config", dir.path + "/agent.yaml"],
                "\(dir.path)/agent.yaml line 3: upload.verifytls: unknown setting; did you mean upload.verify_tls?"
            ),
        ]
        if access(cli, X_OK) == 0 {
            cases.append(
                (
                    cli, ["hosts", "--config", dir.path + "/cli.yaml"],
                    "\(dir.path)/cli.yaml line 2: fromat: unknown setting; did you mean format?"
                ))
        }
        for (binary, arguments, expected) in cases {
            let (status, output) = try runAgent(binary, arguments, environment: [:])
            #expect(status != 0, "\(arguments): exit \(status)")
            #expect(output.contains(expected), "\(arguments): \(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/db.sqlite"))

        // A near-miss variable: the agent warns and carries on.
        dir.write("agent-ok.yaml", "interval: 5\n")
        let (status, output) = try runAgent(
            bin.agent, ["snapshot", "--config", dir.path + "/agent-ok.yaml"],
            environment: ["OOMWATCH_TOP_PROCESSSES": "5", "OOMWATCH_SOMETHING_ELSE": "x"])
        #expect(status == 0, "\(output)")
        #expect(
            output.contains(
                "warning: environment variable OOMWATCH_TOP_PROCESSSES sets nothing; did you mean OOMWATCH_TOP_PROCESSES?"
            ),
            "\(output)")
        #expect(!output.contains("OOMWATCH_SOMETHING_ELSE"))
    }
}
