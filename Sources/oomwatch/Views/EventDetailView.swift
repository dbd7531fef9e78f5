import OOMKit

/// `oomwatch show EVENT_ID`: the whole event, sectioned.
enum EventDetailView {
    /// Page size assumed when converting the kernel's task table from pages (4 KiB on
    /// x86-64 and most arm64 kernels).
    static let pageKB: Int64 = 4

    static func render(_ e: OOMEvent, times: Times, width: Int?, style: Style) -> String {
        var out = ""
        func field(_ name: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            out +=
                style.apply(.bold, TextWidth.padded(name, to: 12, alignRight: false)) + TextWidth.sanitized(value)
                + "\n"
        }
        func heading(_ title: String) {
            out += "\n" + style.apply(.bold, title) + "\n"
        }
        let v = e.victim
        field("Event", e.id)
        if let time = e.time {
            let when = RFC3339.parse(time).map(Times.absolute) ?? time
            field("Time", times.absolute ? when : "\(when) (\(times.format(time)))")
        }
        field("Host", e.host)
        field("Boot", e.bootID)
        field("Uptime", e.uptimeS.map { Decimal1.format($0) + "s" })
        field("Source", e.source.rawValue)
        field("Scope", [e.scope?.rawValue, e.constraint.map { "(\($0))" }].compactMap { $0 }.joined(separator: " "))

        heading("Victim")
        field("Process", "\(v.comm) (pid \(v.pid.map(String.init) ?? "unknown")\(v.uid.map { ", uid \($0)" } ?? ""))")
        field("RSS", rssText(v))
        field("Total VM", v.totalVmKB.map { Sizes.format(kb: $0) })
        field("Page tables", v.pgtablesKB.map { Sizes.format(kb: $0) })
        field("Score adj", v.oomScoreAdj.map(String.init))
        field("Score", v.score.map(String.init))
        field("Unit", v.unit)
        field("Container", v.containerID)
        field("Pod", v.podUID)
        field("Cgroup", v.cgroup)
        field("Command", v.cmdline)
        if let reaped = e.reaped {
            field(
                "Reaped",
                "anon \(Sizes.format(kb: reaped.anonRssKB)), file \(Sizes.format(kb: reaped.fileRssKB)), shmem \(Sizes.format(kb: reaped.shmemRssKB)) left"
            )
        }

        if let t = e.trigger {
            heading("Trigger")
            var who = t.comm ?? "-"
            if let pid = t.pid { who += " (pid \(pid))" }
            field("Process", who)
            field("GFP mask", t.gfpMask)
            field("Order", t.order.map(String.init))
            field("Score adj", t.oomScoreAdj.map(String.init))
            field("oom_adj", t.oomAdj.map(String.init))
        }

        if let m = e.memcg {
            heading("Cgroups")
            field("Hit limit", m.oom)
            field("Victim in", m.task)
            if m.usageKB != nil || m.limitKB != nil {
                field("Usage", "\(Sizes.format(kb: m.usageKB)) of limit \(Sizes.format(kb: m.limitKB))")
            }
            field("Fail count", m.failcnt.map(String.init))
        }
        if e.cpuset != nil || e.memsAllowed != nil {
            field("Cpuset", e.cpuset)
            field("Mems", e.memsAllowed)
        }

        if let candidates = e.candidates, !candidates.isEmpty {
            heading("Candidates (\(candidates.count) tasks; sizes assume \(pageKB) KiB pages; * = victim)")
            out += candidateTable(candidates, victimPID: v.pid).render(maxWidth: width, style: style)
        }

        if let raw = e.raw, !raw.isEmpty {
            heading("Raw report")
            for line in TextWidth.sanitized(raw, keepNewlines: true).split(
                separator: "\n", omittingEmptySubsequences: false)
            {
                out += "  " + line + "\n"
            }
        }
        return out
    }

    static func rssText(_ v: OOMEvent.Victim) -> String? {
        let parts: [(String, Int64?)] = [("anon", v.anonRssKB), ("file", v.fileRssKB), ("shmem", v.shmemRssKB)]
        let known = parts.filter { $0.1 != nil }
        if known.isEmpty { return v.lastRssKB.map { Sizes.format(kb: $0) + " (last sample)" } }
        let total = known.reduce(Int64(0)) { $0 + ($1.1 ?? 0) }
        let detail = known.map { "\($0.0) \(Sizes.format(kb: $0.1!))" }.joined(separator: ", ")
        return "\(Sizes.format(kb: total)) (\(detail))"
    }

    static func candidateTable(_ candidates: [OOMEvent.Candidate], victimPID: Int?) -> Table {
        var table = Table([
            .init(" PID", alignRight: true),
            .init("UID", alignRight: true),
            .init("TGID", alignRight: true),
            .init("TOTAL VM", alignRight: true),
            .init("RSS", alignRight: true),
            .init("PGTABLES", alignRight: true),
            .init("SWAP", alignRight: true),
            .init("ADJ", alignRight: true),
            .init("NAME", truncatable: true),
        ])
        // Largest RSS first: the kernel prints by pid, but a person wants the big ones.
        let sorted = candidates.sorted { ($0.rssPages ?? 0, $1.pid) > ($1.rssPages ?? 0, $0.pid) }
        for c in sorted {
            let isVictim = c.pid == victimPID || c.tgid == victimPID
            table.append([
                Table.Cell((isVictim ? "*" : "") + String(c.pid), isVictim ? .red : nil),
                Table.Cell(c.uid.map(String.init) ?? "-"),
                Table.Cell(c.tgid.map(String.init) ?? "-"),
                Table.Cell(Sizes.format(kb: c.totalVmPages.map { $0 * pageKB })),
                Table.Cell(Sizes.format(kb: c.rssPages.map { $0 * pageKB })),
                Table.Cell(Sizes.format(kb: c.pgtablesBytes.map { $0 / 1024 })),
                Table.Cell(Sizes.format(kb: c.swapents.map { $0 * pageKB })),
                Table.Cell(c.oomScoreAdj.map(String.init) ?? "-"),
                Table.Cell(c.name, isVictim ? .red : nil),
            ])
        }
        return table
    }
}
