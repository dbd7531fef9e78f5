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
}
