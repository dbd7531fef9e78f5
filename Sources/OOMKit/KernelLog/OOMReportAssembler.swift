/// Turns kernel log lines into OOM events: a value-type state machine.
///
/// Feed it every line in order with ``feed(_:)``; it returns the events that became
/// complete. At the end of input call ``finish()``. A live follower (`/dev/kmsg`) should
/// also call ``flush()`` when no line arrived for a moment (a second is plenty): the
/// kernel prints the whole report at once, so a quiet log means the last kill is complete.
///
/// How a report is put together:
/// - `COMM invoked oom-killer:` opens a report; the lines up to the victim line fill in the
///   trigger, cpuset, memcg usage, the task table (`candidates`) and the 4.19+
///   `oom-kill:` summary (re-joined when the kernel split it into two records).
/// - `[… out of memory: ]Killed process N (comm) …` is the kill: it always becomes exactly
///   one event, with the report's fields only when they belong to it (summary and
///   `Kill process` lines must name the same pid). The report is then closed, so in an
///   OOM storm, where the kernel rate-limits the header but prints every victim line, each
///   later kill gets only its own line's fields.
/// - The event is held briefly for a matching `oom_reaper: reaped process` line (in a storm
///   several kills may wait; they are returned oldest first), and is returned when that
///   arrives, when a later line is more than ``Options/reaperWindowMicros`` younger, when
///   a userspace kill is seen, or on ``flush()``/``finish()``.
/// - Lines with another printk caller id than the report's header, and lines a container
///   marks as coming from userspace, never change a kernel report.
/// - systemd-oomd and earlyoom kills are recognised in any line and returned at once.
public struct OOMReportAssembler: Sendable {
    public struct Options: Sendable {
        /// How long after a kill an `oom_reaper` line is still attached to it.
        public var reaperWindowMicros: Int64 = 5_000_000
        /// A report whose kill has not appeared after this much log time is dropped
        /// (e.g. `Out of memory and no killable processes`).
        public var reportTimeoutMicros: Int64 = 120_000_000
        /// …or after this many lines.
        public var maxReportLines = 250_000
        /// How far a line's uptime may lie before the report's (or a held kill's) and still
        /// be of the same boot. printk stamps a message before it takes its place in the
        /// log, so a message another CPU printed at the same moment (the previous kill's
        /// `oom_reaper` line) can follow a report's header with an uptime a little older;
        /// only a larger step back is a new boot's log.
        public var clockJitterMicros: Int64 = 1_000_000
        /// `raw` keeps at most this many bytes of a report's head (plus its kill line).
        public var maxRawBytes = 2 << 20

        public init() {}
    }

    struct Report {
        var header: KernelOOMMessages.Header?
        var triggerPID: Int?
        var cpuset: String?
        var memsAllowed: String?
        var summary: KernelOOMMessages.Summary?
        var summaryText: String?
        var taskIn: (task: String, oom: String)?
        var usage: (usage: Int64?, limit: Int64?, failcnt: Int64?)?
        var columns: [Substring]?
        var candidates: [OOMEvent.Candidate] = []
        var choice: KernelOOMMessages.KillChoice?
        var raw: [String] = []
        var rawBytes = 0
        var rawDropped = false
        var lines = 0
        var startUptime: Int64?
        var startEpoch: Int64?
        var callerID: String?
        var lastWasSummary = false
        var lastUptime: Int64?
        var lastEpoch: Int64?
        var host: String?
        var bootID: String?
    }

    struct RecentKill {
        var pid: Int
        var comm: String
        var uptime: Int64?
        var epoch: Int64?
    }

    struct Pending {
        var event: OOMEvent
        var uptime: Int64?
        var epoch: Int64?
    }

    public var options: Options
    private var report: Report?
    /// Kills held for their `oom_reaper` line, oldest first (in a storm the reaper's line
    /// for one kill may come after the next kill).
    private var pending: [Pending] = []
    /// earlyoom victims signalled lately (newest last, at most 32): earlyoom repeats SIGTERM
    /// while a victim lives, then sends SIGKILL, and may signal another process in between.
    private var recentEarlyoom: [(pid: Int, comm: String, epoch: Int64?)] = []
    /// The last kernel kills (newest last): a second victim line for the same process in
    /// one report (memory.oom.group kills the victim's whole group, the victim included)
    /// is the same kill.
    private var recentKills: [RecentKill] = []

    public init(options: Options = Options()) {
        self.options = options
    }

    /// True while a report is open (header seen, kill not yet): every line matters then.
    /// When false, only lines that could start or complete something matter (see
    /// ``KernelLogScanner``'s fast path).
    public var isCollecting: Bool { report != nil }

    /// True when a complete kill is held back waiting for its `oom_reaper` line.
    public var hasPending: Bool { !pending.isEmpty }

    /// Convenience for the live follower: one kernel message with its uptime.
    public mutating func feed(uptimeMicros: Int64?, message: String, bootID: String? = nil) -> [OOMEvent] {
        feed(LogLine(message: message, uptimeMicros: uptimeMicros, bootID: bootID, origin: .kernel))
    }

    /// Feeds one line; returns the events completed by it (usually none).
    public mutating func feed(_ line: LogLine) -> [OOMEvent] {
        var out: [OOMEvent] = []
        expirePending(before: line, into: &out)
        expireReport(before: line)
        report?.lines += 1
        if let u = line.uptimeMicros { report?.lastUptime = u }
        if let e = line.epochMicros { report?.lastEpoch = e }
        if case .userspace = line.origin {
            handleUserspace(line, line.message[...], into: &out)
            return out
        }
        // One record is one line. Text after an escaped newline inside a record (`\x0a`
        // in /dev/kmsg, a newline in a journal MESSAGE) is data the kernel printed, e.g. a
        // file name, never a line of its own: only its first line is read.
        // Leading blanks are alignment (a second space after the timestamp, a tab): no line
        // the parser reads starts with one.
        let m = line.message[...].drop { $0 == " " || $0 == "\t" }
        handle(m.firstIndex(of: "\n").map { m[..<$0] } ?? m, line: line, appendRaw: true, into: &out)
        return out
    }

    /// Returns the complete kills still held back for their `oom_reaper` lines. Call it
    /// when the log has been quiet for a moment. An open report without a kill is kept.
    public mutating func flush() -> [OOMEvent] {
        defer { pending = [] }
        return pending.map(\.event)
    }

    /// End of input: returns what is held back, then the kill of an unfinished report
    /// that already named its victim (marked `partial`).
    public mutating func finish() -> [OOMEvent] {
        closeReport()
        return flush()
    }

    /// Forgets the open report; when it named its victim (`Kill process N (comm) score …`
    /// or an `oom-kill:` summary) but its victim line never came, that kill is still
    /// returned, with `partial` set.
    private mutating func closeReport() {
        guard let r = report else { return }
        report = nil
        let named: (pid: Int, comm: String)? =
            if let c = r.choice { (c.pid, c.comm) } else if let s = r.summary, let pid = s.pid, let comm = s.task {
                (pid, comm)
            } else { nil }
        guard let named, named.pid > 0, !named.comm.isEmpty, !wasKilledRecently(pid: named.pid, comm: named.comm, r)
        else { return }
        report = r
        var k = KernelOOMMessages.Killed(pid: named.pid, comm: named.comm, memcgWording: false)
        k.uid = r.summary?.pid == named.pid ? r.summary?.uid : nil
        let last = LogLine(
            message: "", uptimeMicros: r.lastUptime ?? r.startUptime, epochMicros: r.lastEpoch ?? r.startEpoch,
            host: r.host, bootID: r.bootID, origin: .kernel, raw: "")
        kill(k, line: last, partial: true)
    }

    /// Whether `pid` was killed within the reaper window of the report `r` (a report
    /// whose victim line another CPU printed, memory.oom.group's second kill of the victim).
    private func wasKilledRecently(pid: Int, comm: String, _ r: Report) -> Bool {
        recentKills.contains { k in
            guard k.pid == pid, k.comm == comm else { return false }
            if let a = k.uptime, let b = r.lastUptime ?? r.startUptime {
                return abs(b - a) <= options.reaperWindowMicros
            }
            if let a = k.epoch, let b = r.lastEpoch ?? r.startEpoch { return abs(b - a) <= options.reaperWindowMicros }
            return true
        }
    }

    // MARK: -

    private mutating func expirePending(before line: LogLine, into out: inout [OOMEvent]) {
        while let p = pending.first, isBeyondReaperWindow(p, line) {
            out.append(pending.removeFirst().event)
        }
    }

    /// Whether `line` is too late (or, with a clock going back, from elsewhere) to be the
    /// reaper line of `p`.
    private func isBeyondReaperWindow(_ p: Pending, _ line: LogLine) -> Bool {
        isBeyondReaperWindow(uptime: p.uptime, epoch: p.epoch, line)
    }

    private func isBeyondReaperWindow(uptime pu: Int64?, epoch pe: Int64?, _ line: LogLine) -> Bool {
        if let u = line.uptimeMicros, let pu {
            return u - pu > options.reaperWindowMicros || u < pu - options.clockJitterMicros
        }
        if line.uptimeMicros == nil, let e = line.epochMicros, let pe {
            return e - pe > options.reaperWindowMicros
        }
        return false
    }

    /// Returns the held kills from the oldest on, while they have their reaper line.
    private mutating func emitReaped(into out: inout [OOMEvent]) {
        while let p = pending.first, p.event.reaped != nil {
            out.append(pending.removeFirst().event)
        }
    }

    private mutating func expireReport(before line: LogLine) {
        guard let r = report else { return }
        if r.lines > options.maxReportLines {
            closeReport()
        } else if let u = line.uptimeMicros, let s = r.startUptime,
            u - s > options.reportTimeoutMicros || u < s - options.clockJitterMicros
        {
            closeReport()
        } else if line.uptimeMicros == nil, let e = line.epochMicros, let s = r.startEpoch,
            e - s > options.reportTimeoutMicros
        {
            closeReport()
        }
    }

    private mutating func handle(_ m: Substring, line: LogLine, appendRaw: Bool, into out: inout [OOMEvent]) {
        // Split `oom-kill:` summary: the continuation is its own record/line.
        if report?.lastWasSummary == true, line.continuesPrevious || (m.first == "," && m.contains("=")) {
            if appendRaw { addRaw(line) }
            let text = (report?.summaryText ?? "") + m
            report?.summaryText = text
            report?.summary = KernelOOMMessages.summary(text[...])
            return
        }
        report?.lastWasSummary = false

        // A recognised kernel record holds the kernel's text exactly: only the kernel's own
        // prefixes may come before a victim line. A bare line may carry an unknown prefix.
        let exact = line.origin == .kernel
        if let k = KernelOOMMessages.killed(m, exact: exact) {
            // Bounded: without timestamps nothing else would release them before flush().
            if pending.count >= 16 { out.append(pending.removeFirst().event) }
            if let r = report, let rc = r.callerID, let lc = line.callerID, rc != lc {
                // Another task's kill while this report is open: on its own.
                let saved = report
                report = nil
                kill(k, line: line)
                report = saved
            } else {
                kill(k, line: line)
            }
            return
        }
        if let h = KernelOOMMessages.header(m) {
            // The previous report lost its victim line (or the kill was not logged).
            closeReport()
            var r = newReport(line)
            r.header = h
            report = r
            if appendRaw { addRaw(line) }
            return
        }
        if let rp = KernelOOMMessages.reaped(m) {
            if let i = pending.lastIndex(where: {
                $0.event.victim.pid == rp.pid && $0.event.reaped == nil && !isBeyondReaperWindow($0, line)
            }) {
                var reaped = OOMEvent.Reaped()
                reaped.anonRssKB = rp.anonRssKB
                reaped.fileRssKB = rp.fileRssKB
                reaped.shmemRssKB = rp.shmemRssKB
                pending[i].event.reaped = reaped
                pending[i].event.raw = (pending[i].event.raw ?? "") + "\n" + line.raw
                emitReaped(into: &out)
            }
            return
        }
        if line.origin == .unknown, handleUserspace(line, m, into: &out) { return }

        guard report != nil else {
            // Lines that may open a report without a header (a log starting mid-report).
            var r = newReport(line)
            if let s = KernelOOMMessages.summary(m) {
                r.summary = s
                r.summaryText = String(m)
                r.lastWasSummary = true
            } else if let c = KernelOOMMessages.killChoice(m, exact: exact) {
                r.choice = c
            } else if let t = KernelOOMMessages.taskIn(m) {
                r.taskIn = t
            } else if !m.hasPrefix("Tasks state (memory values in pages)") {
                // 4.15+: the task table's title opens a report too; a log cut before it
                // still has the table. Any other line opens nothing.
                return
            }
            report = r
            if appendRaw { addRaw(line) }
            return
        }
        if let rc = report?.callerID, let lc = line.callerID, rc != lc { return }
        if appendRaw { addRaw(line) }
        update(with: m, exact: exact)
    }

    private func newReport(_ line: LogLine) -> Report {
        var r = Report(startUptime: line.uptimeMicros, startEpoch: line.epochMicros, callerID: line.callerID)
        r.host = line.host
        r.bootID = line.bootID
        return r
    }

    /// A line inside an open report.
    private mutating func update(with m: Substring, exact: Bool) {
        guard var r = report else { return }
        // Taken out while it changes, so appending to its arrays copies nothing.
        report = nil
        defer { report = r }
        if let columns = r.columns, m.first == "[" {
            if let c = KernelOOMMessages.tableRow(m, columns: columns) {
                r.candidates.append(c)
                return
            }
        }
        if m.first == "[", let cols = KernelOOMMessages.tableHeader(m) {
            r.columns = cols
            r.candidates = []
            return
        }
        if let s = KernelOOMMessages.summary(m) {
            r.summary = s
            r.summaryText = String(m)
            r.lastWasSummary = true
            return
        }
        if let c = KernelOOMMessages.killChoice(m, exact: exact) {
            r.choice = c
            return
        }
        if r.triggerPID == nil, let (pid, comm) = KernelOOMMessages.cpuLine(m) {
            // Only the trigger's own stack dump: `Comm:` must match the header.
            if let h = r.header, comm.hasPrefix(h.comm) || h.comm.hasPrefix(comm.prefix { $0 != " " }) {
                r.triggerPID = pid
            }
            return
        }
        if r.cpuset == nil, let h = r.header, m.hasPrefix(h.comm + " cpuset="),
            let (cpuset, mems) = KernelOOMMessages.cpusetLine(m)
        {
            r.cpuset = cpuset
            r.memsAllowed = mems
            return
        }
        if r.taskIn == nil, let t = KernelOOMMessages.taskIn(m) {
            r.taskIn = t
            return
        }
        if r.usage == nil, let u = KernelOOMMessages.memcgUsage(m) {
            r.usage = u
        }
    }

    private mutating func addRaw(_ line: LogLine) {
        guard var r = report else { return }
        // Taken out while it changes, so appending to `raw` copies nothing.
        report = nil
        defer { report = r }
        // A huge report keeps its head; the kill line is always added at the end.
        guard r.rawBytes + line.raw.utf8.count < options.maxRawBytes else {
            r.rawDropped = true
            return
        }
        r.rawBytes += line.raw.utf8.count + 1
        r.raw.append(line.raw)
    }

    /// The victim line: builds the event, closes the report.
    private mutating func kill(_ k: KernelOOMMessages.Killed, line: LogLine, partial: Bool = false) {
        if !partial, let i = recentKills.lastIndex(where: { $0.pid == k.pid && $0.comm == k.comm }),
            !isBeyondReaperWindow(uptime: recentKills[i].uptime, epoch: recentKills[i].epoch, line)
        {
            // The same process named again in one report: memory.oom.group kills the
            // victim's group, the victim included. One kill; its line joins the event.
            if let p = pending.lastIndex(where: { $0.event.victim.pid == k.pid }) {
                pending[p].event.raw = (pending[p].event.raw ?? "") + "\n" + line.raw
            }
            report = nil
            return
        }
        recentKills.append(RecentKill(pid: k.pid, comm: k.comm, uptime: line.uptimeMicros, epoch: line.epochMicros))
        if recentKills.count > 32 { recentKills.removeFirst() }
        var victim = OOMEvent.Victim(pid: k.pid, comm: k.comm)
        victim.uid = k.uid
        victim.totalVmKB = k.totalVmKB
        victim.anonRssKB = k.anonRssKB
        victim.fileRssKB = k.fileRssKB
        victim.shmemRssKB = k.shmemRssKB
        victim.pgtablesKB = k.pgtablesKB
        victim.oomScoreAdj = k.oomScoreAdj
        var e = OOMEvent(source: .kernel, victim: victim)
        // The id comes from the victim line alone, before the report's other lines add to
        // the victim: every container of that line gives the same id.
        e.id = OOMEvent.stableID(source: .kernel, victim: victim, partial: partial)
        if partial { e.partial = true }
        e.uptimeS = line.uptimeMicros.map { Double($0) / 1_000_000 }
        e.time = line.epochMicros.map { RFC3339.format(epochMicroseconds: $0) }
        e.host = line.host
        e.bootID = line.bootID
        var memcgWording = k.memcgWording
        var rawLines = [line.raw]
        // Whether what was read says where the limit was: a report header, or the kernel's
        // `Out of memory: ` wording (which says `Memory cgroup` when it was a memcg's).
        var saysWhere = k.saysWhere

        if let r = report {
            rawLines = r.raw + (r.rawDropped ? ["…", line.raw] : [line.raw])
            if partial {
                rawLines = r.raw
                e.host = e.host ?? r.host
                e.bootID = e.bootID ?? r.bootID
            }
            saysWhere = saysWhere || r.header != nil || r.choice != nil
            if let h = r.header {
                var t = OOMEvent.Trigger()
                t.comm = h.comm
                t.pid = r.triggerPID
                t.gfpMask = h.gfpMask
                t.order = h.order
                t.oomScoreAdj = h.oomScoreAdj
                t.oomAdj = h.oomAdj
                e.trigger = t
            }
            e.cpuset = r.cpuset
            e.memsAllowed = r.memsAllowed
            var memcg = OOMEvent.Memcg()
            if let s = r.summary, s.pid == nil || s.pid == k.pid {
                e.constraint = s.constraint
                e.cpuset = s.cpuset ?? e.cpuset
                e.memsAllowed = s.memsAllowed ?? e.memsAllowed
                memcg.oom = s.oomMemcg
                memcg.task = s.taskMemcg
                if e.victim.uid == nil { e.victim.uid = s.uid }
            }
            if let t = r.taskIn {
                memcg.task = memcg.task ?? t.task
                memcg.oom = memcg.oom ?? t.oom
                memcgWording = true
            }
            if let u = r.usage {
                memcg.usageKB = u.usage
                memcg.limitKB = u.limit
                memcg.failcnt = u.failcnt
            }
            if memcg != OOMEvent.Memcg() { e.memcg = memcg }
            e.victim.cgroup = memcg.task
            if let c = r.choice {
                if c.pid == k.pid { e.victim.score = c.score }
                memcgWording = memcgWording || c.memcgWording
            }
            if !r.candidates.isEmpty {
                e.candidates = r.candidates
                if let row = r.candidates.last(where: { $0.pid == k.pid }) {
                    if e.victim.uid == nil { e.victim.uid = row.uid }
                    if e.victim.oomScoreAdj == nil { e.victim.oomScoreAdj = row.oomScoreAdj }
                }
            }
        }
        switch e.constraint {
        case "CONSTRAINT_MEMCG": e.scope = .memcg
        case "CONSTRAINT_NONE": e.scope = .global
        case "CONSTRAINT_CPUSET": e.scope = .cpuset
        case "CONSTRAINT_MEMORY_POLICY": e.scope = .mempolicy
        default:
            // Without a constraint, only what was read says where the limit was: memcg
            // wording or lines, else a report header or the kernel's `Out of memory: `
            // wording without them (a system-wide OOM). A bare `Killed process` line (before
            // 5.x, or all an OOM storm leaves) says nothing: `global` would be a guess, and
            // wrong for a memcg storm.
            if memcgWording || e.memcg?.oom != nil || e.memcg?.usageKB != nil {
                e.scope = .memcg
            } else if saysWhere {
                e.scope = .global
            }
        }
        e.raw = rawLines.joined(separator: "\n")
        report = nil
        pending.append(Pending(event: e, uptime: line.uptimeMicros, epoch: line.epochMicros))
    }

    /// systemd-oomd and earlyoom. Returns whether the line was one of theirs.
    @discardableResult
    private mutating func handleUserspace(_ line: LogLine, _ m: Substring, into out: inout [OOMEvent]) -> Bool {
        let tag: String? = if case .userspace(let t) = line.origin { t } else { nil }
        if tag.map({ $0[...].find("oomd") == nil }) ?? true,
            let eo = KernelOOMMessages.earlyoom(m, fromEarlyoom: tag.map { $0[...].find("earlyoom") != nil } ?? false)
        {
            if let i = recentEarlyoom.lastIndex(where: { $0.pid == eo.pid && $0.comm == eo.comm }),
                abs((line.epochMicros ?? 0) - (recentEarlyoom[i].epoch ?? 0)) <= 60_000_000
            {
                // earlyoom repeats SIGTERM while the victim lives and escalates to SIGKILL
                // when that was not enough: one kill, however long it keeps repeating.
                recentEarlyoom[i].epoch = line.epochMicros
                return true
            }
            recentEarlyoom.append((eo.pid, eo.comm, line.epochMicros))
            if recentEarlyoom.count > 32 { recentEarlyoom.removeFirst() }
            var v = OOMEvent.Victim(pid: eo.pid, comm: eo.comm)
            v.uid = eo.uid
            v.score = eo.score
            v.rssKB = eo.rssKB
            v.cmdline = eo.cmdline
            emitUserspace(OOMEvent(source: .earlyoom, victim: v), line: line, into: &out)
            return true
        }
        if let cg = KernelOOMMessages.systemdOomd(m) {
            let name = cg.split(separator: "/").last.map(String.init) ?? cg
            // systemd-oomd kills a cgroup and names no process: the pid is unknown.
            var v = OOMEvent.Victim(pid: nil, comm: name)
            v.cgroup = cg
            if name.hasSuffix(".service") || name.hasSuffix(".scope") || name.hasSuffix(".slice") {
                v.unit = name
            }
            emitUserspace(OOMEvent(source: .systemdOomd, victim: v), line: line, into: &out)
            return true
        }
        return false
    }

    private mutating func emitUserspace(_ event: OOMEvent, line: LogLine, into out: inout [OOMEvent]) {
        var e = event
        e.time = line.epochMicros.map { RFC3339.format(epochMicroseconds: $0) }
        e.host = line.host
        e.bootID = line.bootID
        e.raw = line.raw
        let detail =
            e.source == .systemdOomd
            ? OOMEvent.oomdDetail(cgroup: e.victim.cgroup, time: e.time, message: line.message[...]) : ""
        e.id = OOMEvent.stableID(source: e.source, victim: e.victim, detail: detail)
        out += flush()
        out.append(e)
    }
}
