/// /proc/meminfo → `name_kb` values (see docs/interfaces.md, "Memory snapshot").
public enum Meminfo {
    /// Every field of /proc/meminfo text. Fields in kB get a `_kb` suffix
    /// (`MemTotal` → `total_kb`, `Committed_AS` → `committed_as_kb`); plain counts such as
    /// `HugePages_Total` keep the bare name (`huge_pages_total`).
    public static func parse(_ bytes: ArraySlice<UInt8>) -> [String: Int64] {
        var out: [String: Int64] = [:]
        out.reserveCapacity(64)
        parse(bytes) { name, value in out[name] = value }
        return out
    }

    /// `parse` of text.
    public static func parse(_ text: String) -> [String: Int64] {
        parse(ArraySlice(text.utf8))
    }

    /// Calls `body` with each field's snapshot key and value.
    public static func parse(_ bytes: ArraySlice<UInt8>, _ body: (String, Int64) -> Void) {
        ProcBytes.forEachLine(bytes) { line in
            guard let colon = line.firstIndex(of: ASCII.colon) else { return true }
            guard let (value, next) = ProcBytes.integer(in: line, from: colon + 1) else {
                return true
            }
            let unit = ProcBytes.trimmed(line[next...])
            let isKB = unit.elementsEqual("kB".utf8)
            body(key(for: line[line.startIndex..<colon], kilobytes: isKB), value)
            return true
        }
    }

    /// The snapshot key of one meminfo field name.
    public static func key(for name: some StringProtocol, kilobytes: Bool) -> String {
        key(for: ArraySlice(name.utf8), kilobytes: kilobytes)
    }

    static func key(for name: ArraySlice<UInt8>, kilobytes: Bool) -> String {
        var base = name
        // MemTotal, MemFree and MemAvailable read better without the prefix
        // (`total_kb`), as docs/interfaces.md names them.
        if base.starts(with: "Mem".utf8), base.count > 3, base[base.startIndex + 3] >= 65,
            base[base.startIndex + 3] <= 90
        {
            base = base.dropFirst(3)
        }
        var s = snakeCase(base)
        if kilobytes { s += "_kb" }
        return s
    }

    /// `AnonHugePages` → `anon_huge_pages`, `SReclaimable` → `s_reclaimable`,
    /// `Active(anon)` → `active_anon`, `NFS_Unstable` → `nfs_unstable`,
    /// `DirectMap4k` → `direct_map4k`.
    public static func snakeCase(_ name: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(name.count + 6)
        let b = Array(name)
        func isUpper(_ c: UInt8) -> Bool { c >= 65 && c <= 90 }
        func isLower(_ c: UInt8) -> Bool { c >= 97 && c <= 122 }
        for (i, c) in b.enumerated() {
            if c == UInt8(ascii: "(") || c == ASCII.underscore || c == ASCII.space || c == ASCII.minus {
                if let last = out.last, last != 95 { out.append(95) }
                continue
            }
            if c == 41 { continue }  // )
            if isUpper(c) {
                if i > 0, let last = out.last, last != 95 {
                    let prev = b[i - 1]
                    let nextIsLower = i + 1 < b.count && isLower(b[i + 1])
                    // `DirectMap2M` → `direct_map2m`: a unit letter after digits stays attached.
                    if isLower(prev) || (isUpper(prev) && nextIsLower) {
                        out.append(95)
                    }
                }
                out.append(c + 32)
            } else {
                out.append(c)
            }
        }
        while out.last == 95 { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}
