import GRDB
import Testing

@testable import OOMStore

/// The writer's cache forgets what a rolled-back transaction taught it, on a real SQLite
/// file: its one rollback hook per transaction is armed again by the next transaction,
/// whether the one before committed or rolled back.
@Suite struct SnapshotCacheTests {
    struct Abort: Error {}

    @Test func theBoundsFollowTheFleetSize() {
        let fleet = SnapshotCache(hosts: 100_000)
        #expect(fleet.maxLatest == 100_000 && fleet.maxProcesses == 2_000_000 && fleet.maxFrames == 100_000)
        let small = SnapshotCache(hosts: 10)
        #expect(small.maxLatest == 10 && small.maxProcesses == 200 && small.maxFrames == 4_096)
        let defaults = SnapshotCache(hosts: SnapshotCache.defaultHosts)
        #expect(defaults.maxLatest == 10_000 && defaults.maxProcesses == 200_000)
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
