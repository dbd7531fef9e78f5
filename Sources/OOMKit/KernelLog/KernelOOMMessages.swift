/// Field-by-field readers for the lines of a kernel OOM report, 2.6.32 to 6.18, and for
/// the userspace killers. Each takes one message (container prefix already removed) and
/// returns its fields, or `nil` when the line is not of that kind. Fields are found by
/// their names, not by position, so that the many kernel variants share one reader.
enum KernelOOMMessages {
    // MARK: header

    /// `COMM invoked oom-killer: gfp_mask=0x…(FLAGS), [nodemask=…, ]order=N,
    /// [oom_adj=N, ][oom_score_adj=N]` (or 2.6.2x `oomkilladj=N`).
    struct Header: Equatable {
        var comm: String
        var gfpMask: String?
        var order: Int?
        var oomScoreAdj: Int?
        var oomAdj: Int?
    }

    static func header(_ m: Substring) -> Header? {
        guard let r = m.find(" invoked oom-killer: ") ?? m.find(" invoked oom-killer:") else {
            return nil
        }
        guard let comm = commBefore(m[..<r.lowerBound]) else { return nil }
        var h = Header(comm: comm)
        for part in m[r.upperBound...].split(separator: ", ") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let value = kv[1].trimmingSpaces
            switch kv[0].trimmingSpaces {
            case "gfp_mask": h.gfpMask = String(value)
            case "order": h.order = Int(value)
            case "oom_score_adj": h.oomScoreAdj = Int(value)
            case "oom_adj", "oomkilladj": h.oomAdj = Int(value)
            default: break
            }
        }
        return h
    }

    /// The process name that ends `text` (what precedes ` invoked oom-killer:`). The kernel
    /// keeps at most 15 bytes of a name, so anything before them is a container prefix the
    /// line parser did not know (a timestamp, a tag); within them, so is anything up to a
    /// `] ` or `: `, which no thread name the kernel prints contains.
    /// `nil` when no name is left or the text spans an escaped newline.
    static func commBefore(_ text: Substring) -> String? {
        guard !text.isEmpty, !text.contains("\n") else { return nil }
        let tail = text.utf8.suffix(15)
        var start = tail.startIndex
        var i = tail.startIndex
        while i < tail.endIndex {
            let c = tail[i]
            let next = tail.index(after: i)
            if (c == ASCII.closeBracket || c == ASCII.colon), next < tail.endIndex, tail[next] == ASCII.space {
                start = tail.index(after: next)
            }
            i = next
        }
        guard start < tail.endIndex else { return nil }
        // A cut inside a multi-byte character: drop its continuation bytes.
        let bytes = tail[start...].drop { $0 & 0xC0 == 0x80 }
        let name = String(decoding: bytes, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    /// `CPU: 3 PID: 473206 Comm: doxygen Tainted: …` (3.x+, 6.x adds `UID: 0`) or
    /// `Pid: 29481, comm: sed Not tainted …` (2.6.x).
    static func cpuLine(_ m: Substring) -> (pid: Int, comm: Substring)? {
        if m.hasPrefix("CPU: "), let p = m.find(" PID: ") {
            let pid = leadingInt(m[p.upperBound...])
            guard let pid, let c = m.find(" Comm: ") else { return nil }
            return (pid, m[c.upperBound...])
        }
        if m.hasPrefix("Pid: "), let c = m.find(", comm: ") {
            guard let pid = leadingInt(m.dropFirst(5)) else { return nil }
            return (pid, m[c.upperBound...])
        }
        return nil
    }

    /// `COMM cpuset=/ mems_allowed=0-1` (before 4.19, printed after the header).
    static func cpusetLine(_ m: Substring) -> (cpuset: String, mems: String)? {
        guard let c = m.find(" cpuset="), let ma = m.lastRange(of: " mems_allowed="),
            c.upperBound <= ma.lowerBound
        else { return nil }
        return (String(m[c.upperBound..<ma.lowerBound]), String(m[ma.upperBound...]))
    }

    // MARK: memcg

    /// `Task in /A killed as a result of limit of /B` (memcg OOMs before 4.19).
    static func taskIn(_ m: Substring) -> (task: String, oom: String)? {
        guard m.hasPrefix("Task in "), let r = m.find(" killed as a result of limit of ") else {
            return nil
        }
        return (String(m[m.index(m.startIndex, offsetBy: 8)..<r.lowerBound]), String(m[r.upperBound...]))
    }

    /// `memory: usage 51200kB, limit 51200kB, failcnt 61`.
    static func memcgUsage(_ m: Substring) -> (usage: Int64?, limit: Int64?, failcnt: Int64?)? {
        guard m.hasPrefix("memory: usage ") else { return nil }
        var out: (usage: Int64?, limit: Int64?, failcnt: Int64?) = (nil, nil, nil)
        for part in m.dropFirst(8).split(separator: ", ") {
            let kv = part.split(separator: " ", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let v = leadingInt64(kv[1])
            switch kv[0] {
            case "usage": out.usage = v
            case "limit": out.limit = v
            case "failcnt": out.failcnt = v
            default: break
            }
        }
        return out
    }

    // MARK: task table

    /// `[ pid ]   uid  tgid total_vm      rss … name`: the column names after the pid.
    static func tableHeader(_ m: Substring) -> [Substring]? {
        guard m.hasPrefix("["), let close = m.firstIndex(of: "]"),
            m[m.index(after: m.startIndex)..<close].trimmingSpaces == "pid"
        else { return nil }
        let cols = m[m.index(after: close)...].split(separator: " ")
        guard cols.last == "name", cols.count >= 3 else { return nil }
        return cols
    }

    /// `[  2208]     0  2208    15166    14365 … python3`: numbers for every column but
    /// the last, then the name (which may contain spaces).
    static func tableRow(_ m: Substring, columns: [Substring]) -> OOMEvent.Candidate? {
        let u = m.utf8
        guard u.first == UInt8(ascii: "["), let close = u.firstIndex(of: UInt8(ascii: "]")) else {
            return nil
        }
        guard let pid = leadingInt(m[m.index(after: m.startIndex)..<close].trimmingSpaces.dropFirst(0)),
            pid >= 0
        else { return nil }
        var i = u.index(after: close)
        var values: [Int64] = []
        values.reserveCapacity(columns.count - 1)
        for _ in 0..<(columns.count - 1) {
            while i < u.endIndex, u[i] == ASCII.space { i = u.index(after: i) }
            var neg = false
            if i < u.endIndex, u[i] == ASCII.minus {
                neg = true
                i = u.index(after: i)
            }
            guard let v = ASCII.digits(u, &i, maxDigits: 18), i < u.endIndex, u[i] == ASCII.space else { return nil }
            values.append(neg ? -v : v)
        }
        // Exactly one space separates the last number from the name.
        i = u.index(after: i)
        guard i < u.endIndex else { return nil }
        var c = OOMEvent.Candidate(pid: pid, name: String(m[i...]))
        for (col, v) in zip(columns, values) {
            switch col {
            case "uid": c.uid = Int(v)
            case "tgid": c.tgid = Int(v)
            case "total_vm": c.totalVmPages = v
            case "rss": c.rssPages = v
            case "rss_anon": c.rssAnonPages = v
            case "rss_file": c.rssFilePages = v
            case "rss_shmem": c.rssShmemPages = v
            case "pgtables_bytes": c.pgtablesBytes = v
            case "swapents": c.swapents = v
            case "oom_score_adj": c.oomScoreAdj = Int(v)
            default: break
            }
        }
        return c
    }

    // MARK: summary

    /// The 4.19+ one-line summary:
    /// `oom-kill:constraint=C,nodemask=N,cpuset=S,mems_allowed=M,[oom_memcg=/A|global_oom],
    /// task_memcg=/B,task=COMM,pid=P,uid=U`. Cgroup paths and the comm may contain commas,
    /// so the fixed keys are located from both ends rather than by splitting.
    struct Summary: Equatable {
        var constraint: String?
        var nodemask: String?
        var cpuset: String?
        var memsAllowed: String?
        var oomMemcg: String?
        var globalOOM = false
        var taskMemcg: String?
        var task: String?
        var pid: Int?
        var uid: Int?
    }

    static func summary(_ m: Substring) -> Summary? {
        guard m.hasPrefix("oom-kill:") else { return nil }
        var s = Summary()
        var rest = m.dropFirst("oom-kill:".count)
        // Right end: `,uid=U` and `,pid=P`.
        if let r = rest.lastRange(of: ",uid=") {
            s.uid = leadingInt(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        if let r = rest.lastRange(of: ",pid=") {
            s.pid = leadingInt(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        // The comm is at most 15 bytes, so its `,task=` is the earliest one within 21
        // bytes of the end (a comm may itself contain `,task=`). Looked for even when
        // `pid=` is missing, so that the name never ends up in `task_memcg`.
        var chosen: Range<String.Index>?
        var search = rest
        while let t = search.lastRange(of: ",task=") {
            let distance = rest.utf8.distance(from: t.lowerBound, to: rest.endIndex)
            guard distance <= 21 else { break }
            chosen = t
            search = rest[..<t.lowerBound]
        }
        if let t = chosen {
            s.task = String(rest[t.upperBound...])
            rest = rest[..<t.lowerBound]
        }
        if let r = rest.find(",task_memcg=") {
            s.taskMemcg = String(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        if rest.hasSuffix(",global_oom") {
            s.globalOOM = true
            rest = rest.dropLast(",global_oom".count)
        } else if let r = rest.find(",oom_memcg=") {
            s.oomMemcg = String(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        if let r = rest.find(",mems_allowed=") {
            s.memsAllowed = String(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        if let r = rest.find(",cpuset=") {
            s.cpuset = String(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        if let r = rest.find(",nodemask=") {
            s.nodemask = String(rest[r.upperBound...])
            rest = rest[..<r.lowerBound]
        }
        if rest.hasPrefix("constraint=") {
            s.constraint = String(rest.dropFirst("constraint=".count))
        }
        return s
    }

    // MARK: kill lines

    /// What the victim line says. `Killed process N (comm) …` in all its versions:
    /// `vsz:`/`total-vm:`, `anon-rss:`, `file-rss:`, `shmem-rss:`, `UID:`, `pgtables:`,
    /// `oom_score_adj:`; RHEL 6's `Killed process N, UID U, (comm) …`; with or without the
    /// `Out of memory: ` / `Memory cgroup out of memory: ` prefix (5.x+).
    struct Killed: Equatable {
        var pid: Int
        var comm: String
        var uid: Int?
        var totalVmKB: Int64?
        var anonRssKB: Int64?
        var fileRssKB: Int64?
        var shmemRssKB: Int64?
        var pgtablesKB: Int64?
        var oomScoreAdj: Int?
        /// The prefix said `Memory cgroup out of memory`.
        var memcgWording: Bool
        /// The line had an `Out of memory…: ` prefix (either wording): the kernel said
        /// whether the limit was a memcg's.
        var saysWhere = false
    }

    static func killed(_ m: Substring, exact: Bool = false) -> Killed? {
        guard let r = m.find("Killed process ") else { return nil }
        let prefix = m[..<r.lowerBound]
        // Before 5.x the line has no prefix. In a line whose container was recognised the
        // message is the kernel's own text, so only the kernel's prefixes are accepted (a
        // file name the kernel prints must not forge a kill); in an unrecognised one the
        // line follows whatever the container printed.
        let loose: Bool? = exact || prefix.contains("\n") ? nil : (prefix.last == " " ? false : nil)
        guard let memcg = oomPrefix(prefix, exact: exact) ?? loose else { return nil }
        var rest = m[r.upperBound...]
        guard let pid = leadingInt(rest) else { return nil }
        rest = rest.drop { $0.isNumber }
        var uid: Int?
        if rest.hasPrefix(", UID ") {
            // RHEL 6: `Killed process 1234, UID 48, (httpd) total-vm:…`
            rest = rest.dropFirst(6)
            uid = leadingInt(rest)
            rest = rest.drop { $0.isNumber || $0 == "-" }
            guard rest.hasPrefix(", ") else { return nil }
            rest = rest.dropFirst(2)
        } else {
            guard rest.hasPrefix(" ") else { return nil }
            rest = rest.dropFirst()
        }
        guard
            let (comm, after) = parenthesizedComm(
                rest, followers: [" total-vm:", " vsz:", ", ", " sharing", "."])
        else {
            return nil
        }
        // pid 0 is the idle task, never a victim: such a line is damaged.
        if after.hasPrefix(" sharing") || pid <= 0 || comm.isEmpty { return nil }
        var k = Killed(pid: pid, comm: comm, uid: uid, memcgWording: memcg)
        k.saysWhere = prefix.lowercased().contains("out of memory")
        var previous: Substring = ""
        for token in after.split(separator: " ") {
            var t = token
            if t.hasSuffix(",") { t = t.dropLast() }
            defer { previous = t }
            // RHEL 7: `Killed process N (comm), UID 0, total-vm:…`.
            if previous == "UID", k.uid == nil, let v = leadingInt(t) {
                k.uid = v
                continue
            }
            guard let colon = t.firstIndex(of: ":") else { continue }
            let value = t[t.index(after: colon)...]
            switch t[..<colon] {
            case "total-vm", "vsz": k.totalVmKB = leadingInt64(value)
            case "anon-rss": k.anonRssKB = leadingInt64(value)
            case "file-rss": k.fileRssKB = leadingInt64(value)
            case "shmem-rss": k.shmemRssKB = leadingInt64(value)
            case "UID": k.uid = leadingInt(value)
            case "pgtables": k.pgtablesKB = leadingInt64(value)
            case "oom_score_adj": k.oomScoreAdj = leadingInt(value)
            default: break
            }
        }
        return k
    }

    /// The killer's choice before the kill (2.6.32 to 5.0):
    /// `[Memory cgroup ]Out of memory: Kill process N (comm) score S or sacrifice child`,
    /// `Out of memory: kill process N (comm) score S or a child` (2.6.32),
    /// `Out of memory (oom_kill_allocating_task): Kill process …`.
    struct KillChoice: Equatable {
        var pid: Int
        var comm: String
        var score: Int?
        var memcgWording: Bool
    }

    static func killChoice(_ m: Substring, exact: Bool = false) -> KillChoice? {
        guard let r = m.find("ill process "), r.lowerBound > m.startIndex else { return nil }
        let k = m.index(before: r.lowerBound)
        guard m[k] == "K" || m[k] == "k" else { return nil }
        guard let memcg = oomPrefix(m[..<k], exact: exact) else { return nil }
        var rest = m[r.upperBound...]
        guard let pid = leadingInt(rest) else { return nil }
        rest = rest.drop { $0.isNumber }
        guard rest.hasPrefix(" ") else { return nil }
        guard let (comm, after) = parenthesizedComm(rest.dropFirst(), followers: [" score ", " sharing", ","]),
            !after.hasPrefix(" sharing")
        else { return nil }
        var score: Int?
        if after.hasPrefix(" score ") { score = leadingInt(after.dropFirst(7)) }
        return KillChoice(pid: pid, comm: comm, score: score, memcgWording: memcg)
    }

    /// `oom_reaper: reaped process N (comm), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB`.
    struct Reaped: Equatable {
        var pid: Int
        var comm: String
        var anonRssKB: Int64?
        var fileRssKB: Int64?
        var shmemRssKB: Int64?
    }

    static func reaped(_ m: Substring) -> Reaped? {
        guard m.hasPrefix("oom_reaper: reaped process ") else { return nil }
        var rest = m.dropFirst("oom_reaper: reaped process ".count)
        guard let pid = leadingInt(rest) else { return nil }
        rest = rest.drop { $0.isNumber }
        guard rest.hasPrefix(" "), let (comm, after) = parenthesizedComm(rest.dropFirst(), followers: [", now"])
        else { return nil }
        var r = Reaped(pid: pid, comm: comm)
        for token in after.split(separator: " ") {
            var t = token
            if t.hasSuffix(",") { t = t.dropLast() }
            guard let colon = t.firstIndex(of: ":") else { continue }
            let value = t[t.index(after: colon)...]
            switch t[..<colon] {
            case "anon-rss": r.anonRssKB = leadingInt64(value)
            case "file-rss": r.fileRssKB = leadingInt64(value)
            case "shmem-rss": r.shmemRssKB = leadingInt64(value)
            default: break
            }
        }
        return r
    }

    /// `nil` unless `prefix` is empty or an OOM killer's `…out of memory…: ` prefix;
    /// otherwise whether it names a memory cgroup.
    ///
    /// With `exact`, the prefix must be one the kernel prints (`Out of memory: `,
    /// `Memory cgroup out of memory: `, `Out of memory (oom_kill_allocating_task): `, any
    /// case); otherwise it may follow other text on the line (an unknown container),
    /// never across an escaped newline.
    private static func oomPrefix(_ prefix: Substring, exact: Bool = false) -> Bool? {
        if prefix.isEmpty { return false }
        guard prefix.hasSuffix(": "), !prefix.contains("\n") else { return nil }
        let lower = prefix.lowercased()[...]
        if exact {
            guard kernelPrefixes.contains(String(lower)) else { return nil }
            return lower.hasPrefix("memory cgroup")
        }
        guard lower.find("out of memory") != nil else { return nil }
        return lower.find("memory cgroup") != nil
    }

    /// The prefixes of the kernel's choice and victim lines, lower-cased, 2.6.x to 6.x.
    private static let kernelPrefixes: Set<String> = [
        "out of memory: ", "memory cgroup out of memory: ", "out of memory (oom_kill_allocating_task): ",
        "out of memory (oom_kill_allocating_tasks): ",
    ]

    /// `(comm)` followed by one of `followers` (or the end of the line). The comm is at
    /// most 15 bytes but may contain spaces and parentheses, so the closing parenthesis
    /// is the last one that is followed by what the kernel prints next.
    private static func parenthesizedComm(
        _ s: Substring, followers: [String]
    ) -> (String, Substring)? {
        guard s.hasPrefix("(") else { return nil }
        let body = s.dropFirst()
        var best: String.Index?
        var fallback: String.Index?
        var scanned = 0
        var i = body.startIndex
        // The kernel keeps 15 bytes of a name (TASK_COMM_LEN - 1): a `)` further on is not
        // the end of one.
        while i < body.endIndex, scanned <= 15 {
            if body[i] == ")" {
                let after = body[body.index(after: i)...]
                if after.isEmpty || followers.contains(where: { after.hasPrefix($0) }) {
                    best = i
                } else if after.hasPrefix(" ") || after.hasPrefix(",") {
                    fallback = i
                }
            }
            scanned += body[i].utf8.count
            i = body.index(after: i)
        }
        guard let close = best ?? fallback else { return nil }
        return (String(body[..<close]), body[body.index(after: close)...])
    }

    // MARK: userspace killers

    /// earlyoom: `sending SIGTERM to process 1234 uid 1000 "firefox": badness 900, VmRSS 2000 MiB`
    /// (older: no `uid`; newer: `oom_score 900`, `, cmdline "…"`).
    struct Earlyoom: Equatable {
        var signal: String
        var pid: Int
        var uid: Int?
        var comm: String
        var score: Int?
        var rssKB: Int64?
        var cmdline: String?
    }

    /// `fromEarlyoom`: the line is tagged `earlyoom` (syslog or journal), which alone
    /// makes the bare `Killing process N comm` of its first releases a kill (any program
    /// may print those words).
    static func earlyoom(_ m: Substring, fromEarlyoom: Bool = false) -> Earlyoom? {
        if let r = m.find("sending SIG") { return earlyoomSending(m[r.lowerBound...]) }
        if let r = m.find("illing process"), r.lowerBound > m.startIndex {
            let k = m.index(before: r.lowerBound)
            guard m[k] == "K" || m[k] == "k" else { return nil }
            return earlyoomKilling(m[r.upperBound...], fromEarlyoom: fromEarlyoom)
        }
        return nil
    }

    /// 1.3 and later: `sending SIGTERM to process N [uid U] "comm": badness B, VmRSS R MiB`.
    private static func earlyoomSending(_ m: Substring) -> Earlyoom? {
        var rest = m.dropFirst(8)
        let signal = rest.prefix { $0 != " " }
        rest = rest.dropFirst(signal.count)
        guard rest.hasPrefix(" to process ") else { return nil }
        rest = rest.dropFirst(" to process ".count)
        guard let pid = leadingInt(rest), pid > 0 else { return nil }
        rest = rest.drop { $0.isNumber }
        var uid: Int?
        if rest.hasPrefix(" uid ") {
            rest = rest.dropFirst(5)
            uid = leadingInt(rest)
            rest = rest.drop { $0.isNumber }
        }
        guard rest.hasPrefix(" \""), let (comm, tail) = quotedComm(rest.dropFirst()) else { return nil }
        var e = Earlyoom(signal: String(signal), pid: pid, uid: uid, comm: comm)
        earlyoomFigures(tail, into: &e)
        // Some 1.x builds print the score alone: `"comm": 900`.
        if e.score == nil, tail.hasPrefix(":") { e.score = leadingInt(tail.dropFirst().drop { $0 == " " }) }
        return e
    }

    /// The older forms, after `[Kk]illing process`:
    /// - 1.2/1.3 era: ` N "comm" with signal 15: badness B, VmRSS R MiB`;
    /// - 1.2: ` 'comm' with signal 15, pid: N, badness: B, VmRSS: R MiB`;
    /// - 1.1: `: comm, pid: N, badness: B, VmRSS: R MiB`;
    /// - before 1.0: ` N comm with badness B time_running=Tm` and ` N comm` (see
    ///   ``earlyoomUnquoted(_:pid:fromEarlyoom:)``).
    private static func earlyoomKilling(_ m: Substring, fromEarlyoom: Bool) -> Earlyoom? {
        var rest = m
        var pid: Int?
        let comm: String
        if rest.hasPrefix(": ") {
            rest = rest.dropFirst(2)
            guard let r = rest.lastRange(of: ", pid: "), r.lowerBound > rest.startIndex else { return nil }
            comm = String(rest[..<r.lowerBound])
            rest = rest[r.lowerBound...]
        } else if rest.hasPrefix(" '") {
            guard let r = rest.lastRange(of: "' with signal "), r.lowerBound > rest.index(rest.startIndex, offsetBy: 2)
            else { return nil }
            comm = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<r.lowerBound])
            rest = rest[r.lowerBound...]
        } else if rest.hasPrefix(" "), let n = leadingInt(rest.dropFirst()), n > 0 {
            pid = n
            rest = rest.dropFirst().drop { $0.isNumber }
            guard rest.hasPrefix(" \""), let (c, tail) = quotedComm(rest.dropFirst()) else {
                return earlyoomUnquoted(rest, pid: n, fromEarlyoom: fromEarlyoom)
            }
            comm = c
            rest = tail
        } else {
            return nil
        }
        if pid == nil, let r = rest.find("pid: ") { pid = leadingInt(rest[r.upperBound...]) }
        guard let pid, pid > 0, !comm.isEmpty else { return nil }
        var signal = "SIGTERM"
        if let r = rest.find("with signal ") {
            let n = leadingInt(rest[r.upperBound...])
            signal = n == 9 ? "SIGKILL" : n == 15 ? "SIGTERM" : "SIG" + (n.map(String.init) ?? "?")
        }
        var e = Earlyoom(signal: signal, pid: pid, uid: nil, comm: comm)
        earlyoomFigures(rest, into: &e)
        return e
    }

    /// earlyoom before 1.0 printed the second field of `/proc/N/stat` with `%s`: `(comm)`,
    /// cut at the first blank, after `Killing process N`, then ` with badness B
    /// time_running=Tm` or nothing. The badness tail marks earlyoom; the bare form counts
    /// only on a line tagged `earlyoom`. A name longer than the kernel's 15 bytes is not one.
    private static func earlyoomUnquoted(_ m: Substring, pid: Int, fromEarlyoom: Bool) -> Earlyoom? {
        guard m.hasPrefix(" ") else { return nil }
        var word = m.dropFirst()
        var score: Int?
        if let r = word.find(" with badness ") {
            guard word[r.upperBound...].contains("time_running=") else { return nil }
            score = leadingInt(word[r.upperBound...])
            word = word[..<r.lowerBound]
        } else {
            guard fromEarlyoom else { return nil }
            while word.last == " " || word.last == "\r" { word = word.dropLast() }
        }
        if word.hasPrefix("(") { word = word.dropFirst() }
        if word.hasSuffix(")") { word = word.dropLast() }
        guard !word.isEmpty, word.utf8.count <= 15, !word.contains(" ") else { return nil }
        var e = Earlyoom(signal: "SIGTERM", pid: pid, uid: nil, comm: String(word))
        e.score = score
        return e
    }

    /// `"comm": …` → the comm (which may contain quotes: the last `":` wins) and the rest.
    private static func quotedComm(_ s: Substring) -> (String, Substring)? {
        guard s.hasPrefix("\"") else { return nil }
        let rest = s.dropFirst()
        let end =
            rest.lastRange(of: "\": badness ") ?? rest.lastRange(of: "\": oom_score ")
            ?? rest.lastRange(of: "\" with signal ") ?? rest.lastRange(of: "\":")
        guard let end, end.lowerBound > rest.startIndex else { return nil }
        return (String(rest[..<end.lowerBound]), rest[end.lowerBound...].dropFirst())
    }

    /// `badness[:] B`, `oom_score B`, `VmRSS[:] R MiB|KiB`, `uid[:] U`, `cmdline "…"`.
    private static func earlyoomFigures(_ tail: Substring, into e: inout Earlyoom) {
        func number(after key: String) -> (Int64, Substring)? {
            guard let r = tail.find(key) else { return nil }
            var v = tail[r.upperBound...]
            if v.hasPrefix(":") { v = v.dropFirst() }
            v = v.drop { $0 == " " }
            guard let n = leadingInt64(v) else { return nil }
            return (n, v.drop { $0.isNumber || $0 == "-" })
        }
        if let (b, _) = number(after: "badness") ?? number(after: "oom_score") { e.score = Int(b) }
        if let (n, after) = number(after: "VmRSS") {
            if after.drop(while: { $0 == " " }).hasPrefix("KiB") {
                e.rssKB = n
            } else {
                // A figure no machine has (MiB beyond Int64 KiB) is not a size.
                let (kib, overflow) = n.multipliedReportingOverflow(by: 1024)
                e.rssKB = overflow ? nil : kib
            }
        }
        if e.uid == nil, let (u, _) = number(after: " uid") { e.uid = Int(u) }
        if let c = tail.find("cmdline \"") {
            var cmd = tail[c.upperBound...]
            if cmd.hasSuffix("\"") { cmd = cmd.dropLast() }
            e.cmdline = String(cmd)
        }
    }

    /// systemd-oomd: `Killed /system.slice/x.service due to memory pressure for … being
    /// 80.00% > 60.00% for > 30s with reclaim activity` (or `due to swap used …`,
    /// `due to memory used …`). Returns the killed cgroup.
    static func systemdOomd(_ m: Substring) -> String? {
        guard let r = m.find("Killed /"), let d = m[r.upperBound...].find(" due to ") else {
            return nil
        }
        let before = m[..<r.lowerBound]
        guard before.isEmpty || before.hasSuffix(": ") else { return nil }
        return "/" + String(m[r.upperBound..<d.lowerBound])
    }

    // MARK: numbers

    static func leadingInt(_ s: Substring) -> Int? {
        leadingInt64(s).map { Int($0) }
    }

    static func leadingInt64(_ s: Substring) -> Int64? {
        let u = s.utf8
        var i = u.startIndex
        let neg = i < u.endIndex && u[i] == ASCII.minus
        if neg { i = u.index(after: i) }
        guard let v = ASCII.digits(u, &i, maxDigits: 18) else { return nil }
        return neg ? -v : v
    }
}

extension Substring {
    /// The first occurrence of `needle`, by bytes (the standard library's `firstRange(of:)`
    /// builds a hash table on every call, far too slow for a log scanner).
    func find(_ needle: String) -> Range<String.Index>? {
        var needle = needle
        let u = self.utf8
        let found: Int?? = needle.withUTF8 { n in
            u.withContiguousStorageIfAvailable { h in
                Substring.search(h, n)
            }
        }
        guard let found else {
            // Not contiguous (bridged): copy.
            let h = Array(u)
            return needle.withUTF8 { n in
                h.withUnsafeBufferPointer { Substring.search($0, n) }
            }.map { u.index(u.startIndex, offsetBy: $0)..<u.index(u.startIndex, offsetBy: $0 + needle.utf8.count) }
        }
        guard let offset = found else { return nil }
        let lower = u.index(u.startIndex, offsetBy: offset)
        return lower..<u.index(lower, offsetBy: needle.utf8.count)
    }

    static func search(_ h: UnsafeBufferPointer<UInt8>, _ n: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let first = n.first, h.count >= n.count else { return n.isEmpty ? 0 : nil }
        var i = 0
        let last = h.count - n.count
        while i <= last {
            if h[i] == first {
                var j = 1
                while j < n.count, h[i + j] == n[j] { j += 1 }
                if j == n.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// The last occurrence of `needle` (the standard library only searches forwards).
    func lastRange(of needle: String) -> Range<String.Index>? {
        let n = Array(needle.utf8)
        let u = self.utf8
        guard !n.isEmpty, u.count >= n.count else { return nil }
        var i = u.index(u.endIndex, offsetBy: -n.count)
        while true {
            if u[i] == n[0], u[i...].starts(with: n) {
                return i..<u.index(i, offsetBy: n.count)
            }
            if i == u.startIndex { return nil }
            i = u.index(before: i)
        }
    }

    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
