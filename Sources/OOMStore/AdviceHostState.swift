import GRDB
public import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension OOMDatabase {
    /// Every host's facts for the host-wide rules as advice reads them, by host id (tests
    /// compare them with the stored JSON decoded whole).
    package func adviceHostStates() async throws -> [Int64: HostAdviceFacts] {
        try await pool.read { db in
            var byHost: [Int64: HostAdviceFacts] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM hosts") {
                byHost[row[0]] = HostAdviceFacts(host: row[1])
            }
            try AdviceReader(db: db, settings: AdviceSettings(), source: .groups)
                .addHostStates(&byHost, ids: Array(byHost.keys))
            return byHost
        }
    }
}

/// The host-wide facts advice reads for every host with global kills, each in one statement
/// for all of them: SQLite picks the few fields the rules read out of the stored JSON (a
/// JSONDecoder pass over every host's documents cost more than the rest of the advice).
extension AdviceReader {
    /// The /proc/meminfo fields the host-wide rules read (`HostAdviceFacts.memory` holds these).
    package static let memoryKeys = ["total_kb", "swap_total_kb", "committed_as_kb"]

    /// The latest meminfo fields and system facts of the hosts `ids`.
    func addHostStates(_ byHost: inout [Int64: HostAdviceFacts], ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        let idList = "[" + ids.map(String.init).joined(separator: ",") + "]"
        let memory = Self.memoryKeys.map { "m ->> '$.\($0)'" }.joined(separator: ", ")
        let sysctls = [
            "overcommit_memory", "overcommit_ratio", "panic_on_oom", "oom_kill_allocating_task", "swappiness",
            "min_free_kbytes",
        ].map { "s ->> '$.sysctl.\($0)'" }.joined(separator: ", ")
        // Invalid JSON is a host without those facts, as a failed decode was.
        try each(
            """
            SELECT id, \(memory), json_type(s), s ->> '$.time', json_type(s, '$.sysctl'), \(sysctls),
                json_type(s, '$.swaps'), json_array_length(s, '$.swaps'), s -> '$.swaps',
                json_type(s, '$.zram'), json_array_length(s, '$.zram'), s -> '$.zram',
                s ->> '$.userspace_killers.systemd_oomd', s ->> '$.userspace_killers.earlyoom',
                json_type(s, '$.critical')
            FROM (
                SELECT id, CASE WHEN json_valid(memory_json) THEN memory_json END AS m,
                    CASE WHEN json_valid(system_json) THEN system_json END AS s
                FROM hosts WHERE id IN (SELECT value FROM json_each(?)))
            """, [idList]
        ) { row in
            let id: Int64 = row[0]
            var i = 1
            var memory: [String: Int64] = [:]
            for key in Self.memoryKeys {
                memory[key] = Self.value(row, i)
                i += 1
            }
            byHost[id]?.memory = memory.isEmpty ? nil : memory
            guard Self.value(row, i) == "object" else { return }
            var system = HostSystemFacts(time: Self.value(row, i + 1))
            i += 2
            if Self.value(row, i) == "object" {
                system.sysctl = OOMSysctls(
                    overcommitMemory: Self.value(row, i + 1), overcommitRatio: Self.value(row, i + 2),
                    panicOnOOM: Self.value(row, i + 3), oomKillAllocatingTask: Self.value(row, i + 4),
                    swappiness: Self.value(row, i + 5), minFreeKbytes: Self.value(row, i + 6))
            }
            i += 7
            // Device lists are decoded only when there are devices.
            system.swaps = Self.list(row, at: i)
            system.zram = Self.list(row, at: i + 3)
            i += 6
            if let oomd: Int64 = Self.value(row, i), let earlyoom: Int64 = Self.value(row, i + 1) {
                system.userspaceKillers = UserspaceKillers(systemdOomd: oomd != 0, earlyoom: earlyoom != 0)
            }
            if Self.value(row, i + 2) == "array" { system.critical = [] }
            byHost[id]?.system = system
        }
        try each(
            """
            SELECT h.id, c.value ->> 'service', c.value ->> 'pid', c.value ->> 'comm', c.value ->> 'oom_score_adj',
                c.value ->> 'unit', c.value ->> 'cgroup', c.value ->> 'memory_max_kb', c.value ->> 'memory_high_kb'
            FROM hosts h, json_each(CASE WHEN json_valid(h.system_json) THEN h.system_json ELSE '{}' END, '$.critical') c
            WHERE h.id IN (SELECT value FROM json_each(?)) AND c.type = 'object'
            ORDER BY h.id, c.key
            """, [idList]
        ) { row in
            let id: Int64 = row[0]
            guard byHost[id]?.system?.critical != nil, let service: String = Self.value(row, 1),
                let pid: Int = Self.value(row, 2), let comm: String = Self.value(row, 3)
            else { return }
            var p = CriticalProcess(service: service, pid: pid, comm: comm)
            p.oomScoreAdj = Self.value(row, 4)
            p.unit = Self.value(row, 5)
            p.cgroup = Self.value(row, 6)
            p.memoryMaxKB = Self.value(row, 7)
            p.memoryHighKB = Self.value(row, 8)
            byHost[id]!.system!.critical!.append(p)
        }
    }

    /// A device list from its `json_type`, `json_array_length` and JSON text at column `i`:
    /// `nil` when absent, empty without decoding when empty.
    static func list<T: Decodable>(_ row: Row, at i: Int) -> [T]? {
        guard value(row, i) == "array" else { return nil }
        guard (value(row, i + 1) as Int64?) ?? 0 > 0, let text: String = value(row, i + 2) else { return [] }
        return try? JSONDecoder().decode([T].self, from: Data(text.utf8))
    }

    /// Column `i` as `T`, `nil` when NULL or of another type (a value out of stored JSON
    /// may be anything; a failed conversion is a missing fact, never a crash).
    static func value<T: DatabaseValueConvertible>(_ row: Row, _ i: Int) -> T? {
        T.fromDatabaseValue(row[i] as DatabaseValue)
    }

    /// The hours up to the last global kill of each host `ids` (for stalls before it), in
    /// one statement over the hosts' (id, last kill) pairs.
    func addHoursBeforeKill(_ byHost: inout [Int64: HostAdviceFacts], ids: [Int64]) throws {
        let pairs = ids.compactMap { id in byHost[id]?.globalKills.map { "[\(id),\($0.lastTime)]" } }
        guard !pairs.isEmpty else { return }
        var added: Set<Int64> = []
        try each(
            """
            SELECT k.value ->> 0, \(Self.hourColumns)
            FROM json_each(?) k JOIN snapshot_hourly
                ON host_id = k.value ->> 0 AND hour > (k.value ->> 1) - \(3 * Self.hour) AND hour <= k.value ->> 1
            """, ["[" + pairs.joined(separator: ",") + "]"]
        ) { row in
            let id: Int64 = row[0]
            let p = Self.point(row, at: 1)
            guard byHost[id]?.hourly.contains(where: { $0.hour == p.hour }) == false else { return }
            byHost[id]!.hourly.append(p)
            added.insert(id)
        }
        for id in added { byHost[id]!.hourly.sort { $0.hour < $1.hour } }
    }
}
