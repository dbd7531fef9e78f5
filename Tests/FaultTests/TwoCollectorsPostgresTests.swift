import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// Two collectors on one PostgreSQL database take the same load; each batch goes to
    /// both, and one collector is SIGKILLed and restarted while they run. Every
    /// acknowledged event is stored exactly once (the same event sent to both included),
    /// the kill rollups count each once, and no request gets a 500.
    @Test func twoCollectorsOnePostgres() async throws {
        guard let bins = Binaries.locate() else { return }
        guard let server = PostgresServer.fromEnvironment() else { return }
        let database = "oomwatch_fault_\(getpid())_\(Int.random(in: 0..<1_000_000))"
        try server.psql("CREATE DATABASE \(database)")
        defer { _ = try? server.psql("DROP DATABASE \(database) WITH (FORCE)") }
        let tmp = TempDir("pg-two")
        defer { tmp.remove() }
        let url = server.url(database: database)
        let collectors = try ["a", "b"].map { name -> CollectorProcess in
            try? FileManager.default.createDirectory(atPath: tmp.path + "/" + name, withIntermediateDirectories: true)
            return try CollectorProcess(
                binary: bins.collector, dir: tmp.path + "/" + name, dbPath: url,
                environment: ["PGPASSWORD": server.password ?? ""])
        }
        for c in collectors { try await c.start() }
        defer { for c in collectors { c.stop() } }

        let senders = 6
        let batchesPerSender = 30
        let perBatch = 25
        let acked = Shared(Set<String>())
        let statuses = Shared([Int: Int]())
        let done = Shared(0)
        let kills = Shared(0)
        let ports = collectors.map(\.port)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await onThreads(senders) { s in
                    for b in 0..<batchesPerSender {
                        let ids = (0..<perBatch).map { "pg2-s\(s)-b\(b)-e\($0)" }
                        let body = batchJSON(host: "pg2-\(s)", events: ids.map { eventJSON(id: $0, pid: 100 + s) })
                        // Both collectors get the batch, in turn first; each is re-sent until
                        // acknowledged, as an agent re-sends after a lost answer.
                        for port in b % 2 == 0 ? ports : ports.reversed() {
                            if RawHTTP.ingestUntilAcknowledged(port, body, statuses: statuses) {
                                acked.with { $0.formUnion(ids) }
                            }
                        }
                    }
                    done.with { $0 += 1 }
                }
            }
            group.addTask {
                _ = try? await offload {
                    while done.get < senders {
                        usleep(useconds_t(150_000 + Int.random(in: 0..<300_000)))
                        if done.get >= senders { break }
                        collectors[0].kill9()
                        kills.with { $0 += 1 }
                        usleep(100_000)
                        try collectors[0].startBlocking()
                    }
                }
            }
        }
        let statusCounts = statuses.get
        print("twoCollectorsOnePostgres: kills=\(kills.get) statuses=\(statusCounts.sorted { $0.key < $1.key })")
        #expect(kills.get >= 2, "collector a should have been killed at least twice")
        #expect(statusCounts[500] == nil, "a 500 was answered: \(statusCounts)")
        let all = acked.get
        #expect(all.count == senders * batchesPerSender * perBatch)
        let stored = try server.psql("SELECT event_id FROM events WHERE event_id LIKE 'pg2-%'", database: database)
        #expect(stored.count == Set(stored).count, "an event is stored twice")
        #expect(Set(stored) == all, "stored events differ from the acknowledged ones")
        let counted = try server.psql(
            "SELECT coalesce(sum(kills), 0) FROM kill_daily WHERE dim = 'source'", database: database)
        #expect(counted == ["\(stored.count)"], "the rollups count each event once")
    }
}

/// The PostgreSQL server of `OOMWATCH_TEST_POSTGRES` (scripts/with-postgres), reached with
/// the `psql` client.
struct PostgresServer {
    var url: URLComponents
    var password: String?

    static func fromEnvironment() -> PostgresServer? {
        let env = ProcessInfo.processInfo.environment
        guard let text = env["OOMWATCH_TEST_POSTGRES"], let url = URLComponents(string: text) else {
            print("SKIP twoCollectorsOnePostgres: OOMWATCH_TEST_POSTGRES is not set (scripts/with-postgres sets it)")
            return nil
        }
        guard access("/usr/bin/psql", X_OK) == 0 else {
            print("SKIP twoCollectorsOnePostgres: /usr/bin/psql not installed (apt-get install postgresql-client)")
            return nil
        }
        return PostgresServer(url: url, password: url.password ?? env["OOMWATCH_TEST_POSTGRES_PASSWORD"])
    }

    /// The server's URL naming `database` (no password: the collector reads PGPASSWORD).
    func url(database: String) -> String {
        var u = url
        u.password = nil
        u.path = "/" + database
        if u.query == nil { u.query = "sslmode=disable" }
        return u.string!
    }

    /// Runs one statement; the output's lines (unaligned, tuples only).
    @discardableResult
    func psql(_ sql: String, database: String? = nil) throws -> [String] {
        var u = url
        u.password = password
        if let database { u.path = "/" + database }
        let (status, out) = try run("/usr/bin/psql", [u.string!, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard status == 0 else { throw HarnessError("psql \(sql): \(out)") }
        return out.split(separator: "\n").map(String.init)
    }
}
