import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// 8 senders post at least 20,000 events in batches of 50 while the collector is SIGKILLed and
    /// restarted: every acknowledged event is stored exactly once, nothing acknowledged is
    /// lost, the database passes `PRAGMA integrity_check`, and no request ever gets a 500.
    @Test func collectorCrashConsistency() async throws {
        guard let bins = Binaries.locate() else { return }
        let tmp = TempDir("crash")
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        try await collector.start()
        defer { collector.stop() }

        let senders = 8
        let batchesPerSender = 50
        let perBatch = 50
        let acked = Shared(Set<String>())
        let statuses = Shared([Int: Int]())
        let done = Shared(0)
        let kills = Shared(0)
        let sent = Shared(0)

        let port = collector.port
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await onThreads(senders) { s in
                    // At least `batchesPerSender` batches each, and on until the collector has
                    // been killed three times (a fast collector takes them all before that),
                    // within a bound.
                    var b = 0
                    while b < batchesPerSender || (kills.get < 3 && b < 20 * batchesPerSender) {
                        defer { b += 1 }
                        sent.with { $0 += perBatch }
                        let ids = (0..<perBatch).map { "crash-s\(s)-b\(b)-e\($0)" }
                        let body = batchJSON(
                            host: "crash-\(s)", events: ids.map { eventJSON(id: $0, pid: 100 + s) })
                        // Re-send until acknowledged, as agents do.
                        if RawHTTP.ingestUntilAcknowledged(port, body, statuses: statuses) {
                            acked.with { $0.formUnion(ids) }
                        }
                    }
                    done.with { $0 += 1 }
                }
            }
            group.addTask {
                _ = try? await offload {
                    // Kill at least three times while the senders run, and restart.
                    while done.get < senders {
                        usleep(useconds_t(60_000 + Int.random(in: 0..<200_000)))
                        if done.get >= senders { break }
                        collector.kill9()
                        kills.with { $0 += 1 }
                        usleep(100_000)
                        try collector.startBlocking()
                    }
                }
            }
        }
        let statusCounts = statuses.get
        print("collectorCrashConsistency: kills=\(kills.get) statuses=\(statusCounts.sorted { $0.key < $1.key })")
        #expect(kills.get >= 3, "the collector should have been killed at least three times")
        #expect(statusCounts[500] == nil, "a 500 was answered: \(statusCounts)")
        #expect(statusCounts.keys.allSatisfy { $0 == 200 || $0 == 503 || $0 == 429 }, "\(statusCounts)")
        let all = acked.get
        #expect(all.count == sent.get && all.count >= senders * batchesPerSender * perBatch)

        collector.stop()
        let integrity = try sqlite(collector.dbPath, "PRAGMA integrity_check;")
        #expect(integrity == ["ok"])
        let stored = try sqlite(collector.dbPath, "SELECT event_id FROM events WHERE event_id LIKE 'crash-%';")
        #expect(stored.count == Set(stored).count, "an event is stored twice")
        let missing = all.subtracting(stored)
        #expect(missing.isEmpty, "\(missing.count) acknowledged events lost, e.g. \(missing.prefix(3))")
        #expect(stored.count == all.count)
    }
}

extension Faults {
    /// A stopped collector leaves one self-contained database file: what the WAL held is in
    /// it, so a copy of `oomwatch.sqlite` alone, as an operator makes to back up or move the
    /// collector, holds every acknowledged batch. Without the checkpoint at the stop the
    /// last transactions live only in the `-wal` file until the next start.
    @Test func stoppedCollectorLeavesOneSelfContainedFile() async throws {
        guard let bins = Binaries.locate() else { return }
        let tmp = TempDir("stop")
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        try await collector.start()
        let ids = (0..<20).map { "stop-\($0)" }
        for chunk in stride(from: 0, to: ids.count, by: 5) {
            let body = batchJSON(host: "stop", events: ids[chunk..<chunk + 5].map { eventJSON(id: $0) })
            let answer = RawHTTP.ingest(collector.port, token: CollectorProcess.agentToken, body)
            #expect(answer?.status == 200, "\(String(describing: answer))")
        }
        collector.stop()

        let wal = (try? FileManager.default.attributesOfItem(atPath: collector.dbPath + "-wal"))?[.size] as? Int
        #expect(wal == nil || wal == 0, "WAL left at the stop: \(wal ?? -1) bytes\n\(collector.child?.logTail() ?? "")")
        let copy = tmp.path + "/copy.sqlite"
        try FileManager.default.copyItem(atPath: collector.dbPath, toPath: copy)
        #expect(try sqlite(copy, "SELECT count(*) FROM events") == ["\(ids.count)"])
        #expect(try sqlite(copy, "PRAGMA integrity_check") == ["ok"])
    }
}
