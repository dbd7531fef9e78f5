import OOMKit
import Testing

/// One case per real dump in the shared fixtures, with every field of its event.
struct SharedFixtureCase: Sendable, CustomTestStringConvertible {
    var file: String
    var event: OOMEvent
    var candidateCount: Int
    var firstCandidate: OOMEvent.Candidate?
    var testDescription: String { file }
}

private func candidate(
    _ pid: Int, uid: Int, tgid: Int, totalVm: Int64, rss: Int64, pgtablesBytes: Int64? = nil,
    swapents: Int64?, adj: Int, name: String, anon: Int64? = nil, file: Int64? = nil, shmem: Int64? = nil
) -> OOMEvent.Candidate {
    var c = OOMEvent.Candidate(pid: pid, name: name)
    c.uid = uid
    c.tgid = tgid
    c.totalVmPages = totalVm
    c.rssPages = rss
    c.pgtablesBytes = pgtablesBytes
    c.swapents = swapents
    c.oomScoreAdj = adj
    c.rssAnonPages = anon
    c.rssFilePages = file
    c.rssShmemPages = shmem
    return c
}

let sharedFixtureCases: [SharedFixtureCase] = {
    var cases: [SharedFixtureCase] = []

    var arch = OOMEvent(
        source: .kernel,
        victim: victim(
            473206, "doxygen", uid: 504, totalVm: 30_290_680, anon: 9_234_320, file: 4, shmem: 0, pgtables: 59264,
            adj: 0, cgroup: "/user.slice/user-504.slice/session-2.scope"))
    arch.scope = .global
    arch.constraint = "CONSTRAINT_NONE"
    arch.cpuset = "/"
    arch.memsAllowed = "0"
    arch.trigger = trigger(
        pid: 473206, comm: "doxygen", gfp: "0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)", order: 0, adj: 0)
    arch.memcg = memcg(task: "/user.slice/user-504.slice/session-2.scope")
    var reaped = OOMEvent.Reaped()
    reaped.anonRssKB = 0
    reaped.fileRssKB = 0
    reaped.shmemRssKB = 0
    arch.reaped = reaped
    cases.append(
        .init(
            file: "oomanalyser-archlinux-6-1-1.log", event: arch, candidateCount: 112,
            firstCandidate: candidate(
                246, uid: 0, tgid: 246, totalVm: 16404, rss: 66, pgtablesBytes: 159744, swapents: 303, adj: -250,
                name: "systemd-journal")))

    let dockerScope = "docker-a59e4e7d3090c04c6ce5a4b7a8bc85228eb9b96ac00b1284643a8c7c11dda661.scope"
    var proxmox = OOMEvent(
        source: .kernel,
        victim: victim(
            3_902_942, "php-fpm", uid: 1000, totalVm: 14_740_176, anon: 12_625_252, file: 0, shmem: 156_088,
            pgtables: 26388, adj: 0, cgroup: "/lxc/39004/ns/system.slice/" + dockerScope))
    proxmox.scope = .memcg
    proxmox.constraint = "CONSTRAINT_MEMCG"
    proxmox.cpuset = dockerScope
    proxmox.memsAllowed = "0"
    proxmox.time = "2025-08-12T03:54:03Z"
    proxmox.trigger = trigger(
        pid: 3_923_954, comm: "php-fpm", gfp: "0x1100cca(GFP_HIGHUSER_MOVABLE)", order: 0, adj: 0)
    proxmox.memcg = memcg(
        oom: "/lxc/39004", task: "/lxc/39004/ns/system.slice/" + dockerScope, usage: 31_211_520, limit: 31_211_520,
        failcnt: 83420)
    cases.append(
        .init(
            file: "oomanalyser-proxmox-cgroup-oom.log", event: proxmox, candidateCount: 73,
            firstCandidate: candidate(
                19690, uid: 0, tgid: 19690, totalVm: 42446, rss: 630, pgtablesBytes: 98304, swapents: 0, adj: 0,
                name: "systemd")))

    var rhel7 = OOMEvent(
        source: .kernel,
        victim: victim(
            6576, "mysqld", uid: 12345, totalVm: 33_914_892, anon: 20_629_004, file: 0, shmem: 0, adj: 0, score: 651))
    rhel7.scope = .global
    rhel7.cpuset = "/"
    rhel7.memsAllowed = "0-1"
    rhel7.trigger = trigger(pid: 29481, comm: "sed", gfp: "0x201da", order: 0, adj: 0)
    cases.append(
        .init(
            file: "oomanalyser-rhel7.log", event: rhel7, candidateCount: 85,
            firstCandidate: nil))

    var ubuntu = OOMEvent(
        source: .kernel,
        victim: victim(
            651, "unattended-upgr", uid: 0, totalVm: 108_020, anon: 8380, file: 12548, shmem: 0, pgtables: 104, adj: 0,
            cgroup: "/system.slice/unattended-upgrades.service"))
    ubuntu.scope = .global
    ubuntu.constraint = "CONSTRAINT_NONE"
    ubuntu.cpuset = "/"
    ubuntu.memsAllowed = "0"
    ubuntu.trigger = trigger(pid: 735, comm: "kworker/0:2", gfp: "0xcc0(GFP_KERNEL)", order: -1, adj: 0)
    ubuntu.memcg = memcg(task: "/system.slice/unattended-upgrades.service")
    cases.append(
        .init(
            file: "oomanalyser-ubuntu2110.log", event: ubuntu, candidateCount: 23,
            firstCandidate: candidate(
                323, uid: 0, tgid: 323, totalVm: 9458, rss: 2766, pgtablesBytes: 77824, swapents: 0, adj: -250,
                name: "systemd-journal")))

    var v618 = OOMEvent(
        source: .kernel,
        victim: victim(
            2208, "python3", uid: 0, totalVm: 60664, anon: 50816, file: 6644, shmem: 0, pgtables: 160, adj: 0,
            cgroup: "/workload/batch-42/oomtest"))
    v618.scope = .memcg
    v618.constraint = "CONSTRAINT_MEMCG"
    v618.cpuset = "/"
    v618.memsAllowed = "0"
    v618.uptimeS = 105.122596
    v618.trigger = trigger(pid: 2208, comm: "python3", gfp: "0xcc0(GFP_KERNEL)", order: 0, adj: 0)
    v618.memcg = memcg(
        oom: "/workload/batch-42/oomtest", task: "/workload/batch-42/oomtest", usage: 51200, limit: 51200, failcnt: 61)
    let row618 = candidate(
        2208, uid: 0, tgid: 2208, totalVm: 15166, rss: 14365, pgtablesBytes: 163840, swapents: 0, adj: 0,
        name: "python3", anon: 12704, file: 1661, shmem: 0)
    cases.append(
        .init(file: "real-6.18-memcg-v1-dmesg.log", event: v618, candidateCount: 1, firstCandidate: row618))
    cases.append(
        .init(file: "real-6.18-memcg-v1-kmsg.log", event: v618, candidateCount: 1, firstCandidate: row618))
    return cases
}()

@Suite struct SharedFixtureTests {
    @Test(arguments: sharedFixtureCases)
    func exactEvent(_ c: SharedFixtureCase) throws {
        let events = try scanFixture(c.file)
        try #require(events.count == 1)
        let e = events[0]
        let expected = c.event
        // The id is the victim line's: that line alone gives the same one.
        let killLine = try #require(e.raw?.split(separator: "\n").last { $0.contains("Killed process") })
        #expect(scan(String(killLine) + "\n").map(\.id) == [e.id])
        #expect(e.source == expected.source)
        #expect(e.victim == expected.victim)
        #expect(e.trigger == expected.trigger)
        #expect(e.memcg == expected.memcg)
        #expect(e.scope == expected.scope)
        #expect(e.constraint == expected.constraint)
        #expect(e.cpuset == expected.cpuset)
        #expect(e.memsAllowed == expected.memsAllowed)
        #expect(e.reaped == expected.reaped)
        #expect(e.time == expected.time)
        #expect(e.uptimeS == expected.uptimeS)
        #expect(e.host == nil)
        #expect(e.candidates?.count == c.candidateCount)
        if let first = c.firstCandidate { #expect(e.candidates?.first == first) }
        // The victim is in the task table, with its exact name.
        #expect(e.candidates?.contains { $0.pid == e.victim.pid && $0.name == e.victim.comm } == true)
        // raw holds the report, from the header to the kill line, as read.
        let raw = try #require(e.raw)
        #expect(raw.split(separator: "\n").first?.contains("invoked oom-killer") == true)
        #expect(raw.contains("Killed process \(e.victim.pid ?? -1)"))
        // Slow path (every line parsed) and odd chunk sizes give the same event.
        let bytes = try Fixture.bytes(c.file)
        #expect(scan(bytes, fastPath: false) == events)
        #expect(scan(bytes, chunkSize: 7) == events)
    }

    @Test func dmesgAndKmsgOfTheSameKillShareTheID() throws {
        let a = try scanFixture("real-6.18-memcg-v1-dmesg.log")
        let b = try scanFixture("real-6.18-memcg-v1-kmsg.log")
        #expect(a.map(\.id) == b.map(\.id))
    }

    @Test func sdPamRowKeepsItsParentheses() throws {
        let e = try #require(try scanFixture("oomanalyser-archlinux-6-1-1.log").first)
        #expect(e.candidates?.first { $0.pid == 694 }?.name == "(sd-pam)")
    }
}
