/// /proc/vmstat → counters by name.
public enum Vmstat {
    /// The counters the agent keeps in every snapshot, unless configured otherwise.
    /// Everything would be ~180 keys per sample; these are the ones that explain memory
    /// trouble.
    public static let defaultKeys: Set<String> = [
        "oom_kill", "pgmajfault", "pgfault", "pswpin", "pswpout", "pgscan_kswapd",
        "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "allocstall_normal",
        "allocstall_movable", "compact_stall", "workingset_refault_anon",
        "workingset_refault_file", "thp_fault_alloc", "nr_free_pages", "nr_anon_pages",
        "nr_file_pages", "nr_dirty", "nr_writeback", "pgpgin", "pgpgout",
    ]

    /// Every `name value` line; when `keys` is given, only those names.
    public static func parse(_ bytes: ArraySlice<UInt8>, keys: Set<String>? = nil) -> [String: Int64] {
        var out: [String: Int64] = [:]
        ProcBytes.forEachLine(bytes) { line in
            guard let space = line.firstIndex(of: ASCII.space) else { return true }
            guard let (value, _) = ProcBytes.integer(in: line, from: space) else { return true }
            let name = ProcBytes.string(line[line.startIndex..<space])
            if let keys, !keys.contains(name) { return true }
            out[name] = value
            return true
        }
        return out
    }

    /// `parse` of text.
    public static func parse(_ text: String, keys: Set<String>? = nil) -> [String: Int64] {
        parse(ArraySlice(text.utf8), keys: keys)
    }

    /// Just the `oom_kill` counter, without building a dictionary.
    public static func oomKill(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var found: Int64?
        ProcBytes.forEachLine(bytes) { line in
            if line.starts(with: "oom_kill ".utf8) {
                found = ProcBytes.integer(in: line, from: line.startIndex + 9)?.value
                return false
            }
            return true
        }
        return found
    }
}
