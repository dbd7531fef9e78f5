public import OOMKit

/// What every store does with the advice facts it fetched, so SQLite and PostgreSQL give the
/// same findings in the same order: every rule on every host, the first `limit` findings
/// rendered, the evidence ids read only for those (from the group `evidenceGroup(of:)`
/// names), and the report.
package enum AdviceShaping {
    /// The process names the kernel shows for the critical services (a name cut to its 15
    /// bytes, and each service's known aliases), which both readers bind into their SQL.
    package static func criticalNames(_ settings: AdviceSettings) -> [String] {
        settings.criticalServices.flatMap { name in
            [String(decoding: name.utf8.prefix(15), as: UTF8.self)] + (CriticalServices.aliases[name] ?? [])
        }
    }

    /// The group whose newest kills back a finding that names none of its own.
    package enum EvidenceGroup: Hashable, Sendable {
        /// A process name's kills.
        case comm(String)
        /// The host's global kills.
        case global
    }

    /// Files a kill group of the window (`kind`: `global`, `memcg` or `comm`) under its
    /// host's facts (made with `host` on its first group) when a rule can fire on it: a lone
    /// kill feeds no per-group rule, so only global kills, groups killed `minRepeatKills`
    /// times and critical services are kept.
    package static func file(
        _ g: KillGroup, kind: String, host: String, into facts: inout HostAdviceFacts?, settings s: AdviceSettings
    ) {
        guard g.kills > 0 else { return }
        switch kind {
        case "global":
            facts = facts ?? HostAdviceFacts(host: host)
            facts!.globalKills = g
        case "memcg" where g.kills >= s.minRepeatKills:
            facts = facts ?? HostAdviceFacts(host: host)
            facts!.memcgGroups.append(g)
        case "comm"
        where g.kills >= s.minRepeatKills || CriticalServices.match(comm: g.key, in: s.criticalServices) != nil:
            facts = facts ?? HostAdviceFacts(host: host)
            facts!.commGroups.append(g)
        default: break
        }
    }

    /// Every finding's count and the first `limit` (`nil`: all of them) rendered, most severe
    /// and most recent first; the rules see `now`, or `until` when the window ends earlier.
    package static func findings(
        _ facts: [HostAdviceFacts], settings: AdviceSettings, limit: Int?, until: Int64, now: Int64
    ) -> (findings: [AdviceFinding], total: Int) {
        let ruleNow = min(now, until)
        // Every rule on every host, but words only for the findings returned.
        var pending: [PendingFinding] = []
        for f in facts {
            pending += AdviceRules.pending(f, settings: settings, now: ruleNow)
        }
        let total = pending.count
        return (AdviceRules.first(limit ?? total, of: pending).map { $0.render() }, total)
    }

    /// The group whose newest kills are the evidence of `f`, `nil` when it has its own ids
    /// or its kind quotes none.
    package static func evidenceGroup(of f: AdviceFinding) -> EvidenceGroup? {
        guard f.evidence.eventIDs.isEmpty else { return nil }
        switch f.kind {
        case .leakSuspect: return .comm(f.subject)
        case .criticalUnprotected, .noSwap, .overcommitRisk, .noUserspaceKiller: return .global
        default: return nil
        }
    }

    /// The report of `findings` over [since, until) as of `now`.
    package static func report(
        _ findings: [AdviceFinding], total: Int, since: Int64, until: Int64, now: Int64
    ) -> AdviceReport {
        AdviceReport(
            since: RFC3339.format(epochMicroseconds: since), until: RFC3339.format(epochMicroseconds: until),
            generatedAt: RFC3339.format(epochMicroseconds: now), findings: findings, total: total)
    }
}
