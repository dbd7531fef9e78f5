import OOMKit

/// `oomwatch hosts` as a table or CSV.
enum HostsView {
    /// The CSV `status` column's single word: deprecated (docs/interfaces.md), kept
    /// unchanged for scripts that read it; `state` is the dashboard's words.
    static func status(_ host: HostStatus) -> (String, Style.Color?) {
        if host.stale { return ("stale", .yellow) }
        if atRisk(host) { return ("at risk", .red) }
        return ("ok", .green)
    }

    /// At risk as the dashboard decides it: the collector's `at_risk`, or, from an older
    /// collector without it, MemAvailable under 10 % or PSI full avg60 over 10.
    static func atRisk(_ host: HostStatus) -> Bool {
        if let atRisk = host.atRisk { return atRisk }
        return (host.availablePct ?? 100) < 10 || (host.pressure?.fullAvg60 ?? 0) > 10
    }

    /// The host's state in the dashboard's words and order ("at risk", "stale",
    /// "killing", else "ok"), so the CLI and the dashboard name it the same way
    /// (CLITests runs the dashboard's `hostStateWords` on the same hosts to check).
    static func state(_ host: HostStatus) -> (String, Style.Color?) {
        var words: [String] = []
        let risk = atRisk(host)
        if risk { words.append("at risk") }
        if host.stale { words.append("stale") }
        if host.kills24h > 0 { words.append("killing") }
        if words.isEmpty { return ("ok", .green) }
        return (words.joined(separator: ", "), risk || host.kills24h > 0 ? .red : .yellow)
    }

    /// The word for an expected host that never reported (`--expected`), as the dashboard
    /// shows it.
    static let missingState = "missing"

    static func usedKB(_ host: HostStatus) -> Int64? {
        guard let total = host.memory?["total_kb"], let available = host.memory?["available_kb"] else { return nil }
        return total - available
    }

    static func availablePct(_ host: HostStatus) -> Double? {
        if let pct = host.availablePct { return pct }
        guard let total = host.memory?["total_kb"], total > 0, let available = host.memory?["available_kb"] else {
            return nil
        }
        return Double(available) * 100 / Double(total)
    }

    static func table(_ hosts: [HostStatus], missing: [String] = [], times: Times) -> Table {
        var table = Table([
            .init("HOST", truncatable: true, minWidth: 10),
            .init("STATE"),
            .init("LAST SEEN", dropRank: 4),
            .init("USED", alignRight: true),
            .init("TOTAL", alignRight: true, dropRank: 2),
            .init("AVAIL", alignRight: true),
            .init("PSI SOME10", alignRight: true, dropRank: 1),
            .init("PSI FULL60", alignRight: true),
            .init("KILLS 24H", alignRight: true),
            .init("LAST KILL", dropRank: 3),
        ])
        for host in hosts {
            let (state, color) = state(host)
            let pct = availablePct(host)
            table.append([
                Table.Cell(host.host),
                Table.Cell(state, color),
                Table.Cell(times.format(host.lastSeen), host.stale ? .yellow : nil),
                Table.Cell(Sizes.format(kb: usedKB(host))),
                Table.Cell(Sizes.format(kb: host.memory?["total_kb"])),
                Table.Cell(Decimal1.percent(pct), (pct ?? 100) < 10 ? .red : nil),
                Table.Cell(Decimal1.format2(host.pressure?.someAvg10)),
                Table.Cell(
                    Decimal1.format2(host.pressure?.fullAvg60), (host.pressure?.fullAvg60 ?? 0) > 10 ? .red : nil),
                Table.Cell(String(host.kills24h), host.kills24h > 0 ? .red : nil),
                Table.Cell(times.format(host.lastKill)),
            ])
        }
        for name in missing {
            table.append(
                [Table.Cell(name), Table.Cell(missingState, .red), Table.Cell("never", .red)]
                    + Array(repeating: Table.Cell("-"), count: 7))
        }
        return table
    }

    static func csv(_ hosts: [HostStatus], missing: [String] = []) -> CSV {
        var csv = CSV(header: [
            "host", "status", "last_seen", "stale", "at_risk", "boot_id", "agent_version", "kernel", "snapshot_time",
            "total_kb", "available_kb", "used_kb", "available_pct", "swap_total_kb", "swap_free_kb",
            "psi_some_avg10", "psi_some_avg60", "psi_full_avg10", "psi_full_avg60", "kills_24h", "last_kill",
            "state",
        ])
        for host in hosts {
            csv.append([
                host.host, status(host).0, host.lastSeen, String(host.stale), host.atRisk.map(String.init),
                host.bootID, host.agentVersion, host.kernel, host.snapshotTime,
                host.memory?["total_kb"].map(String.init), host.memory?["available_kb"].map(String.init),
                usedKB(host).map(String.init), availablePct(host).map(csvNumber),
                host.memory?["swap_total_kb"].map(String.init), host.memory?["swap_free_kb"].map(String.init),
                host.pressure.map { csvNumber($0.someAvg10) }, host.pressure.map { csvNumber($0.someAvg60) },
                host.pressure?.fullAvg10.map(csvNumber), host.pressure?.fullAvg60.map(csvNumber),
                String(host.kills24h), host.lastKill, state(host).0,
            ])
        }
        for name in missing {
            var row: [String?] = Array(repeating: nil, count: 22)
            row[0] = name
            row[1] = missingState
            row[21] = missingState
            csv.append(row)
        }
        return csv
    }
}

/// A number for CSV: integers without a decimal point, others as Swift prints them.
func csvNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return String(value)
}
