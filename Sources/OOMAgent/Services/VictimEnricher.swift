public import OOMKit

/// Fills an event's victim from the agent's latest process sample: by the time the log
/// names the victim, the process and its /proc directory are gone.
public enum VictimEnricher {
    public static func enrich(_ event: inout OOMEvent, table: ProcessTable) {
        if let pid = event.victim.pid, pid > 0, let entry = table.lookup(pid: pid, comm: event.victim.comm) {
            if event.victim.cmdline == nil { event.victim.cmdline = entry.cmdline }
            if event.victim.cgroup == nil { event.victim.cgroup = entry.cgroup }
            if event.victim.unit == nil { event.victim.unit = entry.identity.unit }
            if event.victim.containerID == nil { event.victim.containerID = entry.identity.containerID }
            if event.victim.podUID == nil { event.victim.podUID = entry.identity.podUID }
            if event.victim.lastRssKB == nil { event.victim.lastRssKB = entry.rssKB }
        }
        // The kernel names the victim's memcg in the report even when we never sampled it.
        if event.victim.cgroup == nil, let task = event.memcg?.task { event.victim.cgroup = task }
        if let cgroup = event.victim.cgroup {
            let identity = CgroupIdentity.parse(path: cgroup)
            if event.victim.unit == nil { event.victim.unit = identity.unit }
            if event.victim.containerID == nil { event.victim.containerID = identity.containerID }
            if event.victim.podUID == nil { event.victim.podUID = identity.podUID }
        }
    }
}
