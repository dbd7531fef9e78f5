import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// Issue 19.7: the built agent as the container runs it, an unprivileged user (65534)
    /// whose only capabilities, bounding set included, are CAP_SYSLOG and CAP_SYS_RESOURCE
    /// (where the host's bounding set has it): it opens /dev/kmsg, and its snapshot holds
    /// other users' processes with their command lines, cgroups and `oom_score_adj`. So
    /// neither CAP_DAC_READ_SEARCH nor CAP_SYS_PTRACE is needed. Without CAP_SYSLOG, under
    /// `kernel.dmesg_restrict`, /dev/kmsg is refused: the capability is the one that counts.
    @Test(.enabled(if: getuid() == 0, "setpriv needs root"))
    func agentNeedsOnlySyslogAndSysResource() async throws {
        guard let bins = Binaries.locate() else { return }
        guard access("/usr/bin/setpriv", X_OK) == 0 else {
            print("SKIP: /usr/bin/setpriv not installed")
            return
        }
        let tmp = TempDir("least-privilege")
        defer { tmp.remove() }
        #expect(chmod(tmp.path, 0o755) == 0)
        // A copy user 65534 can run wherever the build tree is (a CI checkout may be
        // private), written by cp: a write descriptor of this process could leak into a
        // child another test forks meanwhile and make the exec fail with ETXTBSY.
        let agent = tmp.path + "/oomwatch-agent"
        #expect(try run("/bin/cp", [bins.agent, agent]).0 == 0)
        #expect(chmod(agent, 0o755) == 0)
        let state = tmp.path + "/state"
        #expect(mkdir(state, 0o700) == 0 && chown(state, 65534, 65534) == 0)
        // CAP_SYS_RESOURCE only where this host may grant it (a container's bounding set
        // may lack it); CAP_SYSLOG is required.
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let bounding =
            status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") }
            .flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
        let caps = ["syslog"] + (bounding & (1 << 24) != 0 ? ["sys_resource"] : [])
        func asNobody(_ caps: [String], _ args: [String]) throws -> (Int32, String) {
            let set = caps.isEmpty ? "-all" : "-all," + caps.map { "+" + $0 }.joined(separator: ",")
            let add = caps.map { "+" + $0 }.joined(separator: ",")
            let privileges =
                ["--reuid=65534", "--regid=65534", "--clear-groups", "--bounding-set=" + set]
                + (caps.isEmpty ? ["--inh-caps=-all"] : ["--inh-caps=-all," + add, "--ambient-caps=" + add])
            return try run("/usr/bin/setpriv", privileges + [agent] + args)
        }

        let (snapStatus, snapshot) = try asNobody(caps, ["snapshot", "--state-dir", state])
        #expect(snapStatus == 0, "\(snapshot)")
        let json = try JSONSerialization.jsonObject(with: Data(snapshot.utf8)) as? [String: Any]
        let processes = json?["processes"] as? [[String: Any]] ?? []
        let others = processes.filter { ($0["uid"] as? Int).map { $0 != 65534 } ?? false }
        #expect(!others.isEmpty, "no other user's process in the snapshot: \(processes.count) processes")
        #expect(
            others.contains { $0["cmdline"] is String && $0["cgroup"] is String && $0["oom_score_adj"] is Int },
            "other users' processes without cmdline, cgroup or oom_score_adj: \(others.prefix(3))")

        let (_, check) = try asNobody(caps, ["check", "--state-dir", state])
        #expect(check.contains("OK    kernel log: /dev/kmsg readable"), "\(check)")
        #expect(check.contains("OK    state directory:"), "\(check)")
        let restricted = (try? String(contentsOfFile: "/proc/sys/kernel/dmesg_restrict", encoding: .utf8)) ?? ""
        if restricted.hasPrefix("1") {
            let (_, without) = try asNobody([], ["check", "--state-dir", state])
            #expect(without.contains("FAIL  kernel log: /dev/kmsg not readable"), "\(without)")
        }
    }
}
