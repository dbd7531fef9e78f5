import Logging
public import OOMKit
public import OOMStore
import PostgresNIO

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PostgresStore {
    /// Advice over [since, until), for one host or the fleet, as the SQLite store gives it:
    /// the same facts fetched from the same rollups (windows of a week or more in whole UTC
    /// days from `advice_daily`, shorter ones from their own events), shaped by the same
    /// code (`AdviceShaping`, `AdviceRules`).
    public func advice(
        since: Int64, until: Int64, host: String?, settings: AdviceSettings, limit: Int?, now: Int64
    ) async throws(StoreError) -> AdviceReport {
        try await store {
            let reader = PostgresAdviceReader(store: self, settings: settings, since: since, until: until)
            let (facts, hostIDs) = try await reader.facts(host: host, now: now)
            var (findings, total) = AdviceShaping.findings(
                facts, settings: settings, limit: limit, until: until, now: now)
            // The evidence ids, read only for the findings returned.
            var cache: [String: [String]] = [:]
            for i in findings.indices {
                guard let id = hostIDs[findings[i].host], let group = AdviceShaping.evidenceGroup(of: findings[i])
                else { continue }
                let (kind, key) =
                    switch group {
                    case .comm(let comm): ("comm", comm)
                    case .global: ("global", "")
                    }
                let cacheKey = "\(id)\u{0}\(kind)\u{0}\(key)"
                if cache[cacheKey] == nil {
                    cache[cacheKey] = try await reader.recent(host: id, kind: kind, key: key, of: nil).map(\.id)
                }
                findings[i].evidence.eventIDs = cache[cacheKey]!
            }
            return AdviceShaping.report(findings, total: total, since: since, until: until, now: now)
        }
    }
}

/// Fetches the facts of every host advice could say something about, from PostgreSQL: the
/// statements of the SQLite store's `AdviceReader` (its `.daily` source for long windows),
/// assembled in the same order so the rules see the same facts.
struct PostgresAdviceReader {
    let store: PostgresStore
    let settings: AdviceSettings
    let since: Int64
    let until: Int64
    static let day: Int64 = 86_400_000_000
    static let hour: Int64 = 3_600_000_000
    /// Windows at least this long are counted in whole UTC days from `advice_daily`.
    static let rollupWindow: Int64 = 7 * day

    struct GroupKey: Hashable {
        var host: Int64
        var kind: String
        var key: String
    }

    var long: Bool { until - since >= Self.rollupWindow }
    var fromDay: Int64 { since / Self.day }
    var toDay: Int64 { (until + Self.day - 1) / Self.day }

    /// The process names of the critical services.
    var criticalNames: [String] { AdviceShaping.criticalNames(settings) }

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await store.rows(query)
    }

    func facts(host: String?, now: Int64) async throws -> (facts: [HostAdviceFacts], hostIDs: [String: Int64]) {
        var names: [Int64: String] = [:]
        for row in try await rows("SELECT id, name FROM hosts WHERE \(host)::text IS NULL OR name = \(host)") {
            names[try row.get("id")] = try row.get("name")
        }
        if host != nil && names.isEmpty { return ([], [:]) }
        let hostID = host != nil ? names.keys.first : nil
        let (groups, best) = try await killGroups(hostID: hostID)
        var byHost: [Int64: HostAdviceFacts] = [:]
        let s = settings
        for (k, g) in groups {
            AdviceShaping.file(g, kind: k.kind, host: names[k.host] ?? "?", into: &byHost[k.host], settings: s)
        }
        for (id, event) in best where byHost[id] != nil {
            byHost[id]!.worstShield = try await shieldedKill(eventID: event)
        }
        try await addHourly(&byHost, names: names, hostID: hostID, now: now)
        for id in Array(byHost.keys) {
            var f = byHost.removeValue(forKey: id)!
            f.commGroups.sort { $0.key < $1.key }
            f.memcgGroups.sort { $0.key < $1.key }
            for i in f.commGroups.indices {
                let g = f.commGroups[i]
                if g.recent.isEmpty, CriticalServices.match(comm: g.key, in: s.criticalServices) != nil {
                    f.commGroups[i].recent = try await recent(host: id, kind: "comm", key: g.key, of: g)
                }
                if g.kills >= s.minRepeatKills && g.rssSpread <= s.killSizeSpread {
                    f.runs[g.key] = try await runs(hostID: id, comm: g.key)
                }
            }
            // A tight cgroup's victims decide whether its limit or a leak is the problem.
            for i in f.memcgGroups.indices where f.memcgGroups[i].recent.isEmpty {
                let g = f.memcgGroups[i]
                f.memcgGroups[i].recent = try await recent(host: id, kind: "memcg", key: g.key, of: g)
            }
            byHost[id] = f
        }
        for id in byHost.keys where byHost[id]!.globalKills != nil {
            try await addHostState(&byHost[id]!, id: id)
            if byHost[id]!.system?.userspaceKillers?.any == false {
                try await addHoursBeforeKill(&byHost[id]!, id: id)
            }
        }
        var ids: [String: Int64] = [:]
        for id in byHost.keys { ids[byHost[id]!.host] = id }
        return (byHost.keys.sorted().map { byHost[$0]! }, ids)
    }

    /// The kill groups of the window a rule can fire on, and each host's worst shielded
    /// global kill (by event id).
    func killGroups(hostID: Int64?) async throws -> (groups: [GroupKey: KillGroup], best: [Int64: String]) {
        var groups: [GroupKey: KillGroup] = [:]
        var best: [Int64: String] = [:]
        let critical = criticalNames
        let repeats = Int64(settings.minRepeatKills)
        let ratio = settings.wrongVictimRatio
        func add(_ row: PostgresRandomAccessRow) throws {
            let k = GroupKey(host: try row.get("host_id"), kind: try row.get("kind"), key: try row.get("key"))
            var g = KillGroup(
                key: k.key, kills: Int(try row.get("kills", as: Int64.self)), firstTime: try row.get("first_time"),
                lastTime: try row.get("last_time"), sumRSS: try row.get("sum_rss"), sumRSS2: try row.get("sum_rss2"),
                minRSS: try row.get("min_rss"), maxRSS: try row.get("max_rss"),
                maxUsageKB: try row.get("max_usage_kb"), limitKB: try row.get("limit_kb"))
            // The rollup's evidence: each day's latest kill, oldest day first (as SQLite's
            // `AdviceReader.killGroups` reads them).
            if let ids = try row.get("recent_events", as: String?.self),
                let comms = try row.get("recent_comms", as: String?.self)
            {
                let idList = ids.split(separator: "\u{1f}").filter { !$0.isEmpty }.suffix(
                    OOMDatabase.adviceRecentKills)
                let commList = comms.split(separator: "\u{1f}", omittingEmptySubsequences: false).suffix(idList.count)
                g.recent = zip(idList, commList).reversed().map {
                    KillRef(id: String($0.0), time: g.lastTime, comm: String($0.1), rssKB: g.maxRSS)
                }
            }
            groups[k] = g
        }
        if long {
            for row in try await rows(
                """
                SELECT host_id, kind, key, sum(kills)::bigint AS kills, min(first_time) AS first_time,
                    max(last_time) AS last_time, sum(sum_rss) AS sum_rss, sum(sum_rss2) AS sum_rss2,
                    min(min_rss) AS min_rss, max(max_rss) AS max_rss, max(max_usage_kb) AS max_usage_kb,
                    max(limit_kb) AS limit_kb,
                    string_agg(last_event, chr(31) ORDER BY day) AS recent_events,
                    string_agg(coalesce(last_comm, ''), chr(31) ORDER BY day) AS recent_comms
                FROM advice_daily
                WHERE day >= \(fromDay) AND day < \(toDay) AND kills > 0
                    AND (\(hostID)::bigint IS NULL OR host_id = \(hostID))
                GROUP BY host_id, kind, key
                HAVING kind = 'global' OR sum(kills) >= \(repeats) OR (kind = 'comm' AND key = ANY(\(critical)))
                """)
            {
                try add(row)
            }
            for row in try await rows(
                """
                SELECT DISTINCT ON (host_id) host_id, best_event FROM advice_daily
                WHERE kind = 'global' AND key = '' AND day >= \(fromDay) AND day < \(toDay)
                    AND best_ratio >= \(ratio) AND (\(hostID)::bigint IS NULL OR host_id = \(hostID))
                ORDER BY host_id, best_ratio DESC, day
                """)
            {
                if let event = try row.get("best_event", as: String?.self) { best[try row.get("host_id")] = event }
            }
        } else {
            let columns = """
                count(*)::bigint AS kills, min(time) AS first_time, max(time) AS last_time,
                sum(rss_kb)::float8 AS sum_rss, sum(rss_kb::float8 * rss_kb) AS sum_rss2, min(rss_kb) AS min_rss,
                max(rss_kb) AS max_rss
                """
            let window = "time >= \(since) AND time < \(until)" + (hostID.map { " AND host_id = \($0)" } ?? "")
            for row in try await rows(
                """
                SELECT host_id, 'comm' AS kind, comm AS key, \(unescaped: columns), NULL::bigint AS max_usage_kb,
                    NULL::bigint AS limit_kb, NULL::text AS recent_events, NULL::text AS recent_comms
                FROM events WHERE \(unescaped: window)
                GROUP BY host_id, comm HAVING count(*) >= \(repeats) OR comm = ANY(\(critical))
                UNION ALL
                SELECT host_id, 'memcg', memcg, \(unescaped: columns), max(memcg_usage_kb), max(memcg_limit_kb),
                    NULL, NULL
                FROM events WHERE \(unescaped: window) AND memcg IS NOT NULL
                GROUP BY host_id, memcg HAVING count(*) >= \(repeats)
                UNION ALL
                SELECT host_id, 'global', '', \(unescaped: columns), NULL, NULL, NULL, NULL
                FROM events WHERE \(unescaped: window) AND scope = 'global'
                GROUP BY host_id
                """)
            {
                try add(row)
            }
            for row in try await rows(
                """
                SELECT DISTINCT ON (host_id) host_id, event_id FROM events
                WHERE \(unescaped: window) AND scope = 'global' AND shield_rss_kb IS NOT NULL
                    AND shield_rss_kb::float8 / greatest(rss_kb, 1) >= \(ratio)
                ORDER BY host_id, shield_rss_kb::float8 / greatest(rss_kb, 1) DESC, time
                """)
            {
                best[try row.get("host_id")] = try row.get("event_id")
            }
        }
        return (groups, best)
    }

    /// The newest kills of a group (newest first) as the window's aggregate has them: a
    /// long window's from `advice_daily` (each day's latest kill, stamped with the group's
    /// last time and largest RSS), a short window's from the events.
    func recent(host: Int64, kind: String, key: String, of g: KillGroup?) async throws -> [KillRef] {
        let n = OOMDatabase.adviceRecentKills
        if long {
            return try await rows(
                """
                SELECT last_event, coalesce(last_comm, '') AS last_comm FROM advice_daily
                WHERE host_id = \(host) AND kind = \(kind) AND key = \(key) AND day >= \(fromDay)
                    AND day < \(toDay) AND kills > 0 AND last_event <> ''
                ORDER BY day DESC LIMIT \(Int64(n))
                """
            ).map {
                KillRef(
                    id: try $0.get("last_event"), time: g?.lastTime ?? 0, comm: try $0.get("last_comm"),
                    rssKB: g?.maxRSS ?? 0)
            }
        }
        let filter =
            switch kind {
            case "comm": "comm = $1 AND host_id = $2"
            case "memcg": "host_id = $2 AND memcg = $1"
            default: "host_id = $2 AND scope = 'global' AND $1::text IS NOT NULL"
            }
        var binds = PostgresBindings()
        binds.append(key)
        binds.append(host)
        binds.append(since)
        binds.append(until)
        return try await rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT event_id, time, comm, rss_kb FROM events WHERE \(filter)
                    AND time >= $3 AND time < $4 ORDER BY time DESC LIMIT \(n)
                    """, binds: binds)
        ).map {
            KillRef(
                id: try $0.get("event_id"), time: try $0.get("time"), comm: try $0.get("comm"),
                rssKB: try $0.get("rss_kb"))
        }
    }

    func shieldedKill(eventID: String) async throws -> ShieldedKill? {
        for row in try await rows(
            """
            SELECT event_id, time, comm, rss_kb, shield_name, shield_rss_kb, shield_adj FROM events
            WHERE event_id = \(eventID)
            """)
        {
            guard let name = try row.get("shield_name", as: String?.self),
                let rss = try row.get("shield_rss_kb", as: Int64?.self),
                let adj = try row.get("shield_adj", as: Int64?.self)
            else { return nil }
            return ShieldedKill(
                kill: KillRef(
                    id: try row.get("event_id"), time: try row.get("time"), comm: try row.get("comm"),
                    rssKB: try row.get("rss_kb")), shieldName: name, shieldRSSKB: rss, shieldAdj: Int(adj))
        }
        return nil
    }

    /// The latest runs of a process name in the window.
    func runs(hostID: Int64, comm: String) async throws -> [ProcessRun] {
        try await rows(
            """
            SELECT pid, first_time, last_time, first_rss, last_rss, samples, sum_t, sum_r, sum_tt, sum_tr, sum_rr
            FROM process_runs
            WHERE host_id = \(hostID) AND comm = \(comm) AND last_time >= \(since) AND first_time < \(until)
            ORDER BY last_time DESC LIMIT \(Int64(OOMDatabase.adviceMaxRuns))
            """
        ).map {
            ProcessRun(
                pid: Int(try $0.get("pid", as: Int64.self)), firstTime: try $0.get("first_time"),
                lastTime: try $0.get("last_time"), firstRSS: try $0.get("first_rss"), lastRSS: try $0.get("last_rss"),
                samples: Int(try $0.get("samples", as: Int64.self)), sumT: try $0.get("sum_t"),
                sumR: try $0.get("sum_r"), sumTT: try $0.get("sum_tt"), sumTR: try $0.get("sum_tr"),
                sumRR: try $0.get("sum_rr"))
        }
    }

    /// The hourly averages of host `id` (or every host) in (from, to].
    func hours(from: Int64, to: Int64, hostID: Int64?) async throws -> [(Int64, HourPoint)] {
        try await rows(
            """
            SELECT host_id, hour, samples, sum_total_kb::float8 AS total_sum,
                sum_available_kb::float8 AS available_sum, pressure_samples, sum_full_avg60
            FROM snapshot_hourly
            WHERE hour > \(from) AND hour <= \(to) AND (\(hostID)::bigint IS NULL OR host_id = \(hostID))
            """
        ).map {
            let samples = Double(max(1, try $0.get("samples", as: Int64.self)))
            let pressureSamples: Int64 = try $0.get("pressure_samples")
            let full: Double = try $0.get("sum_full_avg60")
            return (
                try $0.get("host_id"),
                HourPoint(
                    hour: try $0.get("hour"), totalKB: try $0.get("total_sum", as: Double.self) / samples,
                    availableKB: try $0.get("available_sum", as: Double.self) / samples,
                    fullAvg60: pressureSamples > 0 ? full / Double(pressureSamples) : nil)
            )
        }
    }

    /// The latest `trendHours` of every host (exhaustion needs no kill).
    func addHourly(
        _ byHost: inout [Int64: HostAdviceFacts], names: [Int64: String], hostID: Int64?, now: Int64
    ) async throws {
        let end = min(until, now)
        var points: [Int64: [HourPoint]] = [:]
        for (id, p) in try await hours(from: end - Int64(settings.trendHours) * Self.hour, to: end, hostID: hostID) {
            points[id, default: []].append(p)
        }
        for (id, p) in points where p.count >= 3 || p.contains(where: { ($0.fullAvg60 ?? 0) > 0 }) {
            var f = byHost[id] ?? HostAdviceFacts(host: names[id] ?? "?")
            f.hourly = p.sorted { $0.hour < $1.hour }
            byHost[id] = f
        }
    }

    /// The hours up to the host's last global kill (for stalls before it).
    func addHoursBeforeKill(_ f: inout HostAdviceFacts, id: Int64) async throws {
        guard let last = f.globalKills?.lastTime else { return }
        var added = false
        for (_, p) in try await hours(from: last - 3 * Self.hour, to: last, hostID: id)
        where !f.hourly.contains(where: { $0.hour == p.hour }) {
            f.hourly.append(p)
            added = true
        }
        if added { f.hourly.sort { $0.hour < $1.hour } }
    }

    /// The host's latest meminfo fields and system facts (stored JSON that does not decode
    /// is a host without those facts, as on SQLite).
    func addHostState(_ f: inout HostAdviceFacts, id: Int64) async throws {
        for row in try await rows("SELECT memory_json, system_json FROM hosts WHERE id = \(id)") {
            if let text = try row.get("memory_json", as: String?.self),
                let all = try? JSONDecoder().decode([String: JSONNumber].self, from: Data(text.utf8))
            {
                var memory: [String: Int64] = [:]
                for key in AdviceReader.memoryKeys { memory[key] = all[key]?.int }
                f.memory = memory.isEmpty ? nil : memory
            }
            if let text = try row.get("system_json", as: String?.self) {
                f.system = try? JSONDecoder().decode(HostSystemFacts.self, from: Data(text.utf8))
            }
        }
    }
}

/// A JSON value read as an integer when it is one (anything else: `nil`, never an error).
private struct JSONNumber: Decodable {
    var int: Int64?

    init(from decoder: any Decoder) throws {
        int = try? decoder.singleValueContainer().decode(Int64.self)
    }
}
