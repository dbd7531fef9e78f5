import OOMKit

/// `oomwatch events` and `watch` as a table, CSV or one line per kill.
enum EventsView {
    static func table(_ events: [OOMEvent], times: Times) -> Table {
        var table = Table([
            .init("TIME"),
            .init("HOST", truncatable: true, minWidth: 8),
            .init("SOURCE", dropRank: 3),
            .init("SCOPE", dropRank: 2),
            .init("PID", alignRight: true, dropRank: 4),
            .init("COMM", truncatable: true, minWidth: 8),
            .init("RSS", alignRight: true),
            .init("UNIT/CONTAINER", truncatable: true, minWidth: 10, dropRank: 1),
            .init("ID"),
        ])
        for event in events {
            table.append([
                Table.Cell(times.format(event.time)),
                Table.Cell(event.host ?? "-"),
                Table.Cell(event.source.rawValue),
                Table.Cell(event.scope?.rawValue ?? "-"),
                Table.Cell(event.victim.pid.map(String.init) ?? "-"),
                Table.Cell(event.victim.comm, .bold),
                Table.Cell(Sizes.format(kb: event.victimRssKB)),
                Table.Cell(event.victimPlace ?? "-"),
                Table.Cell(event.id, .dim),
            ])
        }
        return table
    }

    static let csvHeader = [
        "id", "time", "host", "boot_id", "source", "scope", "constraint", "pid", "comm", "uid", "rss_kb",
        "anon_rss_kb", "file_rss_kb", "shmem_rss_kb", "total_vm_kb", "pgtables_kb", "oom_score_adj", "unit",
        "container_id", "cgroup", "memcg_oom", "memcg_usage_kb", "memcg_limit_kb", "trigger_pid", "trigger_comm",
        "cmdline",
    ]

    static func csvRow(_ e: OOMEvent) -> [String?] {
        let v = e.victim
        return [
            e.id, e.time, e.host, e.bootID, e.source.rawValue, e.scope?.rawValue, e.constraint, v.pid.map(String.init),
            v.comm,
            v.uid.map(String.init), e.victimRssKB.map(String.init), v.anonRssKB.map(String.init),
            v.fileRssKB.map(String.init), v.shmemRssKB.map(String.init), v.totalVmKB.map(String.init),
            v.pgtablesKB.map(String.init), v.oomScoreAdj.map(String.init), v.unit, v.containerID, v.cgroup,
            e.memcg?.oom, e.memcg?.usageKB.map(String.init), e.memcg?.limitKB.map(String.init),
            e.trigger?.pid.map(String.init), e.trigger?.comm, v.cmdline,
        ]
    }

    static func csv(_ events: [OOMEvent]) -> CSV {
        var csv = CSV(header: csvHeader)
        for event in events { csv.append(csvRow(event)) }
        return csv
    }

    /// One kill on one line, for `watch`: absolute time (a stream has no fixed "now").
    static func line(_ e: OOMEvent, style: Style) -> String {
        var parts: [String] = []
        parts.append(e.time.flatMap(RFC3339.parse).map(Times.absolute) ?? "-")
        parts.append(TextWidth.sanitized(e.host ?? "-"))
        parts.append(e.source.rawValue + (e.scope.map { "/" + $0.rawValue } ?? ""))
        parts.append(
            "killed " + style.apply(.bold, TextWidth.sanitized(e.victim.comm))
                + (e.victim.pid.map { " (pid \($0))" } ?? ""))
        if let rss = e.victimRssKB { parts.append("rss " + Sizes.format(kb: rss)) }
        if let place = e.victimPlace { parts.append(TextWidth.sanitized(place)) }
        parts.append(style.apply(.dim, e.id))
        return parts.joined(separator: "  ") + "\n"
    }
}
