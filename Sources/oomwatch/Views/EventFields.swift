import OOMKit

/// Derived values of an event shared by the table, CSV and `watch` views.
extension OOMEvent {
    /// Victim RSS: anon + file + shmem as the kernel printed them, else the agent's last
    /// sample of the process.
    var victimRssKB: Int64? {
        let parts = [victim.anonRssKB, victim.fileRssKB, victim.shmemRssKB].compactMap { $0 }
        if !parts.isEmpty { return parts.reduce(0, +) }
        return victim.lastRssKB
    }

    /// Where the victim lived, most specific first: unit, container, cgroup.
    var victimPlace: String? {
        if let unit = victim.unit { return unit }
        if let container = victim.containerID { return "container " + String(container.prefix(12)) }
        return victim.cgroup ?? memcg?.task
    }
}
