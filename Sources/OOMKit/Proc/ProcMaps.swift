/// One line of /proc/PID/maps: `start-end perms offset dev inode [path]`.
public struct MemoryMapping: Sendable, Equatable {
    public var start: UInt
    public var end: UInt
    /// `r-xp`, `rw-p`, ...
    public var permissions: String
    /// The mapped file, `[heap]`-style names, or `""` for anonymous memory.
    public var path: String

    public init(start: UInt, end: UInt, permissions: String, path: String) {
        self.start = start
        self.end = end
        self.permissions = permissions
        self.path = path
    }

    /// A file mapped read-only (code, constants): its pages are clean copies of the file,
    /// which the kernel can drop and read again at any time.
    public var isReadOnlyFile: Bool {
        path.hasPrefix("/") && !permissions.contains("w")
    }

    /// A file mapped writable and private (a binary's data): its pages the program never
    /// wrote are clean copies of the file; those it wrote are its own, in memory or swap.
    public var isWritablePrivateFile: Bool {
        path.hasPrefix("/") && permissions.contains("w") && permissions.hasSuffix("p")
    }
}

/// /proc/PID/maps.
public enum ProcMaps {
    public static func parse(_ bytes: ArraySlice<UInt8>) -> [MemoryMapping] {
        var out: [MemoryMapping] = []
        ProcBytes.forEachLine(bytes) { line in
            let fields = line.split(separator: ASCII.space, maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, let dash = fields[0].firstIndex(of: ASCII.minus),
                let start = UInt(String(decoding: fields[0][..<dash], as: UTF8.self), radix: 16),
                let end = UInt(String(decoding: fields[0][(dash + 1)...], as: UTF8.self), radix: 16)
            else { return true }
            let path = fields.count > 5 ? ProcBytes.trimmed(fields[5]) : []
            out.append(
                MemoryMapping(
                    start: start, end: end, permissions: String(decoding: fields[1], as: UTF8.self),
                    path: String(decoding: path, as: UTF8.self)))
            return true
        }
        return out
    }
}
