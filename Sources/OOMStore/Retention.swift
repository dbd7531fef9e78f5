import GRDB

/// How long data is kept.
public struct RetentionPolicy: Sendable, Equatable {
    /// Raw snapshots, days.
    public var snapshotDays: Double = 14
    /// Hourly snapshot rollups and agent counters, days.
    public var rollupDays: Double = 365
    /// Events, days; `nil` keeps them until configured otherwise.
    public var eventDays: Double? = nil
    /// Seconds between runs.
    public var intervalSeconds: Double = 3600
    /// Delivered alert notifications, days (unsent ones are never deleted).
    public var sentAlertDays: Double = 30

    public init() {}
}

/// What one retention pass deleted.
public struct RetentionOutcome: Sendable, Equatable {
    public var snapshots = 0
    public var rollups = 0
    public var events = 0
    public var agentCounters = 0
    public var sentAlerts = 0
}

extension OOMDatabase {
    /// Deletes what the policy no longer keeps, in small chunks so ingest never waits
    /// long behind a retention pass.
    public func applyRetention(_ policy: RetentionPolicy, now: Int64 = nowMicroseconds())
        async throws(StoreError) -> RetentionOutcome
    {
        func cutoff(_ days: Double) -> Int64 { now - Int64(days * 86_400 * 1_000_000) }
        var outcome = RetentionOutcome()
        do {
            outcome.snapshots = try await deleteChunked(
                "DELETE FROM snapshots WHERE id IN (SELECT id FROM snapshots WHERE time < ? LIMIT 5000)",
                cutoff(policy.snapshotDays))
            // A snapshot's frame and process details outlive it by the hour they may lag.
            _ = try await deleteChunked(
                """
                DELETE FROM snapshot_frames WHERE (host_id, hour) IN
                    (SELECT host_id, hour FROM snapshot_frames WHERE hour < ? LIMIT 5000)
                """, cutoff(policy.snapshotDays) - SnapshotStorage.hour)
            _ = try await deleteChunked(
                """
                DELETE FROM snapshot_processes WHERE id IN
                    (SELECT id FROM snapshot_processes WHERE last_seen < ? LIMIT 5000)
                """, cutoff(policy.snapshotDays) - SnapshotStorage.hour)
            // The writer's cache may name what was just deleted.
            snapshotCache.removeAll()
            outcome.rollups = try await deleteChunked(
                """
                DELETE FROM snapshot_hourly WHERE (host_id, hour) IN
                    (SELECT host_id, hour FROM snapshot_hourly WHERE hour < ? LIMIT 5000)
                """, cutoff(policy.rollupDays))
            outcome.agentCounters = try await deleteChunked(
                """
                DELETE FROM agent_counters WHERE (host_id, time) IN
                    (SELECT host_id, time FROM agent_counters WHERE time < ? LIMIT 5000)
                """, cutoff(policy.rollupDays))
            // Process runs are samples too: kept as long as raw snapshots.
            _ = try await deleteChunked(
                """
                DELETE FROM process_runs WHERE (host_id, comm, pid, started) IN
                    (SELECT host_id, comm, pid, started FROM process_runs WHERE last_time < ? LIMIT 5000)
                """, cutoff(policy.snapshotDays))
            if let days = policy.eventDays {
                outcome.events = try await deleteChunked(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? LIMIT 5000)",
                    cutoff(days), events: true)
                // Advice days whose kills were all deleted (their counts reached zero).
                _ = try await deleteChunked(
                    """
                    DELETE FROM advice_daily WHERE (host_id, kind, key, day) IN
                        (SELECT host_id, kind, key, day FROM advice_daily INDEXED BY advice_daily_day
                         WHERE day < ? AND kills <= 0 LIMIT 5000)
                    """, cutoff(days) / 86_400_000_000 + 1)
                // Kill rollup days emptied the same way (the delete trigger counts down).
                if outcome.events > 0 {
                    _ = try await pool.write { db in
                        try db.execute(sql: "DELETE FROM kill_daily WHERE kills <= 0")
                    }
                }
                // The whole-retention groups of the kills deleted, from the days left.
                try await pool.write { db in try db.execute(sql: AdviceSchema.refreshStaleGroupsSQL) }
            }
            outcome.sentAlerts = try await deleteChunked(
                """
                DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox
                    WHERE sent_at IS NOT NULL AND sent_at < ? LIMIT 5000)
                """, cutoff(policy.sentAlertDays))
            try await pool.write { db in try db.execute(sql: "PRAGMA optimize") }
        } catch {
            throw Self.map(error)
        }
        return outcome
    }

    /// Runs `sql` until it deletes nothing, a transaction each time; on `events`, each
    /// time after folding the kills that wait (`KillRollups.deleteEvents`).
    private func deleteChunked(_ sql: String, _ cutoff: Int64, events: Bool = false) async throws -> Int {
        var total = 0
        while true {
            let (folded, n) = try await pool.write { db in
                guard events else {
                    try db.execute(sql: sql, arguments: [cutoff])
                    return (0, db.changesCount)
                }
                return try KillRollups.deleteEvents(db, sql: sql, arguments: [cutoff])
            }
            rollupFold.folded(folded)
            total += n
            if n == 0 { return total }
        }
    }
}
