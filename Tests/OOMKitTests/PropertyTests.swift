import Gzip
import OOMKit
import Testing

/// Random, truncated, shuffled and mutated logs never crash the scanner and never give an
/// event without a pid and a comm. Seeded and bounded so it runs in about a second.
@Suite struct PropertyTests {
    static let corpus = [
        "oomanalyser-archlinux-6-1-1.log", "oomanalyser-proxmox-cgroup-oom.log", "oomanalyser-rhel7.log",
        "real-6.18-memcg-v1-kmsg.log", "rhel6-2.6.32-syslog.log", "kernel-5.4-kmsg-split.log",
        "kernel-6.1-dmesg-caller-ids.log", "storm-5.10-syslog.log", "journal-json.log",
        "syslog-userspace-killers.log", "constraints-5.15-dmesg.log", "negatives.log",
        "earlyoom-every-format.log", "late-start-memcg-4.14-dmesg.log", "rhel7-uid-syslog.log", "pasted-localized.log",
    ]

    private func check(_ events: [OOMEvent], _ note: @autoclosure () -> String) {
        for e in events {
            #expect(!e.victim.comm.isEmpty, "\(note())")
            #expect(e.id.count == 32, "\(note())")
            if e.source == .systemdOomd {
                #expect(e.victim.cgroup?.hasPrefix("/") == true, "\(note())")
                #expect(e.victim.pid == nil, "\(note())")
            } else {
                #expect((e.victim.pid ?? 0) > 0, "\(note())")
                // The kernel keeps 15 bytes of a name; a longer one holds a prefix.
                #expect(e.victim.comm.utf8.count <= 15, "\(note())")
            }
        }
    }

    @Test func hostileInputNeverCrashesNorInventsVictims() throws {
        var rng = SplitMix64(seed: 0x00C0_FFEE)
        let files = try Self.corpus.map { try Fixture.bytes($0) }
        let alphabet = Array("0123456789abcdef ()[]:,;=-_/.\\\"{}\nKkSIGoom-kill:Killed process".utf8)
        for round in 0..<120 {
            let base = files[Int(rng.next() % UInt64(files.count))]
            var lines = base.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
            switch round % 4 {
            case 0:
                lines.shuffle(using: &rng)
            case 1:
                // Cut lines short at random points.
                for i in lines.indices where rng.next() % 3 == 0 {
                    lines[i] = Array(lines[i].prefix(Int(rng.next() % UInt64(lines[i].count + 1))))
                }
            case 2:
                // Flip bytes.
                for i in lines.indices where rng.next() % 4 == 0 && !lines[i].isEmpty {
                    let j = Int(rng.next() % UInt64(lines[i].count))
                    lines[i][j] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
            default:
                // Pure noise from a kernel-ish alphabet, plus raw random bytes.
                lines = (0..<200).map { _ in
                    (0..<Int(rng.next() % 120)).map { _ in
                        rng.next() % 5 == 0
                            ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    }
                }
            }
            let bytes = Array(lines.joined(separator: [0x0A]))
            let events = scan(bytes)
            check(events, "round \(round)")
            // Chunk boundaries never matter.
            let chunk = Int(rng.next() % 97) + 1
            #expect(scan(bytes, chunkSize: chunk) == events, "round \(round), chunk \(chunk)")
            check(scan(bytes, fastPath: false), "round \(round), slow path")
        }
    }

    /// Reports indented, prefixed (line numbers, quoting marks, a syslog column) and cut
    /// at a random line, as people paste them: every kill found is one of the original's
    /// victims with its exact name, the fast path agrees, and an uncut paste finds them all.
    @Test func pastedPrefixedAndTruncatedReports() throws {
        var rng = SplitMix64(seed: 0x0BAD_CAFE)
        let prefixes = ["  ", "\t", "> ", ">> ", "1: ", "  42 ", "0007) ", "| "]
        for round in 0..<80 {
            let name = Self.corpus[Int(rng.next() % UInt64(Self.corpus.count))]
            let original = try scanFixture(name)
            let victims = Set(original.map { "\($0.victim.pid.map(String.init) ?? "-") \($0.victim.comm)" })
            var lines = try Fixture.text(name).split(separator: "\n").map(String.init)
            // One paste style for the whole text (a person pastes a block at once) or one
            // per line (a file of quoted fragments).
            let perLine = round % 2 == 1
            let style = prefixes[Int(rng.next() % UInt64(prefixes.count))]
            for i in lines.indices {
                lines[i] = (perLine ? prefixes[Int(rng.next() % UInt64(prefixes.count))] : style) + lines[i]
            }
            let cut = round % 3 == 0 ? Int(rng.next() % UInt64(lines.count + 1)) : lines.count
            let bytes = Array((lines.prefix(cut).joined(separator: "\n") + "\n").utf8)
            let events = scan(bytes)
            check(events, "round \(round) \(name)")
            #expect(scan(bytes, fastPath: false) == events, "round \(round) \(name)")
            for e in events {
                let key = "\(e.victim.pid.map(String.init) ?? "-") \(e.victim.comm)"
                #expect(victims.contains(key), "round \(round) \(name): \(key)")
            }
            if cut == lines.count, !perLine {
                #expect(events.map(\.id) == original.map(\.id), "round \(round) \(name) '\(style)'")
            }
        }
    }

    @Test func truncatedAtEveryByteOfAReport() throws {
        let bytes = try Fixture.bytes("kernel-5.4-kmsg-split.log")
        for cut in stride(from: 0, through: bytes.count, by: 3) {
            let events = scan(Array(bytes[0..<cut]))
            check(events, "cut \(cut)")
            #expect(events.count <= 1)
        }
    }

    @Test func overlongLinesAreCutNotHoarded() {
        var scanner = KernelLogScanner()
        scanner.maxLineBytes = 4096
        var events: [OOMEvent] = []
        let junk = [UInt8](repeating: 0x78, count: 10_000)
        for _ in 0..<50 { events += scanner.feed(junk) }
        events += scanner.feed(
            Array("\nOut of memory: Killed process 5 (x) total-vm:1kB, anon-rss:1kB, file-rss:0kB\n".utf8))
        events += scanner.finish()
        #expect(events.map(\.victim.pid) == [5])
    }

    /// `.gz` logs go through the streaming inflater in pieces, as `scan` reads them.
    @Test func gzipStreamGivesTheSameEvents() throws {
        let plain = try Fixture.bytes("storm-5.10-syslog.log") + (try Fixture.bytes("oomanalyser-rhel7.log"))
        let gz = try Gzip.compress(plain)
        var inflater = try GzipInflater()
        var scanner = KernelLogScanner(parser: LogLineParser(options: .init(referenceEpochSeconds: 1_767_225_600)))
        var events: [OOMEvent] = []
        var i = 0
        while i < gz.count {
            let end = min(i + 333, gz.count)
            events += scanner.feed(try inflater.inflate(Array(gz[i..<end])))
            i = end
        }
        events += scanner.finish()
        let finished = inflater.finished
        #expect(finished)
        #expect(events == scan(plain))
        #expect(events.count == 5)
    }

    /// The fast path's byte search finds every needle at every alignment, including the
    /// last bytes of a buffer, and nothing else.
    @Test func fastPathNeedlesAtEveryOffset() {
        let needles = [
            "oom", "Kill process", "kill process", "Killed process", "Killed /", "SIG", "-- B", "Killing process",
            "killing process", "Task in ", "Tasks state",
        ]
        let misses = [
            "rfkill:", "oo m", "Kil", "Killed by", "SI G", "-- b", "o", "Kill", "Task", "Tasks s", "Killing", "Tainted",
        ]
        for offset in 0..<40 {
            for tail in [0, 1, 5, 17] {
                let pad = String(repeating: "x", count: offset)
                let after = String(repeating: "y", count: tail)
                for needle in needles {
                    let bytes = Array((pad + needle + after).utf8)
                    #expect(bytes.withUnsafeBytes { KernelLogScanner.lineMayMatter($0) }, "\(needle) at \(offset)")
                }
                for miss in misses {
                    let bytes = Array((pad + miss + after).utf8)
                    #expect(!bytes.withUnsafeBytes { KernelLogScanner.lineMayMatter($0) }, "\(miss) at \(offset)")
                }
            }
        }
    }
}
