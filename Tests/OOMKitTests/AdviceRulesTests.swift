import OOMKit
import Testing

/// Every advice rule on seeded facts: a host where it must fire and a healthy one where
/// it must not. Pure: no store, no clock.
@Suite struct AdviceRulesTests {
    static let hour: Int64 = 3_600_000_000
    /// 2026-01-10T00:00:00Z.
    static let now: Int64 = 1_768_003_200_000_000
    let settings = AdviceSettings()

    /// A group of kills at `hoursAgo` with `rssMB` each.
    static func group(_ key: String, _ kills: [(hoursAgo: Double, rssMB: Int64)], limitMB: Int64? = nil)
        -> KillGroup
    {
        var g: KillGroup?
        for (i, k) in kills.enumerated() {
            let ref = KillRef(
                id: "\(key)-\(i)", time: now - Int64(k.hoursAgo * Double(hour)), comm: key, rssKB: k.rssMB * 1024)
            let limit = limitMB.map { $0 * 1024 }
            if g == nil {
                g = KillGroup(key: key, kill: ref, usageKB: limit, limitKB: limit)
            } else {
                g!.add(ref, usageKB: limit, limitKB: limit)
                g!.recent.insert(ref, at: 0)
            }
        }
        return g!
    }

    /// A process run sampled every 10 minutes, growing `slopeMBh` per hour from 100 MB.
    static func run(pid: Int, startHoursAgo: Double, samples: Int, slopeMBh: Double, jitterMB: Double = 0)
        -> ProcessRun
    {
        let start = now - Int64(startHoursAgo * Double(hour))
        let points = (0..<samples).map { i -> (time: Int64, rssKB: Int64) in
            let h = Double(i) / 6
            let wobble = i % 2 == 0 ? jitterMB : -jitterMB
            return (start + Int64(h * Double(hour)), Int64((100 + slopeMBh * h + wobble) * 1024))
        }
        return ProcessRun(pid: pid, samples: points)
    }

    func kinds(_ f: HostAdviceFacts) -> [AdviceKind] {
        AdviceRules.evaluate(f, settings: settings, now: Self.now).map(\.kind)
    }

    // MARK: critical-victim

    @Test func criticalVictimFiresForSshd() throws {
        var f = HostAdviceFacts(host: "web-1")
        f.commGroups = [Self.group("sshd", [(2, 8)])]
        let findings = AdviceRules.evaluate(f, settings: settings, now: Self.now)
        let finding = try #require(findings.first { $0.kind == .criticalVictim })
        #expect(finding.severity == .critical)
        #expect(finding.subject == "sshd")
        #expect(finding.evidence.eventIDs == ["sshd-0"])
        #expect(finding.action.contains("OOMScoreAdjust=-900"))
        #expect(finding.action.contains("systemctl edit sshd.service"))
    }

    @Test(arguments: ["systemd-journal", "dbus-daemon", "dbus-broker", "systemd-logind"])
    func criticalNamesMatchTheKernelsComm(_ comm: String) {
        #expect(CriticalServices.match(comm: comm, in: CriticalServices.defaults) != nil)
    }

    @Test func criticalVictimIgnoresOrdinaryProcesses() {
        var f = HostAdviceFacts(host: "web-1")
        f.commGroups = [Self.group("java", [(2, 800)]), Self.group("sshd-keygen", [(1, 5)])]
        #expect(kinds(f).isEmpty)
        #expect(CriticalServices.match(comm: "dbusx", in: CriticalServices.defaults) == nil)
    }

    // MARK: critical-unprotected

    static func critical(adj: Int) -> [CriticalProcess] {
        var p = CriticalProcess(service: "sshd", pid: 812, comm: "sshd")
        p.oomScoreAdj = adj
        p.unit = "ssh.service"
        return [p]
    }

    @Test func criticalUnprotectedFiresOnAHostWithGlobalKills() throws {
        var f = HostAdviceFacts(host: "web-1")
        f.globalKills = Self.group("", [(3, 900)])
        f.system = HostSystemFacts(critical: Self.critical(adj: 0))
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .criticalUnprotected })
        #expect(finding.subject == "ssh.service")
        #expect(finding.action.contains("systemctl edit ssh.service"))
        #expect(finding.evidence.values["oom_score_adj"] == 0)
    }

    @Test func criticalUnprotectedNeedsGlobalKillsAndAnAdjAboveTheBar() {
        var quiet = HostAdviceFacts(host: "web-1")
        quiet.system = HostSystemFacts(critical: Self.critical(adj: 0))
        #expect(kinds(quiet).isEmpty)
        var protected = HostAdviceFacts(host: "web-2")
        protected.globalKills = Self.group("", [(3, 900)])
        protected.system = HostSystemFacts(critical: Self.critical(adj: -900))
        #expect(!kinds(protected).contains(.criticalUnprotected))
    }

    // MARK: leak-suspect

    func leakyHost(slopeMBh: Double = 60) -> HostAdviceFacts {
        var f = HostAdviceFacts(host: "app-1")
        f.commGroups = [Self.group("worker", [(20, 500), (12, 510), (4, 495)])]
        f.runs["worker"] = [
            Self.run(pid: 10, startHoursAgo: 27, samples: 40, slopeMBh: slopeMBh, jitterMB: 3),
            Self.run(pid: 11, startHoursAgo: 19, samples: 40, slopeMBh: slopeMBh * 1.1, jitterMB: 3),
            Self.run(pid: 12, startHoursAgo: 11, samples: 40, slopeMBh: slopeMBh * 0.9, jitterMB: 3),
            Self.run(pid: 13, startHoursAgo: 3.5, samples: 12, slopeMBh: slopeMBh, jitterMB: 3),
        ]
        return f
    }

    @Test func leakSuspectFiresWithSlopeAndNextKill() throws {
        let findings = AdviceRules.evaluate(leakyHost(), settings: settings, now: Self.now)
        let leak = try #require(findings.first { $0.kind == .leakSuspect })
        let slope = try #require(leak.evidence.values["slope_mb_per_hour"])
        #expect(slope > 55 && slope < 66)
        #expect(leak.evidence.values["kills"] == 3)
        // pid 13 is at ~210 MB after 1.8 h; the kills came at ~500 MB: ~5 h to go.
        let next = try #require(leak.evidence.values["next_kill_in_hours"])
        #expect(next > 4 && next < 6)
        #expect(leak.evidence.eventIDs.count == 3)
        #expect(leak.action.contains("Fix the leak"))
    }

    @Test func stableProcessKilledRepeatedlyIsNotALeak() {
        #expect(!kinds(leakyHost(slopeMBh: 0.2)).contains(.leakSuspect))
    }

    @Test func stableProcessKilledOnceIsNotALeak() {
        var f = leakyHost()
        f.commGroups = [Self.group("worker", [(4, 500)])]
        #expect(!kinds(f).contains(.leakSuspect))
    }

    @Test func killsAtScatteredSizesAreNotALeakPattern() {
        var f = leakyHost()
        f.commGroups = [Self.group("worker", [(20, 100), (12, 900), (4, 2000)])]
        #expect(!kinds(f).contains(.leakSuspect))
    }

    @Test func noisyRSSIsNotALeak() {
        var f = leakyHost(slopeMBh: 2)
        f.runs["worker"] = (f.runs["worker"] ?? []).map { r in
            Self.run(pid: r.pid, startHoursAgo: 10, samples: r.samples, slopeMBh: 2, jitterMB: 80)
        }
        #expect(!kinds(f).contains(.leakSuspect))
    }

    // MARK: memcg-limit-tight

    @Test func tightLimitSuggestsALimitFromThePeak() throws {
        var f = HostAdviceFacts(host: "db-1")
        f.memcgGroups = [
            Self.group("/system.slice/postgres.service", [(30, 1000), (20, 1010), (5, 1020)], limitMB: 1024)
        ]
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .memcgLimitTight })
        #expect(finding.severity == .warning)
        // 1024 MB × 1.5 rounded up to 64 MiB.
        #expect(finding.evidence.values["suggested_limit_kb"] == Double(1536 * 1024))
        #expect(finding.action.contains("systemctl set-property postgres.service MemoryMax=1536M"))
    }

    @Test func batchJobKilledAtItsLimitOnceIsNotTight() {
        var f = HostAdviceFacts(host: "db-1")
        f.memcgGroups = [Self.group("/batch/nightly", [(5, 1020)], limitMB: 1024)]
        #expect(kinds(f).isEmpty)
    }

    @Test func leakingProcessInATightCgroupIsNotToldToRaiseTheLimit() throws {
        var f = leakyHost()
        f.memcgGroups = [Self.group("/system.slice/worker.service", [(20, 500), (12, 510), (4, 495)], limitMB: 512)]
        for i in f.memcgGroups[0].recent.indices { f.memcgGroups[0].recent[i].comm = "worker" }
        let findings = AdviceRules.evaluate(f, settings: settings, now: Self.now)
        #expect(findings.contains { $0.kind == .leakSuspect })
        let tight = try #require(findings.first { $0.kind == .memcgLimitTight })
        #expect(tight.action.contains("Do not raise the limit"))
        #expect(!tight.action.contains("MemoryMax"))
        #expect(tight.evidence.values["suggested_limit_kb"] == nil)
    }

    // MARK: no-swap

    @Test func noSwapFiresOnGlobalKillsWithoutSwapOrZram() throws {
        var f = HostAdviceFacts(host: "web-1")
        f.globalKills = Self.group("", [(3, 900)])
        f.memory = ["total_kb": 8 * 1024 * 1024, "swap_total_kb": 0]
        f.system = HostSystemFacts(swaps: [], zram: [])
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .noSwap })
        #expect(finding.action.contains("4 GiB"))
    }

    @Test func noSwapStaysQuietWithZramOrWithoutGlobalKills() {
        var zram = HostAdviceFacts(host: "web-1")
        zram.globalKills = Self.group("", [(3, 900)])
        zram.memory = ["total_kb": 8 * 1024 * 1024, "swap_total_kb": 0]
        zram.system = HostSystemFacts(swaps: [], zram: [ZramDevice(device: "zram0", disksizeKB: 4 * 1024 * 1024)])
        #expect(!kinds(zram).contains(.noSwap))
        var swap = zram
        swap.system = nil
        swap.memory?["swap_total_kb"] = 2 * 1024 * 1024
        #expect(!kinds(swap).contains(.noSwap))
        var quiet = HostAdviceFacts(host: "web-2")
        quiet.memory = ["total_kb": 8 * 1024 * 1024, "swap_total_kb": 0]
        #expect(kinds(quiet).isEmpty)
    }

    // MARK: overcommit-risk

    @Test func overcommitAlwaysWithGlobalKills() throws {
        var f = HostAdviceFacts(host: "web-1")
        f.globalKills = Self.group("", [(3, 900)])
        f.memory = ["total_kb": 8_000_000, "swap_total_kb": 1_000_000, "committed_as_kb": 6_000_000]
        f.system = HostSystemFacts(sysctl: OOMSysctls(overcommitMemory: 1), swaps: [], zram: [])
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .overcommitRisk })
        #expect(finding.action.contains("vm.overcommit_memory=0"))
    }

    @Test func committedFarAboveBacking() throws {
        var f = HostAdviceFacts(host: "web-1")
        f.globalKills = Self.group("", [(3, 900)])
        f.memory = ["total_kb": 8_000_000, "swap_total_kb": 0, "committed_as_kb": 20_000_000]
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .overcommitRisk })
        #expect(finding.evidence.values["ratio"] == 2.5)
    }

    @Test func heuristicOvercommitWithinBackingIsFine() {
        var f = HostAdviceFacts(host: "web-1")
        f.globalKills = Self.group("", [(3, 900)])
        f.memory = ["total_kb": 8_000_000, "swap_total_kb": 2_000_000, "committed_as_kb": 9_000_000]
        f.system = HostSystemFacts(sysctl: OOMSysctls(overcommitMemory: 0), swaps: [], zram: [])
        #expect(!kinds(f).contains(.overcommitRisk))
        var quiet = f
        quiet.globalKills = nil
        quiet.system?.sysctl?.overcommitMemory = 1
        #expect(kinds(quiet).isEmpty)
    }

    // MARK: exhaustion-predicted

    static func hours(_ available: [Double], full: Double? = nil) -> [HourPoint] {
        available.enumerated().map { i, a in
            HourPoint(
                hour: now - Int64(available.count - 1 - i) * hour, totalKB: 16_000_000, availableKB: a,
                fullAvg60: full)
        }
    }

    @Test func availableFallingToZeroWithinTheHorizon() throws {
        var f = HostAdviceFacts(host: "cache-1")
        // 8 GB falling 500 MB an hour, one spike: ~10 h left.
        var points = Self.hours((0..<12).map { 10_000_000 - Double($0) * 500_000 })
        points[5].availableKB = 15_000_000
        f.hourly = points
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .exhaustionPredicted })
        let left = try #require(finding.evidence.values["hours_to_zero"])
        #expect(left > 8 && left < 11)
        #expect(finding.severity == .warning)
    }

    @Test func longPSIStallsPredictExhaustion() {
        var f = HostAdviceFacts(host: "cache-1")
        f.hourly = Self.hours(Array(repeating: 4_000_000, count: 6), full: 25)
        #expect(kinds(f) == [.exhaustionPredicted])
    }

    @Test func flatOrSlowDeclineIsNotExhaustion() {
        var flat = HostAdviceFacts(host: "cache-1")
        flat.hourly = Self.hours((0..<12).map { 8_000_000 + Double($0 % 3) * 100_000 }, full: 0.5)
        #expect(kinds(flat).isEmpty)
        var slow = HostAdviceFacts(host: "cache-2")
        slow.hourly = Self.hours((0..<12).map { 8_000_000 - Double($0) * 10_000 })
        #expect(kinds(slow).isEmpty)
        var stale = HostAdviceFacts(host: "cache-3")
        stale.hourly = Self.hours((0..<12).map { 1_000_000 - Double($0) * 80_000 }).map {
            var p = $0
            p.hour -= 48 * Self.hour
            return p
        }
        #expect(kinds(stale).isEmpty)
    }

    // MARK: wrong-victim

    @Test func smallVictimWhileAHugeProcessWasShielded() throws {
        var f = HostAdviceFacts(host: "db-1")
        let kill = KillRef(id: "k1", time: Self.now - Self.hour, comm: "cron", rssKB: 20_000)
        f.worstShield = ShieldedKill(kill: kill, shieldName: "mysqld", shieldRSSKB: 12_000_000, shieldAdj: -1000)
        let finding = try #require(
            AdviceRules.evaluate(f, settings: settings, now: Self.now).first { $0.kind == .wrongVictim })
        #expect(finding.subject == "mysqld")
        #expect(finding.evidence.eventIDs == ["k1"])
    }

    @Test func comparableOrUnshieldedProcessesAreNotWrongVictims() {
        var f = HostAdviceFacts(host: "db-1")
        let kill = KillRef(id: "k1", time: Self.now - Self.hour, comm: "java", rssKB: 6_000_000)
        f.worstShield = ShieldedKill(kill: kill, shieldName: "mysqld", shieldRSSKB: 12_000_000, shieldAdj: -1000)
        #expect(kinds(f).isEmpty)
        f.worstShield = ShieldedKill(
            kill: KillRef(id: "k2", time: Self.now, comm: "cron", rssKB: 20_000), shieldName: "mysqld",
            shieldRSSKB: 12_000_000, shieldAdj: -50)
        #expect(kinds(f).isEmpty)
    }

    // MARK: no-userspace-killer

    func stalledHost(killers: UserspaceKillers?) -> HostAdviceFacts {
        var f = HostAdviceFacts(host: "web-1")
        f.globalKills = Self.group("", [(0.5, 900)])
        f.memory = ["total_kb": 8_000_000, "swap_total_kb": 1_000_000]
        f.system = HostSystemFacts(swaps: [SwapDevice(device: "/swap", type: "file", sizeKB: 1_000_000, usedKB: 0)])
        f.system?.userspaceKillers = killers
        f.hourly = [HourPoint(hour: Self.now - 2 * Self.hour, totalKB: 8_000_000, availableKB: 300_000, fullAvg60: 40)]
        return f
    }

    @Test func stallsBeforeGlobalKillsWithoutAUserspaceKiller() {
        #expect(
            kinds(stalledHost(killers: UserspaceKillers(systemdOomd: false, earlyoom: false))) == [.noUserspaceKiller])
    }

    @Test func aRunningKillerOrAnUnknownOneIsNoFinding() {
        #expect(kinds(stalledHost(killers: UserspaceKillers(systemdOomd: true, earlyoom: false))).isEmpty)
        #expect(kinds(stalledHost(killers: nil)).isEmpty)
        var calm = stalledHost(killers: UserspaceKillers(systemdOomd: false, earlyoom: false))
        calm.hourly[0].fullAvg60 = 1
        #expect(kinds(calm).isEmpty)
    }

    // MARK: order

    @Test func mostSevereFirst() {
        var f = leakyHost()
        f.commGroups.append(Self.group("sshd", [(2, 8)]))
        let sorted = AdviceRules.sorted(AdviceRules.evaluate(f, settings: settings, now: Self.now))
        #expect(sorted.map(\.severity) == [.critical, .warning])
    }

    @Test func aHealthyHostHasNoFindings() {
        var f = HostAdviceFacts(host: "ok-1")
        f.memory = ["total_kb": 8_000_000, "swap_total_kb": 0, "committed_as_kb": 3_000_000]
        f.commGroups = [Self.group("java", [(20, 800)])]
        f.hourly = Self.hours(Array(repeating: 5_000_000, count: 12), full: 0)
        #expect(kinds(f).isEmpty)
    }
}
