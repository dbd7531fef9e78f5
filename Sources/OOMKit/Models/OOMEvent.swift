/// One OOM kill, as reported by the kernel or a userspace killer.
///
/// The same shape is printed by `oomwatch-agent scan`, sent in ingest batches and returned
/// by the query API (see docs/interfaces.md). Unknown values are `nil` and are left out of JSON.
public struct OOMEvent: Codable, Sendable, Equatable {
    /// Who killed the process.
    public enum Source: String, Codable, Sendable, CaseIterable {
        case kernel
        case systemdOomd = "systemd-oomd"
        case earlyoom
    }

    /// What limit was hit, from the kernel's `constraint=` field or the report's wording.
    public enum Scope: String, Codable, Sendable, CaseIterable {
        case global, memcg, cpuset, mempolicy
    }

    /// The process the killer chose.
    public struct Victim: Codable, Sendable, Equatable {
        /// `nil` when the killer does not name a process (systemd-oomd kills a cgroup).
        public var pid: Int?
        public var comm: String
        public var uid: Int?
        public var totalVmKB: Int64?
        public var anonRssKB: Int64?
        public var fileRssKB: Int64?
        public var shmemRssKB: Int64?
        public var pgtablesKB: Int64?
        public var oomScoreAdj: Int?
        /// The badness score printed by old kernels (`score S or sacrifice child`).
        public var score: Int?
        public var cgroup: String?
        public var unit: String?
        public var containerID: String?
        public var podUID: String?
        public var cmdline: String?
        /// RSS from the agent's last process sample before the kill.
        public var lastRssKB: Int64?
        /// Total RSS as a userspace killer reported it (earlyoom's `VmRSS`).
        public var rssKB: Int64?

        public init(pid: Int?, comm: String) {
            self.pid = pid
            self.comm = comm
        }

        enum CodingKeys: String, CodingKey {
            case pid, comm, uid
            case totalVmKB = "total_vm_kb"
            case anonRssKB = "anon_rss_kb"
            case fileRssKB = "file_rss_kb"
            case shmemRssKB = "shmem_rss_kb"
            case pgtablesKB = "pgtables_kb"
            case oomScoreAdj = "oom_score_adj"
            case score, cgroup, unit
            case containerID = "container_id"
            case podUID = "pod_uid"
            case cmdline
            case lastRssKB = "last_rss_kb"
            case rssKB = "rss_kb"
        }
    }

    /// The task whose allocation invoked the OOM killer.
    public struct Trigger: Codable, Sendable, Equatable {
        public var pid: Int?
        public var comm: String?
        public var gfpMask: String?
        public var order: Int?
        public var oomScoreAdj: Int?
        /// The pre-2.6.36 `oom_adj` value, printed by old kernels.
        public var oomAdj: Int?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case pid, comm
            case gfpMask = "gfp_mask"
            case order
            case oomScoreAdj = "oom_score_adj"
            case oomAdj = "oom_adj"
        }
    }

    /// Memory cgroup details of a memcg OOM.
    public struct Memcg: Codable, Sendable, Equatable {
        /// The cgroup that hit its limit.
        public var oom: String?
        /// The victim's cgroup.
        public var task: String?
        public var usageKB: Int64?
        public var limitKB: Int64?
        public var failcnt: Int64?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case oom, task
            case usageKB = "usage_kb"
            case limitKB = "limit_kb"
            case failcnt
        }
    }

    /// One row of the kernel's task table (`Tasks state (memory values in pages)`).
    public struct Candidate: Codable, Sendable, Equatable {
        public var pid: Int
        public var uid: Int?
        public var tgid: Int?
        public var totalVmPages: Int64?
        public var rssPages: Int64?
        public var rssAnonPages: Int64?
        public var rssFilePages: Int64?
        public var rssShmemPages: Int64?
        public var pgtablesBytes: Int64?
        public var swapents: Int64?
        public var oomScoreAdj: Int?
        public var name: String

        public init(pid: Int, name: String) {
            self.pid = pid
            self.name = name
        }

        enum CodingKeys: String, CodingKey {
            case pid, uid, tgid
            case totalVmPages = "total_vm_pages"
            case rssPages = "rss_pages"
            case rssAnonPages = "rss_anon_pages"
            case rssFilePages = "rss_file_pages"
            case rssShmemPages = "rss_shmem_pages"
            case pgtablesBytes = "pgtables_bytes"
            case swapents
            case oomScoreAdj = "oom_score_adj"
            case name
        }
    }

    /// Stable identity: the same kill always gets the same id (see `OOMEvent.stableID`).
    public var id: String
    public var host: String?
    public var bootID: String?
    public var source: Source
    /// Wall-clock time of the kill, RFC 3339 UTC.
    public var time: String?
    /// Kernel timestamp, seconds since boot.
    public var uptimeS: Double?
    public var scope: Scope?
    public var victim: Victim
    public var trigger: Trigger?
    public var memcg: Memcg?
    public var candidates: [Candidate]?
    /// The kernel's raw `constraint=` value (e.g. `CONSTRAINT_MEMCG`).
    public var constraint: String?
    public var cpuset: String?
    public var memsAllowed: String?
    /// RSS left after `oom_reaper` reaped the victim, when it reported.
    public var reaped: Reaped?
    /// The report's lines as read.
    public var raw: String?
    /// `true` when the report was cut off after the victim was named (no `Killed process`
    /// line was read): the kill is certain, the victim's sizes are not known.
    public var partial: Bool?

    /// What `oom_reaper: reaped process …` said.
    public struct Reaped: Codable, Sendable, Equatable {
        public var anonRssKB: Int64?
        public var fileRssKB: Int64?
        public var shmemRssKB: Int64?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case anonRssKB = "anon_rss_kb"
            case fileRssKB = "file_rss_kb"
            case shmemRssKB = "shmem_rss_kb"
        }
    }

    public init(id: String = "", source: Source, victim: Victim) {
        self.id = id
        self.source = source
        self.victim = victim
    }

    enum CodingKeys: String, CodingKey {
        case id, host
        case bootID = "boot_id"
        case source, time
        case uptimeS = "uptime_s"
        case scope, victim, trigger, memcg, candidates, constraint, cpuset
        case memsAllowed = "mems_allowed"
        case reaped, raw, partial
    }
}

extension OOMEvent {
    /// The id of a kill, built only from what every container of the same log line
    /// carries: the killer, the victim's pid and comm, and the figures printed on the
    /// victim's own line (`Killed process N (comm) total-vm:… anon-rss:… file-rss:…
    /// shmem-rss:… UID:… pgtables:… oom_score_adj:…`; earlyoom's badness and VmRSS).
    ///
    /// Deliberately not in it: the boot id and the host name (a plain `dmesg` file has
    /// neither), the kernel uptime (`dmesg -T` and most syslog files drop it) and the
    /// wall-clock time (it depends on the container, the time zone and, for syslog, a
    /// guessed year). So `/dev/kmsg`, `dmesg`, `dmesg -T`, syslog and the journal give one
    /// kill the same id, and agent restarts, re-scans and re-sends store it once.
    ///
    /// systemd-oomd names no pid and no sizes: its kills are told apart by the killed
    /// cgroup, the pressure figures of the message and the wall-clock second. A partial
    /// event (no victim line) is keyed on what it has and is marked as such, so it never
    /// takes the id of the complete event. See docs/event-ids.md for the limits.
    public static func stableID(
        source: Source,
        victim: Victim,
        partial: Bool = false,
        detail: String = ""
    ) -> String {
        var key = "v2|" + source.rawValue
        key += "|" + (victim.pid.map { String($0) } ?? "-") + "|" + victim.comm
        if partial { key += "|partial" }
        let numbers: [Int64?] = [
            victim.uid.map(Int64.init), victim.totalVmKB, victim.anonRssKB, victim.fileRssKB, victim.shmemRssKB,
            victim.pgtablesKB, victim.oomScoreAdj.map(Int64.init), victim.score.map(Int64.init), victim.rssKB,
        ]
        for n in numbers { key += "|" + (n.map { String($0) } ?? "") }
        key += "|" + detail
        return String(SHA256.hex(of: Array(key.utf8)).prefix(32))
    }

    /// Fills `id` from the event's own fields (see ``stableID(source:victim:partial:detail:)``),
    /// for events that did not come through ``OOMReportAssembler`` (which sets it from the
    /// victim line alone, before the report's other lines add to the victim).
    public mutating func assignStableID() {
        let detail = source == .systemdOomd ? Self.oomdDetail(cgroup: victim.cgroup, time: time, message: nil) : ""
        id = Self.stableID(source: source, victim: idVictim, partial: partial == true, detail: detail)
    }

    /// What tells systemd-oomd kills apart, as it names no pid and no sizes: the killed
    /// cgroup, the UTC second, and the message's figures from ` due to ` on.
    static func oomdDetail(cgroup: String?, time: String?, message: Substring?) -> String {
        var detail = (cgroup ?? "") + "|" + (time.map { String($0.prefix(19)) } ?? "")
        if let message, let r = message.find(" due to ") { detail += "|" + message[r.lowerBound...] }
        return detail
    }

    /// The victim as the log line printed it: what the agent adds later (cmdline, cgroup
    /// from its own samples) must not change the id.
    private var idVictim: Victim {
        var v = Victim(pid: victim.pid, comm: victim.comm)
        v.uid = victim.uid
        v.totalVmKB = victim.totalVmKB
        v.anonRssKB = victim.anonRssKB
        v.fileRssKB = victim.fileRssKB
        v.shmemRssKB = victim.shmemRssKB
        v.pgtablesKB = victim.pgtablesKB
        v.oomScoreAdj = victim.oomScoreAdj
        v.score = victim.score
        v.rssKB = victim.rssKB
        return v
    }
}
