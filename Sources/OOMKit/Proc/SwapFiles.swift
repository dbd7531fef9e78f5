/// /proc/swaps: `Filename Type Size Used Priority`, sizes in kB, after one header line.
public enum ProcSwaps {
    public static func parse(_ bytes: ArraySlice<UInt8>) -> [SwapDevice] {
        var out: [SwapDevice] = []
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 4, let size = Int64(f[2]), let used = Int64(f[3]) else { continue }
            // The kernel escapes blanks in names as \040; keep them escaped (one field).
            out.append(
                SwapDevice(
                    device: String(f[0]), type: String(f[1]), sizeKB: size, usedKB: used,
                    priority: f.count > 4 ? Int(f[4]) : nil))
        }
        return out
    }

    public static func parse(_ text: String) -> [SwapDevice] { parse(ArraySlice(text.utf8)) }
}

/// zram's sysfs files.
public enum ZramFiles {
    /// `mm_stat`'s third field, mem_used_total (bytes), in kB.
    public static func memUsedKB(mmStat bytes: ArraySlice<UInt8>) -> Int64? {
        let f = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard f.count >= 3, let v = Int64(f[2]) else { return nil }
        return v / 1024
    }
}
