import HostSupport
import OOMKit
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct KernelLogFollowerTests {
    static func records() throws -> [[UInt8]] {
        let bytes = try #require(try FileIO.readAll(TestSupport.fixtures + "/kmsg/real-6.18-memcg-v1-kmsg.log"))
        return bytes.split(separator: 10).map(Array.init).filter { $0.first != 32 }
    }

    @Test func fixtureYieldsOneKillWithVictim() throws {
        var f = KernelLogFollower(bootID: "b1", cursor: nil, bootEpochMicros: 1_700_000_000_000_000)
        var events: [OOMEvent] = []
        for r in try Self.records() { events += f.handle(r[...]) }
        events += f.idle()
        #expect(events.count == 1)
        let e = try #require(events.first)
        #expect(e.source == .kernel)
        #expect(e.victim.comm == "python3")
        #expect(e.bootID == "b1")
        #expect(!e.id.isEmpty)
        #expect(e.scope == .memcg)
        #expect(e.time != nil)
        #expect(f.takeCounts() == (0, 0))
        #expect(f.cursor?.sequence == 425)
    }

    /// Issue 19.2: a file name with an escaped newline (`\x0a`) that the kernel prints in a
    /// record, as an exec with an empty argv makes it, is one record: the follower forges
    /// no kill and opens no report from the text after it; a real kill that follows is
    /// reported with only its own fields.
    @Test func escapedNewlineInARecordForgesNoKill() throws {
        let bytes = try #require(
            try FileIO.readAll(TestSupport.fixtures + "/kmsg/kmsg-escaped-newline-attack.log"))
        var f = KernelLogFollower(bootID: "b1", cursor: nil, bootEpochMicros: 1_700_000_000_000_000)
        var events: [OOMEvent] = []
        for r in bytes.split(separator: 10) { events += f.handle(r[...]) }
        events += f.idle()
        #expect(events.isEmpty)
        let real = Array(
            "6,904,7000400,-;Killed process 99 (hog) total-vm:5kB, anon-rss:4kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0"
                .utf8)
        events += f.handle(real[...])
        events += f.idle()
        #expect(events.map(\.victim.pid) == [99])
        #expect(events.first?.trigger == nil)
        #expect(f.cursor?.sequence == 904)
    }

    @Test func resumesAfterCursorWithoutRepeats() throws {
        let records = try Self.records()
        // Stop in the middle of the report: the cursor must point before its header.
        var first = KernelLogFollower(bootID: "b1", cursor: nil)
        var events: [OOMEvent] = []
        for r in records.prefix(10) { events += first.handle(r[...]) }
        #expect(events.isEmpty)
        let cursor = try #require(first.cursor)
        #expect(cursor.sequence == 347)
        // Restart: the ring buffer still holds everything.
        var second = KernelLogFollower(bootID: "b1", cursor: cursor)
        for r in records { events += second.handle(r[...]) }
        events += second.idle()
        #expect(events.count == 1)
        // Restart again after the kill: nothing new.
        var third = KernelLogFollower(bootID: "b1", cursor: second.cursor)
        var again: [OOMEvent] = []
        for r in records { again += third.handle(r[...]) }
        again += third.idle()
        #expect(again.isEmpty)
        #expect(third.takeCounts().missed == 0)
    }

    /// A backlog of back-to-back reports (a burst of kills, no `oom_reaper` lines) has no
    /// record outside a report or a held kill: when the agent stops, or catches up, in the
    /// middle of the next report, the held kills go out and the cursor points just before
    /// that report's header, not nowhere.
    @Test func cursorStopsBeforeTheOpenReportOfABurst() throws {
        let records = try Self.records()
        func text(_ r: [UInt8]) -> String { String(decoding: r, as: UTF8.self) }
        let header = try #require(records.firstIndex { text($0).contains("invoked oom-killer") })
        let kill = try #require(records.lastIndex { text($0).contains("Killed process") })
        let report = Array(records[header...kill])
        // The same report three times, 10 s apart (three kills), renumbered, then the head
        // of a fourth.
        var burst: [[UInt8]] = []
        for (copy, part) in [report, report, report, Array(report.prefix(5))].enumerated() {
            for r in part {
                // LEVEL,SEQ,USEC,FLAGS;MESSAGE
                let fields = text(r).split(separator: ",", maxSplits: 3)
                let usec = try #require(Int64(fields[2])) + Int64(copy) * 10_000_000
                burst.append(Array("\(fields[0]),\(1000 + burst.count),\(usec),\(fields[3])".utf8))
            }
        }
        var f = KernelLogFollower(bootID: "b1", cursor: nil)
        var events: [OOMEvent] = []
        for r in burst { events += f.handle(r[...]) }
        events += f.idle()
        // The third kill was held for its reaper line; idle sends it out.
        #expect(events.count == 3)
        #expect(f.cursor?.sequence == UInt64(1000 + 3 * report.count - 1))
        // A restart there reads the open report again and finds no kill twice.
        var g = KernelLogFollower(bootID: "b1", cursor: f.cursor)
        var again: [OOMEvent] = []
        for r in burst { again += g.handle(r[...]) }
        again += g.idle()
        #expect(again.isEmpty)
    }

    @Test func gapsAndNewBootAreCounted() throws {
        let records = try Self.records()
        // Same boot, cursor at 300, but the buffer now starts at 347: 46 records lost.
        var f = KernelLogFollower(bootID: "b1", cursor: KmsgCursor(bootID: "b1", sequence: 300))
        for r in records { _ = f.handle(r[...]) }
        #expect(f.takeCounts().missed == 46)
        // A reboot: the new boot's records before 347 were lost too.
        var g = KernelLogFollower(bootID: "b2", cursor: KmsgCursor(bootID: "b1", sequence: 9999))
        for r in records { _ = g.handle(r[...]) }
        #expect(g.takeCounts().missed == 347)
        // A sequence gap in the middle, and an overrun.
        var h = KernelLogFollower(bootID: "b1", cursor: nil)
        for (i, r) in records.enumerated() where i != 5 && i != 6 { _ = h.handle(r[...]) }
        h.overrun()
        #expect(h.takeCounts() == (2, 1))
    }

    @Test func cursorFileRoundTrip() throws {
        let dir = TestSupport.tempDir("cursor")
        defer { TestSupport.removeTree(dir) }
        let c = KmsgCursor(bootID: "82a524b1-6c22-4b6c-8b8a-29154909d6f6", sequence: 12345)
        try c.save(dir + "/kmsg.cursor")
        #expect(KmsgCursor.load(dir + "/kmsg.cursor") == c)
        TestSupport.write(dir + "/bad", "garbage")
        #expect(KmsgCursor.load(dir + "/bad") == nil)
        #expect(KmsgCursor.load(dir + "/missing") == nil)
    }

    @Test func journalCursorField() {
        let line = ArraySlice(#"{"__CURSOR":"s=abc;i=1f","MESSAGE":"x"}"#.utf8)
        #expect(JournalService.cursor(in: line) == "s=abc;i=1f")
    }
}

/// A real OOM kill in a child memory cgroup, read from the real /dev/kmsg, with an agent
/// restart (a new reader and follower from the saved cursor) between two kills.
@Suite(.serialized) struct RealOOMKillTests {
    /// A memory cgroup we may create children in, v1 or v2, or why not.
    static func cgroupParent() -> (dir: String, limitFile: String, limit: String)? {
        guard let bytes = try? FileIO.readAll("/proc/self/cgroup") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        for entry in ProcCgroup.parse(text) {
            if entry.controllers.contains("memory") {
                let dir = "/sys/fs/cgroup/memory" + (entry.path == "/" ? "" : entry.path)
                if access(dir, W_OK) == 0 { return (dir, "memory.limit_in_bytes", "67108864") }
            }
        }
        if let v2 = ProcCgroup.parse(text).first(where: { $0.hierarchyID == 0 }) {
            let dir = "/sys/fs/cgroup" + (v2.path == "/" ? "" : v2.path)
            if access(dir + "/cgroup.subtree_control", W_OK) == 0 { return (dir, "memory.max", "67108864") }
        }
        return nil
    }

    /// Runs python3 allocating 512 MB in a fresh child cgroup limited to 64 MB; returns its
    /// pid after the kernel killed it.
    static func oomKill(in parent: (dir: String, limitFile: String, limit: String), tag: String) throws -> pid_t {
        let dir = parent.dir + "/oomwatch-test-\(getpid())-\(tag)"
        guard mkdir(dir, 0o755) == 0 || errno == EEXIST else {
            throw TestSkip(reason: "cannot create \(dir): errno \(errno)")
        }
        defer { rmdir(dir) }
        TestSupport.write(dir + "/" + parent.limitFile, parent.limit)
        let python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"
        // The shell moves itself into the cgroup before exec'ing the allocator.
        let pid = TestSupport.spawn([
            "/bin/sh", "-c",
            "echo $$ > \(dir)/cgroup.procs && exec \(python) -c 'b=bytearray(512<<20); import time; time.sleep(5)'",
        ])
        let status = TestSupport.wait(pid)
        #expect(status & 0x7f == SIGKILL, "the allocator should be OOM-killed")
        return pid
    }

    struct TestSkip: Error { var reason: String }

    /// Reads everything available, then waits for the kill of `pid` (up to 10 s).
    static func drain(
        _ reader: KmsgReader, _ follower: inout KernelLogFollower, until pid: pid_t?
    ) async throws -> [OOMEvent] {
        var events: [OOMEvent] = []
        let deadline = HostClock.monotonicNanos() + 10_000_000_000
        while HostClock.monotonicNanos() < deadline {
            switch try reader.next() {
            case .record(let bytes): events += follower.handle(bytes)
            case .overrun: follower.overrun()
            case .empty:
                events += follower.idle()
                if pid == nil || events.contains(where: { $0.victim.pid == Int(pid!) }) { return events }
                await reader.wait(timeoutMs: 200)
            }
        }
        return events
    }

    @Test func killsAcrossRestart() async throws {
        guard access("/dev/kmsg", R_OK) == 0, let parent = Self.cgroupParent() else {
            print("SKIP: needs readable /dev/kmsg and a writable memory cgroup (v1 or v2)")
            return
        }
        let dir = TestSupport.tempDir("kmsg")
        defer { TestSupport.removeTree(dir) }
        let cursorPath = dir + "/kmsg.cursor"
        let bootID = HostIdentity.read(procRoot: "/proc").bootID ?? "unknown"

        // First agent run: catch up, see kill 1, save the cursor, stop.
        var first = KernelLogFollower(bootID: bootID, cursor: nil)
        let reader1 = try KmsgReader(path: "/dev/kmsg")
        _ = try await Self.drain(reader1, &first, until: nil)
        let victim1 = try Self.oomKill(in: parent, tag: "a")
        let events1 = try await Self.drain(reader1, &first, until: victim1)
        let kill1 = try #require(events1.first { $0.victim.pid == Int(victim1) })
        #expect(kill1.victim.comm == "python3")
        #expect(kill1.scope == .memcg)
        #expect(kill1.memcg?.limitKB == 65536)
        #expect(kill1.bootID == bootID)
        try #require(first.cursor).save(cursorPath)

        // While the agent is down: kill 2.
        let victim2 = try Self.oomKill(in: parent, tag: "b")

        // Second run from the saved cursor: kill 2 exactly once, kill 1 not again.
        var second = KernelLogFollower(bootID: bootID, cursor: KmsgCursor.load(cursorPath))
        let reader2 = try KmsgReader(path: "/dev/kmsg")
        let events2 = try await Self.drain(reader2, &second, until: victim2)
        #expect(events2.filter { $0.victim.pid == Int(victim2) }.count == 1)
        #expect(!events2.contains { $0.victim.pid == Int(victim1) })
        #expect(!events2.contains { $0.id == kill1.id })
        #expect(second.takeCounts().missed == 0)
    }
}
