import OOMKit
import OOMPostgres
import OOMStore
import Testing

/// The store's waits under a small pool and cancellation: start-up, the background lease
/// and ingest share two connections, and every wait ends (these once stalled a CI run).
@Suite("PostgreSQL store waits", .enabled(if: Engine.postgres.isAvailable))
struct PostgresStartupTests {
    static let end = StoreConformanceTests.end
    static let day: Int64 = 86_400_000_000

    /// A store on `name` with the smallest pool (two connections: one the lease holder's).
    static func smallStore(_ name: String, leaseCheckSeconds: Double = 0.05) throws -> PostgresStore {
        var c = postgresConfiguration(database: name)
        c.poolSize = 1
        return try PostgresStore(configuration: c, leaseCheckSeconds: leaseCheckSeconds, logger: testLogger)
    }

    /// Batches on many distinct days, so ingest creates partitions while the lease holder
    /// keeps its own up to date on its connection.
    static func batches(_ count: Int, tag: String) -> [IngestBatch] {
        (0..<count).map { i in
            let time = end - Int64(i % 20) * day
            return Seed.batch(
                host: "host-\(i % 3)", events: [Seed.event("\(tag)-\(i)", time: time)],
                snapshots: [Seed.snapshot(host: "host-\(i % 3)", time: time)])
        }
    }

    /// The lease holder and a burst of concurrent ingests on a two-connection pool: every
    /// batch is stored, none waits forever.
    @Test(.timeLimit(.minutes(1)))
    func smallPoolLeaseHolderAndConcurrentIngest() async throws {
        try await withScratchDatabase { name in
            let store = try Self.smallStore(name)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                defer { group.cancelAll() }
                try await PostgresOnlyTests.waitUntil(seconds: 45) { await store.holdsBackgroundLease() }
                let stored = try await withThrowingTaskGroup(of: Int.self) { ingests in
                    for batch in Self.batches(40, tag: "burst") {
                        ingests.addTask { try await store.ingest(batch, receivedAt: Self.end).eventsStored }
                    }
                    return try await ingests.reduce(0, +)
                }
                #expect(stored == 40)
                #expect(await store.holdsBackgroundLease())
                let counted = try await store.countRows()
                #expect(counted.events == 40)
                #expect(counted.hosts == 3)
            }
        }
    }

    /// Operations sent before the store runs wait for its start-up and then succeed; one
    /// cancelled while it waits ends at once.
    @Test(.timeLimit(.minutes(1)))
    func operationsWaitForStartUp() async throws {
        try await withScratchDatabase { name in
            let store = try Self.smallStore(name)
            try await withThrowingTaskGroup(of: Void.self) { group in
                let early = Task { try await store.ingest(Self.batches(1, tag: "early")[0], receivedAt: Self.end) }
                let cancelled = Task { try await store.hosts(now: Self.end) }
                try await Task.sleep(for: .milliseconds(200))
                let cancelledAt = ContinuousClock.now
                cancelled.cancel()
                await #expect(throws: StoreError.cancelled) { try await cancelled.value }
                #expect(ContinuousClock.now - cancelledAt < .seconds(2))
                group.addTask { try await store.run() }
                defer { group.cancelAll() }
                #expect(try await early.value.eventsStored == 1)
                #expect(try await store.hosts(now: Self.end).map(\.host) == ["host-0"])
            }
        }
    }

    /// Cancelling `run()` at any moment (connecting, migrating, holding the lease, with
    /// ingests in flight) ends it, and its pool with it.
    @Test(.timeLimit(.minutes(1)))
    func runEndsWhenCancelledAtAnyMoment() async throws {
        try await withScratchDatabase { name in
            var rng = SplitMix(seed: 16)
            for round in 0..<12 {
                let store = try Self.smallStore(name)
                let runner = Task { try await store.run() }
                let load = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for batch in Self.batches(6, tag: "round\(round)") {
                            group.addTask { _ = try? await store.ingest(batch, receivedAt: Self.end) }
                        }
                        try await group.waitForAll()
                    }
                }
                try await Task.sleep(for: .milliseconds(Int64(rng.next() % 600)))
                let cancelledAt = ContinuousClock.now
                runner.cancel()
                _ = try? await runner.value
                _ = try? await load.value
                #expect(ContinuousClock.now - cancelledAt < .seconds(10), "round \(round) ended slowly")
            }
        }
    }
}
