import Foundation
import Gzip
import OOMKit
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `oomwatch-agent scan` as an operator runs it: the real binary on the OOMKitTests fixture
/// logs, plain, gzipped, on standard input, missing, and repeated. Checks what a shell
/// script piping its output would rely on: one `OOMEvent` JSON object a line, each kill
/// once, exit status 0 unless a file could not be read, and one stderr line per such file.
struct ScanCommandTests {
    /// A victim as the scan should name it.
    struct Kill: Equatable, CustomStringConvertible {
        var pid: Int?
        var comm: String
        var description: String { "\(pid.map(String.init) ?? "-") (\(comm))" }
    }

    /// A fixture and the kills it holds, in log order.
    struct Expectation: Sendable, CustomTestStringConvertible {
        var fixture: String
        var kills: [(Int?, String)]
        var testDescription: String { fixture }
    }

    static let expectations: [Expectation] = [
        Expectation(fixture: "real-6.18-memcg-v1-kmsg.log", kills: [(2208, "python3")]),
        Expectation(fixture: "real-6.18-memcg-v1-dmesg.log", kills: [(2208, "python3")]),
        Expectation(fixture: "kernel-5.4-kmsg-split.log", kills: [(777, "café")]),
        Expectation(fixture: "kernel-6.1-dmesg-caller-ids.log", kills: [(1234, "(sd-pam)")]),
        Expectation(fixture: "kernel-4.19-journal-short-iso.log", kills: [(3172, "Web Content")]),
        Expectation(fixture: "rhel6-2.6.32-syslog.log", kills: [(2592, "java")]),
        Expectation(fixture: "oomanalyser-proxmox-cgroup-oom.log", kills: [(3902942, "php-fpm")]),
        Expectation(
            fixture: "storm-5.10-syslog.log",
            kills: [(501, "stress-ng"), (502, "stress-ng"), (503, "stress-ng"), (504, "stress-ng")]),
        Expectation(
            fixture: "constraints-5.15-dmesg.log",
            kills: [(880, "numactl"), (990, "taskset"), (1010, "hog"), (1020, "hog2")]),
        Expectation(
            fixture: "journal-json.log",
            kills: [(1234, "Web Content"), (4242, "firefox"), (nil, "app-gnome-code-5555.scope")]),
        Expectation(fixture: "negatives.log", kills: []),
    ]

    // MARK: (1) one decodable event per kill

    @Test(arguments: expectations)
    func fixturePrintsOneEventLinePerKill(_ expected: Expectation) async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let result = try await scan.run([scan.fixture(expected.fixture)])

        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.isEmpty)
        let events = try Self.decodeLines(result.stdout)
        #expect(
            events.map { Kill(pid: $0.victim.pid, comm: $0.victim.comm) }
                == expected.kills.map { Kill(pid: $0.0, comm: $0.1) })
        #expect(Set(events.map(\.id)).count == events.count, "every printed event has its own id")
        for event in events {
            #expect(!event.id.isEmpty)
            #expect(event.raw?.isEmpty == false, "the kernel lines travel with the event")
        }
    }

    @Test func memcgKillCarriesItsKernelFields() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let result = try await scan.run([scan.fixture("real-6.18-memcg-v1-kmsg.log")])
        let events = try Self.decodeLines(result.stdout)
        try #require(events.count == 1)
        let event = events[0]
        #expect(event.source == .kernel)
        #expect(event.scope == .memcg)
        #expect(event.victim.anonRssKB == 50816)
        #expect(event.victim.cgroup == "/workload/batch-42/oomtest")
        #expect(event.trigger?.comm == "python3")
        #expect(event.memcg?.limitKB == 51200)
        #expect(event.uptimeS == 105.122596)
    }

    // MARK: (2) gzip in, same events out

    @Test(arguments: ["real-6.18-memcg-v1-kmsg.log", "storm-5.10-syslog.log", "journal-json.log"])
    func gzippedFileGivesIdenticalOutput(_ fixture: String) async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let plain = scan.fixture(fixture)
        let gz = try scan.gzipCopy(of: plain)

        let fromPlain = try await scan.run([plain])
        let fromGzip = try await scan.run([gz])
        #expect(fromGzip.status == 0, "stderr: \(fromGzip.stderr)")
        #expect(fromGzip.stderr.isEmpty)
        #expect(!fromPlain.stdout.isEmpty)
        #expect(fromGzip.stdout == fromPlain.stdout)
    }

    /// Compressed input is read 64 KiB at a time; a kill far past the first read must come
    /// out the same as from the plain file.
    @Test func largeGzipSpanningManyReadsGivesIdenticalOutput() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        // Hex noise barely compresses: ~640 KiB of it is ~320 KiB of .gz, five 64 KiB reads.
        var generator = SplitMix64(seed: 42)
        var text = ""
        for i in 0..<8000 {
            text += "noise line \(i) " + String(generator.next(), radix: 16) + String(generator.next(), radix: 16)
            text += String(generator.next(), radix: 16) + String(generator.next(), radix: 16) + "\n"
        }
        text += try String(contentsOfFile: scan.fixture("real-6.18-memcg-v1-kmsg.log"), encoding: .utf8)
        let plain = scan.directory + "/big.log"
        try Data(text.utf8).write(to: URL(fileURLWithPath: plain))
        let gz = try scan.gzipCopy(of: plain)
        let gzSize = try #require(FileManager.default.attributesOfItem(atPath: gz)[.size] as? Int)
        #expect(gzSize > 3 * 65536, "the .gz must need several reads to be a useful test")

        let fromPlain = try await scan.run([plain])
        let fromGzip = try await scan.run([gz])
        #expect(fromGzip.status == 0, "stderr: \(fromGzip.stderr)")
        let events = try Self.decodeLines(fromGzip.stdout)
        #expect(events.map(\.victim.pid) == [2208])
        #expect(fromGzip.stdout == fromPlain.stdout)
    }

    @Test func truncatedGzipExitsNonZeroAndNamesTheFile() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let gz = try scan.gzipCopy(of: scan.fixture("storm-5.10-syslog.log"))
        let bytes = try #require(FileManager.default.contents(atPath: gz))
        let cut = scan.directory + "/cut.log.gz"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))

        let result = try await scan.run([cut])
        #expect(result.status != 0)
        let lines = Self.lines(result.stderr)
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.contains(cut) == true, "stderr: \(result.stderr)")
        // Whatever it did print is still well-formed.
        _ = try Self.decodeLines(result.stdout)
    }

    // MARK: (3) standard input

    /// `scan -` through a pipe, `scan` with stdin redirected from the file, and `scan -`
    /// fed a .gz: all print what `scan FILE` prints. (The kmsg fixture has no wall-clock
    /// timestamps, so the reference time — file mtime versus now — cannot change its event.)
    @Test func standardInputGivesTheSameEventsAsTheFile() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let file = scan.fixture("real-6.18-memcg-v1-kmsg.log")
        let gz = try scan.gzipCopy(of: file)
        let fromFile = try await scan.run([file])
        #expect(fromFile.status == 0)
        #expect(try Self.decodeLines(fromFile.stdout).count == 1)

        let shellForms = [
            ("dash through a pipe", #"cat "$1" | exec "$0" scan -"#, file),
            ("no arguments, redirected", #"exec "$0" scan < "$1""#, file),
            ("dash, gzip through a pipe", #"cat "$1" | exec "$0" scan -"#, gz),
        ]
        for (name, script, input) in shellForms {
            let result = try await Command.run(
                "/bin/sh", ["-c", script, scan.agent, input], in: scan.directory, timeout: .seconds(10))
            #expect(result.status == 0, "\(name): stderr: \(result.stderr)")
            #expect(result.stderr.isEmpty, "\(name)")
            #expect(result.stdout == fromFile.stdout, "\(name)")
        }
    }

    // MARK: (4) nothing to report

    @Test func fileWithoutKillsExitsZeroAndPrintsNothing() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let empty = scan.directory + "/empty.log"
        _ = FileManager.default.createFile(atPath: empty, contents: nil)
        for arguments in [[scan.fixture("negatives.log")], [empty], ["/dev/null"], []] {
            // `[]` reads standard input, which Command.run ties to /dev/null.
            let result = try await scan.run(arguments)
            #expect(result.status == 0, "\(arguments): stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments)")
            #expect(result.stderr.isEmpty, "\(arguments)")
        }
    }

    // MARK: (5) unreadable input

    @Test func unreadableFileExitsNonZeroWithOneStderrLineNamingIt() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let missing = scan.directory + "/no-such-file.log"
        // A directory opens fine and fails on read(2) with EISDIR: the other error path.
        let directory = scan.directory + "/a-directory"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        for path in [missing, directory] {
            let result = try await scan.run([path])
            #expect(result.status != 0, "\(path)")
            #expect(result.stdout.isEmpty, "\(path)")
            let lines = Self.lines(result.stderr)
            #expect(lines.count == 1, "stderr: \(result.stderr)")
            #expect(lines.first?.contains(path) == true, "stderr: \(result.stderr)")
        }
    }

    /// One bad file among good ones: the good ones are still scanned, the exit status
    /// still says something went wrong.
    @Test func missingFileAmongGoodOnesStillPrintsTheirEvents() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let missing = scan.directory + "/gone.log"
        let result = try await scan.run([
            scan.fixture("real-6.18-memcg-v1-kmsg.log"), missing, scan.fixture("storm-5.10-syslog.log"),
        ])
        #expect(result.status != 0)
        let lines = Self.lines(result.stderr)
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.contains(missing) == true)
        #expect(try Self.decodeLines(result.stdout).map(\.victim.pid) == [2208, 501, 502, 503, 504])
    }

    // MARK: (6) each kill once

    @Test func sameKillReadTwiceIsPrintedOnce() async throws {
        let scan = try ScanRun()
        defer { scan.cleanup() }
        let kmsg = scan.fixture("real-6.18-memcg-v1-kmsg.log")
        let dmesg = scan.fixture("real-6.18-memcg-v1-dmesg.log")
        let storm = scan.fixture("storm-5.10-syslog.log")
        let gz = try scan.gzipCopy(of: kmsg)
        let kmsgOnce = try await scan.run([kmsg])

        for arguments in [[kmsg, kmsg], [kmsg, dmesg], [kmsg, gz]] {
            let result = try await scan.run(arguments)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            // The first reading wins, so the output is exactly that of the first file alone.
            #expect(result.stdout == kmsgOnce.stdout, "\(arguments.map { ($0 as NSString).lastPathComponent })")
        }
        let stormTwice = try await scan.run([storm, storm])
        #expect(try Self.decodeLines(stormTwice.stdout).map(\.victim.pid) == [501, 502, 503, 504])
    }

    // MARK: helpers

    /// Splits `text` into lines; a final line without `\n` still counts.
    static func lines(_ text: String) -> [Substring] {
        guard !text.isEmpty else { return [] }
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { parts.removeLast() }
        return parts
    }

    /// Every stdout line as an `OOMEvent`; fails on a blank line, an unterminated last
    /// line, or a line that does not decode.
    static func decodeLines(_ stdout: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [OOMEvent] {
        guard !stdout.isEmpty else { return [] }
        #expect(stdout.hasSuffix("\n"), "output ends with a newline", sourceLocation: sourceLocation)
        let decoder = JSONDecoder()
        return try lines(stdout).map { line in
            #expect(!line.isEmpty, "no blank lines", sourceLocation: sourceLocation)
            return try decoder.decode(OOMEvent.self, from: Data(line.utf8))
        }
    }
}

/// One test's binary and scratch directory.
private struct ScanRun {
    let agent: String
    let directory: String
    let root: String

    /// Finds `oomwatch-agent`: what `Binaries.locate()` finds (OOMWATCH_BIN_DIR or a
    /// fresh .build/release), else the .build/debug one `swift build --build-tests`
    /// leaves. Cancels the test only when neither exists.
    init() throws {
        // This file is <root>/Tests/EndToEndTests/ScanCommandTests.swift.
        root =
            URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        switch try Binaries.locate() {
        case .found(let binaries):
            agent = binaries.agent
        case .skip(let reason):
            let debug = root + "/.build/debug/oomwatch-agent"
            guard FileManager.default.isExecutableFile(atPath: debug) else {
                try Test.cancel(Comment(rawValue: "oomwatch-agent not built: \(reason); and no \(debug)"))
            }
            agent = debug
        }
        directory = NSTemporaryDirectory() + "oomwatch-scan-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func fixture(_ name: String) -> String {
        root + "/Tests/OOMKitTests/Fixtures/" + name
    }

    func run(_ arguments: [String]) async throws -> CommandResult {
        try await Command.run(agent, ["scan"] + arguments, in: directory, timeout: .seconds(10))
    }

    /// `path` gzipped into the scratch directory, with the original's mtime: the scan
    /// takes a file's mtime as the reference time for year-less timestamps, so a fresh
    /// mtime could legitimately change the output.
    func gzipCopy(of path: String) throws -> String {
        let data = try #require(FileManager.default.contents(atPath: path))
        let target = directory + "/" + (path as NSString).lastPathComponent + "-\(UUID().uuidString.prefix(8)).gz"
        try Data(Gzip.compress([UInt8](data))).write(to: URL(fileURLWithPath: target))
        let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate]
        try FileManager.default.setAttributes([.modificationDate: modified as Any], ofItemAtPath: target)
        return target
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A seeded generator, so the noise in the large-gzip test is the same every run.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
