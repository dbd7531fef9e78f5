import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A tmpfs of `sizeKB` mounted on a fresh directory, or nil (printed) when mounting is
/// not permitted here.
func mountTmpfs(_ tag: String, sizeKB: Int) -> TempDir? {
    let dir = TempDir(tag)
    guard let (status, output) = try? run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeKB)k", "tmpfs", dir.path]),
        status == 0
    else {
        print("SKIP: cannot mount a tmpfs (needs root / CAP_SYS_ADMIN)")
        dir.remove()
        return nil
    }
    _ = output
    return dir
}

func unmount(_ dir: TempDir) {
    _ = try? run("/bin/umount", ["-l", dir.path])
    dir.remove()
}

extension Faults {
    /// The collector's database on a small tmpfs that fills up: ingest answers 503 (never
    /// 500), nothing acknowledged is lost, the database stays intact, and ingest works
    /// again by itself once space is freed.
    @Test func collectorDiskFull() async throws {
        guard let bins = Binaries.locate() else { return }
        guard let mount = mountTmpfs("dbfull", sizeKB: 6 * 1024) else { return }
        defer { unmount(mount) }
        let tmp = TempDir("dbfull-cfg")
        defer { tmp.remove() }
        // Ballast to free later; the database gets what is left.
        let ballast = mount.path + "/ballast"
        FileManager.default.createFile(atPath: ballast, contents: Data(count: 2 * 1024 * 1024))
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path, dbPath: mount.path + "/db.sqlite")
        try await collector.start()
        defer { collector.stop() }
        let port = collector.port
        let raw = String(repeating: "x", count: 3000)
        let acked = Shared(Set<String>())
        let (statuses, recovered) = try await offload { () -> ([Int: Int], Bool) in
            var statuses: [Int: Int] = [:]
            var full = 0
            var b = 0
            // Fill until a few refusals in a row.
            while full < 5 && b < 2000 {
                let ids = (0..<20).map { "full-b\(b)-e\($0)" }
                let events = ids.map {
                    #"{"id":"\#($0)","source":"kernel","raw":"\#(raw)","victim":{"pid":7,"comm":"fill"}}"#
                }
                let r = RawHTTP.ingest(
                    port, token: CollectorProcess.agentToken, batchJSON(host: "full", events: events))
                let status = r?.status ?? -1
                statuses[status, default: 0] += 1
                if status == 200 {
                    acked.with { $0.formUnion(ids) }
                    full = 0
                } else {
                    full += 1
                }
                b += 1
            }
            // Free space; the collector must take batches again without a restart.
            unlink(ballast)
            var recovered = false
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                let ids = ["after-\(b)"]
                let r = RawHTTP.ingest(
                    port, token: CollectorProcess.agentToken,
                    batchJSON(host: "full", events: ids.map { eventJSON(id: $0) }))
                if r?.status == 200 {
                    acked.with { $0.formUnion(ids) }
                    recovered = true
                    break
                }
                b += 1
                usleep(200_000)
            }
            return (statuses, recovered)
        }
        print("collectorDiskFull: statuses \(statuses.sorted { $0.key < $1.key }), acked \(acked.get.count)")
        #expect(statuses[500] == nil, "disk full answered 500: \(statuses)")
        #expect(statuses[503] ?? 0 > 0, "the disk never filled: \(statuses)")
        #expect(statuses.keys.allSatisfy { $0 == 200 || $0 == 503 }, "\(statuses)")
        #expect(recovered, "ingest did not recover after space was freed")
        collector.stop()
        #expect(try sqlite(collector.dbPath, "PRAGMA integrity_check;") == ["ok"])
        let stored = Set(try sqlite(collector.dbPath, "SELECT event_id FROM events;"))
        let lost = acked.get.subtracting(stored)
        #expect(lost.isEmpty, "\(lost.count) acknowledged events lost")
    }
}

extension Faults {
    /// The agent's state directory on a full tmpfs while the collector is away: the agent
    /// keeps running, counts the snapshots it could not keep, and delivers again once the
    /// collector returns and the spool drains.
    @Test func agentStateDirectoryFull() async throws {
        guard let bins = Binaries.locate() else { return }
        guard let mount = mountTmpfs("statefull", sizeKB: 768) else { return }
        defer { unmount(mount) }
        let tmp = TempDir("statefull-cfg")
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        defer { collector.stop() }
        tmp.write("agent-token", CollectorProcess.agentToken + "\n")
        // The spool's own cap (4 MB) is larger than the file system: the disk fills first.
        tmp.write(
            "agent.yaml",
            agentConfig(
                collector: collector.url, state: mount.path + "/state", tokenFile: tmp.path + "/agent-token",
                spoolMB: 4, interval: 0.1
            ).replacingOccurrences(of: "top_processes: 5", with: "top_processes: 1000"))
        let agent = try Child(bins.agent, ["run", "--config", tmp.path + "/agent.yaml"], log: tmp.path + "/agent.log")
        defer { agent.stop() }
        let checks = Checks()
        let db = collector.dbPath
        try await offload {
            usleep(6_000_000)
            var fs = statvfs()
            statvfs(mount.path, &fs)
            checks.expect(fs.f_bavail * UInt(fs.f_bsize) < 64 * 1024, "the state directory never filled up")
            checks.expect(agent.isRunning, "agent died on a full state directory:\n\(agent.logTail())")
            try collector.startBlocking()
            checks.expect(eventually(20) { count(db, "SELECT count(*) FROM snapshots;") > 0 }, "nothing delivered")
            // Recovered: new snapshots keep arriving, and the loss was reported.
            let before = count(db, "SELECT count(*) FROM snapshots;")
            checks.expect(
                eventually(15) { count(db, "SELECT count(*) FROM snapshots;") > before + 5 },
                "no new snapshots after recovery:\n\(agent.logTail())")
            let dropped = Int((try? sqlite(db, "SELECT max(dropped_snapshots) FROM agent_counters;"))?.first ?? "") ?? 0
            checks.expect(dropped > 0, "snapshots that could not be kept were not counted")
            checks.expect(agent.isRunning, "agent not running at the end")
            print(
                "agentStateDirectoryFull: dropped_snapshots \(dropped), delivered \(count(db, "SELECT count(*) FROM snapshots;"))"
            )
        }
        checks.report()
    }
}
