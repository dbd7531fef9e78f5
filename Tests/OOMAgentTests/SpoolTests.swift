import Logging
import Testing

@testable import OOMAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SpoolTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func record(_ kind: SpoolRecord.Kind, _ text: String) -> SpoolRecord {
        SpoolRecord(kind: kind, payload: Array(text.utf8))
    }

    @Test func appendBatchAcknowledge() throws {
        let dir = TestSupport.tempDir("spool")
        defer { TestSupport.removeTree(dir) }
        let counters = AgentCounters()
        let spool = try Spool(directory: dir, counters: counters, logger: logger)
        try spool.append(record(.event, #"{"id":"a"}"#))
        try spool.append(record(.snapshot, #"{"s":1}"#))
        #expect(spool.pending.events == 1 && spool.pending.snapshots == 1)
        let batch = try #require(spool.nextBatch())
        #expect(batch.records.map(\.kind) == [.event, .snapshot])
        // Not acknowledged: still there after a restart.
        let reopened = try Spool(directory: dir, counters: counters, logger: logger)
        #expect(reopened.pending.events == 1)
        reopened.acknowledge(try #require(reopened.nextBatch()))
        #expect(reopened.nextBatch() == nil)
        #expect(try Spool(directory: dir, counters: counters, logger: logger).nextBatch() == nil)
    }

    @Test func boundDropsSnapshotsFirstThenEvents() throws {
        let dir = TestSupport.tempDir("spool-bound")
        defer { TestSupport.removeTree(dir) }
        let counters = AgentCounters()
        let payload = String(repeating: "x", count: 1000)
        let spool = try Spool(
            directory: dir, maxBytes: 64 * 1024, segmentBytes: 8 * 1024, counters: counters, logger: logger)
        for i in 0..<40 { try spool.append(record(.event, #"{"e":\#(i),"p":"\#(payload)"}"#)) }
        for i in 0..<100 { try spool.append(record(.snapshot, #"{"s":\#(i),"p":"\#(payload)"}"#)) }
        #expect(spool.totalBytes <= 64 * 1024)
        #expect(counters.droppedSnapshots.load(ordering: .relaxed) > 0)
        #expect(counters.droppedEvents.load(ordering: .relaxed) == 0)
        #expect(spool.pending.events == 40)
        // Now only events: the oldest go.
        for i in 40..<120 { try spool.append(record(.event, #"{"e":\#(i),"p":"\#(payload)"}"#)) }
        #expect(spool.totalBytes <= 64 * 1024)
        let dropped = counters.droppedEvents.load(ordering: .relaxed)
        #expect(dropped > 0)
        #expect(Int64(spool.pending.events) + dropped == 120)
        // The oldest surviving event is the first after the dropped ones.
        let first = try #require(spool.nextBatch()?.records.first { $0.kind == .event })
        #expect(String(decoding: first.payload, as: UTF8.self).hasPrefix(#"{"e":\#(dropped),"#))
    }

    @Test func decodeSkipsTruncatedTailAndBitFlips() {
        var bytes: [UInt8] = []
        for i in 0..<10 { bytes += record(.event, "record-\(i)").encoded() }
        let full = SpoolRecord.decode(bytes)
        #expect(full.records.count == 10 && full.corrupt == 0)
        // Truncated in the middle of the last record.
        let torn = SpoolRecord.decode(Array(bytes.dropLast(3)))
        #expect(torn.records.count == 9 && torn.corrupt == 1)
        // A bit flipped in record 3's payload, and one in record 6's length field.
        let size = record(.event, "record-0").encoded().count
        var flipped = bytes
        flipped[3 * size + 14] ^= 0x10
        flipped[6 * size + 5] ^= 0x01
        let d = SpoolRecord.decode(flipped)
        #expect(d.corrupt == 2)
        #expect(
            d.records.map { String(decoding: $0.payload, as: UTF8.self) }
                == [0, 1, 2, 4, 5, 7, 8, 9].map { "record-\($0)" })
        // Garbage only.
        #expect(SpoolRecord.decode([1, 2, 3, 0xA5, 0x5A, 1, 0, 255, 255, 255, 255]).records.isEmpty)
    }

    @Test func damagedFilesOnDiskCostOnlyDamagedRecords() throws {
        let dir = TestSupport.tempDir("spool-damage")
        defer { TestSupport.removeTree(dir) }
        let counters = AgentCounters()
        do {
            let spool = try Spool(directory: dir, segmentBytes: 4096, counters: counters, logger: logger)
            for i in 0..<20 { try spool.append(record(.event, "event-number-\(i)")) }
        }
        // Flip a byte in the first segment and cut the last one short.
        let path = Spool.path(dir, 1)
        var bytes = try #require(try FileIO.readAll(path))
        bytes[20] ^= 0xFF
        try FileIO.writeAtomically(path, bytes)
        _ = truncate(path, off_t(bytes.count - 2))
        let spool = try Spool(directory: dir, counters: counters, logger: logger)
        var delivered: [SpoolRecord] = []
        while let batch = spool.nextBatch() {
            delivered += batch.records
            spool.acknowledge(batch)
        }
        #expect(delivered.count == 18)
        #expect(counters.corruptRecords.load(ordering: .relaxed) == 2)
        // Counted once: the damaged segment was rewritten without the damage.
        #expect(spool.nextBatch() == nil)
    }

    /// kill -9 of a process in the middle of appending: every complete record survives, at
    /// most the one being written is lost, and the spool opens without trouble.
    @Test func killNineDuringAppend() throws {
        let agent = TestSupport.packageRoot + "/.build/debug/oomwatch-agent"
        guard access(agent, X_OK) == 0 else {
            Issue.record("build the agent first (swift build): \(agent) missing")
            return
        }
        let dir = TestSupport.tempDir("spool-kill")
        defer { TestSupport.removeTree(dir) }
        let pid = TestSupport.spawn([
            agent, "snapshot", "--spool-dir", dir + "/spool", "--count", "100000", "--top-processes", "50",
            "--config", TestSupport.fixtures + "/empty.yaml",
        ])
        // Let it write a megabyte or more (it never finishes 100,000), then kill it
        // mid-stream. By size, not time: a loaded machine writes fewer records a second.
        func spooledBytes() -> Int {
            guard let d = opendir(dir + "/spool") else { return 0 }
            defer { closedir(d) }
            var total = 0
            while let entry = readdir(d) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                var st = stat()
                if name != ".", name != "..", stat(dir + "/spool/" + name, &st) == 0 { total += Int(st.st_size) }
            }
            return total
        }
        var waited = 0
        while spooledBytes() < 1 << 20 && waited < 30_000 {
            TestSupport.sleepMillis(100)
            waited += 100
        }
        kill(pid, SIGKILL)
        let status = TestSupport.wait(pid)
        #expect(status & 0x7f == SIGKILL)
        let counters = AgentCounters()
        let spool = try Spool(directory: dir + "/spool", segmentBytes: 512 << 10, counters: counters, logger: logger)
        var total = 0
        while let batch = spool.nextBatch(maxBytes: 64 << 20) {
            total += batch.records.count
            for r in batch.records { #expect(r.payload.first == 123) }  // {
            spool.acknowledge(batch)
        }
        #expect(total > 10)
        #expect(counters.corruptRecords.load(ordering: .relaxed) <= 1)
        // The spool is usable again.
        try spool.append(record(.event, "after"))
        #expect(spool.nextBatch()?.records.count == 1)
    }
}
