import OOMKit

/// `oomwatch summary`: the collector's report, one section per question.
enum SummaryView {
    static func render(_ r: SummaryReport, times: Times, width: Int?, style: Style) -> String {
        var out = ""
        func section(_ title: String, _ body: String) {
            out += "\n" + style.apply(.bold, title) + "\n" + body
        }
        func counts(_ rows: [CountRow], title: String) -> String {
            guard !rows.isEmpty else { return "  (none)\n" }
            var table = Table([
                .init(title, truncatable: true, minWidth: 12), .init("KILLS", alignRight: true), .init("LAST KILL"),
            ])
            for row in rows {
                table.append([
                    Table.Cell(row.key), Table.Cell(String(row.kills)), Table.Cell(times.format(row.lastKill)),
                ])
            }
            return table.render(maxWidth: width, style: style)
        }

        let since = RFC3339.parse(r.since).map(Times.absolute) ?? r.since
        let until = RFC3339.parse(r.until).map(Times.absolute) ?? r.until
        out += style.apply(.bold, "OOM summary") + " \(since) to \(until)\n"

        let t = r.totals
        var totals =
            "  \(t.kills) kill\(t.kills == 1 ? "" : "s") on \(t.hostsWithKills) of \(t.hosts) host\(t.hosts == 1 ? "" : "s")"
        if t.staleHosts > 0 { totals += " (\(t.staleHosts) stale)" }
        totals += "\n"
        if !t.bySource.isEmpty { totals += "  by source: " + breakdown(t.bySource) + "\n" }
        if !t.byScope.isEmpty { totals += "  by scope:  " + breakdown(t.byScope) + "\n" }
        section("Totals", totals)

        section("By host", counts(r.byHost, title: "HOST"))
        section("By process", counts(r.byComm, title: "COMM"))
        section("By unit", counts(r.byUnit, title: "UNIT"))
        section("By container", counts(r.byContainer, title: "CONTAINER"))
        section("By day", days(r.byDay, width: width, style: style))
        section("Largest victims", victims(r.largestVictims, times: times, width: width, style: style))
        section("Repeat offenders", offenders(r.repeatOffenders, times: times, width: width, style: style))
        section("Hosts at risk", risks(r.hostsAtRisk, times: times, width: width, style: style))
        return out
    }

    /// `kernel 10, systemd-oomd 2`: most first, then by name.
    static func breakdown(_ counts: [String: Int]) -> String {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\(TextWidth.sanitized($0.key)) \($0.value)" }
            .joined(separator: ", ")
    }

    static func days(_ rows: [DayCount], width: Int?, style: Style) -> String {
        guard !rows.isEmpty else { return "  (none)\n" }
        let most = max(1, rows.map(\.kills).max() ?? 1)
        // The bar gets what is left of the line after the day and the count.
        let barWidth = max(10, min(40, (width ?? 80) - 20))
        var table = Table([.init("DAY"), .init("KILLS", alignRight: true), .init("")])
        for row in rows {
            let length = row.kills == 0 ? 0 : max(1, row.kills * barWidth / most)
            table.append([
                Table.Cell(row.day), Table.Cell(String(row.kills)),
                Table.Cell(String(repeating: "#", count: length), .red),
            ])
        }
        return table.render(maxWidth: width, style: style)
    }

    static func victims(_ rows: [VictimRow], times: Times, width: Int?, style: Style) -> String {
        guard !rows.isEmpty else { return "  (none)\n" }
        var table = Table([
            .init("TIME"), .init("HOST", truncatable: true), .init("COMM", truncatable: true),
            .init("PID", alignRight: true), .init("RSS", alignRight: true),
            .init("UNIT/CONTAINER", truncatable: true, minWidth: 10, dropRank: 1), .init("ID"),
        ])
        for row in rows {
            table.append([
                Table.Cell(times.format(row.time)), Table.Cell(row.host), Table.Cell(row.comm, .bold),
                Table.Cell(String(row.pid)), Table.Cell(Sizes.format(kb: row.rssKB)),
                Table.Cell(row.unit ?? row.containerID.map { "container " + String($0.prefix(12)) } ?? "-"),
                Table.Cell(row.id, .dim),
            ])
        }
        return table.render(maxWidth: width, style: style)
    }

    static func offenders(_ rows: [RepeatOffender], times: Times, width: Int?, style: Style) -> String {
        guard !rows.isEmpty else { return "  (none)\n" }
        var table = Table([
            .init("HOST", truncatable: true), .init("COMM", truncatable: true), .init("KILLS", alignRight: true),
            .init("FIRST KILL"), .init("LAST KILL"),
        ])
        for row in rows {
            table.append([
                Table.Cell(row.host), Table.Cell(row.comm, .bold), Table.Cell(String(row.kills), .red),
                Table.Cell(times.format(row.firstKill)), Table.Cell(times.format(row.lastKill)),
            ])
        }
        return table.render(maxWidth: width, style: style)
    }

    static func risks(_ rows: [HostRisk], times: Times, width: Int?, style: Style) -> String {
        guard !rows.isEmpty else { return "  (none)\n" }
        var table = Table([
            .init("HOST", truncatable: true), .init("SNAPSHOT"), .init("AVAIL", alignRight: true),
            .init("PSI FULL60", alignRight: true), .init("WHY", truncatable: true),
        ])
        for row in rows {
            table.append([
                Table.Cell(row.host, .red), Table.Cell(times.format(row.snapshotTime)),
                Table.Cell(Decimal1.percent(row.availablePct)), Table.Cell(Decimal1.format2(row.fullAvg60)),
                Table.Cell(row.reasons.map(reasonText).joined(separator: ", ")),
            ])
        }
        return table.render(maxWidth: width, style: style)
    }

    static func reasonText(_ reason: String) -> String {
        switch reason {
        case "memory_available": return "MemAvailable under 10%"
        case "psi_full": return "PSI full avg60 over 10"
        default: return reason
        }
    }

    /// Long form for CSV: one row per item of every section.
    static func csv(_ r: SummaryReport) -> CSV {
        var csv = CSV(header: ["section", "key", "kills", "first_kill", "last_kill", "detail"])
        let t = r.totals
        csv.append(["totals", "kills", String(t.kills), nil, nil, nil])
        csv.append(["totals", "hosts", String(t.hosts), nil, nil, nil])
        csv.append(["totals", "hosts_with_kills", String(t.hostsWithKills), nil, nil, nil])
        csv.append(["totals", "stale_hosts", String(t.staleHosts), nil, nil, nil])
        for (key, value) in t.bySource.sorted(by: { $0.key < $1.key }) {
            csv.append(["by_source", key, String(value), nil, nil, nil])
        }
        for (key, value) in t.byScope.sorted(by: { $0.key < $1.key }) {
            csv.append(["by_scope", key, String(value), nil, nil, nil])
        }
        for (name, rows) in [
            ("by_host", r.byHost), ("by_comm", r.byComm), ("by_unit", r.byUnit), ("by_container", r.byContainer),
        ] {
            for row in rows { csv.append([name, row.key, String(row.kills), nil, row.lastKill, nil]) }
        }
        for row in r.byDay { csv.append(["by_day", row.day, String(row.kills), nil, nil, nil]) }
        for row in r.largestVictims {
            csv.append([
                "largest_victims", row.id, nil, nil, row.time,
                "host=\(row.host) comm=\(row.comm) pid=\(row.pid) rss_kb=\(row.rssKB)",
            ])
        }
        for row in r.repeatOffenders {
            csv.append([
                "repeat_offenders", row.host + "/" + row.comm, String(row.kills), row.firstKill, row.lastKill, nil,
            ])
        }
        for row in r.hostsAtRisk {
            csv.append(["hosts_at_risk", row.host, nil, nil, nil, row.reasons.joined(separator: " ")])
        }
        return csv
    }
}
