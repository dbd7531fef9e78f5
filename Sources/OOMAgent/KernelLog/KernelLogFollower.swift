public import OOMKit

/// The /dev/kmsg follower's logic without I/O: resumes after the cursor, counts sequence
/// gaps and overruns, feeds records to the kernel-log assembler, and knows which sequence
/// number is safe to persist (no report half-read before it).
public struct KernelLogFollower: Sendable {
    public let bootID: String
    /// Wall-clock microseconds of uptime 0, to stamp kill times.
    public var bootEpochMicros: Int64?
    private var assembler: OOMReportAssembler
    /// Records at or below this were handled before a restart: skipped.
    private let resumeAfter: UInt64?
    /// The sequence number the next record should have, when known.
    private var expected: UInt64?
    /// The last sequence number after which the assembler held nothing.
    private var safeSequence: UInt64?
    /// The record that opened the report being read (nil when none is open). Once the held
    /// kills are out, every record before it is handled, however densely kills follow
    /// each other: a backlog of back-to-back reports has no record between them that is
    /// outside a report or a held kill.
    private var reportStart: UInt64?
    /// Counters since the last `takeCounts()`.
    private var missed: Int64 = 0
    private var overruns: Int64 = 0
    /// Records fed to the assembler (for tests and logs).
    public private(set) var recordsRead: Int = 0

    /// - Parameter cursor: the saved cursor. From the same boot, reading resumes after it
    ///   and a first record beyond `cursor + 1` counts the records lost while the agent was
    ///   down. From another boot (a reboot), the new boot is read from its start and any
    ///   records it already lost count as missed. Without a cursor (a first start), the
    ///   ring buffer is read from its oldest record and nothing before it is counted.
    public init(
        bootID: String, cursor: KmsgCursor?, bootEpochMicros: Int64? = nil,
        assembler: OOMReportAssembler = OOMReportAssembler()
    ) {
        self.bootID = bootID
        self.bootEpochMicros = bootEpochMicros
        self.assembler = assembler
        if let cursor, cursor.bootID == bootID {
            resumeAfter = cursor.sequence
            expected = cursor.sequence &+ 1
            safeSequence = cursor.sequence
        } else if cursor != nil {
            resumeAfter = nil
            expected = 0
        } else {
            resumeAfter = nil
            expected = nil
        }
    }

    /// The cursor to persist: records up to it are fully handled.
    public var cursor: KmsgCursor? {
        safeSequence.map { KmsgCursor(bootID: bootID, sequence: $0) }
    }

    /// Handles one record exactly as read from /dev/kmsg (dictionary lines included);
    /// returns completed events.
    public mutating func handle(_ bytes: ArraySlice<UInt8>) -> [OOMEvent] {
        // A read returns one record; its dictionary lines follow the first newline.
        let end = bytes.firstIndex(of: 10) ?? bytes.endIndex
        guard let record = KmsgRecord.parse(bytes: bytes[bytes.startIndex..<end]) else { return [] }
        return handle(record)
    }

    public mutating func handle(_ record: KmsgRecord) -> [OOMEvent] {
        let seq = record.sequence
        if let resumeAfter, seq <= resumeAfter { return [] }
        if let e = expected, seq > e { missed += Int64(seq - e) }
        expected = seq &+ 1
        recordsRead += 1
        let epoch = bootEpochMicros.map { $0 + record.usec }
        let wasCollecting = assembler.isCollecting
        var events = assembler.feed(record.logLine(bootID: bootID, epochMicros: epoch))
        stamp(&events)
        if !assembler.isCollecting {
            reportStart = nil
        } else if !wasCollecting {
            reportStart = seq
        }
        if !assembler.isCollecting && !assembler.hasPending { safeSequence = seq }
        return events
    }

    /// The kernel overwrote records before we read them (read returned EPIPE). The gap
    /// itself is counted from the next record's sequence number.
    public mutating func overrun() { overruns += 1 }

    /// The log was quiet for a moment: a kill held for its `oom_reaper` line is complete.
    public mutating func idle() -> [OOMEvent] {
        var events = assembler.flush()
        stamp(&events)
        if !assembler.hasPending, let e = expected, e > 0 {
            if !assembler.isCollecting {
                safeSequence = e - 1
            } else if let start = reportStart, start > 0, start - 1 > safeSequence ?? 0 {
                // A report is still open (stopped, or caught up, in its middle): up to the
                // record before it.
                safeSequence = start - 1
            }
        }
        return events
    }

    /// Missed records and overruns since the last call.
    public mutating func takeCounts() -> (missed: Int64, overruns: Int64) {
        defer {
            missed = 0
            overruns = 0
        }
        return (missed, overruns)
    }

    private func stamp(_ events: inout [OOMEvent]) {
        for i in events.indices {
            if events[i].bootID == nil { events[i].bootID = bootID }
            if events[i].id.isEmpty { events[i].assignStableID() }
        }
    }
}
