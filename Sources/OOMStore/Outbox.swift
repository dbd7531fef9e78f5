import GRDB

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What alert routing sees of a newly stored kill.
public struct AlertCandidate: Sendable, Equatable {
    public var eventID: String
    public var host: String
    /// Microseconds since the epoch.
    public var time: Int64
    public var source: String
    public var scope: String?
    public var comm: String
    public var pid: Int
    public var unit: String?
    public var container: String?
    public var rssKB: Int64

    public init(
        eventID: String, host: String, time: Int64, source: String, scope: String?, comm: String,
        pid: Int, unit: String?, container: String?, rssKB: Int64
    ) {
        self.eventID = eventID
        self.host = host
        self.time = time
        self.source = source
        self.scope = scope
        self.comm = comm
        self.pid = pid
        self.unit = unit
        self.container = container
        self.rssKB = rssKB
    }
}

/// One notification routing asks for: send this kill to `receiver` through route `route`,
/// at once when it opens a grouping window of `groupWaitSeconds` for its route and host,
/// or with the window's other kills at the window's end.
public struct PlannedNotification: Sendable, Equatable {
    public var receiver: String
    public var route: Int
    public var groupWaitSeconds: Double

    public init(receiver: String, route: Int, groupWaitSeconds: Double) {
        self.receiver = receiver
        self.route = route
        self.groupWaitSeconds = groupWaitSeconds
    }

    /// When a kill queued `now` may go out: the first kill of a (receiver, route, host)
    /// goes at once and opens a window of `groupWaitSeconds` (a lone kill is not held
    /// back); kills inside an open window (`openedAt`: when the latest window opened) wait
    /// for its end and go out as one message listing them.
    public func due(now: Int64, openedAt: Int64?) -> Int64 {
        let wait = Int64(max(0, groupWaitSeconds) * 1_000_000)
        if let openedAt, now < openedAt + wait { return openedAt + wait }
        return now
    }

    /// Microseconds before `now` in which a window opened is still open.
    public func windowStart(now: Int64) -> Int64 {
        now - Int64(max(0, groupWaitSeconds) * 1_000_000) + 1
    }
}

/// Decides, inside the ingest transaction, which notifications a new kill gets, so the
/// outbox rows commit (or roll back) together with the event.
public protocol OutboxPlanner: Sendable {
    func plan(_ candidate: AlertCandidate) -> [PlannedNotification]
}

/// One row of the alert outbox.
public struct OutboxRow: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case kill, test
        /// A host condition began (`stale`, `pressure`) or ended (`…_resolved`).
        case stale, pressure
        case staleResolved = "stale_resolved"
        case pressureResolved = "pressure_resolved"

        /// Whether this kind ends a condition.
        public var isResolve: Bool { self == .staleResolved || self == .pressureResolved }
    }
    public var id: Int64
    public var kind: Kind
    public var receiver: String
    public var route: Int
    public var candidate: AlertCandidate
    /// Microseconds: when the row was written, when its group may go out, when it was
    /// sent (nil while pending).
    public var created: Int64
    public var due: Int64
    public var sentAt: Int64?
    public var attempts: Int
    public var nextAttempt: Int64
    public var lastError: String?
    /// The idempotency key the receiver got (the first event id of the message).
    public var idempotencyKey: String?
    /// A host condition's own words (nil for kills).
    public var detail: String?

    public init(
        id: Int64, kind: Kind, receiver: String, route: Int, candidate: AlertCandidate, created: Int64,
        due: Int64, sentAt: Int64?, attempts: Int, nextAttempt: Int64, lastError: String?,
        idempotencyKey: String?, detail: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.receiver = receiver
        self.route = route
        self.candidate = candidate
        self.created = created
        self.due = due
        self.sentAt = sentAt
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.lastError = lastError
        self.idempotencyKey = idempotencyKey
        self.detail = detail
    }

    /// `sent`, `pending` (never tried or not yet due) or `failing` (tried, not yet sent).
    public var state: String {
        if sentAt != nil { return "sent" }
        return attempts > 0 ? "failing" : "pending"
    }
}

/// Per-receiver delivery totals for `GET /api/v1/alerts`.
public struct ReceiverDeliveryState: Sendable, Equatable {
    public var receiver: String
    public var sent: Int
    public var pending: Int
    public var failing: Int
    public var lastError: String?
    public var lastSent: Int64?
}

extension OOMDatabase {
    static let outboxColumns = """
        id, kind, receiver, route, event_id, host, time, source, scope, comm, pid, unit,
        container, rss_kb, created, due, sent_at, attempts, next_attempt, last_error,
        idempotency_key, detail
        """

    static func outboxRow(_ r: Row) -> OutboxRow {
        OutboxRow(
            id: r["id"], kind: OutboxRow.Kind(rawValue: r["kind"]) ?? .kill, receiver: r["receiver"],
            route: r["route"],
            candidate: AlertCandidate(
                eventID: r["event_id"], host: r["host"], time: r["time"], source: r["source"],
                scope: r["scope"], comm: r["comm"], pid: r["pid"], unit: r["unit"],
                container: r["container"], rssKB: r["rss_kb"]),
            created: r["created"], due: r["due"], sentAt: r["sent_at"], attempts: r["attempts"],
            nextAttempt: r["next_attempt"], lastError: r["last_error"],
            idempotencyKey: r["idempotency_key"], detail: r["detail"])
    }

    /// Writes the planned notifications of one new kill (inside the ingest transaction).
    static func writeOutbox(
        _ candidate: AlertCandidate, planner: any OutboxPlanner, now: Int64, db: Database
    ) throws {
        let planned = planner.plan(candidate)
        guard !planned.isEmpty else { return }
        for p in planned {
            // A window's opening kill is the row due at once (`due = created`); the
            // window's later kills are due at its end.
            let opened = try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT max(created) FROM alert_outbox
                        WHERE receiver = ? AND route = ? AND host = ? AND kind = 'kill'
                            AND due = created AND created >= ?
                        """),
                arguments: [p.receiver, p.route, candidate.host, p.windowStart(now: now)])
            let due = p.due(now: now, openedAt: opened)
            _ = try OutboxInsert(
                kind: "kill", receiver: p.receiver, route: p.route, alert: candidate, created: now, due: due
            ).insertOnce(db)
        }
    }

    /// Queues a test message for `receiver` (`oomwatch alerts test`); returns its row id.
    public func enqueueTestAlert(receiver: String, now: Int64 = nowMicroseconds())
        async throws(StoreError) -> Int64
    {
        do {
            return try await pool.write { db in
                let alert = AlertCandidate(
                    eventID: "test-\(now)", host: "oomwatch-test", time: now, source: "test", scope: nil,
                    comm: "oomwatch-test", pid: 0, unit: nil, container: nil, rssKB: 0)
                // A plain INSERT: a second test in the same microsecond is an error, not a no-op.
                try OutboxInsert(kind: "test", receiver: receiver, route: -1, alert: alert, created: now, due: now)
                    .insert(db)
                return db.lastInsertedRowID
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Queues a host condition's start or end for `receivers`. `key` identifies the
    /// episode (host and start time), so a restarted collector that sees the same episode
    /// again queues nothing twice. A start while the database already has that condition
    /// open on the host (queued by another condition service, whose clock started the
    /// episode at another moment) queues nothing and returns the open episode's key,
    /// which the caller adopts so that both announce the same end; otherwise `key`.
    @discardableResult
    public func enqueueCondition(
        kind: OutboxRow.Kind, host: String, key: String, since: Int64, detail: String,
        receivers: [String], now: Int64 = nowMicroseconds()
    ) async throws(StoreError) -> String {
        do {
            return try await pool.write { db in
                if kind == .stale || kind == .pressure,
                    let open = try Row.fetchOne(
                        db,
                        sql: """
                            SELECT kind, event_id FROM alert_outbox
                            WHERE host = ? AND kind IN (?, ?) ORDER BY id DESC LIMIT 1
                            """, arguments: [host, kind.rawValue, kind.rawValue + "_resolved"]),
                    open["kind"] as String == kind.rawValue
                {
                    let id: String = open["event_id"]
                    return String(id.dropFirst(kind.rawValue.count + 1))
                }
                let alert = AlertCandidate(
                    eventID: kind.rawValue + ":" + key, host: host, time: since, source: "oomwatch", scope: nil,
                    comm: "", pid: 0, unit: nil, container: nil, rssKB: 0)
                for receiver in receivers {
                    _ = try OutboxInsert(
                        kind: kind.rawValue, receiver: receiver, route: -2, alert: alert, created: now, due: now,
                        detail: detail
                    ).insertOnce(db)
                }
                return key
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// The host conditions whose latest queued row is a start, not an end: what was
    /// firing when the collector stopped, as (kind, host, episode key).
    public func openConditions() async throws(StoreError) -> [(kind: OutboxRow.Kind, host: String, key: String)] {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT kind, host, event_id FROM alert_outbox o
                        WHERE kind IN ('stale', 'pressure') AND id = (
                            SELECT max(id) FROM alert_outbox o2 WHERE o2.host = o.host
                                AND o2.kind IN (o.kind, o.kind || '_resolved'))
                        GROUP BY kind, host
                        """
                ).compactMap { row -> (kind: OutboxRow.Kind, host: String, key: String)? in
                    let kind: String = row["kind"]
                    let host: String = row["host"]
                    let id: String = row["event_id"]
                    guard let k = OutboxRow.Kind(rawValue: kind) else { return nil }
                    return (k, host, String(id.dropFirst(kind.count + 1)))
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Unsent rows, oldest first (the delivery loop's input).
    public func unsentOutbox(limit: Int = 1000)
        async throws(StoreError) -> [OutboxRow]
    {
        do {
            return try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.outboxColumns) FROM alert_outbox
                        WHERE sent_at IS NULL ORDER BY id LIMIT ?
                        """, arguments: [limit]
                ).map(Self.outboxRow)
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Takes the rows for one send attempt until `until`: true when every row was unsent
    /// and unclaimed (or its claim had run out), false (nothing changed) when another
    /// collector holds or has sent any of them.
    public func claimOutbox(ids: [Int64], until: Int64, now: Int64 = nowMicroseconds())
        async throws(StoreError) -> Bool
    {
        do {
            return try await pool.write { db in
                var claimed = 0
                try db.inSavepoint {
                    let statement = try db.cachedStatement(
                        sql: """
                            UPDATE alert_outbox SET claim_until = ? WHERE id = ? AND sent_at IS NULL
                                AND (claim_until IS NULL OR claim_until <= ?)
                            """)
                    for id in ids {
                        try statement.execute(arguments: [until, id, now])
                        claimed += db.changesCount
                    }
                    return claimed == ids.count ? .commit : .rollback
                }
                return claimed == ids.count
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// Records a delivery: the rows were accepted (2xx) under `key`.
    public func markOutboxSent(ids: [Int64], key: String, now: Int64 = nowMicroseconds())
        async throws(StoreError)
    {
        try await updateOutbox(
            ids: ids,
            sql: """
                UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1, idempotency_key = ?,
                    last_error = NULL, claim_until = NULL WHERE id = ? AND sent_at IS NULL
                """, [now, key])
    }

    /// Records a failed attempt and when to try again. The key is kept so a retry after
    /// a lost answer carries the same one.
    public func markOutboxFailed(
        ids: [Int64], key: String, error: String, retryAt: Int64
    ) async throws(StoreError) {
        try await updateOutbox(
            ids: ids,
            sql: """
                UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_attempt = ?,
                    idempotency_key = ?, claim_until = NULL WHERE id = ? AND sent_at IS NULL
                """, [String(error.prefix(500)), retryAt, key])
    }

    private func updateOutbox(ids: [Int64], sql: String, _ leading: [any DatabaseValueConvertible & Sendable])
        async throws(StoreError)
    {
        do {
            try await pool.write { db in
                let statement = try db.cachedStatement(sql: sql)
                for id in ids {
                    let values: [(any DatabaseValueConvertible)?] = leading.map { $0 } + [id]
                    try statement.execute(arguments: StatementArguments(values))
                }
            }
        } catch {
            throw Self.map(error)
        }
    }

    /// The newest notifications (optionally one state) and per-receiver totals.
    public func alertOverview(state: String? = nil, limit: Int = 100)
        async throws(StoreError) -> (rows: [OutboxRow], receivers: [ReceiverDeliveryState])
    {
        let condition =
            switch state {
            case "sent": "sent_at IS NOT NULL"
            case "pending": "sent_at IS NULL AND attempts = 0"
            case "failing": "sent_at IS NULL AND attempts > 0"
            default: "1"
            }
        do {
            return try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.outboxColumns) FROM alert_outbox WHERE \(condition)
                        ORDER BY id DESC LIMIT ?
                        """, arguments: [limit]
                ).map(Self.outboxRow)
                let receivers = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT receiver,
                            sum(sent_at IS NOT NULL) AS sent,
                            sum(sent_at IS NULL AND attempts = 0) AS pending,
                            sum(sent_at IS NULL AND attempts > 0) AS failing,
                            (SELECT last_error FROM alert_outbox o2 WHERE o2.receiver = o.receiver
                                AND o2.last_error IS NOT NULL AND o2.sent_at IS NULL
                                ORDER BY id DESC LIMIT 1) AS last_error,
                            max(sent_at) AS last_sent
                        FROM alert_outbox o GROUP BY receiver ORDER BY receiver
                        """
                ).map {
                    ReceiverDeliveryState(
                        receiver: $0["receiver"], sent: $0["sent"], pending: $0["pending"], failing: $0["failing"],
                        lastError: $0["last_error"], lastSent: $0["last_sent"])
                }
                return (rows, receivers)
            }
        } catch {
            throw Self.map(error)
        }
    }
}

/// One new `alert_outbox` row: a kill, a test message or a host condition for one
/// receiver. Kills and conditions are queued once per (receiver, route, event id).
struct OutboxInsert: InsertOnceRecord, PersistableRecord {
    static let databaseTableName = "alert_outbox"
    static let insertOnceSQL = makeInsertOnceSQL(conflict: [])

    enum Columns: String, CaseIterable, ColumnExpression {
        case kind, receiver, route, eventID = "event_id", host, time, source, scope, comm, pid, unit, container
        case rssKB = "rss_kb", created, due, nextAttempt = "next_attempt", detail
    }

    var kind: String
    var receiver: String
    /// The route's index; -1 for a test message, -2 for a host condition.
    var route: Int
    var alert: AlertCandidate
    /// Also when the first attempt may be made (`due` holds the group back).
    var created: Int64
    var due: Int64
    var detail: String? = nil

    func bind(into b: inout TypedBindings) throws {
        try b.add(
            kind, receiver, route, alert.eventID, alert.host, alert.time, alert.source, alert.scope, alert.comm,
            alert.pid, alert.unit, alert.container, alert.rssKB, created, due, created, detail)
    }
}
