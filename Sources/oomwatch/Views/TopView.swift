import OOMKit

/// `oomwatch top`: the largest processes across the fleet.
enum TopView {
    static func table(_ rows: [TopProcess], times: Times) -> Table {
        var table = Table([
            .init("HOST", truncatable: true),
            .init("PID", alignRight: true),
            .init("COMM", truncatable: true),
            .init("RSS", alignRight: true),
            .init("ANON", alignRight: true, dropRank: 2),
            .init("SWAP", alignRight: true, dropRank: 3),
            .init("SCORE", alignRight: true, dropRank: 4),
            .init("ADJ", alignRight: true, dropRank: 1),
            .init("UNIT/CONTAINER", truncatable: true, minWidth: 10, dropRank: 6),
            .init("SEEN", dropRank: 5),
            .init("COMMAND", truncatable: true, minWidth: 10),
        ])
        for row in rows {
            let p = row.process
            table.append([
                Table.Cell(row.host),
                Table.Cell(String(p.pid)),
                Table.Cell(p.comm, .bold),
                Table.Cell(Sizes.format(kb: p.rssKB)),
                Table.Cell(Sizes.format(kb: p.rssAnonKB)),
                Table.Cell(Sizes.format(kb: p.swapKB)),
                Table.Cell(p.oomScore.map(String.init) ?? "-"),
                Table.Cell(p.oomScoreAdj.map(String.init) ?? "-"),
                Table.Cell(p.unit ?? p.containerID.map { "container " + String($0.prefix(12)) } ?? p.cgroup ?? "-"),
                Table.Cell(times.format(row.time)),
                Table.Cell(p.cmdline ?? "-"),
            ])
        }
        return table
    }

    static func csv(_ rows: [TopProcess]) -> CSV {
        var csv = CSV(header: [
            "host", "time", "pid", "ppid", "comm", "uid", "rss_kb", "rss_anon_kb", "rss_file_kb", "rss_shmem_kb",
            "swap_kb", "vm_size_kb", "oom_score", "oom_score_adj", "unit", "container_id", "cgroup", "started_at",
            "cmdline",
        ])
        for row in rows {
            let p = row.process
            csv.append([
                row.host, row.time, String(p.pid), p.ppid.map(String.init), p.comm, p.uid.map(String.init),
                String(p.rssKB), p.rssAnonKB.map(String.init), p.rssFileKB.map(String.init),
                p.rssShmemKB.map(String.init), p.swapKB.map(String.init), p.vmSizeKB.map(String.init),
                p.oomScore.map(String.init), p.oomScoreAdj.map(String.init), p.unit, p.containerID, p.cgroup,
                p.startedAt, p.cmdline,
            ])
        }
        return csv
    }
}
