import Testing

@testable import OOMKit

/// The snapshot's hand-written JSON paths against `Codable`, which defines the answer:
/// reading a posted snapshot from the tree gives the value `Decodable` gives, or gives up
/// (never a value where `Decodable` has an error); writing the stored compact form gives
/// `JSONWriter(sortedKeys: true)`'s bytes, or gives up. And both really take the snapshots
/// agents send, rather than leaving them to `Codable`.
@Suite struct SnapshotJSONTests {
    static func tree(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { p in
            var parser = JSONParser(bytes: p, maxDepth: 512)
            return try parser.parseDocument()
        }
    }

    /// `Decodable` alone: the reference.
    static func decodable(_ value: JSONValue) -> MemorySnapshot? {
        try? MemorySnapshot(from: JSONValueDecoder(value: value, path: .root))
    }

    /// The tree reader agrees with `Decodable`; true when it took the value itself.
    @discardableResult
    static func checkRead(_ value: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let reference = decodable(value)
        guard let ours = MemorySnapshot(tree: value) else { return false }
        #expect(reference == ours, "read a value Decodable does not give", sourceLocation: sourceLocation)
        return true
    }

    static func checkWrite(_ compact: CompactSnapshot, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        guard let ours = compact.sortedJSON() else { return false }
        var writer = JSONWriter(sortedKeys: true)
        writer.treeOnly = true
        let reference = try? writer.encode(compact)
        #expect(
            reference.map { String(decoding: $0, as: UTF8.self) } == String(decoding: ours, as: UTF8.self),
            sourceLocation: sourceLocation)
        return true
    }

    static func compact(_ snapshot: MemorySnapshot) -> CompactSnapshot {
        var next: Int64 = -3
        return CompactSnapshot(snapshot) { _ in
            next += 1
            return next * 1_000_003
        }
    }

    static func samples() throws -> [MemorySnapshot] {
        var all = try SnapshotDeltaTests.real()
        all += [Samples.snapshot(processes: 20), Samples.bareSnapshot, Samples.partialPressureSnapshot]
        // Escapes in values, extreme numbers, a delta's base and processes by reference.
        var odd = all[0]
        odd.host = "h\"\\\n\u{1}é😀"
        odd.memory["total_kb"] = Int64.min
        odd.vmstat["pgfault"] = Int64.max
        odd.uptimeS = 1e-7
        odd.pressure?.someAvg10 = -0.0
        odd.pressure?.fullAvg300 = 1e300
        odd.processes[0].cmdline = "/bin/x --flag=\"a b\"\t\u{7f}"
        odd.processes[1].ref = "00000000000000ff"
        odd.processes[1].oomScoreAdj = -1000
        odd.cgroups.append(CgroupSample(path: "/a\"b"))
        all.append(odd)
        var delta = odd
        delta.base = SnapshotBase(time: "2026-01-01T00:00:00Z", removed: ["memory.x", "sysctl"])
        all.append(delta)
        return all
    }

    @Test func theSnapshotsAgentsSendAreReadAsDecodableReadsThem() throws {
        let writer = JSONWriter()
        for snapshot in try Self.samples() {
            let value = try Self.tree(try writer.encode(snapshot))
            #expect(Self.checkRead(value), "not taken: \(snapshot.host)")
            #expect(MemorySnapshot(tree: value) == snapshot)
        }
        // Through the reader, as the collector decodes a batch.
        let batch = IngestBatch(host: "h", snapshots: try SnapshotDeltaTests.real())
        #expect(try JSONReader().decode(IngestBatch.self, from: writer.encode(batch)) == batch)
    }

    /// Every node of `value` replaced, in turn, by values of other shapes, and every member
    /// removed or repeated: `check` gets each whole variant.
    static func mutations(of value: JSONValue, _ check: (JSONValue) -> Void) {
        let replacements: [JSONValue] = [
            .null, .string("x"), .number("1.5"), .number("2.0"), .number("1e2"), .integer(negative: true, magnitude: 0),
            .integer(negative: false, magnitude: UInt64.max), .integer(negative: true, magnitude: 1 << 63),
            .integer(negative: true, magnitude: (1 << 63) + 1), .bool(true), .object(JSONObject()), .array([]),
            .array([.null]), .string("kernel"), .string("memcg"),
        ]
        var turn = 0
        func visit(_ node: JSONValue, _ rebuild: (JSONValue) -> JSONValue) {
            for (n, r) in replacements.enumerated() where (turn + n) % 3 == 0 { check(rebuild(r)) }
            turn += 1
            switch node {
            case .object(let o):
                for i in o.keys.indices {
                    visit(o.values[i]) { child in
                        var copy = o
                        copy.values[i] = child
                        return rebuild(.object(copy))
                    }
                    var without = o
                    without.keys.remove(at: i)
                    without.values.remove(at: i)
                    check(rebuild(.object(without)))
                    var twice = o
                    twice.keys.append(o.keys[i])
                    twice.values.append(replacements[i % replacements.count])
                    check(rebuild(.object(twice)))
                }
            case .array(let items):
                for i in items.indices {
                    visit(items[i]) { child in
                        var copy = items
                        copy[i] = child
                        return rebuild(.array(copy))
                    }
                }
            default:
                break
            }
        }
        visit(value) { $0 }
    }

    /// The reader gives Decodable's value or gives up, on every mutation of a real
    /// snapshot; the mutations reach both outcomes.
    @Test func mutatedSnapshotsNeverReadOtherwiseThanDecodable() throws {
        let snapshot = try SnapshotDeltaTests.real()[0]
        var variants = 0
        var taken = 0
        var rejected = 0
        Self.mutations(of: try Self.tree(try JSONWriter().encode(snapshot))) { whole in
            variants += 1
            if Self.checkRead(whole) { taken += 1 }
            if Self.decodable(whole) == nil { rejected += 1 }
        }
        #expect(variants > 1000)
        #expect(taken > 300)
        #expect(rejected > 300)
    }

    /// Events, read by hand the same way: real kernel and userspace killer reports, and
    /// every mutation of one with every part (trigger, memcg, candidates, reaped).
    @Test func eventsAreReadAsDecodableReadsThem() throws {
        var events: [OOMEvent] = []
        for name in ["oomanalyser-rhel7.log", "real-6.18-memcg-v1-kmsg.log", "syslog-userspace-killers.log"] {
            events += scan(try Fixture.bytes(name))
        }
        #expect(events.count >= 5)
        func reference(_ value: JSONValue) -> OOMEvent? {
            try? OOMEvent(from: JSONValueDecoder(value: value, path: .root))
        }
        for event in events + [Samples.event, Samples.bareEvent] {
            let value = try Self.tree(try JSONWriter().encode(event))
            #expect(OOMEvent(tree: value) == event)
        }
        let full = try #require(
            events.first { $0.trigger != nil && $0.memcg != nil && $0.candidates?.isEmpty == false && $0.raw != nil })
        var rich = full
        rich.reaped = OOMEvent.Reaped()
        rich.reaped?.anonRssKB = 12
        rich.partial = true
        var taken = 0
        var rejected = 0
        Self.mutations(of: try Self.tree(try JSONWriter().encode(rich))) { whole in
            let expected = reference(whole)
            if expected == nil { rejected += 1 }
            guard let ours = OOMEvent(tree: whole) else { return }
            taken += 1
            #expect(ours == expected, "read a value Decodable does not give")
            #expect(ours.json() == (try? JSONWriter().encode(ours)), "stored JSON differs from JSONWriter's")
        }
        #expect(taken > 100)
        #expect(rejected > 100)
        // Through the reader, as the collector decodes a batch.
        let batch = IngestBatch(host: "h", events: events)
        #expect(try JSONReader().decode(IngestBatch.self, from: JSONWriter().encode(batch)) == batch)
    }

    /// The events row's JSON: byte for byte `JSONWriter`'s, for real reports, every field
    /// set, every field left out, escapes; an uptime that is not finite is left to it.
    @Test func storedEventsAreWrittenAsJSONWriterWritesThem() throws {
        var events: [OOMEvent] = [Samples.event, Samples.bareEvent]
        for name in ["oomanalyser-rhel7.log", "real-6.18-memcg-v1-kmsg.log", "syslog-userspace-killers.log"] {
            events += scan(try Fixture.bytes(name))
        }
        var every = OOMEvent(id: "i\"d\u{1}", source: .systemdOomd, victim: OOMEvent.Victim(pid: -1, comm: "c\\"))
        every.host = "h"
        every.bootID = "b"
        every.time = "2026-12-03T00:00:00.5Z"
        every.uptimeS = 1e-5
        every.scope = .mempolicy
        every.victim = OOMEvent.Victim(pid: Int.min, comm: "ü\n")
        (every.victim.uid, every.victim.oomScoreAdj, every.victim.score) = (1, -1000, 2)
        (every.victim.totalVmKB, every.victim.anonRssKB, every.victim.fileRssKB) = (Int64.max, 0, -3)
        (every.victim.shmemRssKB, every.victim.pgtablesKB, every.victim.lastRssKB) = (4, 5, 6)
        every.victim.rssKB = 7
        (every.victim.cgroup, every.victim.unit, every.victim.containerID) = ("/a", "u.service", "ctr")
        (every.victim.podUID, every.victim.cmdline) = ("pod", "/bin/x --y=\"z\"\t")
        var trigger = OOMEvent.Trigger()
        (trigger.pid, trigger.comm, trigger.gfpMask) = (1, "t", "0x0")
        (trigger.order, trigger.oomScoreAdj, trigger.oomAdj) = (0, 1, -17)
        every.trigger = trigger
        var memcg = OOMEvent.Memcg()
        (memcg.oom, memcg.task, memcg.usageKB, memcg.limitKB, memcg.failcnt) = ("/o", "/t", 1, 2, 3)
        every.memcg = memcg
        var candidate = OOMEvent.Candidate(pid: 9, name: "n")
        (candidate.uid, candidate.tgid, candidate.totalVmPages, candidate.rssPages) = (1, 2, 3, 4)
        (candidate.rssAnonPages, candidate.rssFilePages, candidate.rssShmemPages) = (5, 6, 7)
        (candidate.pgtablesBytes, candidate.swapents, candidate.oomScoreAdj) = (8, 9, 10)
        every.candidates = [candidate, OOMEvent.Candidate(pid: 0, name: "")]
        (every.constraint, every.cpuset, every.memsAllowed) = ("CONSTRAINT_NONE", "/", "0")
        var reaped = OOMEvent.Reaped()
        (reaped.anonRssKB, reaped.fileRssKB, reaped.shmemRssKB) = (0, 1, 2)
        every.reaped = reaped
        (every.raw, every.partial) = ("line 1\nline 2\r\u{7F}", false)
        var empty = every
        empty.candidates = []
        empty.trigger = OOMEvent.Trigger()
        empty.memcg = OOMEvent.Memcg()
        empty.reaped = OOMEvent.Reaped()
        empty.partial = true
        events += [every, empty]
        for event in events {
            #expect(event.json() == (try JSONWriter().encode(event)), "\(event.id)")
        }
        var infinite = every
        infinite.uptimeS = .infinity
        #expect(infinite.json() == nil)
        infinite.uptimeS = .nan
        #expect(infinite.json() == nil)
    }

    @Test func storedSnapshotsAreWrittenAsJSONWriterWritesThem() throws {
        for snapshot in try Self.samples() where snapshot.base == nil {
            var compact = Self.compact(snapshot)
            #expect(Self.checkWrite(compact), "not taken: \(snapshot.host)")
            compact.rest.processes = []
            for i in compact.processes.indices {
                compact.processes[i].vmSizeKB = nil
                compact.processes[i].oomScore = i % 2 == 0 ? nil : Int.min
            }
            compact.rest.cgroups = []
            compact.rest.memory = [:]
            compact.rest.pressure?.fullAvg10 = nil
            #expect(Self.checkWrite(compact))
        }
    }

    /// The hosts row's latest processes and meminfo, written with every post.
    @Test func latestStateIsWrittenAsJSONWriterWritesIt() throws {
        let writer = JSONWriter()
        for var snapshot in try Self.samples() {
            #expect(ProcessSample.json(snapshot.processes) == (try writer.encode(snapshot.processes)))
            #expect(MemorySnapshot.json(snapshot.memory) == (try writer.encode(snapshot.memory)))
            if var pressure = snapshot.pressure {
                #expect(pressure.json() == (try writer.encode(pressure)))
                pressure.fullAvg10 = nil
                pressure.fullTotalUs = nil
                pressure.someAvg300 = 1e-7
                #expect(pressure.json() == (try writer.encode(pressure)))
                pressure.someAvg60 = .infinity
                #expect(pressure.json() == nil)
            }
            snapshot.memory["a\"b\n"] = -1
            #expect(MemorySnapshot.json(snapshot.memory) == (try writer.encode(snapshot.memory)))
        }
        #expect(ProcessSample.json([]) == Array("[]".utf8))
        #expect(MemorySnapshot.json([:]) == Array("{}".utf8))
    }

    /// The system facts, in declaration order (the hosts row's, with every post) and in
    /// byte order (inside the stored snapshot): every field, none, and escapes.
    /// The ingest answer, written directly, is byte for byte what `JSONWriter` writes,
    /// with every optional member set, absent, and an odd pace.
    @Test func theIngestAnswerIsWrittenAsJSONWriterWritesIt() throws {
        let answers = [
            IngestResult(eventsStored: 0, eventsDuplicate: 0, snapshotsStored: 0),
            IngestResult(
                eventsStored: 3, eventsDuplicate: -1, snapshotsStored: Int.max, processRefs: true,
                snapshotDeltas: false, uploadIntervalS: 60),
            IngestResult(eventsStored: 1, eventsDuplicate: 2, snapshotsStored: 6, uploadIntervalS: 0.125),
            IngestResult(eventsStored: 1, eventsDuplicate: 2, snapshotsStored: 6, uploadIntervalS: .infinity),
        ]
        for answer in answers {
            let expected = (try? JSONWriter().encode(answer)) ?? []
            #expect(String(decoding: answer.json(), as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        }
        #expect(try JSONReader().decode(IngestResult.self, from: answers[1].json()) == answers[1])
    }

    @Test func systemFactsAreWrittenAsJSONWriterWritesThem() throws {
        var full = try SnapshotDeltaTests.real()[0]
        full.sysctl = OOMSysctls(
            overcommitMemory: 2, overcommitRatio: 80, panicOnOOM: 0, oomKillAllocatingTask: 1, swappiness: -1,
            minFreeKbytes: Int64.max)
        full.swaps = [
            SwapDevice(device: "/dev/\"zram0\"", type: "partition", sizeKB: 8_388_604, usedKB: 0, priority: -2),
            SwapDevice(device: "/swapfile", type: "file", sizeKB: 1, usedKB: 1),
        ]
        full.zram = [
            ZramDevice(device: "zram0", disksizeKB: 4_194_304, memUsedKB: 12), ZramDevice(device: "z", disksizeKB: 0),
        ]
        full.userspaceKillers = UserspaceKillers(systemdOomd: true, earlyoom: false)
        var critical = CriticalProcess(service: "sshd\tx", pid: 1, comm: "sshd")
        critical.oomScoreAdj = -1000
        critical.unit = "ssh.service"
        critical.cgroup = "/system.slice/ssh.service"
        critical.memoryMaxKB = 1
        critical.memoryHighKB = 2
        full.critical = [critical, CriticalProcess(service: "é", pid: 2, comm: "")]
        var none = full
        none.sysctl = OOMSysctls()
        none.swaps = []
        none.zram = []
        none.critical = []
        var absent = full
        absent.sysctl = nil
        absent.swaps = nil
        absent.zram = nil
        absent.userspaceKillers = nil
        absent.critical = nil
        for snapshot in [full, none, absent] + (try Self.samples()) {
            if let facts = HostSystemFacts(snapshot) {
                #expect(facts.json() == (try JSONWriter().encode(facts)))
            }
            if snapshot.base == nil { #expect(Self.checkWrite(Self.compact(snapshot))) }
        }
        #expect(HostSystemFacts(absent) == nil)
        #expect(HostSystemFacts(time: "t").json() == Array(#"{"time":"t"}"#.utf8))
    }

    /// The writer remembers the order of a set of names by their count: another set of the
    /// same count (another kernel's) is still written in its own order.
    @Test func anotherSetOfNamesOfTheSameCountIsSortedAgain() throws {
        let snapshot = try SnapshotDeltaTests.real()[0]
        #expect(Self.checkWrite(Self.compact(snapshot)))
        var renamed = snapshot
        let first = try #require(renamed.vmstat.keys.min())
        renamed.vmstat["zz_" + first] = renamed.vmstat.removeValue(forKey: first)
        renamed.memory["0_" + first] = renamed.memory.removeValue(forKey: try #require(renamed.memory.keys.max()))
        #expect(Self.checkWrite(Self.compact(renamed)))
        #expect(Self.checkWrite(Self.compact(snapshot)))
    }

    /// What only `JSONWriter` writes is left to it: a delta's base, a field name that
    /// needs escapes, a number that is not finite.
    @Test func theWriterGivesUpOnWhatItDoesNotWrite() throws {
        let snapshot = try SnapshotDeltaTests.real()[0]
        var withBase = snapshot
        withBase.base = SnapshotBase(time: "t")
        var escapedName = snapshot
        escapedName.vmstat["a\"b"] = 1
        var infinite = snapshot
        infinite.uptimeS = .infinity
        var nan = snapshot
        nan.pressure?.someAvg60 = .nan
        for odd in [withBase, escapedName, infinite, nan] {
            #expect(Self.compact(odd).sortedJSON() == nil)
        }
        // The store's encoder still writes the escaped name, by the general writer.
        #expect(try JSONWriter(sortedKeys: true).encode(Self.compact(escapedName)).count > 100)
    }
}
