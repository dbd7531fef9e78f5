import Logging
public import OOMStore
import PostgresNIO

extension PostgresStore {
    static let outboxColumns = """
        id, kind, receiver, route, event_id, host, time, source, scope, comm, pid, unit,
        container, rss_kb, created, due, sent_at, attempts, next_attempt, last_error,
        idempotency_key, detail
        """

    static func outboxRow(_ r: PostgresRandomAccessRow) throws -> OutboxRow {
        OutboxRow(
            id: try r.get("id"), kind: OutboxRow.Kind(rawValue: try r.get("kind")) ?? .kill,
            receiver: try r.get("receiver"), route: Int(try r.get("route", as: Int64.self)),
            candidate: AlertCandidate(
                eventID: try r.get("event_id"), host: try r.get("host"), time: try r.get("time"),
                source: try r.get("source"), scope: try r.get("scope"), comm: try r.get("comm"),
                pid: Int(try r.get("pid", as: Int64.self)), unit: try r.get("unit"), container: try r.get("container"),
                rssKB: try r.get("rss_kb")),
            created: try r.get("created"), due: try r.get("due"), sentAt: try r.get("sent_at"),
            attempts: Int(try r.get("attempts", as: Int64.self)), nextAttempt: try r.get("next_attempt"),
            lastError: try r.get("last_error"), idempotencyKey: try r.get("idempotency_key"),
            detail: try r.get("detail"))
    }

    /// One outbox row; `once` makes a repeat (same receiver, route, event id) a no-op.
    /// Returns the new row's id, nil when it already existed.
    @discardableResult
    func insertOutbox(
        kind: String, receiver: String, route: Int, alert a: AlertCandidate, created: Int64, due: Int64,
        detail: String? = nil, once: Bool, on c: PostgresConnection
    ) async throws -> Int64? {
        let query: PostgresQuery = """
            INSERT INTO alert_outbox (kind, receiver, route, event_id, host, time, source, scope, comm, pid,
                unit, container, rss_kb, created, due, next_attempt, detail)
            VALUES (\(kind), \(receiver), \(Int64(route)), \(a.eventID), \(a.host), \(a.time), \(a.source),
                \(a.scope), \(a.comm), \(Int64(a.pid)), \(a.unit), \(a.container), \(a.rssKB), \(created), \(due),
                \(created), \(detail))
            \(unescaped: once ? "ON CONFLICT DO NOTHING" : "") RETURNING id
            """
        return try await scalar(Int64.self, query, on: c)
    }

    /// The planned notifications of newly stored kills, in the ingest transaction.
    func writeOutbox(_ candidates: [AlertCandidate], planner: any OutboxPlanner, now: Int64, on c: PostgresConnection)
        async throws
    {
        for candidate in candidates {
            for p in planner.plan(candidate) {
                // A window's opening kill is the row due at once (`due = created`); the
                // window's later kills are due at its end.
                let opened = try await scalar(
                    Int64.self,
                    """
                    SELECT max(created) FROM alert_outbox
                    WHERE receiver = \(p.receiver) AND route = \(Int64(p.route)) AND host = \(candidate.host)
                        AND kind = 'kill' AND due = created AND created >= \(p.windowStart(now: now))
                    """, on: c)
                let due = p.due(now: now, openedAt: opened)
                try await insertOutbox(
                    kind: "kill", receiver: p.receiver, route: p.route, alert: candidate, created: now, due: due,
                    once: true, on: c)
            }
        }
    }

    public func enqueueTestAlert(receiver: String, now: Int64) async throws(StoreError) -> Int64 {
        try await store {
            let alert = AlertCandidate(
                eventID: "test-\(now)", host: "oomwatch-test", time: now, source: "test", scope: nil,
                comm: "oomwatch-test", pid: 0, unit: nil, container: nil, rssKB: 0)
            return try await client.withConnection { c in
                // A plain INSERT: a second test in the same microsecond is an error, not a no-op.
                guard
                    let id = try await insertOutbox(
                        kind: "test", receiver: receiver, route: -1, alert: alert, created: now, due: now, once: false,
                        on: c)
                else { throw StoreError.failed("test alert insert returned nothing") }
                return id
            }
        }
    }

    @discardableResult
    public func enqueueCondition(
        kind: OutboxRow.Kind, host: String, key: String, since: Int64, detail: String, receivers: [String], now: Int64
    ) async throws(StoreError) -> String {
        try await store {
            let alert = AlertCandidate(
                eventID: kind.rawValue + ":" + key, host: host, time: since, source: "oomwatch", scope: nil,
                comm: "", pid: 0, unit: nil, container: nil, rssKB: 0)
            return try await client.withTransaction(logger: logger) { c in
                // A start while this condition is open on the host already (queued by
                // another collector's condition service): adopt that episode.
                if kind == .stale || kind == .pressure {
                    let resolved = kind.rawValue + "_resolved"
                    let open = try await scalar(
                        String.self,
                        """
                        SELECT CASE WHEN kind = \(kind.rawValue) THEN event_id ELSE '' END FROM alert_outbox
                        WHERE host = \(host) AND kind IN (\(kind.rawValue), \(resolved)) ORDER BY id DESC LIMIT 1
                        """, on: c)
                    if let open, !open.isEmpty { return String(open.dropFirst(kind.rawValue.count + 1)) }
                }
                for receiver in receivers {
                    try await insertOutbox(
                        kind: kind.rawValue, receiver: receiver, route: -2, alert: alert, created: now, due: now,
                        detail: detail, once: true, on: c)
                }
                return key
            }
        }
    }

    public func openConditions() async throws(StoreError) -> [(kind: OutboxRow.Kind, host: String, key: String)] {
        try await store {
            try await rows(
                """
                SELECT DISTINCT kind, host, event_id FROM alert_outbox o
                WHERE kind IN ('stale', 'pressure') AND id = (
                    SELECT max(id) FROM alert_outbox o2 WHERE o2.host = o.host
                        AND o2.kind IN (o.kind, o.kind || '_resolved'))
                """, on: client
            ).compactMap { row -> (kind: OutboxRow.Kind, host: String, key: String)? in
                let kind: String = try row.get("kind")
                let id: String = try row.get("event_id")
                guard let k = OutboxRow.Kind(rawValue: kind) else { return nil }
                return (k, try row.get("host"), String(id.dropFirst(kind.count + 1)))
            }
        }
    }

    public func unsentOutbox(limit: Int) async throws(StoreError) -> [OutboxRow] {
        try await store {
            try await rows(
                """
                SELECT \(unescaped: Self.outboxColumns) FROM alert_outbox
                WHERE sent_at IS NULL ORDER BY id LIMIT \(Int64(limit))
                """, on: client
            ).map(Self.outboxRow)
        }
    }

    /// All or nothing: one UPDATE that claims every row only when each is free, so two
    /// collectors never both claim a row.
    public func claimOutbox(ids: [Int64], until: Int64, now: Int64) async throws(StoreError) -> Bool {
        try await store {
            do {
                return try await client.withTransaction(logger: logger) { c in
                    let claimed =
                        try await scalar(
                            Int64.self,
                            """
                            WITH u AS (UPDATE alert_outbox SET claim_until = \(until)
                                WHERE id = ANY(\(ids)) AND sent_at IS NULL
                                    AND (claim_until IS NULL OR claim_until <= \(now))
                                RETURNING 1)
                            SELECT count(*) FROM u
                            """, on: c) ?? 0
                    // Rolled back unless every row was free.
                    guard claimed == Int64(Set(ids).count) else { throw ClaimLost() }
                    return true
                }
            } catch let e as PostgresTransactionError where e.closureError is ClaimLost {
                return false
            }
        }
    }

    struct ClaimLost: Error {}

    public func markOutboxSent(ids: [Int64], key: String, now: Int64) async throws(StoreError) {
        try await store {
            try await client.query(
                """
                UPDATE alert_outbox SET sent_at = \(now), attempts = attempts + 1, idempotency_key = \(key),
                    last_error = NULL, claim_until = NULL WHERE id = ANY(\(ids)) AND sent_at IS NULL
                """, logger: logger)
        }
    }

    public func markOutboxFailed(ids: [Int64], key: String, error: String, retryAt: Int64) async throws(StoreError) {
        try await store {
            try await client.query(
                """
                UPDATE alert_outbox SET attempts = attempts + 1, last_error = \(String(error.prefix(500))),
                    next_attempt = \(retryAt), idempotency_key = \(key), claim_until = NULL
                WHERE id = ANY(\(ids)) AND sent_at IS NULL
                """, logger: logger)
        }
    }

    public func alertOverview(state: String?, limit: Int)
        async throws(StoreError) -> (rows: [OutboxRow], receivers: [ReceiverDeliveryState])
    {
        let condition =
            switch state {
            case "sent": "sent_at IS NOT NULL"
            case "pending": "sent_at IS NULL AND attempts = 0"
            case "failing": "sent_at IS NULL AND attempts > 0"
            default: "true"
            }
        return try await store {
            let list = try await rows(
                """
                SELECT \(unescaped: Self.outboxColumns) FROM alert_outbox WHERE \(unescaped: condition)
                ORDER BY id DESC LIMIT \(Int64(limit))
                """, on: client
            ).map(Self.outboxRow)
            let receivers = try await rows(
                """
                SELECT receiver,
                    count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent,
                    count(*) FILTER (WHERE sent_at IS NULL AND attempts = 0) AS pending,
                    count(*) FILTER (WHERE sent_at IS NULL AND attempts > 0) AS failing,
                    (SELECT last_error FROM alert_outbox o2 WHERE o2.receiver = o.receiver
                        AND o2.last_error IS NOT NULL AND o2.sent_at IS NULL
                        ORDER BY id DESC LIMIT 1) AS last_error,
                    max(sent_at) AS last_sent
                FROM alert_outbox o GROUP BY receiver ORDER BY receiver COLLATE "C"
                """, on: client
            ).map {
                ReceiverDeliveryState(
                    receiver: try $0.get("receiver"), sent: try $0.get("sent"), pending: try $0.get("pending"),
                    failing: try $0.get("failing"), lastError: try $0.get("last_error"),
                    lastSentAt: try $0.get("last_sent"))
            }
            return (list, receivers)
        }
    }
}
