import GRDB
public import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension OOMDatabase {
    /// Kills per group kept as evidence (their ids go into the finding).
    public static let adviceRecentKills = 5
    /// Process runs per process name the leak rule reads at most (the latest ones).
    public static let adviceMaxRuns = 50

    /// Advice over [since, until), for one host or the fleet, most severe and most recent
    /// first, at most `limit` findings (`nil`: all of them).
    ///
    /// The store supplies bounded aggregates and `AdviceRules` (pure) turns them into
    /// findings: windows of a week or more take each kill group whole from `advice_groups`
    /// when all its kills fall in the window, and sum `advice_daily` only for the groups
    /// straddling the window; shorter windows aggregate their own events by the time
    /// index. Every rule runs on every candidate (so `total` counts all findings); the
    /// evidence ids are read only for the findings returned.
    public func advice(
        since: Int64, until: Int64, host: String? = nil, settings: AdviceSettings = AdviceSettings(),
        limit: Int? = nil, now: Int64 = nowMicroseconds()
    ) async throws(StoreError) -> AdviceReport {
        try await advice(
            since: since, until: until, host: host, settings: settings, limit: limit, now: now, source: .groups)
    }

    /// `advice(…)` with the rollup it reads long windows from chosen: `.daily` is the
    /// per-day GROUP BY advice used before `advice_groups`, kept as the reference the
    /// tests compare the group rollup with.
    ///
    /// A large fleet's advice is cut into ranges of host ids, each read and judged in a read
    /// transaction of its own, `settings.parallelism` of them side by side (0: one per core,
    /// at most four); there are four ranges per worker, so a range of busy hosts does not
    /// hold up the answer while the other workers idle. The rules are per host, so the
    /// ranges' findings merged in order are the whole fleet's. `parts` forces the number of
    /// ranges (tests).
    package func advice(
        since: Int64, until: Int64, host: String?, settings: AdviceSettings, limit: Int?, now: Int64,
        source: AdviceReader.Source, parts: Int? = nil
    ) async throws(StoreError) -> AdviceReport {
        /// A range's count of findings, its first `limit`, and its hosts' ids by name.
        struct Part: Sendable {
            var findings: [AdviceFinding]
            var total: Int
            var hostIDs: [String: Int64]
        }
        do {
            try await rollupFold.settle()
            let workers = settings.parallelism > 0 ? settings.parallelism : Self.adviceWorkers
            let ranges = host == nil ? try await adviceRanges(parts, workers: workers) : [nil]
            let judge: @Sendable (Int) async throws -> (Int, Part) = { i in
                let part = try await self.pool.read { db in
                    let reader = AdviceReader(db: db, settings: settings, source: source, hosts: ranges[i])
                    let (facts, hostIDs) = try reader.facts(since: since, until: until, host: host, now: now)
                    let (findings, total) = AdviceShaping.findings(
                        facts, settings: settings, limit: limit, until: until, now: now)
                    return Part(findings: findings, total: total, hostIDs: hostIDs)
                }
                return (i, part)
            }
            let results = try await withThrowingTaskGroup(of: (Int, Part).self) { group in
                var next = min(workers, ranges.count)
                for i in 0..<next { group.addTask { try await judge(i) } }
                var parts = [Part?](repeating: nil, count: ranges.count)
                for try await (i, part) in group {
                    parts[i] = part
                    if next < ranges.count {
                        let i = next
                        group.addTask { try await judge(i) }
                        next += 1
                    }
                }
                return parts.compactMap { $0 }
            }
            // The order is total (severity, time, host, kind, subject), so the first `limit` of
            // the fleet are among the ranges' first `limit`.
            let merged = results.flatMap(\.findings)
            let total = results.reduce(0) { $0 + $1.total }
            let first = results.count == 1 ? merged : AdviceRules.first(limit ?? merged.count, of: merged)
            let hostIDs = results.reduce(into: [String: Int64]()) { $0.merge($1.hostIDs) { a, _ in a } }
            let findings = try await pool.read { db in
                var findings = first
                try AdviceReader(db: db, settings: settings, source: source)
                    .addEvidence(&findings, hostIDs: hostIDs, since: since, until: until)
                return findings
            }
            return AdviceShaping.report(findings, total: total, since: since, until: until, now: now)
        } catch {
            throw Self.map(error)
        }
    }

    /// Advice's workers when `advice.parallelism` is 0: one per core, at most four.
    static let adviceWorkers = min(4, ProcessInfo.processInfo.activeProcessorCount)
    /// A fleet's advice is cut in ranges of at least this many hosts.
    static let adviceHostsPerPart = 250

    /// The fleet cut into contiguous host-id ranges of about equal host counts (the first
    /// open below, the last open above, so a host added meanwhile falls in one): `parts`
    /// of them, or four per worker but none smaller than `adviceHostsPerPart` hosts, and
    /// one (`nil`: every host) for one worker.
    package func adviceRanges(_ parts: Int?, workers: Int) async throws -> [ClosedRange<Int64>?] {
        guard parts != nil || workers > 1 else { return [nil] }
        let ids = try await pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM hosts ORDER BY id") }
        let n = max(1, min(ids.count, parts ?? min(4 * workers, ids.count / Self.adviceHostsPerPart)))
        guard n > 1 else { return [nil] }
        return (0..<n).map { i in
            let low = i == 0 ? Int64.min : ids[ids.count * i / n]
            let high = i == n - 1 ? Int64.max : ids[ids.count * (i + 1) / n] - 1
            return low...high
        }
    }
}

/// Reads the facts of every host advice could say something about.
package struct AdviceReader {
    /// Where windows of `rollupWindow` or more read their kill groups from.
    package enum Source: Sendable {
        /// `advice_groups` whole, `advice_daily` for the groups straddling the window.
        case groups
        /// A GROUP BY over every `advice_daily` row of the window.
        case daily
    }

    let db: Database
    let settings: AdviceSettings
    let source: Source
    /// The part of the fleet this reader covers, by host id (`nil`: all of it).
    var hosts: ClosedRange<Int64>? = nil
    static let day: Int64 = 86_400_000_000
    static let hour: Int64 = 3_600_000_000

    struct GroupKey: Hashable {
        var host: Int64
        var kind: String
        var key: String

        /// From a row's first three columns, `host_id`, `kind` and `key` (read by index:
        /// advice reads tens of thousands of these rows, and a lookup by name scans the
        /// columns each time).
        init(_ row: Row) {
            self.init(host: row[0], kind: row[1], key: row[2])
        }

        init(host: Int64, kind: String, key: String) {
            self.host = host
            self.kind = kind
            self.key = key
        }
    }

    func facts(since: Int64, until: Int64, host: String?, now: Int64) throws
        -> (facts: [HostAdviceFacts], hostIDs: [String: Int64])
    {
        var names: [Int64: String] = [:]
        if let host {
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM hosts WHERE name = ?", arguments: [host])
            else { return ([], [:]) }
            names[id] = host
        } else {
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM hosts WHERE true\(inPart("id"))") {
                names[row[0]] = row[1]
            }
        }
        let hostID = host != nil ? names.keys.first : nil
        // Lifetimes of the leak candidates: for one host per group, for the fleet in one pass
        // that reads only the names whose runs can make the leak rule fire (and the fleet's
        // other process-name groups need not be read either: no rule fires on them).
        let allRuns = hostID == nil ? try leakCandidateRuns(since: since, until: until) : nil
        let (groups, best, shields) = try killGroups(
            since: since, until: until, hostID: hostID, leakCandidates: allRuns)

        var byHost: [Int64: HostAdviceFacts] = [:]
        let s = settings
        for (k, g) in groups {
            AdviceShaping.file(g, kind: k.kind, host: names[k.host] ?? "?", into: &byHost[k.host], settings: s)
        }
        for (id, b) in best where byHost[id] != nil {
            byHost[id]!.worstShield = try shieldedKill(eventID: b)
        }
        for (id, shield) in shields where byHost[id] != nil { byHost[id]!.worstShield = shield }
        try addHourly(&byHost, names: names, hostID: hostID, until: until, now: now)
        for id in Array(byHost.keys) {
            var f = byHost.removeValue(forKey: id)!
            f.commGroups.sort { $0.key < $1.key }
            f.memcgGroups.sort { $0.key < $1.key }
            for i in f.commGroups.indices {
                let g = f.commGroups[i]
                if g.recent.isEmpty, CriticalServices.match(comm: g.key, in: s.criticalServices) != nil {
                    f.commGroups[i].recent = try recent(.comm(id, g.key), of: g, since, until)
                }
                if g.kills >= s.minRepeatKills && g.rssSpread <= s.killSizeSpread {
                    f.runs[g.key] =
                        try allRuns.map { $0[GroupKey(host: id, kind: "comm", key: g.key)] ?? [] }
                        ?? runs(hostID: id, comm: g.key, since: since, until: until)
                }
            }
            // A tight cgroup's victims decide whether its limit or a leak is the problem.
            for i in f.memcgGroups.indices where f.memcgGroups[i].recent.isEmpty {
                let g = f.memcgGroups[i]
                f.memcgGroups[i].recent = try recent(.memcg(id, g.key), of: g, since, until)
            }
            byHost[id] = f
        }
        // Host state for the host-wide rules, then the hours before the last global kill on
        // hosts without a userspace killer: each in one statement for all the hosts.
        try addHostStates(&byHost, ids: byHost.keys.filter { byHost[$0]!.globalKills != nil })
        try addHoursBeforeKill(
            &byHost,
            ids: byHost.keys.filter {
                byHost[$0]!.globalKills != nil && byHost[$0]!.system?.userspaceKillers?.any == false
            })
        var ids: [String: Int64] = [:]
        for id in byHost.keys { ids[byHost[id]!.host] = id }
        return (byHost.keys.sorted().map { byHost[$0]! }, ids)
    }

    /// ` AND column BETWEEN low AND high` for the hosts of this reader's part ("" for the
    /// whole fleet).
    func inPart(_ column: String) -> String {
        hosts.map { " AND \(column) BETWEEN \($0.lowerBound) AND \($0.upperBound)" } ?? ""
    }

    /// Windows at least this long are counted in whole UTC days from the rollup.
    static let rollupWindow: Int64 = 7 * day

    /// Kill groups of the window that a rule can fire on: global kills, groups killed at
    /// least `minRepeatKills` times, critical services.
    ///
    /// A window of `rollupWindow` or more reads `advice_daily` in whole UTC days (its first
    /// and last day counted whole, so up to a day more than asked at each end); its GROUP BY
    /// streams in the table's key order. A shorter window aggregates its own events exactly.
    ///
    /// `best` names each host's worst shielded kill by event id; `shields` holds those the
    /// group rollup already read with its groups. With `leakCandidates`, the group rollup
    /// skips the process-name groups no rule can fire on: neither a critical service nor a
    /// leak candidate.
    func killGroups(
        since: Int64, until: Int64, hostID: Int64?, leakCandidates: [GroupKey: [ProcessRun]]? = nil
    ) throws -> (groups: [(key: GroupKey, group: KillGroup)], best: [Int64: String], shields: [Int64: ShieldedKill]) {
        let day = Self.day
        // Each (host, kind, key) once: every statement below groups by it.
        var groups: [(key: GroupKey, group: KillGroup)] = []
        var best: [Int64: String] = [:]
        var shields: [Int64: ShieldedKill] = [:]
        let hostFilter = (hostID == nil ? "" : " AND host_id = \(hostID!)") + inPart("host_id")
        // The process names of the critical services (bound, never spliced into SQL).
        let criticalNames = AdviceShaping.criticalNames(settings)
        let critical = Array(repeating: "?", count: criticalNames.count).joined(separator: ", ")
        let repeats = StatementArguments([settings.minRepeatKills])
        func add(_ row: Row) {
            let k = GroupKey(row)
            var g = KillGroup(k, row)
            // The rollup's evidence: each day's latest kill, oldest day first.
            if let ids: String = row[12], let comms: String = row[13] {
                let idList = ids.split(separator: "\u{1f}").filter { !$0.isEmpty }.suffix(OOMDatabase.adviceRecentKills)
                let commList = comms.split(separator: "\u{1f}", omittingEmptySubsequences: false)
                    .suffix(idList.count)
                g.recent = zip(idList, commList).reversed().map {
                    KillRef(id: String($0.0), time: g.lastTime, comm: String($0.1), rssKB: g.maxRSS)
                }
            }
            groups.append((k, g))
        }
        if until - since >= Self.rollupWindow, source == .groups {
            let (fromDay, toDay) = (since / day, (until + day - 1) / day)
            // Candidates: groups with a kill in the window's days that could qualify on their
            // kills over the whole retention (a superset of those qualifying in the window).
            var straddling: [GroupKey] = []
            let groupHosts = (hostID.map { " AND g.host_id = \($0)" } ?? "") + inPart("g.host_id")
            // With each group the evidence its rules quote (a cgroup's or a critical service's
            // latest kills, kept in its row by the ingest writer: a whole group's days are all
            // in the window) and, for a host's global kills, its worst shielded kill: one
            // statement, not one per group.
            try each(
                """
                SELECT g.host_id, g.kind, g.key, g.kills, g.first_time, g.last_time, g.sum_rss, g.sum_rss2,
                    g.min_rss, g.max_rss, g.max_usage_kb, g.limit_kb, g.stale,
                    CASE WHEN g.kind = 'memcg' OR (g.kind = 'comm' AND g.key IN (\(critical))) THEN g.recent
                    END AS recent,
                    \(Self.shieldColumns), g.kind = 'comm' AND g.key IN (\(critical)) AS critical
                FROM advice_groups g
                LEFT JOIN events e ON g.kind = 'global' AND g.best_ratio >= ? AND e.event_id = g.best_event
                WHERE g.last_time >= ? AND g.first_time < ?\(groupHosts)
                    AND (g.kills >= ? OR g.kind = 'global' OR (g.kind = 'comm' AND g.key IN (\(critical))))
                """,
                StatementArguments(criticalNames) + StatementArguments(criticalNames) + [
                    settings.wrongVictimRatio, fromDay * day, toDay * day,
                ]
                    + repeats + StatementArguments(criticalNames)
            ) { row in
                let k = GroupKey(row)
                if let leakCandidates, k.kind == "comm", !(row[21] as Bool), leakCandidates[k] == nil { return }
                // Kills before the window's first day or after its last (only the days in the
                // window count), or kills deleted since the group's min and max were taken:
                // read by day.
                let (first, last, stale): (Int64, Int64, Int64) = (row[4], row[5], row[12])
                guard first >= fromDay * day, last < toDay * day, stale == 0
                else { return straddling.append(k) }
                var g = KillGroup(k, row)
                if let recent: String = row[13] {
                    // Each day's latest kill, newest day first, as `recent(_:of:_:_:)` reads them.
                    g.recent = recent.split(separator: "\u{1f}").map { ref in
                        let parts = ref.split(separator: "\u{1e}", maxSplits: 1, omittingEmptySubsequences: false)
                        return KillRef(
                            id: String(parts[0]), time: g.lastTime, comm: parts.count > 1 ? String(parts[1]) : "",
                            rssKB: g.maxRSS)
                    }
                }
                groups.append((k, g))
                if k.kind == "global", let shield = Self.shieldedKill(row, at: 14) { shields[k.host] = shield }
            }
            // A bounded scan per straddling group: its days in the window, by primary key (the
            // kill counts are checked again in `facts`).
            for k in straddling {
                let arguments: StatementArguments = [k.host, k.kind, k.key, fromDay, toDay]
                let sums = try db.cachedStatement(
                    sql: """
                        SELECT host_id, kind, key, \(Self.dailyGroupColumns)
                        FROM advice_daily
                        WHERE host_id = ? AND kind = ? AND key = ? AND day >= ? AND day < ? AND kills > 0
                        GROUP BY host_id, kind, key
                        """)
                if let row = try Row.fetchOne(sums, arguments: arguments) { add(row) }
                guard k.kind == "global" else { continue }
                let shield = try db.cachedStatement(
                    sql: """
                        SELECT max(best_ratio), best_event FROM advice_daily
                        WHERE host_id = ? AND kind = ? AND key = ? AND day >= ? AND day < ? AND best_ratio >= ?
                        """)
                if let row = try Row.fetchOne(shield, arguments: arguments + [settings.wrongVictimRatio]),
                    let event: String = row["best_event"]
                {
                    best[k.host] = event
                }
            }
        } else if until - since >= Self.rollupWindow {
            let range: StatementArguments = [since / day, (until + day - 1) / day]
            try each(
                """
                SELECT host_id, kind, key, \(Self.dailyGroupColumns)
                FROM advice_daily
                WHERE +day >= ? AND +day < ? AND kills > 0\(hostFilter)
                GROUP BY host_id, kind, key
                HAVING kind = 'global' OR sum(kills) >= ? OR (kind = 'comm' AND key IN (\(critical)))
                """, range + repeats + StatementArguments(criticalNames), add)
            try each(
                """
                SELECT host_id, max(best_ratio), best_event FROM advice_daily
                WHERE kind = 'global' AND key = '' AND day >= ? AND day < ? AND best_ratio >= ?\(hostFilter)
                GROUP BY host_id
                """, range + [settings.wrongVictimRatio]
            ) { best[$0["host_id"]] = $0["best_event"] }
        } else {
            let range: StatementArguments = [since, until]
            let columns = """
                count(*) AS kills, min(time) AS first_time, max(time) AS last_time, sum(rss_kb) AS sum_rss,
                sum(rss_kb * 1.0 * rss_kb) AS sum_rss2, min(rss_kb) AS min_rss, max(rss_kb) AS max_rss
                """
            let from = "FROM events INDEXED BY events_time_cover WHERE time >= ? AND time < ?\(hostFilter)"
            try each(
                """
                SELECT host_id, 'comm' AS kind, comm AS key, \(columns), NULL AS max_usage_kb, NULL AS limit_kb,
                    NULL AS recent_events, NULL AS recent_comms \(from)
                GROUP BY host_id, comm HAVING count(*) >= ? OR comm IN (\(critical))
                UNION ALL
                SELECT host_id, 'memcg', memcg, \(columns), max(memcg_usage_kb), max(memcg_limit_kb), NULL, NULL
                \(from)
                AND memcg IS NOT NULL GROUP BY host_id, memcg HAVING count(*) >= ?
                UNION ALL
                SELECT host_id, 'global', '', \(columns), NULL, NULL, NULL, NULL \(from) AND scope = 'global'
                GROUP BY host_id
                """, range + repeats + StatementArguments(criticalNames) + range + repeats + range, add)
            try each(
                """
                SELECT host_id, max(shield_rss_kb * 1.0 / max(rss_kb, 1)), event_id \(from)
                AND scope = 'global' AND shield_rss_kb IS NOT NULL
                GROUP BY host_id HAVING max(shield_rss_kb * 1.0 / max(rss_kb, 1)) >= ?
                """, range + [settings.wrongVictimRatio]
            ) { best[$0["host_id"]] = $0["event_id"] }
        }
        return (groups, best, shields)
    }

    /// A kill group's sums over days of `advice_daily`, in the order `KillGroup(_:_:)` reads
    /// them, then the days' latest kills (columns 12 and 13).
    static let dailyGroupColumns = """
        sum(kills) AS kills, min(first_time) AS first_time, max(last_time) AS last_time,
            sum(sum_rss) AS sum_rss, sum(sum_rss2) AS sum_rss2, min(min_rss) AS min_rss, max(max_rss) AS max_rss,
            max(max_usage_kb) AS max_usage_kb, max(limit_kb) AS limit_kb,
            group_concat(last_event, char(31)) AS recent_events,
            group_concat(coalesce(last_comm, ''), char(31)) AS recent_comms
        """

    /// Calls `body` with each row, without materializing the result.
    func each(_ sql: String, _ arguments: StatementArguments, _ body: (Row) throws -> Void) throws {
        let cursor = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try cursor.next() { try body(row) }
    }

    /// A kill group, to read its newest kills by.
    enum Group {
        case comm(Int64, String)
        case memcg(Int64, String)
        case global(Int64)
    }

    /// The newest kills of a group (newest first) as the window's group aggregate has
    /// them: a long window's from `advice_daily` (each day's latest kill, as the per-day
    /// rollup names them, stamped with the group's last time and largest RSS), a short
    /// window's from the events.
    func recent(_ group: Group, of g: KillGroup? = nil, _ since: Int64, _ until: Int64) throws -> [KillRef] {
        guard until - since >= Self.rollupWindow else { return try recent(group, since, until) }
        let (host, kind, key): (Int64, String, String) =
            switch group {
            case .comm(let host, let comm): (host, "comm", comm)
            case .memcg(let host, let path): (host, "memcg", path)
            case .global(let host): (host, "global", "")
            }
        return try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT last_event, coalesce(last_comm, '') AS last_comm FROM advice_daily
                    WHERE host_id = ? AND kind = ? AND key = ? AND day >= ? AND day < ? AND kills > 0
                        AND last_event <> ''
                    ORDER BY day DESC LIMIT \(OOMDatabase.adviceRecentKills)
                    """),
            arguments: [host, kind, key, since / Self.day, (until + Self.day - 1) / Self.day]
        ).map { KillRef(id: $0["last_event"], time: g?.lastTime ?? 0, comm: $0["last_comm"], rssKB: g?.maxRSS ?? 0) }
    }

    /// The newest kills of a group (newest first), from an events index.
    func recent(_ group: Group, _ since: Int64, _ until: Int64) throws -> [KillRef] {
        let (filter, arguments): (String, StatementArguments) =
            switch group {
            case .comm(let host, let comm): ("INDEXED BY events_comm WHERE comm = ? AND host_id = ?", [comm, host])
            // Cgroup and global kills have no index of their own (v11): a window under
            // `rollupWindow` walks the host's kills, newest first.
            case .memcg(let host, let path):
                ("INDEXED BY events_host_time WHERE host_id = ? AND memcg = ?", [host, path])
            case .global(let host): ("INDEXED BY events_host_time WHERE host_id = ? AND scope = 'global'", [host])
            }
        // Cached: the same few statements run once per group.
        return try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT event_id, time, comm, rss_kb FROM events \(filter)
                    AND time >= ? AND time < ? ORDER BY time DESC LIMIT \(OOMDatabase.adviceRecentKills)
                    """),
            arguments: arguments + [since, until]
        ).map { KillRef(id: $0["event_id"], time: $0["time"], comm: $0["comm"], rssKB: $0["rss_kb"]) }
    }

    /// Adds the ids of the kills behind each finding that lacks them: read only for the
    /// findings there are, not for every group a rule looked at.
    func addEvidence(_ findings: inout [AdviceFinding], hostIDs: [String: Int64], since: Int64, until: Int64)
        throws
    {
        var cache: [String: [String]] = [:]
        for i in findings.indices {
            guard let host = hostIDs[findings[i].host], let evidence = AdviceShaping.evidenceGroup(of: findings[i])
            else { continue }
            let group: Group =
                switch evidence {
                case .comm(let comm): .comm(host, comm)
                case .global: .global(host)
                }
            let key = "\(group)"
            if cache[key] == nil { cache[key] = try recent(group, of: nil, since, until).map(\.id) }
            findings[i].evidence.eventIDs = cache[key]!
        }
    }

    /// The columns of an event (`e`) ``shieldedKill(_:at:)`` reads.
    static let shieldColumns = "e.event_id, e.time, e.comm, e.rss_kb, e.shield_name, e.shield_rss_kb, e.shield_adj"

    func shieldedKill(eventID: String) throws -> ShieldedKill? {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(Self.shieldColumns) FROM events e WHERE e.event_id = ?"),
            arguments: [eventID])
        return row.flatMap { Self.shieldedKill($0, at: 0) }
    }

    /// A shielded kill from ``shieldColumns`` starting at column `i`; `nil` when the event
    /// (or its shield) is missing.
    static func shieldedKill(_ row: Row, at i: Int) -> ShieldedKill? {
        guard let id: String = row[i], let name: String = row[i + 4], let rss: Int64 = row[i + 5],
            let adj: Int = row[i + 6]
        else { return nil }
        return ShieldedKill(
            kill: KillRef(id: id, time: row[i + 1], comm: row[i + 2], rssKB: row[i + 3]), shieldName: name,
            shieldRSSKB: rss, shieldAdj: adj)
    }

    /// The process runs in the window with enough samples, per (host, comm), of the names
    /// whose runs can make `leak-suspect` fire; the others' runs are left out (no rule work
    /// for them).
    ///
    /// The leak rule takes the median slope and the median R² over a name's runs with a
    /// slope, so at least half of those runs must reach each threshold: a necessary
    /// condition checked per name from the runs' sums (with a hair of tolerance, so rounding
    /// never drops a name the rule would take; the rule decides on the rest). One pass over
    /// the runs in key order, each name's runs together.
    func leakCandidateRuns(since: Int64, until: Int64) throws -> [GroupKey: [ProcessRun]] {
        let s = settings
        // Without divisions (st > 0): slope·3600/1024 >= m is cov >= m·1024/3600·st, and
        // R² >= t is cov² >= t·st·sr (any R² passes a threshold of 0 or less).
        let k = s.leakMinSlopeMBPerHour * 1024 / 3600
        let (minCov, minR2) = (k - 1e-9 * abs(k) - 1e-12, s.leakMinR2 - 1e-9)
        func mayLeak(_ runs: [ProcessRun]) -> Bool {
            var (sloped, steep, fitting) = (0, 0, 0)
            for r in runs {
                let n = Double(r.samples)
                let st = n * r.sumTT - r.sumT * r.sumT
                guard st > 1e-9 else { continue }
                let cov = n * r.sumTR - r.sumT * r.sumR
                let sr = n * r.sumRR - r.sumR * r.sumR
                sloped += 1
                if cov >= minCov * st { steep += 1 }
                if s.leakMinR2 <= 0 || cov * cov >= minR2 * st * sr { fitting += 1 }
            }
            return sloped > 0 && 2 * steep >= sloped && 2 * fitting >= sloped
        }
        var out: [GroupKey: [ProcessRun]] = [:]
        var key: GroupKey?
        var runs: [ProcessRun] = []
        func flush() {
            if let key, mayLeak(runs) { out[key] = runs.sorted { $0.lastTime < $1.lastTime } }
            runs.removeAll(keepingCapacity: true)
        }
        try each(
            """
            SELECT host_id, comm, \(Self.runColumns) FROM process_runs NOT INDEXED
            WHERE last_time >= ? AND first_time < ? AND samples >= ?\(inPart("host_id"))
            ORDER BY host_id, comm
            """, [since, until, s.leakMinSamples]
        ) { row in
            let host: Int64 = row[0]
            let comm: String = row[1]
            if key?.host != host || key?.key != comm {
                flush()
                key = GroupKey(host: host, kind: "comm", key: comm)
            }
            runs.append(Self.run(row, at: 2))
        }
        flush()
        return out
    }

    func runs(hostID: Int64, comm: String, since: Int64, until: Int64) throws -> [ProcessRun] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT \(Self.runColumns) FROM process_runs
                    WHERE host_id = ? AND comm = ? AND last_time >= ? AND first_time < ?
                    ORDER BY last_time DESC LIMIT \(OOMDatabase.adviceMaxRuns)
                    """), arguments: [hostID, comm, since, until]
        ).map { Self.run($0, at: 0) }
    }

    /// The `process_runs` columns ``run(_:at:)`` reads, in its order.
    static let runColumns = """
        pid, first_time, last_time, first_rss, last_rss, samples, sum_t, sum_r, sum_tt, sum_tr, sum_rr
        """

    /// A run from ``runColumns`` starting at column `i`.
    static func run(_ row: Row, at i: Int) -> ProcessRun {
        ProcessRun(
            pid: row[i], firstTime: row[i + 1], lastTime: row[i + 2], firstRSS: row[i + 3], lastRSS: row[i + 4],
            samples: row[i + 5], sumT: row[i + 6], sumR: row[i + 7], sumTT: row[i + 8], sumTR: row[i + 9],
            sumRR: row[i + 10])
    }

    /// An hour's averages from ``hourColumns`` starting at column `i`.
    static func point(_ row: Row, at i: Int) -> HourPoint {
        let samples = Double(max(1, row[i + 1] as Int64))
        let pressureSamples: Int64 = row[i + 4]
        return HourPoint(
            hour: row[i], totalKB: (row[i + 2] as Double) / samples, availableKB: (row[i + 3] as Double) / samples,
            fullAvg60: pressureSamples > 0 ? (row[i + 5] as Double) / Double(pressureSamples) : nil)
    }

    static let hourColumns = """
        hour, samples, sum_total_kb * 1.0 AS total_sum, sum_available_kb * 1.0 AS available_sum,
            pressure_samples, sum_full_avg60
        """

    /// The latest `trendHours` of every host (exhaustion needs no kill).
    func addHourly(
        _ byHost: inout [Int64: HostAdviceFacts], names: [Int64: String], hostID: Int64?, until: Int64,
        now: Int64
    ) throws {
        let end = min(until, now)
        let from = end - Int64(settings.trendHours) * Self.hour
        // The rows come host by host, each host's hours in order.
        var host: Int64?
        var points: [HourPoint] = []
        func flush() {
            guard let id = host, points.count >= 3 || points.contains(where: { ($0.fullAvg60 ?? 0) > 0 }) else {
                return points.removeAll(keepingCapacity: true)
            }
            byHost[id, default: HostAdviceFacts(host: names[id] ?? "?")].hourly = points
            points.removeAll(keepingCapacity: true)
        }
        // Each host's newest hours by primary key (a range per host), not the hour index: a
        // window of the latest hours is most of the fleet's rows of those hours, and each
        // index entry would cost a lookup of its row.
        try each(
            """
            SELECT s.host_id, \(Self.hourColumns) FROM hosts h CROSS JOIN snapshot_hourly s
            ON s.host_id = h.id AND s.hour > ? AND s.hour <= ?
            WHERE true\(hostID.map { " AND h.id = \($0)" } ?? "")\(inPart("h.id"))
            """, [from, end]
        ) { row in
            let id: Int64 = row[0]
            if id != host {
                flush()
                host = id
            }
            points.append(Self.point(row, at: 1))
        }
        flush()
    }
}

extension KillGroup {
    /// A kill group's sums from a row whose columns 3 to 11 are those of `advice_groups`
    /// after its key: `kills, first_time, last_time, sum_rss, sum_rss2, min_rss, max_rss,
    /// max_usage_kb, limit_kb` (every advice query selects them in this order); `recent` is
    /// left to the caller.
    init(_ key: AdviceReader.GroupKey, _ row: Row) {
        self.init(
            key: key.key, kills: row[3], firstTime: row[4], lastTime: row[5], sumRSS: row[6], sumRSS2: row[7],
            minRSS: row[8], maxRSS: row[9], maxUsageKB: row[10], limitKB: row[11])
    }
}
