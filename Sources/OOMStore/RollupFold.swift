import GRDB
import Logging
import Synchronization

/// The kill and advice rollups are folded after COMMIT, not in the ingest transaction.
///
/// An ingest stores its events and is acknowledged; `rollup_mark.folded` is the largest
/// events id already counted in `kill_totals`, `kill_daily`, `kill_days`,
/// `kill_counters`, `advice_daily` and `advice_groups`, so the events after it are the
/// ones still to add. The writer adds them, in the order stored, in one transaction that
/// also moves the mark, so a crash between the two never counts an event twice or never:
/// - when no round with kills has been written for `quiet` (a burst of batches is folded
///   once, and its groups that repeat are one upsert each, not one per round; rounds of
///   snapshots alone do not count, or a large fleet would never be quiet);
/// - before a round, when more than `bound` events wait (so a fold never grows long);
/// - before every read of the rollups (`settleRollups()`), so that reports are exact;
/// - before retention deletes events (their delete triggers count down folded kills only).
final class RollupFold: Sendable {
    struct State {
        /// Events stored and not yet folded (may briefly lag a commit: it only decides when
        /// to fold, never what).
        var unfolded = 0
        /// When the last round with kills ended.
        var lastWrite = ContinuousClock.now
        /// A round with kills is being written (a long round is not a quiet moment).
        var writing = false
        /// A timer task is waiting for ingest to go quiet.
        var scheduled = false
    }

    let state = Mutex(State())
    let bound: Int
    let quiet: Duration
    let pool: DatabasePool
    let logger: Logger

    init(bound: Int, quiet: Duration, pool: DatabasePool, logger: Logger) {
        self.bound = max(1, bound)
        self.quiet = quiet
        self.pool = pool
        self.logger = logger
    }

    var unfolded: Int { state.withLock { $0.unfolded } }

    /// Whether a round must fold before it writes.
    var overBound: Bool { state.withLock { $0.unfolded >= bound } }

    /// An ingest round with kills begins.
    func writing() {
        state.withLock { $0.writing = true }
    }

    /// Counts the events a round with kills stored, and starts the quiet timer unless it runs.
    func stored(_ n: Int) {
        let start = state.withLock { s in
            s.unfolded += n
            s.writing = false
            s.lastWrite = .now
            guard n > 0, !s.scheduled else { return false }
            s.scheduled = true
            return true
        }
        if start { foldWhenQuiet() }
    }

    func folded(_ n: Int) {
        state.withLock { $0.unfolded = max(0, $0.unfolded - n) }
    }

    /// How long to wait before folding: nil when nothing waits (the timer ends), zero when
    /// ingest has been quiet long enough.
    func wait() -> Duration? {
        state.withLock { s in
            guard s.unfolded > 0 else {
                s.scheduled = false
                return nil
            }
            if s.writing { return quiet }
            let idle = ContinuousClock.now - s.lastWrite
            return idle >= quiet ? .zero : quiet - idle
        }
    }
}

extension KillRollups {
    /// Adds every event stored after the mark to the kill and advice rollups, in the order
    /// stored (the advice rollups' ties depend on it), and moves the mark past them, inside
    /// the caller's transaction. Returns how many it added.
    static func fold(_ db: Database) throws -> Int {
        let mark = try Int64.fetchOne(db, sql: "SELECT folded FROM rollup_mark") ?? 0
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT id, event_id, host_id, time, source, scope, comm, unit, container, rss_kb, memcg,
                    memcg_usage_kb, memcg_limit_kb, shield_name, shield_rss_kb, shield_adj
                FROM events WHERE id > ? ORDER BY id
                """, arguments: [mark])
        var kills = KillRollups()
        var advice = AdviceRollups()
        var last = mark
        var n = 0
        while let r = try rows.next() {
            last = r[0]
            n += 1
            let hostID: Int64 = r[2]
            let time: Int64 = r[3]
            let source: String = r[4]
            let scope: String? = r[5]
            let comm: String = r[6]
            kills.add(
                hostID: hostID, time: time, comm: comm, source: source, scope: scope, unit: r[7], container: r[8])
            advice.add(
                eventID: r[1], time: time, scope: scope, comm: comm, rssKB: r[9],
                advice: AdviceColumns(
                    memcg: r[10], usageKB: r[11], limitKB: r[12], shieldName: r[13], shieldRSSKB: r[14],
                    shieldAdj: r[15]),
                hostID: hostID)
        }
        guard n > 0 else { return 0 }
        try kills.apply(db)
        try advice.apply(db)
        try db.execute(sql: "UPDATE rollup_mark SET folded = ?", arguments: [last])
        return n
    }

    /// Folds what waits, then runs `delete` on events: their delete triggers count down
    /// rollups that hold them. The mark then falls to the largest id left, since SQLite
    /// gives the next event the largest id plus one, which a deleted largest id would
    /// otherwise leave at or below the mark, never to be folded.
    /// Returns how many it folded and how many it deleted.
    static func deleteEvents(_ db: Database, sql: String, arguments: StatementArguments) throws -> (
        folded: Int, deleted: Int
    ) {
        let folded = try fold(db)
        try db.execute(sql: sql, arguments: arguments)
        let deleted = db.changesCount
        try db.execute(sql: "UPDATE rollup_mark SET folded = (SELECT coalesce(max(id), 0) FROM events)")
        return (folded, deleted)
    }

    /// Migration v10-deferred-rollups: the mark, past every event the writer has already
    /// added to the rollups in its transactions.
    static func migrateDeferred(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE rollup_mark (
                    one INTEGER PRIMARY KEY CHECK (one = 1),
                    -- The largest events id the kill and advice rollups count.
                    folded INTEGER NOT NULL
                );
                INSERT INTO rollup_mark (one, folded) VALUES (1, (SELECT coalesce(max(id), 0) FROM events));
                """)
    }
}

extension OOMDatabase {
    /// Adds every stored kill that waits to the rollups (what a report does before it reads them).
    package func settleRollups() async throws(StoreError) {
        do {
            try await rollupFold.settle()
        } catch {
            throw Self.map(error)
        }
    }
}

extension RollupFold {
    /// Folds the events that wait into the rollups, so that a read of them is exact.
    func settle() async throws {
        guard unfolded > 0 else { return }
        let n = try await pool.write { db in try KillRollups.fold(db) }
        folded(n)
    }

    /// Folds once ingest has been quiet for `quiet`, and again while events keep
    /// waiting; ends when none wait.
    private func foldWhenQuiet() {
        Task {
            while let wait = wait() {
                if wait > .zero {
                    try? await Task.sleep(for: wait)
                    continue
                }
                do {
                    try await settle()
                } catch {
                    // Reports fold for themselves meanwhile; the next try waits a while.
                    logger.error(
                        "folding kills into the rollups failed", metadata: ["error": "\(OOMDatabase.map(error))"])
                    try? await Task.sleep(for: max(quiet, .seconds(5)))
                }
            }
        }
    }
}
