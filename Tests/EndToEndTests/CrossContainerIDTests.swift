import Foundation
import Gzip
import OOMKit
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 12, points 7 and 8, on a real kernel OOM kill: the kill the running agent sent
/// has the same id when read back from every container people keep (`/dev/kmsg`, `dmesg`,
/// `dmesg -T`, syslog, `journalctl -k -o json`), and `scan --send` of those logs stores
/// nothing twice.
@Suite(.serialized)
struct CrossContainerIDTests {
    @Test(.timeLimit(.minutes(3)))
    func realKillHasOneIDInEveryContainerAndBackfillStoresItOnce() async throws {
        try await E2EWorld.forRealKills(probe: "ids").within(Self.scenario)
    }

    static func scenario(_ world: E2EWorld) async throws {
        try await world.startCollector()
        try await world.startAgent()
        try await world.waitForHostRegistered()
        let kill = try await world.makeOOMKill(number: 7)
        let sent = try await world.waitForEvent(comm: kill.comm, pid: kill.pid, within: .seconds(15))

        // The same kernel log in each container. Other kills on this host are in them too:
        // only ours (its unique comm) is looked at.
        let dir = world.directory
        let records = try readKmsg()
        let bootID = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let uptime =
            Double(
                try String(contentsOfFile: "/proc/uptime", encoding: .utf8).split(separator: " ")[0]) ?? 0
        let bootEpoch = Date().timeIntervalSince1970 - uptime
        try (records.joined(separator: "\n") + "\n").write(toFile: dir + "/kmsg.log", atomically: true, encoding: .utf8)
        try await shell("dmesg > '\(dir)/dmesg.log'", in: dir)
        try await shell("TZ=UTC LC_ALL=C dmesg -T > '\(dir)/dmesg-T.log'", in: dir)
        var syslog = ""
        var journal = ""
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.dateFormat = "MMM d HH:mm:ss"
        for line in records {
            guard let r = KmsgRecord.parse(line), r.facility == 0 else { continue }
            let wall = bootEpoch + Double(r.usec) / 1e6
            let day = stamp.string(from: Date(timeIntervalSince1970: wall))
            // rsyslog's classic format: the day padded to two columns.
            let parts = day.split(separator: " ")
            let padded = parts[0] + " " + String(repeating: " ", count: 2 - parts[1].count) + parts[1] + " " + parts[2]
            syslog +=
                padded + " \(world.host) kernel: [" + String(format: "%5d.%06d", r.usec / 1_000_000, r.usec % 1_000_000)
                + "] " + r.message + "\n"
            let entry: [String: String] = [
                "_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "_HOSTNAME": world.host,
                "_BOOT_ID": bootID.replacingOccurrences(of: "-", with: ""), "MESSAGE": r.message,
                "_SOURCE_MONOTONIC_TIMESTAMP": String(r.usec), "__REALTIME_TIMESTAMP": String(Int64(wall * 1e6)),
                "PRIORITY": String(r.level),
            ]
            journal +=
                String(
                    decoding: try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys]), as: UTF8.self)
                + "\n"
        }
        try syslog.write(toFile: dir + "/kern.log", atomically: true, encoding: .utf8)
        try journal.write(toFile: dir + "/journal.json", atomically: true, encoding: .utf8)

        for file in ["kmsg.log", "dmesg.log", "dmesg-T.log", "kern.log", "journal.json"] {
            let result = try await Command.run(
                world.binaries.agent, ["scan", "--tz", "UTC", dir + "/" + file], in: dir, timeout: .seconds(30))
            #expect(result.status == 0, "\(file): \(result.stderr)")
            let ours = try decode(result.stdout).filter { $0.victim.comm == kill.comm }
            #expect(ours.map(\.id) == [sent.id], "\(file): the agent sent \(sent.id)")
            #expect(ours.first?.victim.pid == kill.pid, "\(file)")
            #expect(ours.first?.scope == .memcg, "\(file)")
        }

        // Backfill with the agent's settings: the kill the agent sent is already known.
        let backfill = [
            "scan", "--send", "--tz", "UTC", "--collector", world.serverURL, "--token-file", world.agentTokenPath,
            "--hostname", world.host, "--state-dir", dir + "/backfill-state",
        ]
        let first = try await Command.run(
            world.binaries.agent, backfill + [dir + "/dmesg-T.log"], in: dir, timeout: .seconds(60))
        #expect(first.status == 0, "\(first.stderr)")
        let summary1 = try #require(Summary(first.stderr), "no summary line in: \(first.stderr)")
        #expect(summary1.alreadyKnown >= 1)
        #expect(summary1.found == summary1.sent + summary1.alreadyKnown)
        // The same file and two other containers of it: nothing new.
        let again = try await Command.run(
            world.binaries.agent, backfill + [dir + "/dmesg-T.log", dir + "/kern.log", dir + "/journal.json"], in: dir,
            timeout: .seconds(60))
        let summary2 = try #require(Summary(again.stderr), "no summary line in: \(again.stderr)")
        #expect(summary2.sent == 0, "\(again.stderr)")
        #expect(summary2.alreadyKnown == summary2.found)
        let stored = try await world.queryEvents().filter { $0.victim.comm == kill.comm }
        #expect(stored.map(\.id) == [sent.id])
        print(
            "e2e ids: \(kill.comm) is \(sent.id) in kmsg, dmesg, dmesg -T, syslog and journal; backfill \(summary1), then \(summary2)"
        )
    }

    /// Every record /dev/kmsg holds now, as its lines read.
    static func readKmsg() throws -> [String] {
        let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw E2EError("cannot open /dev/kmsg: errno \(errno)") }
        defer { close(fd) }
        var out: [String] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EPIPE { continue }  // overwritten while reading: skip ahead
            guard n > 0 else { break }
            let text = String(decoding: buffer[0..<n], as: UTF8.self)
            // The record, without its dictionary lines and trailing newline.
            out.append(String(text.split(separator: "\n", omittingEmptySubsequences: false)[0]))
        }
        return out
    }

    static func shell(_ command: String, in dir: String) async throws {
        let result = try await Command.run("/bin/sh", ["-c", command], in: dir, timeout: .seconds(30))
        guard result.status == 0 else { throw E2EError("\(command) failed: \(result.stderr)") }
    }

    static func decode(_ stdout: String) throws -> [OOMEvent] {
        try stdout.split(separator: "\n").map { try JSONDecoder().decode(OOMEvent.self, from: Data($0.utf8)) }
    }

    /// `oomwatch-agent: N kills found, S sent, K already known`.
    struct Summary: CustomStringConvertible {
        var found: Int
        var sent: Int
        var alreadyKnown: Int
        var description: String { "\(found) found, \(sent) sent, \(alreadyKnown) already known" }

        init?(_ stderr: String) {
            guard let line = stderr.split(separator: "\n").last(where: { $0.contains(" kills found, ") }) else {
                return nil
            }
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count >= 3 else { return nil }
            (found, sent, alreadyKnown) = (numbers[0], numbers[1], numbers[2])
        }
    }
}

/// `scan --send`, `--tz` and `--year` as an operator runs them, against a real collector
/// on loopback (no kill needed: the fixtures hold them).
@Suite(.serialized)
struct ScanSendTests {
    @Test(.timeLimit(.minutes(2)))
    func backfillStoresEachKillOnceWithAProgressLineAndASummary() async throws {
        try await E2EWorld(binaries: Binaries.required()).within(Self.backfill)
    }

    /// The OOMKit fixtures (kills written from the printk formats).
    static var fixtures: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("OOMKitTests/Fixtures").path
    }

    /// The events the collector holds for the world's host, read with `oomwatch events`.
    static func storedEvents(_ world: E2EWorld) async throws -> [OOMEvent] {
        let listed = try await Command.run(
            world.binaries.cli,
            [
                "events", "--format", "json", "--server", world.serverURL, "--token", world.readToken, "--host",
                world.host, "--since", "3650d", "--limit", "100",
            ], in: world.directory)
        #expect(listed.status == 0, "\(listed.stderr)")
        return try JSONDecoder().decode([OOMEvent].self, from: Data(listed.stdout.utf8))
    }

    static func backfill(_ world: E2EWorld) async throws {
        let binaries = world.binaries
        try await world.startCollector()
        let fixtures = Self.fixtures
        // A large file (progress lines) holding a storm of four kills, then a rotated .gz.
        let big = world.directory + "/kern.log"
        var text = String(repeating: "Nov 20 03:59:59 batch-1 systemd[1]: Started session noise.\n", count: 1_200_000)
        text += try String(contentsOfFile: fixtures + "/storm-5.10-syslog.log", encoding: .utf8)
        try text.write(toFile: big, atomically: true, encoding: .utf8)
        let gz = world.directory + "/kern.log.2.gz"
        try Data(
            try Gzip.compress(Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/rhel7-uid-syslog.log"))))
        )
        .write(to: URL(fileURLWithPath: gz))
        let arguments = [
            "scan", "--send", "--collector", world.serverURL, "--token-file", world.agentTokenPath, "--hostname",
            world.host, "--state-dir", world.directory + "/state", big, gz,
        ]
        let first = try await Command.run(binaries.agent, arguments, in: world.directory, timeout: .seconds(60))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("MiB read"), "a progress line for the large file: \(first.stderr)")
        let s1 = try #require(CrossContainerIDTests.Summary(first.stderr), "\(first.stderr)")
        #expect((s1.found, s1.sent, s1.alreadyKnown) == (5, 5, 0), "\(s1)")
        let second = try await Command.run(binaries.agent, arguments, in: world.directory, timeout: .seconds(60))
        let s2 = try #require(CrossContainerIDTests.Summary(second.stderr), "\(second.stderr)")
        #expect((s2.found, s2.sent, s2.alreadyKnown) == (5, 0, 5), "\(s2)")
        let stored = try await Self.storedEvents(world)
        #expect(stored.compactMap(\.victim.pid).sorted() == [501, 502, 503, 504, 2301])
        #expect(stored.allSatisfy { $0.host == world.host })

        // No collector: a clear error, a non-zero exit, and the kills stay spooled for next time.
        await world.collector?.stop(signal: SIGKILL, timeout: .seconds(5))
        let down = try await Command.run(
            binaries.agent,
            [
                "scan", "--send", "--collector", "http://127.0.0.1:\(try Loopback.freePort())", "--token-file",
                world.agentTokenPath, "--hostname", world.host, "--state-dir", world.directory + "/state2",
                fixtures + "/rhel7-uid-syslog.log",
            ],
            in: world.directory, timeout: .seconds(90))
        #expect(down.status != 0)
        #expect(down.stderr.contains("stay in"), "\(down.stderr)")
    }

    @Test func localTimesFollowTheZoneAndTheYear() async throws {
        let binaries = try Binaries.required()
        let dir = NSTemporaryDirectory() + "oomwatch-scan-tz-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/log"
        try """
        [Sun Jul 19 18:03:30 2026] Out of memory: Killed process 11 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB
        Dec 30 23:00:00 h kernel: Out of memory: Killed process 12 (b) total-vm:1kB, anon-rss:1kB, file-rss:0kB

        """.write(toFile: file, atomically: true, encoding: .utf8)
        let paris = try await Command.run(
            binaries.agent, ["scan", "--tz", "Europe/Paris", "--year", "2024", file], in: dir)
        #expect(paris.status == 0, "\(paris.stderr)")
        let events = try CrossContainerIDTests.decode(paris.stdout)
        // Summer time in Paris is UTC+2, winter time UTC+1; the year-less line is in 2024.
        #expect(events.map(\.time) == ["2026-07-19T16:03:30Z", "2024-12-30T22:00:00Z"])
        let bad = try await Command.run(binaries.agent, ["scan", "--tz", "Mars/Olympus", file], in: dir)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("unknown time zone"), "\(bad.stderr)")
    }
}
