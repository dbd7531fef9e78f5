/// Which journal entries may report a userspace OOM kill.
///
/// `SYSLOG_IDENTIFIER` is whatever the sender says (`logger -t earlyoom`, `systemd-cat -t
/// earlyoom`), so it only selects candidates. An entry is believed on journald's trusted
/// fields, which journald fills in from the sender's credentials and cgroup and which no
/// client can set:
/// - `_SYSTEMD_UNIT` is the killer's unit (only systemd puts a process in that unit's
///   cgroup, and every process there runs as the unit's user, whatever uid a
///   `DynamicUser=` unit was given), or
/// - `_UID` is 0 or the unit's user (`unitUIDs`, looked up by the agent) and `_COMM` or
///   `_EXE` is the killer's binary.
public struct JournalTrust: Sendable, Equatable {
    /// A userspace OOM killer as the journal shows it.
    public struct Killer: Sendable, Equatable {
        /// Its `SYSLOG_IDENTIFIER`.
        public var identifier: String
        /// The systemd unit it ships with.
        public var unit: String
        /// Its `_COMM` (the kernel keeps 15 bytes).
        public var comm: String
        /// Where distributions install it (`_EXE`).
        public var executables: [String]
        /// The user its unit runs as (`User=`, or the `DynamicUser=` name).
        public var userName: String
    }

    /// The killers the agent follows.
    public static let killers: [Killer] = [
        Killer(
            identifier: "systemd-oomd", unit: "systemd-oomd.service", comm: "systemd-oomd",
            executables: ["/usr/lib/systemd/systemd-oomd", "/lib/systemd/systemd-oomd"],
            userName: "systemd-oom"),
        Killer(
            identifier: "earlyoom", unit: "earlyoom.service", comm: "earlyoom",
            executables: ["/usr/bin/earlyoom", "/usr/sbin/earlyoom", "/usr/local/bin/earlyoom"],
            userName: "earlyoom"),
    ]

    public enum Verdict: Sendable, Equatable {
        case trusted
        /// Why the entry was not believed, for the agent's log.
        case refused(String)
    }

    /// Uids (as the journal writes them) of each killer's unit user, by identifier.
    public var unitUIDs: [String: Set<String>]

    public init(unitUIDs: [String: Set<String>] = [:]) {
        self.unitUIDs = unitUIDs
    }

    /// The verdict on one `journalctl -o json` line; a line that is not a JSON object is
    /// refused.
    public func verdict(line: ArraySlice<UInt8>) -> Verdict {
        guard let fields = JournalJSON.object(line) else { return .refused("not a journal JSON object") }
        return verdict(fields)
    }

    /// A journal JSON line's string fields (empty when it is not a JSON object).
    public static func fields(_ line: ArraySlice<UInt8>) -> [String: String] {
        JournalJSON.object(line) ?? [:]
    }

    /// The verdict on an entry's fields.
    public func verdict(_ fields: [String: String]) -> Verdict {
        let identifier = fields["SYSLOG_IDENTIFIER"] ?? ""
        guard let killer = Self.killers.first(where: { $0.identifier == identifier }) else {
            return .refused("SYSLOG_IDENTIFIER is not a userspace OOM killer")
        }
        if fields["_SYSTEMD_UNIT"] == killer.unit { return .trusted }
        guard let uid = fields["_UID"] else { return .refused("no _UID: not written through journald") }
        guard uid == "0" || unitUIDs[identifier]?.contains(uid) == true else {
            return .refused("_UID \(uid) is neither root nor \(killer.userName)")
        }
        let comm = fields["_COMM"]
        let exe = fields["_EXE"]
        guard comm == killer.comm || exe.map({ killer.executables.contains($0) }) == true else {
            return .refused("_COMM \(comm ?? "-") and _EXE \(exe ?? "-") are not \(identifier)'s")
        }
        return .trusted
    }
}
