import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// A bad store setting stops the real collector (and `migrate`) at start with what is
    /// wrong, and the password it was given appears nowhere in the output.
    @Test func badStoreSettingStopsTheCollectorWithoutThePassword() throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("pg-settings")
        defer { dir.remove() }
        let secret = "hunter2-\(getpid())"
        let cases: [([String], String)] = [
            (
                ["serve", "--db", "postgres://oomwatch:\(secret)@127.0.0.1:99999/oomwatch"],
                "is not a number from 1 to 65535"
            ),
            (
                ["serve", "--db", "postgres://oomwatch:\(secret)@127.0.0.1/oomwatch?sslmod=disable"],
                "unknown parameter `sslmod`; did you mean sslmode?"
            ),
            (["serve", "--db", "mysql://oomwatch:\(secret)@db/oomwatch"], "mysql:// is not a store oomwatch knows"),
            (
                ["serve", "--db", dir.path + "/db.sqlite", "--db-read", "postgres://o:\(secret)@replica/oomwatch"],
                "--db-read: a replica needs --db postgres://"
            ),
            (
                ["serve", "--db", "postgres://oomwatch@db/oomwatch", "--db-password-file", dir.path + "/missing"],
                "--db-password-file: cannot read the password file"
            ),
            (
                ["migrate", "--from", "sqlite:" + dir.path + "/missing.sqlite", "--to", "postgres://o:\(secret)@db/x"],
                "does not exist"
            ),
            (
                ["migrate", "--from", dir.path + "/none.sqlite", "--to", "postgres://o:\(secret)@db/x?sslmode=allow"],
                "--to: postgres://o:***@db/x?sslmode=allow: sslmode `allow` is not one of"
            ),
        ]
        FileManager.default.createFile(atPath: dir.path + "/none.sqlite", contents: nil)
        for (arguments, expected) in cases {
            let (status, output) = try runAgent(bin.collector, arguments)
            #expect(status != 0, "\(arguments): exit \(status)")
            #expect(output.contains(expected), "\(arguments): \(output)")
            #expect(!output.contains(secret), "\(arguments) printed the password: \(output)")
        }
        // Nothing was opened: no database file appeared.
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/db.sqlite"))
    }

    /// `oomwatch-collector migrate` as a person runs it: progress lines, the count check,
    /// exit 0; a target that already held other data fails the check with exit 1; with
    /// the throwaway PostgreSQL, the copy into it and a re-run that copies nothing.
    @Test func migrateCommandCopiesAndChecksTheCounts() async throws {
        guard let bin = Binaries.locate() else { return }
        let dir = TempDir("migrate")
        defer { dir.remove() }
        // A SQLite collector's history, sent over HTTP as agents send it.
        let source = try CollectorProcess(binary: bin.collector, dir: dir.path, dbPath: dir.path + "/source.sqlite")
        try await source.start()
        for b in 0..<4 {
            let ids = (0..<25).map { "mig-b\(b)-e\($0)" }
            let r = RawHTTP.ingest(
                source.port, token: CollectorProcess.agentToken,
                batchJSON(host: "mig-\(b % 2)", events: ids.map { eventJSON(id: $0, pid: 100 + b) }))
            #expect(r?.status == 200, "\(r?.text ?? "no answer")")
        }
        source.stop()

        let (status, output) = try runAgent(
            bin.collector,
            [
                "migrate", "--from", "sqlite:" + dir.path + "/source.sqlite", "--to",
                "sqlite:" + dir.path + "/copy.sqlite",
                "--batch-size", "10",
            ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("migrate: done: events 100/100 (100%), snapshots 0/0 (100%)"), "\(output)")
        #expect(output.contains("migrate: source 2 hosts, 100 events, 0 snapshots"), "\(output)")
        #expect(output.contains("migrate: counts match"), "\(output)")
        #expect(try sqlite(dir.path + "/copy.sqlite", "SELECT count(*) FROM events") == ["100"])

        // A target that holds other rows: the check fails, and says why.
        let other = try CollectorProcess(binary: bin.collector, dir: dir.path, dbPath: dir.path + "/other.sqlite")
        try await other.start()
        _ = RawHTTP.ingest(
            other.port, token: CollectorProcess.agentToken,
            batchJSON(host: "elsewhere", events: [eventJSON(id: "not-from-the-source")]))
        other.stop()
        let (mismatch, mismatchOutput) = try runAgent(
            bin.collector,
            ["migrate", "--from", dir.path + "/source.sqlite", "--to", "sqlite:" + dir.path + "/other.sqlite"])
        #expect(mismatch == 1, "\(mismatchOutput)")
        #expect(mismatchOutput.contains("migrate: target 3 hosts, 101 events, 0 snapshots"), "\(mismatchOutput)")
        #expect(mismatchOutput.contains("migrate: the counts differ"), "\(mismatchOutput)")

        guard let server = PostgresServer.fromEnvironment() else { return }
        let database = "oomwatch_migrate_\(getpid())_\(Int.random(in: 0..<1_000_000))"
        try server.psql("CREATE DATABASE \(database)")
        defer { _ = try? server.psql("DROP DATABASE \(database) WITH (FORCE)") }
        dir.write("db.password", (server.password ?? "") + "\n")
        let arguments = [
            "migrate", "--from", "sqlite:" + dir.path + "/source.sqlite", "--to", server.url(database: database),
            "--db-password-file", dir.path + "/db.password", "--checkpoint", dir.path + "/pg.checkpoint",
        ]
        let (pgStatus, pgOutput) = try runAgent(bin.collector, arguments)
        #expect(pgStatus == 0, "\(pgOutput)")
        #expect(pgOutput.contains("migrate: target 2 hosts, 100 events, 0 snapshots"), "\(pgOutput)")
        #expect(pgOutput.contains("migrate: counts match"), "\(pgOutput)")
        if let password = server.password, !password.isEmpty {
            #expect(!pgOutput.contains(password), "migrate printed the password")
        }
        #expect(try server.psql("SELECT count(*) FROM events", database: database) == ["100"])
        let (again, againOutput) = try runAgent(bin.collector, arguments)
        #expect(
            again == 0
                && againOutput.contains(
                    "copied 0 events, 0 snapshots, 0 hourly rollups and 0 agent counter reports in this run"),
            "\(againOutput)")
    }

    /// The collector on PostgreSQL with its password in a file: it serves, and no line of
    /// its log (debug level) carries the password; a wrong password in the URL is not
    /// logged either.
    @Test func collectorOnPostgresNeverLogsThePassword() async throws {
        guard let bin = Binaries.locate() else { return }
        guard let server = PostgresServer.fromEnvironment(), let password = server.password, !password.isEmpty else {
            return
        }
        let database = "oomwatch_logs_\(getpid())_\(Int.random(in: 0..<1_000_000))"
        try server.psql("CREATE DATABASE \(database)")
        defer { _ = try? server.psql("DROP DATABASE \(database) WITH (FORCE)") }
        let dir = TempDir("pg-logs")
        defer { dir.remove() }
        dir.write("db.password", password + "\n")
        let url = server.url(database: database)
        let collector = try CollectorProcess(
            binary: bin.collector, dir: dir.path, dbPath: url,
            arguments: ["--db-password-file", dir.path + "/db.password", "--db-pool-size", "4", "--log-level", "debug"])
        try await collector.start()
        let r = RawHTTP.ingest(
            collector.port, token: CollectorProcess.agentToken,
            batchJSON(host: "pg-logs", events: [eventJSON(id: "pg-logs-1")]))
        #expect(r?.status == 200, "\(r?.text ?? "no answer")")
        let events = RawHTTP.request(
            collector.port, "GET", "/api/v1/events?host=pg-logs",
            token: CollectorProcess.readToken)
        #expect(events?.text.contains("pg-logs-1") == true, "\(events?.text ?? "no answer")")
        collector.stop()

        // The wrong password, in the URL: the collector cannot get ready; nothing logs it.
        let wrong = "wrong-\(password.prefix(6))-\(getpid())"
        let badURL = url.replacingOccurrences(of: "://oomwatch@", with: "://oomwatch:\(wrong)@")
        let bad = try Child(
            bin.collector,
            [
                "serve", "--listen", "127.0.0.1:\(try Loopback.freePort())", "--db", badURL, "--tokens-file",
                collector.tokensPath, "--log-level", "debug",
            ],
            log: dir.path + "/bad.log")
        let deadline = Date().addingTimeInterval(15)
        while bad.isRunning && Date() < deadline { usleep(100_000) }
        bad.stop()

        let log = (try? String(contentsOfFile: dir.path + "/collector.log", encoding: .utf8)) ?? ""
        let badLog = (try? String(contentsOfFile: dir.path + "/bad.log", encoding: .utf8)) ?? ""
        #expect(log.contains("postgres://oomwatch@127.0.0.1:"), "the store is named in the log: \(log.suffix(2000))")
        #expect(!log.contains(password), "the collector logged its password")
        // The command line the harness writes at the top of the log holds the URL as given.
        let badLogAfterCommand = badLog.split(separator: "\n").dropFirst().joined(separator: "\n")
        #expect(!badLogAfterCommand.contains(wrong), "the collector logged the URL's password: \(badLogAfterCommand)")
        #expect(
            badLogAfterCommand.contains("oomwatch:***@") || badLogAfterCommand.contains("postgres://oomwatch@"),
            "\(badLogAfterCommand.suffix(2000))")
    }
}

extension Faults {
    /// `--db-read`: with a streaming replica (scripts/with-postgres --replica), ingest
    /// goes to the primary (the replica is read-only: an ingest sent there would fail) and
    /// the queries to the replica: its own sessions show the collector's reads, and a kill
    /// acknowledged by the primary shows up in the listing once replayed.
    @Test func queriesGoToTheReplica() async throws {
        guard let bin = Binaries.locate() else { return }
        guard let server = PostgresServer.fromEnvironment(),
            let replicaText = ProcessInfo.processInfo.environment["OOMWATCH_TEST_POSTGRES_REPLICA"],
            let replicaURL = URLComponents(string: replicaText)
        else {
            print(
                "SKIP queriesGoToTheReplica: no replica (scripts/with-postgres --replica sets OOMWATCH_TEST_POSTGRES_REPLICA)"
            )
            return
        }
        let replica = PostgresServer(url: replicaURL, password: server.password)
        let database = "oomwatch_replica_\(getpid())_\(Int.random(in: 0..<1_000_000))"
        try server.psql("CREATE DATABASE \(database)")
        defer { _ = try? server.psql("DROP DATABASE \(database) WITH (FORCE)") }
        let dir = TempDir("pg-replica")
        defer { dir.remove() }
        let collector = try CollectorProcess(
            binary: bin.collector, dir: dir.path, dbPath: server.url(database: database),
            arguments: ["--db-read", replica.url(database: database), "--db-pool-size", "2"],
            environment: ["PGPASSWORD": server.password ?? ""])
        try await collector.start()
        defer { collector.stop() }
        let r = RawHTTP.ingest(
            collector.port, token: CollectorProcess.agentToken,
            batchJSON(host: "replica-1", events: [eventJSON(id: "replica-kill-1")]))
        #expect(r?.status == 200, "\(r?.text ?? "no answer")")
        var listed = false
        let deadline = Date().addingTimeInterval(20)
        while !listed && Date() < deadline {
            let events = RawHTTP.request(
                collector.port, "GET", "/api/v1/events?host=replica-1", token: CollectorProcess.readToken)
            listed = events?.text.contains("replica-kill-1") == true
            if !listed { usleep(100_000) }
        }
        #expect(listed, "the kill never showed up through the replica")
        let sessions = try replica.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND usename = 'oomwatch'",
            database: "postgres")
        #expect((Int(sessions.first ?? "0") ?? 0) > 0, "no collector session on the replica: \(sessions)")
        #expect(try replica.psql("SELECT pg_is_in_recovery()", database: "postgres") == ["t"])
    }
}
