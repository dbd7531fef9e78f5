import GRDB
import OOMKit
import Testing

@testable import OOMStore

/// The writer's cache forgets what a rolled-back transaction taught it, on a real SQLite
/// file: its one rollback hook per transaction is armed again by the next transaction,
/// whether the one before committed or rolled back.
@Suite struct SnapshotCacheTests {
    struct Abort: Error {}

    /// At `maxHosts` hosts a new host starts the cache over; a host already in it, posting
    /// again, never does.
    @Test func theBoundCountsHosts() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.path + "/cache.sqlite")
        #expect(SnapshotCache().maxHosts == 100_000 && SnapshotCache(hosts: 0).maxHosts == 1)
        let cache = SnapshotCache(hosts: 2)
        try queue.inDatabase { db in
            for id: Int64 in [1, 2, 1, 2, 2, 1] {
                cache.remember(latest: MemorySnapshot(host: "h", time: "t"), time: id, hostID: id, db: db)
                cache.remember(hostID: id, name: "h\(id)", db: db)
            }
            #expect(cache.latest(hostID: 1) != nil && cache.latest(hostID: 2) != nil)
            #expect(cache.hostID(name: "h1") == 1 && cache.hostID(name: "h2") == 2)
            cache.remember(latest: MemorySnapshot(host: "h", time: "t"), time: 3, hostID: 3, db: db)
            #expect(cache.latest(hostID: 1) == nil && cache.latest(hostID: 2) == nil && cache.latest(hostID: 3) != nil)
        }
    }

    /// What the hosts that post need stays and the rest goes: with each new hour's frame,
    /// the frames before the hour before it and the details of processes not listed in the
    /// two hours before it; at the sweep every ten minutes, a host silent for an hour (its
    /// id, processes and frames with it).
    @Test func itKeepsWhatPostingHostsNeed() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.path + "/cache.sqlite")
        let cache = SnapshotCache(hosts: 10)
        let t0 = ContinuousClock.now
        let hour = SnapshotStorage.hour
        let h0 = SnapshotStorage.hourOf(1_800_000_000_000_000)
        func snapshot(_ pids: [Int]) -> MemorySnapshot {
            MemorySnapshot(
                host: "h", time: "t", processes: pids.map { ProcessSample(pid: $0, comm: "p\($0)", rssKB: 1) })
        }
        /// Process `pid`, last listed `hours` after h0.
        func process(_ pid: Int, listed hours: Int64) -> SnapshotCache.Process {
            SnapshotCache.Process(
                id: Int64(pid), digest: 0, lastSeen: h0 + hours * hour,
                detail: ProcessDetail(ProcessSample(pid: pid, comm: "p\(pid)", rssKB: 1)))
        }
        try queue.inDatabase { db in
            for (id, name) in [(Int64(1), "busy"), (2, "gone")] {
                cache.remember(hostID: id, name: name, db: db)
                for pid in [10, 11, 12] { cache.remember(process(pid, listed: 0), hostID: id, db: db) }
                cache.remember(latest: snapshot([10, 11, 12]), time: h0, hostID: id, db: db, now: t0 + .seconds(1))
                for h in 0...2 { cache.remember(frame: [UInt8(h)], hostID: id, hour: h0 + Int64(h) * hour, db: db) }
            }
            #expect(cache.frame(hostID: 1, hour: h0) == nil, "two hours before the newest frame")
            #expect(
                cache.frame(hostID: 1, hour: h0 + hour) == [1] && cache.frame(hostID: 1, hour: h0 + 2 * hour) == [2])
            #expect(cache.process(hostID: 1, pid: 12) != nil, "listed two hours before the newest frame")

            // Pids 10 and 11 listed again in hour 2; at hour 3's frame pid 12 goes.
            for pid in [10, 11] { cache.remember(process(pid, listed: 2), hostID: 1, db: db) }
            cache.remember(latest: snapshot([10, 11]), time: h0 + 3 * hour, hostID: 1, db: db, now: t0 + .seconds(500))
            cache.remember(frame: [3], hostID: 1, hour: h0 + 3 * hour, db: db)
            #expect(cache.process(hostID: 1, pid: 12) == nil, "not listed for three hours")
            #expect(cache.process(hostID: 1, pid: 10)?.id == 10 && cache.process(hostID: 1, pid: 11) != nil)
            #expect(cache.process(hostID: 2, pid: 12) != nil, "the other host's processes are its own")
            // An older snapshot is not the newest.
            cache.remember(latest: snapshot([10]), time: h0, hostID: 1, db: db, now: t0 + .seconds(600))
            #expect(cache.latest(hostID: 1)?.time == h0 + 3 * hour)

            // Swept at 700 s: "gone" was heard from 699 s ago, it stays.
            cache.remember(
                latest: snapshot([10, 11]), time: h0 + 3 * hour + 1, hostID: 1, db: db, now: t0 + .seconds(700))
            #expect(cache.latest(hostID: 2) != nil && cache.hostID(name: "gone") == 2)
            // An hour after "gone" last posted, the next sweep drops it whole.
            cache.remember(
                latest: snapshot([10, 11]), time: h0 + 3 * hour + 2, hostID: 1, db: db, now: t0 + .seconds(3_601))
            #expect(cache.latest(hostID: 2) == nil && cache.hostID(name: "gone") == nil)
            #expect(cache.process(hostID: 2, pid: 10) == nil && cache.frame(hostID: 2, hour: h0 + hour) == nil)
            #expect(cache.latest(hostID: 1)?.time == h0 + 3 * hour + 2 && cache.hostID(name: "busy") == 1)
            #expect(cache.process(hostID: 1, pid: 10) != nil && cache.frame(hostID: 1, hour: h0 + 3 * hour) == [3])
        }
    }

    /// Two hosts posting in turn to a store whose cache holds one: every post reads its
    /// hour's frame and its process's details back from the file, and the counts
    /// `/metrics` shows say so; with room for both, only the first read of each.
    @Test func readsBackAreCountedWhenTheFleetOutgrowsTheCache() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var process = ProcessSample(pid: 42, comm: "java", rssKB: 1000)
        process.cmdline = "java -jar app.jar"
        for hosts in [10, 1] {
            var c = StoreConfiguration(path: dir.path + "/cache-\(hosts).sqlite")
            c.synchronousFull = false
            c.cacheHosts = hosts
            let store = try OOMDatabase(configuration: c, logger: Fixture.logger)
            for minute in 0..<3 {
                for host in ["a", "b"] {
                    let snapshot = Fixture.snapshot(
                        host: host, time: "2026-11-20T10:0\(minute):00Z", processes: [process])
                    _ = try await store.ingest(Fixture.batch(host: host, snapshots: [snapshot]))
                }
            }
            let stats = try #require(store.writerCache)
            #expect(stats.limit == hosts)
            // A row inserted now is remembered only once read back (its batch's savepoint
            // may still drop it): each host's second post reads its frame and process once.
            // Past that, a cache with room reads nothing; one too small reads on every post.
            let expected = hosts == 10 ? 2 : 4
            #expect(stats.hosts == min(hosts, 2))
            #expect(stats.reads[.frame] == expected && stats.reads[.process] == expected, "\(stats.reads)")
            #expect(stats.reads[.snapshot] == 0, "full snapshots name no base")
            // A delta whose base the cache no longer holds ("b" posted last) reads it back.
            var delta = MemorySnapshot(host: "a", time: "2026-11-20T10:03:00Z")
            delta.base = SnapshotBase(time: "2026-11-20T10:02:00Z")
            var batch = Fixture.batch(host: "a", snapshots: [delta])
            #expect(try await store.resolveProcessReferences(&batch) == nil)
            #expect(try await store.ingest(batch).snapshotsStored == 1)
            #expect(store.writerCache?.reads[.snapshot] == (hosts == 10 ? 0 : 1))
        }
    }

    @Test func rollbackEmptiesTheCacheInEveryTransaction() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let queue = try DatabaseQueue(path: dir.path + "/cache.sqlite")
        let cache = SnapshotCache()
        func remember(_ names: [String], commit: Bool) throws {
            do {
                try queue.inTransaction { db in
                    for (i, name) in names.enumerated() { cache.remember(hostID: Int64(i + 1), name: name, db: db) }
                    if !commit { throw Abort() }
                    return .commit
                }
            } catch is Abort {}
        }

        try remember(["a", "b"], commit: true)
        #expect(cache.hostID(name: "a") == 1 && cache.hostID(name: "b") == 2)
        try remember(["c"], commit: true)
        #expect(cache.hostID(name: "a") == 1 && cache.hostID(name: "c") == 1)

        try remember((0..<500).map { "h\($0)" }, commit: false)
        #expect(cache.hostID(name: "a") == nil && cache.hostID(name: "h0") == nil && cache.hostID(name: "h499") == nil)

        try remember(["d"], commit: false)
        #expect(cache.hostID(name: "d") == nil)
        try remember(["e"], commit: true)
        #expect(cache.hostID(name: "e") == 1)
        try remember(["f"], commit: false)
        #expect(cache.hostID(name: "e") == nil && cache.hostID(name: "f") == nil)

        // Outside a transaction nothing can roll back: it is remembered, no hook needed.
        try queue.inDatabase { db in cache.remember(hostID: 7, name: "g", db: db) }
        #expect(cache.hostID(name: "g") == 7)
    }
}
