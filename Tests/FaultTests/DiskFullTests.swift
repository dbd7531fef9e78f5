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
        let collector = CollectorProcess(binary: bins.collector, dir: tmp.path, dbPath: mount.path + "/db.sqlite")
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
