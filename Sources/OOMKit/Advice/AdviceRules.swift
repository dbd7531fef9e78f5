/// The advice rules: a host's aggregates in, findings out. Pure (no I/O, no clock: the
/// caller passes `now`), so every rule is tested on seeded facts.
public enum AdviceRules {
    /// Every finding for one host.
    public static func evaluate(_ f: HostAdviceFacts, settings s: AdviceSettings, now: Int64)
        -> [AdviceFinding]
    {
        pending(f, settings: s, now: now).map { $0.render() }
    }

    /// Every finding for one host, its words not yet written: a fleet's answer orders them
    /// all and writes only those it returns.
    public static func pending(_ f: HostAdviceFacts, settings s: AdviceSettings, now: Int64)
        -> [PendingFinding]
    {
        var out: [PendingFinding] = []
        out += criticalVictims(f, s)
        out += criticalUnprotected(f, s)
        // The tight-limit rule reads the leaks' slopes.
        let leaks = leakSuspects(f, s)
        out += leaks.map(\.finding)
        out += tightLimits(f, s, leaks: leaks)
        out += noSwap(f, s)
        out += overcommit(f, s)
        out += exhaustion(f, s, now: now)
        out += wrongVictim(f, s)
        out += noUserspaceKiller(f, s)
        return out
    }

    /// Most severe first, then the most recent evidence (its `last` time; none last), then
    /// host, kind and subject (a stable order for diffs and tests).
    public static func sorted(_ findings: [AdviceFinding]) -> [AdviceFinding] {
        first(findings.count, of: findings)
    }

    /// The first `n` findings in `sorted` order.
    public static func first(_ n: Int, of findings: [AdviceFinding]) -> [AdviceFinding] {
        order(
            n,
            findings.map { f in (f.severity, f.evidence.last.flatMap { RFC3339.parse($0) }, f.host, f.kind, f.subject) }
        ).map { findings[$0] }
    }

    /// The first `n` pending findings in `sorted` order (their `last` times say where they go).
    public static func first(_ n: Int, of findings: [PendingFinding]) -> [PendingFinding] {
        order(n, findings.map { ($0.severity, $0.last, $0.host, $0.kind, $0.subject) }).map { findings[$0] }
    }

    /// The indices of the first `n` of `keys` in `sorted` order.
    static func order(
        _ n: Int, _ keys: [(severity: AdviceSeverity, last: Int64?, host: String, kind: AdviceKind, subject: String)]
    ) -> [Int] {
        let kindOrder = Dictionary(
            uniqueKeysWithValues: AdviceKind.allCases.enumerated().map { ($1, $0) })
        // The keys once per finding (the kind ranked), not per comparison.
        struct Key {
            var index: Int
            var severity: Int
            var last: Int64
            var host: String
            var kind: Int
            var subject: String
        }
        var sorted = keys.enumerated().map { i, k in
            Key(
                index: i, severity: k.severity.rank, last: k.last ?? .min, host: k.host, kind: kindOrder[k.kind]!,
                subject: k.subject)
        }
        sorted.sort { a, b in
            if a.severity != b.severity { return a.severity > b.severity }
            if a.last != b.last { return a.last > b.last }
            if a.host != b.host { return a.host < b.host }
            if a.kind != b.kind { return a.kind < b.kind }
            return a.subject < b.subject
        }
        return sorted.prefix(max(0, n)).map(\.index)
    }

    // MARK: rules

    static func criticalVictims(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [PendingFinding] {
        f.commGroups.compactMap { g in
            guard let service = CriticalServices.match(comm: g.key, in: s.criticalServices) else {
                return nil
            }
            let unit = unitName(service: service, f)
            return PendingFinding(
                kind: .criticalVictim, severity: .critical, host: f.host, subject: service, last: g.lastTime,
                evidence: evidence(
                    "\(g.key) (critical service \(service)) was killed \(times(g.kills)), last at \(time(g.lastTime)) with \(size(g.recent.first?.rssKB ?? g.maxRSS)) RSS",
                    g, ["kills": Double(g.kills)]),
                action:
                    "Protect it: `systemctl edit \(unit)` and add [Service] OOMScoreAdjust=\(s.recommendedAdj), then find what filled the memory (see the host's other findings)"
            )
        }
    }

    static func criticalUnprotected(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [PendingFinding] {
        guard let global = f.globalKills, global.kills > 0, let critical = f.system?.critical else {
            return []
        }
        var seen: Set<String> = []
        var out: [PendingFinding] = []
        for p in critical {
            guard let adj = p.oomScoreAdj, adj > s.protectAdj, !seen.contains(p.service) else {
                continue
            }
            seen.insert(p.service)
            let unit = p.unit ?? p.service + ".service"
            out.append(
                PendingFinding(
                    kind: .criticalUnprotected, severity: .warning, host: f.host, subject: unit, last: global.lastTime,
                    evidence: evidence(
                        "\(p.comm) (pid \(p.pid), critical service \(p.service)) has oom_score_adj \(adj) (above \(s.protectAdj)) on a host with \(times(global.kills, "global kill")), last at \(time(global.lastTime))",
                        global, ["oom_score_adj": Double(adj), "global_kills": Double(global.kills)]),
                    action:
                        "`systemctl edit \(unit)` and add [Service] OOMScoreAdjust=\(s.recommendedAdj), then `systemctl restart \(unit)`"
                ))
        }
        return out
    }

    /// A leak-suspect finding, not yet written, with the slope the tight-limit rule quotes.
    struct Leak {
        var finding: PendingFinding
        var slopeMBh: Double
    }

    static func leakSuspects(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [Leak] {
        var out: [Leak] = []
        for g in f.commGroups where g.kills >= s.minRepeatKills && g.rssSpread <= s.killSizeSpread {
            let runs = (f.runs[g.key] ?? []).filter {
                $0.samples >= s.leakMinSamples && $0.slopeKBPerSecond != nil
            }
            guard !runs.isEmpty else { continue }
            // The median over runs: one odd run (a burst, a restart mid-load) cannot make
            // or break the verdict.
            let slopeMBh = median(runs.map { $0.slopeKBPerSecond! * 3600 / 1024 })
            let r2 = median(runs.map(\.r2))
            guard slopeMBh >= s.leakMinSlopeMBPerHour, r2 >= s.leakMinR2 else { continue }
            out.append(
                Leak(
                    finding: PendingFinding(
                        kind: .leakSuspect, severity: .warning, host: f.host, subject: g.key, last: g.lastTime,
                        evidence: leakEvidence(g, runs: runs, slopeMBh: slopeMBh, r2: r2),
                        action: leakAction(g, runs: runs, slopeMBh: slopeMBh)),
                    slopeMBh: slopeMBh))
        }
        return out
    }

    /// The words of a leak-suspect finding (written only for the findings returned).
    static func leakEvidence(_ g: KillGroup, runs: [ProcessRun], slopeMBh: Double, r2: Double) -> AdviceEvidence {
        let killAt = g.meanRSS
        let kbPerSecond = slopeMBh * 1024 / 3600
        let newest = runs.max { $0.lastTime < $1.lastTime }!
        var next: String
        var inHours: Double?
        if newest.lastTime > g.lastTime {
            let left = max(0, killAt - Double(newest.lastRSS)) / kbPerSecond
            let at = newest.lastTime + Int64(left * 1_000_000)
            inHours = left / 3600
            next = "next kill expected at about \(time(at)) (pid \(newest.pid) at \(size(newest.lastRSS)))"
        } else {
            let lifetimes = runs.map { Double($0.lastTime - $0.firstTime) / 1_000_000 }
            next = "if restarted, the next kill comes about \(duration(median(lifetimes))) after start"
        }
        var values: [String: Double] = [
            "slope_mb_per_hour": rounded(slopeMBh), "r2": rounded(r2), "kills": Double(g.kills),
            "mean_kill_rss_kb": killAt.rounded(), "runs": Double(runs.count),
        ]
        values["next_kill_in_hours"] = inHours.map(rounded)
        return evidence(
            "RSS grows \(number(slopeMBh)) MB/h (median of \(runs.count == 1 ? "1 run" : "\(runs.count) runs"), R² \(number(r2))); killed \(times(g.kills)) at \(size(Int64(killAt))) ± \(Int((g.rssSpread * 100).rounded()))% (\(time(g.firstTime)) – \(time(g.lastTime))); \(next)",
            g, values)
    }

    /// The action of a leak-suspect finding: restart it before it reaches its peak.
    static func leakAction(_ g: KillGroup, runs: [ProcessRun], slopeMBh: Double) -> String {
        let kbPerSecond = slopeMBh * 1024 / 3600
        let newest = runs.max { $0.lastTime < $1.lastTime }!
        let restartEvery = max(60, (g.meanRSS * 0.8 - Double(min(newest.firstRSS, g.minRSS))) / kbPerSecond)
        return
            "Fix the leak in \(g.key); a larger memory limit only delays the kill. Until then restart it before it reaches \(size(g.maxRSS)): e.g. RuntimeMaxSec=\(Int(restartEvery))s in its unit"
    }

    static func tightLimits(_ f: HostAdviceFacts, _ s: AdviceSettings, leaks: [Leak])
        -> [PendingFinding]
    {
        let leaking = Dictionary(
            leaks.map { ($0.finding.subject, rounded($0.slopeMBh)) }, uniquingKeysWith: { a, _ in a })
        var out: [PendingFinding] = []
        for g in f.memcgGroups where g.kills >= s.minRepeatKills {
            let comms = Set(g.recent.map(\.comm)).sorted()
            let limitText = g.limitKB.map { "its limit \(size($0))" } ?? "its limit"
            var values: [String: Double] = ["kills": Double(g.kills)]
            values["limit_kb"] = g.limitKB.map(Double.init)
            let text =
                "\(g.key) hit \(limitText) \(times(g.kills)) (\(time(g.firstTime)) – \(time(g.lastTime))), victims \(comms.joined(separator: ", ")) at up to \(size(g.maxRSS))"
            if let leaker = comms.first(where: { leaking[$0] != nil }) {
                values["leak_slope_mb_per_hour"] = leaking[leaker]
                out.append(
                    PendingFinding(
                        kind: .memcgLimitTight, severity: .info, host: f.host, subject: g.key, last: g.lastTime,
                        evidence: evidence(text + "; \(leaker) leaks", g, values),
                        action:
                            "Do not raise the limit: \(leaker) grows \(number(leaking[leaker]!)) MB/h and would fill any limit (see its leak-suspect finding); fix the leak"
                    ))
                continue
            }
            let peak = max(g.maxUsageKB ?? 0, g.maxRSS)
            let step: Int64 = 64 * 1024
            let suggested = (Int64(Double(peak) * s.limitHeadroom) + step - 1) / step * step
            values["suggested_limit_kb"] = Double(suggested)
            values["peak_kb"] = Double(peak)
            out.append(
                PendingFinding(
                    kind: .memcgLimitTight, severity: .warning, host: f.host, subject: g.key, last: g.lastTime,
                    evidence: evidence(text + "; peak usage \(size(peak))", g, values),
                    action: limitAction(cgroup: g.key, kb: suggested)))
        }
        return out
    }

    static func noSwap(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [PendingFinding] {
        guard let global = f.globalKills, global.kills > 0, let swapTotal = f.memory?["swap_total_kb"],
            swapTotal == 0, (f.system?.zram ?? []).isEmpty, (f.system?.swaps ?? []).isEmpty
        else { return [] }
        let total = f.memory?["total_kb"] ?? 0
        let size = min(max(total / 2, 512 * 1024), 8 * 1024 * 1024)
        let mb = size / 1024
        return [
            PendingFinding(
                kind: .noSwap, severity: .warning, host: f.host, subject: f.host, last: global.lastTime,
                evidence: evidence(
                    "\(times(global.kills, "global kill")) (last at \(time(global.lastTime))) with no swap and no zram (RAM \(Self.size(total)))",
                    global, ["global_kills": Double(global.kills), "total_kb": Double(total)]),
                action:
                    "Give the host a swap buffer of \(Self.size(size)): zram (zram-generator: zram-size = \(mb)) or a swap file (`fallocate -l \(mb)M /swapfile && chmod 600 /swapfile && mkswap /swapfile && swapon /swapfile`, plus an /etc/fstab line)"
            )
        ]
    }

    static func overcommit(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [PendingFinding] {
        guard let global = f.globalKills, global.kills > 0 else { return [] }
        let mode = f.system?.sysctl?.overcommitMemory
        if mode == 1 {
            return [
                PendingFinding(
                    kind: .overcommitRisk, severity: .warning, host: f.host, subject: "vm.overcommit_memory",
                    last: global.lastTime,
                    evidence: evidence(
                        "vm.overcommit_memory=1 (always overcommit) and \(times(global.kills, "global kill")), last at \(time(global.lastTime))",
                        global, ["overcommit_memory": 1, "global_kills": Double(global.kills)]),
                    action:
                        "Return to heuristic overcommit: `echo vm.overcommit_memory=0 > /etc/sysctl.d/90-oomwatch.conf && sysctl --system` (unless an application documents that it needs 1)"
                )
            ]
        }
        guard mode != 2, let m = f.memory, let committed = m["committed_as_kb"], let total = m["total_kb"],
            total > 0
        else { return [] }
        let backing = Double(total + (m["swap_total_kb"] ?? 0))
        let ratio = Double(committed) / backing
        guard ratio > s.commitRatio else { return [] }
        return [
            PendingFinding(
                kind: .overcommitRisk, severity: .warning, host: f.host, subject: "Committed_AS", last: global.lastTime,
                evidence: evidence(
                    "Committed_AS \(size(committed)) is \(number(ratio))× RAM + swap (\(size(Int64(backing)))) and \(times(global.kills, "global kill")), last at \(time(global.lastTime))",
                    global,
                    [
                        "committed_as_kb": Double(committed), "ratio": rounded(ratio),
                        "global_kills": Double(global.kills),
                    ]),
                action:
                    "The host has promised \(number(ratio))× the memory it can back: add \(size(Int64(Double(committed) - backing))) of RAM or swap, or move workloads off it"
            )
        ]
    }

    static func exhaustion(_ f: HostAdviceFacts, _ s: AdviceSettings, now: Int64) -> [PendingFinding] {
        guard let latest = f.hourly.last, now - latest.hour <= 2 * 3_600_000_000 else { return [] }
        let window = f.hourly.filter { $0.hour > latest.hour - Int64(s.trendHours) * 3_600_000_000 }
        var out: [PendingFinding] = []
        if window.count >= 3 {
            // Theil–Sen: the median of pairwise slopes shrugs off a spike or two.
            var slopes: [Double] = []
            for i in window.indices {
                for j in window.indices where j > i {
                    let dh = Double(window[j].hour - window[i].hour) / 3_600_000_000
                    slopes.append((window[j].availableKB - window[i].availableKB) / dh)
                }
            }
            let slope = median(slopes)  // kB per hour
            let available = latest.availableKB
            if slope < 0, available > 0 {
                let hours = available / -slope
                if hours <= s.exhaustionHorizonHours {
                    out.append(
                        PendingFinding(
                            kind: .exhaustionPredicted, severity: hours <= 6 ? .critical : .warning,
                            host: f.host, subject: "MemAvailable", last: latest.hour,
                            evidence: AdviceEvidence(
                                text:
                                    "MemAvailable falls \(size(Int64(-slope)))/h over \(window.count) hours to \(size(Int64(available))) at \(time(latest.hour)): zero in about \(number(hours)) h",
                                values: [
                                    "slope_kb_per_hour": slope.rounded(), "available_kb": available.rounded(),
                                    "hours_to_zero": rounded(hours),
                                ],
                                first: time(window.first!.hour), last: time(latest.hour)),
                            action:
                                "Add memory or move load before \(time(latest.hour + Int64(hours * 3_600_000_000))); look at the host's largest processes (`oomwatch top --host \(f.host)`)"
                        ))
                }
            }
        }
        let stalled = window.filter { ($0.fullAvg60 ?? 0) >= s.psiFullThreshold }
        if stalled.count >= s.psiFullHours {
            let worst = stalled.map { $0.fullAvg60! }.max()!
            out.append(
                PendingFinding(
                    kind: .exhaustionPredicted, severity: .warning, host: f.host, subject: "PSI memory full",
                    last: stalled.last!.hour,
                    evidence: AdviceEvidence(
                        text:
                            "PSI memory full avg60 at or above \(number(s.psiFullThreshold))% for \(stalled.count) of the last \(window.count) hours (up to \(number(worst))%)",
                        values: ["stalled_hours": Double(stalled.count), "max_full_avg60": rounded(worst)],
                        first: time(stalled.first!.hour), last: time(stalled.last!.hour)),
                    action:
                        "Tasks are stalled on memory for hours: add RAM or swap, or lower the load; consider systemd-oomd to act on pressure"
                ))
        }
        return out
    }

    static func wrongVictim(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [PendingFinding] {
        guard let w = f.worstShield, w.shieldAdj <= s.shieldAdj,
            Double(w.shieldRSSKB) >= s.wrongVictimRatio * Double(max(1, w.kill.rssKB))
        else { return [] }
        let ratio = Double(w.shieldRSSKB) / Double(max(1, w.kill.rssKB))
        return [
            PendingFinding(
                kind: .wrongVictim, severity: .warning, host: f.host, subject: w.shieldName, last: w.kill.time,
                evidence: AdviceEvidence(
                    text:
                        "At \(time(w.kill.time)) the killer took \(w.kill.comm) (\(size(w.kill.rssKB))) while \(w.shieldName) (\(size(w.shieldRSSKB)), \(number(ratio))× larger) was shielded by oom_score_adj \(w.shieldAdj)",
                    eventIDs: [w.kill.id],
                    values: [
                        "victim_rss_kb": Double(w.kill.rssKB), "shielded_rss_kb": Double(w.shieldRSSKB),
                        "shielded_oom_score_adj": Double(w.shieldAdj),
                    ],
                    first: time(w.kill.time), last: time(w.kill.time)),
                action:
                    "Let the killer reach \(w.shieldName): raise its OOMScoreAdjust to 0 (or no lower than -100), or cap it with MemoryMax= so it cannot crowd out the rest"
            )
        ]
    }

    static func noUserspaceKiller(_ f: HostAdviceFacts, _ s: AdviceSettings) -> [PendingFinding] {
        guard let global = f.globalKills, global.kills > 0, let killers = f.system?.userspaceKillers,
            !killers.any
        else { return [] }
        // Pressure in the hours up to the last global kill.
        let before = f.hourly.filter {
            $0.hour <= global.lastTime && $0.hour > global.lastTime - 3 * 3_600_000_000
                && ($0.fullAvg60 ?? 0) >= s.psiFullThreshold
        }
        guard let worst = before.max(by: { ($0.fullAvg60 ?? 0) < ($1.fullAvg60 ?? 0) }) else { return [] }
        return [
            PendingFinding(
                kind: .noUserspaceKiller, severity: .warning, host: f.host, subject: f.host, last: global.lastTime,
                evidence: evidence(
                    "PSI memory full avg60 reached \(number(worst.fullAvg60!))% in the hour from \(time(worst.hour)), before the global kill at \(time(global.lastTime)); neither systemd-oomd nor earlyoom runs",
                    global, ["max_full_avg60": rounded(worst.fullAvg60!), "global_kills": Double(global.kills)]),
                action:
                    "Run a userspace killer that acts on pressure before the kernel stalls: `systemctl enable --now systemd-oomd` (with ManagedOOMMemoryPressure=kill on user.slice/system.slice) or `apt install earlyoom`"
            )
        ]
    }

    // MARK: wording

    static func evidence(_ text: String, _ g: KillGroup, _ values: [String: Double]) -> AdviceEvidence {
        AdviceEvidence(
            text: text, eventIDs: g.recent.map(\.id), values: values, first: time(g.firstTime),
            last: time(g.lastTime))
    }

    static func unitName(service: String, _ f: HostAdviceFacts) -> String {
        f.system?.critical?.first(where: { $0.service == service })?.unit ?? service + ".service"
    }

    static func limitAction(cgroup: String, kb: Int64) -> String {
        let mb = kb / 1024
        let last = cgroup.split(separator: "/").last.map(String.init) ?? cgroup
        if last.hasSuffix(".service") || last.hasSuffix(".scope") || last.hasSuffix(".slice") {
            return "Raise its limit from the observed peak: `systemctl set-property \(last) MemoryMax=\(mb)M`"
        }
        if cgroup.contains("docker") || cgroup.contains("containerd") || cgroup.contains("kubepods") {
            return
                "Raise the container's memory limit to \(mb)M (docker --memory=\(mb)m, or resources.limits.memory: \(mb)Mi)"
        }
        return
            "Raise its limit to \(mb)M: write \(kb * 1024) to \(cgroup)/memory.max (v2) or memory.limit_in_bytes (v1)"
    }

    static func times(_ n: Int, _ noun: String? = nil) -> String {
        if let noun { return n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
        return n == 1 ? "once" : "\(n) times"
    }

    static func time(_ us: Int64) -> String { RFC3339.format(epochMicroseconds: us) }

    static func size(_ kb: Int64) -> String {
        if kb >= 1024 * 1024 { return number(Double(kb) / 1024 / 1024) + " GiB" }
        if kb >= 1024 { return number(Double(kb) / 1024) + " MiB" }
        return "\(kb) kB"
    }

    static func duration(_ seconds: Double) -> String {
        if seconds >= 3600 { return number(seconds / 3600) + " h" }
        if seconds >= 60 { return number(seconds / 60) + " min" }
        return number(seconds) + " s"
    }

    /// Three significant digits at most, no exponent.
    static func number(_ v: Double) -> String {
        let r = rounded(v)
        if r == r.rounded() && abs(r) < 1e15 { return String(Int64(r)) }
        return String(r)
    }

    static func rounded(_ v: Double) -> Double {
        let a = abs(v)
        let scale: Double = a >= 100 ? 1 : a >= 10 ? 10 : 100
        return (v * scale).rounded() / scale
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// A finding whose place in the order is known before its words are written: its kind,
/// severity, host, subject and last evidence time are set, its evidence and action are
/// written by `render()`.
public struct PendingFinding {
    public let kind: AdviceKind
    public let severity: AdviceSeverity
    public let host: String
    public let subject: String
    /// The evidence's `last` time (µs), `nil` when it has none.
    public let last: Int64?
    let evidence: () -> AdviceEvidence
    let action: () -> String

    init(
        kind: AdviceKind, severity: AdviceSeverity, host: String, subject: String, last: Int64?,
        evidence: @autoclosure @escaping () -> AdviceEvidence, action: @autoclosure @escaping () -> String
    ) {
        self.kind = kind
        self.severity = severity
        self.host = host
        self.subject = subject
        self.last = last
        self.evidence = evidence
        self.action = action
    }

    /// The finding, its evidence and action written.
    public func render() -> AdviceFinding {
        AdviceFinding(
            kind: kind, severity: severity, host: host, subject: subject, evidence: evidence(), action: action())
    }
}
