// Foundation's JSONEncoder/JSONDecoder are the reference the codec is checked against.
import Foundation
import OOMKit
import Testing

// MARK: - Sample values

/// Every OOMKit model, with every field set and with only the required ones.
enum Samples {
    static var event: OOMEvent {
        var v = OOMEvent.Victim(pid: 4242, comm: "java")
        v.uid = 1000
        v.totalVmKB = 9_876_543
        v.anonRssKB = 1_234_567
        v.fileRssKB = 2048
        v.shmemRssKB = 0
        v.pgtablesKB = 4096
        v.oomScoreAdj = -1000
        v.score = 987
        v.cgroup = "/system.slice/app.service"
        v.unit = "app.service"
        v.containerID = "0123456789abcdef"
        v.podUID = "c0ffee00-1111-2222-3333-444455556666"
        v.cmdline = "java -Xmx4g -jar \"app.jar\" --path=C:\\tmp\\x"
        v.lastRssKB = 1_300_000
        v.rssKB = 1_236_615
        var t = OOMEvent.Trigger()
        t.pid = 77
        t.comm = "kworker/u8:2"
        t.gfpMask = "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)"
        t.order = 0
        t.oomScoreAdj = 0
        t.oomAdj = -17
        var m = OOMEvent.Memcg()
        m.oom = "/kubepods/pod1"
        m.task = "/kubepods/pod1/ctr"
        m.usageKB = 524_288
        m.limitKB = 524_288
        m.failcnt = Int64.max
        var c1 = OOMEvent.Candidate(pid: 4242, name: "java")
        c1.uid = 1000
        c1.tgid = 4242
        c1.totalVmPages = 2_469_135
        c1.rssPages = 308_641
        c1.rssAnonPages = 308_129
        c1.rssFilePages = 512
        c1.rssShmemPages = 0
        c1.pgtablesBytes = 4_194_304
        c1.swapents = 0
        c1.oomScoreAdj = -1000
        var r = OOMEvent.Reaped()
        r.anonRssKB = 0
        r.fileRssKB = 12
        r.shmemRssKB = 0
        var e = OOMEvent(source: .systemdOomd, victim: v)
        e.host = "web-1.example.com"
        e.bootID = "5c6e1a2b-3d4e-4f50-8a9b-0c1d2e3f4a5b"
        e.time = "2026-11-28T13:58:43.123456Z"
        e.uptimeS = 105_122.417_123
        e.scope = .memcg
        e.trigger = t
        e.memcg = m
        e.candidates = [c1, OOMEvent.Candidate(pid: 1, name: "(sd-pam)")]
        e.constraint = "CONSTRAINT_MEMCG"
        e.cpuset = "/"
        e.memsAllowed = "0-1"
        e.reaped = r
        e.raw = "line 1\nline\t2 \"quoted\" back\\slash /path \u{1}\u{1f}\u{7f} café 😀 \u{2028}"
        e.assignStableID()
        return e
    }

    static var bareEvent: OOMEvent { OOMEvent(id: "x", source: .kernel, victim: .init(pid: 1, comm: "")) }

    static var process: ProcessSample {
        var p = ProcessSample(pid: 1234, comm: "postgres", rssKB: 1_048_576)
        p.ppid = 1
        p.cmdline = "postgres: checkpointer"
        p.uid = 26
        p.startedAt = "2026-11-28T13:00:00Z"
        p.vmSizeKB = 4_194_304
        p.rssAnonKB = 900_000
        p.rssFileKB = 100_000
        p.rssShmemKB = 48_576
        p.swapKB = 0
        p.oomScore = 667
        p.oomScoreAdj = 0
        p.cgroup = "/system.slice/postgresql.service"
        p.unit = "postgresql.service"
        p.containerID = "abcdef"
        p.podUID = "pod"
        return p
    }

    static func snapshot(processes: Int = 3) -> MemorySnapshot {
        var s = MemorySnapshot(host: "web-1", bootID: "b00t", time: "2026-11-28T13:58:43Z", uptimeS: 1234.5)
        s.kernel = "6.1.0-18-amd64"
        s.memory = ["total_kb": 16_384_000, "available_kb": 123_456, "swap_total_kb": 0, "huge_pages_total": 0]
        for (i, name) in ["oom_kill", "pgfault", "pgmajfault", "pswpin", "nr_free_pages", "workingset_refault_anon"]
            .enumerated()
        {
            s.vmstat[name] = Int64(i) * 1_000_003
        }
        s.pressure = Pressure(
            someAvg10: 0.25, someAvg60: 1.5, someAvg300: 12.34, someTotalUs: 123_456_789, fullAvg10: 0,
            fullAvg60: 0.01, fullAvg300: 100, fullTotalUs: 98_765)
        s.processes = (0..<processes).map { i in
            var p = process
            p.pid += i
            p.rssKB -= Int64(i) * 1000
            return p
        }
        s.processes.append(ProcessSample(pid: 2, comm: "kthreadd", rssKB: 0))
        s.cgroups = [
            CgroupSample(path: "/", usageKB: 1, limitKB: nil, oomKill: 0),
            CgroupSample(path: "/system.slice", usageKB: 2, limitKB: 3, oomKill: 4),
        ]
        return s
    }

    static var bareSnapshot: MemorySnapshot { MemorySnapshot(host: "h", time: "t") }

    static var partialPressureSnapshot: MemorySnapshot {
        var s = bareSnapshot
        s.pressure = Pressure(someAvg10: 1e-7, someAvg60: 1e21, someAvg300: 0.1, someTotalUs: 0)
        return s
    }

    static var agent: AgentInfo {
        var a = AgentInfo(version: "0.1.0")
        a.intervalS = 10
        a.droppedSnapshots = 1
        a.droppedEvents = 2
        a.corruptRecords = 3
        a.kmsgOverruns = 4
        a.kmsgMissedRecords = 5
        a.unattributedKills = 6
        a.sourceErrors = Int64.min
        return a
    }

    static var batch: IngestBatch {
        IngestBatch(
            host: "web-1", bootID: "b00t", agent: agent, snapshots: [snapshot(), bareSnapshot],
            events: [event, bareEvent])
    }
}

/// Any JSON value, decoded through the generic container API only.
enum AnyJSON: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([AnyJSON])
    case object([String: AnyJSON])

    init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: JSONKey.self) {
            var members: [String: AnyJSON] = [:]
            for key in c.allKeys { members[key.stringValue] = try c.decode(AnyJSON.self, forKey: key) }
            self = .object(members)
        } else if var u = try? decoder.unkeyedContainer() {
            var items: [AnyJSON] = []
            while !u.isAtEnd { items.append(try u.decode(AnyJSON.self)) }
            self = .array(items)
        } else {
            let s = try decoder.singleValueContainer()
            if s.decodeNil() {
                self = .null
            } else if let b = try? s.decode(Bool.self) {
                self = .bool(b)
            } else if let i = try? s.decode(Int64.self) {
                self = .int(i)
            } else if let d = try? s.decode(Double.self) {
                self = .double(d)
            } else {
                self = .string(try s.decode(String.self))
            }
        }
    }
}

/// Any key.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Accepts any JSON document: decoding it succeeds exactly when parsing does.
struct AnyDocument: Decodable {
    init(from decoder: any Decoder) {}
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private func encoded<T: Encodable>(
    _ value: T, sortedKeys: Bool = false, pretty: Bool = false
) throws -> String {
    text(try JSONWriter(sortedKeys: sortedKeys, pretty: pretty).encode(value))
}

private func foundation<T: Encodable>(_ value: T, _ formatting: JSONEncoder.OutputFormatting) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = formatting.union(.withoutEscapingSlashes)
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

private func decoded<T: Decodable>(_ type: T.Type, _ json: String) throws(JSONCodingError) -> T {
    try JSONReader().decode(type, from: Array(json.utf8))
}

/// The error decoding `json` as `T` throws.
private func failure<T: Decodable>(_ type: T.Type, _ json: some Collection<UInt8>) -> JSONCodingError? {
    do {
        _ = try JSONReader().decode(type, from: json)
        return nil
    } catch {
        return error
    }
}

private func failure<T: Decodable>(_ type: T.Type, _ json: String) -> JSONCodingError? {
    failure(type, Array(json.utf8))
}

// MARK: - Models against Foundation

@Suite struct JSONCodingModelTests {
    /// JSONWriter → Foundation's decoder, Foundation's encoder → JSONReader, ours → ours,
    /// in all four output forms; sorted output byte for byte equal to Foundation's.
    /// (Foundation's unsorted key order is its dictionary's hash order, different on each
    /// run; JSONWriter's is the encoding order.)
    private func check<T: Codable & Equatable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ours = try JSONWriter().encode(value)
        #expect(try JSONDecoder().decode(T.self, from: Data(ours)) == value, sourceLocation: sourceLocation)
        let theirs = try JSONEncoder().encode(value)
        #expect(try JSONReader().decode(T.self, from: theirs) == value, sourceLocation: sourceLocation)
        #expect(try JSONReader().decode(T.self, from: ours) == value, sourceLocation: sourceLocation)
        let forms: [(Bool, Bool, JSONEncoder.OutputFormatting)] = [
            (false, false, []), (true, false, .sortedKeys), (true, true, [.sortedKeys, .prettyPrinted]),
            (false, true, .prettyPrinted),
        ]
        for (sorted, pretty, formatting) in forms {
            let mine = try encoded(value, sortedKeys: sorted, pretty: pretty)
            if sorted {
                #expect(
                    mine == (try foundation(value, formatting)), "pretty: \(pretty)", sourceLocation: sourceLocation)
            }
            #expect(try JSONReader().decode(T.self, from: Array(mine.utf8)) == value, sourceLocation: sourceLocation)
            #expect(try JSONDecoder().decode(T.self, from: Data(mine.utf8)) == value, sourceLocation: sourceLocation)
        }
    }

    @Test func oomEventWithEveryField() throws {
        let e = Samples.event
        #expect(e.candidates?.count == 2 && e.reaped != nil && e.raw != nil)
        try check(e)
        try check(Samples.bareEvent)
        for source in OOMEvent.Source.allCases {
            for scope in OOMEvent.Scope.allCases {
                var v = Samples.bareEvent
                v.source = source
                v.scope = scope
                try check(v)
            }
        }
    }

    @Test func memorySnapshots() throws {
        try check(Samples.snapshot())
        try check(Samples.snapshot(processes: 20))
        try check(Samples.bareSnapshot)
        try check(Samples.partialPressureSnapshot)
        // nil optionals are left out, not written as null.
        #expect(
            try encoded(Samples.bareSnapshot, sortedKeys: true)
                == #"{"cgroups":[],"host":"h","memory":{},"processes":[],"time":"t","vmstat":{}}"#)
    }

    @Test func batchAndAPIBodies() throws {
        try check(Samples.batch)
        try check(IngestBatch(host: "h"))
        try check(Samples.agent)
        try check(AgentInfo(version: ""))
        try check(IngestResult(eventsStored: 3, eventsDuplicate: 0, snapshotsStored: Int.max))
        try check(APIErrorBody(message: "bad \"batch\": \n"))
        #expect(
            try encoded(APIErrorBody(message: "no")) == #"{"error":{"message":"no"}}"#)
    }

    /// The agent's spooled records and uploads, read back as the collector reads them.
    @Test func agentRecordsDecodeWithFoundation() throws {
        let writer = JSONWriter()
        var out: [UInt8] = Array("prefix:".utf8)
        try writer.encode(Samples.agent, into: &out)
        #expect(text(out).hasPrefix("prefix:{\"version\":\"0.1.0\""))
        #expect(try JSONDecoder().decode(AgentInfo.self, from: Data(out.dropFirst(7))) == Samples.agent)
    }
}

// MARK: - Exact output

@Suite struct JSONWriterOutputTests {
    @Test func escapes() throws {
        let s = "a/b\"\\\n\r\t\u{8}\u{c}\u{0}\u{1}\u{1f} \u{7f}é😀\u{2028}"
        #expect(try encoded(s) == #""a/b\"\\\n\r\t\b\f\u0000\u0001\u001f "# + "\u{7f}é😀\u{2028}\"")
        #expect(try encoded(s) == (try foundation(s, [])))
        #expect(try encoded("") == #""""#)
    }

    @Test func sortedKeysByUTF8Bytes() throws {
        let d = [
            "a10": 1, "a2": 2, "B": 3, "a": 4, "_x": 5, "é": 6, "Z": 7, "some_avg10": 8, "some_avg300": 9,
            "some_avg60": 10, "a-b": 11, "ab": 12,
        ]
        let expected =
            #"{"B":3,"Z":7,"_x":5,"a":4,"a-b":11,"a10":1,"a2":2,"ab":12,"some_avg10":8,"some_avg300":9,"#
            + #""some_avg60":10,"é":6}"#
        #expect(try encoded(d, sortedKeys: true) == expected)
        #expect(try encoded(d, sortedKeys: true) == (try foundation(d, .sortedKeys)))
    }

    struct Nested: Encodable {
        var b = ["x": 1]
        var a: [String: Int] = [:]
        var c: [[[Int]]] = [[[1], [2, 3]], []]
        var d: [Int] = []
    }

    @Test func prettyForm() throws {
        let expected = """
            {
              "a" : {

              },
              "b" : {
                "x" : 1
              },
              "c" : [
                [
                  [
                    1
                  ],
                  [
                    2,
                    3
                  ]
                ],
                [

                ]
              ],
              "d" : [

              ]
            }
            """
        #expect(try encoded(Nested(), sortedKeys: true, pretty: true) == expected)
        #expect(
            try encoded(Nested(), sortedKeys: true, pretty: true)
                == (try foundation(Nested(), [.sortedKeys, .prettyPrinted])))
        #expect(try encoded(Nested()) == #"{"b":{"x":1},"a":{},"c":[[[1],[2,3]],[]],"d":[]}"#)
    }

    @Test func emptyContainersAndScalars() throws {
        #expect(try encoded([Int]()) == "[]")
        #expect(try encoded([String: Int]()) == "{}")
        #expect(try encoded([Int](), pretty: true) == "[\n\n]")
        #expect(try encoded([String: Int](), pretty: true) == "{\n\n}")
        #expect(try encoded([[Int]]()) == "[]")
        #expect(try encoded([[Int]()]) == "[[]]")
        #expect(try encoded("str") == #""str""#)
        #expect(try encoded(42) == "42")
        #expect(try encoded(true) == "true")
        #expect(try encoded(Int?.none) == "null")
        #expect(try encoded(Int?.some(1)) == "1")
        #expect(try encoded([1, nil, 3] as [Int?]) == "[1,null,3]")
        #expect(try encoded(7, pretty: true) == "7")
    }

    struct Widths: Encodable {
        var i8 = Int8.min, u8 = UInt8.max, i16 = Int16.min, u16 = UInt16.max, i32 = Int32.min
        var u32 = UInt32.max, i64min = Int64.min, i64max = Int64.max, u64 = UInt64.max
        var int = Int.min, uint = UInt.max, zero = 0
    }

    @Test func integersOfEveryWidth() throws {
        #expect(try encoded([Int64.min, Int64.max]) == "[-9223372036854775808,9223372036854775807]")
        #expect(try encoded(UInt64.max) == "18446744073709551615")
        #expect(try encoded([UInt64.max]) == "[18446744073709551615]")
        #expect(try encoded(["k": UInt64.max]) == #"{"k":18446744073709551615}"#)
        #expect(try encoded([Int8.min, 0, 9, 10, 99, 100]) == "[-128,0,9,10,99,100]")
        let expected =
            #"{"i8":-128,"u8":255,"i16":-32768,"u16":65535,"i32":-2147483648,"u32":4294967295,"#
            + #""i64min":-9223372036854775808,"i64max":9223372036854775807,"u64":18446744073709551615,"#
            + #""int":-9223372036854775808,"uint":18446744073709551615,"zero":0}"#
        #expect(try encoded(Widths()) == expected)
        #expect(try encoded(Widths(), sortedKeys: true) == (try foundation(Widths(), .sortedKeys)))
    }

    @Test(arguments: [
        (1.0, "1"), (0.5, "0.5"), (1e-5, "1e-05"), (1e20, "1e+20"), (1e15, "1000000000000000"), (1e16, "1e+16"),
        (0.1, "0.1"), (0.30000000000000004, "0.30000000000000004"), (-0.0, "-0"), (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (123_456_789_012_345_680, "1.2345678901234568e+17"),
        (100, "100"), (-2.5e-7, "-2.5e-07"), (12345.678, "12345.678"), (Double(Int64.max), "9.223372036854776e+18"),
    ])
    func doubles(_ value: Double, _ expected: String) throws {
        #expect(try encoded(value) == expected)
        #expect(try encoded([value]) == (try foundation([value], [])))
        #expect(try JSONReader().decode(Double.self, from: Array(expected.utf8)).bitPattern == value.bitPattern)
    }

    @Test func floats() throws {
        let values: [Float] = [1, 0.1, 1e-5, 16_777_216, 1e10, Float.greatestFiniteMagnitude, -0.0]
        #expect(try encoded(values) == "[1,0.1,1e-05,16777216,1e+10,3.4028235e+38,-0]")
        #expect(try encoded(values) == (try foundation(values, [])))
    }

    @Test func nonFiniteNumbersThrow() throws {
        var s = Samples.bareSnapshot
        s.pressure = Pressure(someAvg10: .nan, someAvg60: 0, someAvg300: 0, someTotalUs: 0)
        #expect(throws: JSONCodingError.self) { try JSONWriter().encode(s) }
        do {
            _ = try JSONWriter().encode(s)
        } catch {
            #expect(error.kind == .invalidValue)
            #expect(error.path == "pressure.some_avg10")
            #expect(
                error.description == "at pressure.some_avg10: cannot encode Double nan: JSON has no NaN or infinity")
        }
        let inArray = #expect(throws: JSONCodingError.self) { try JSONWriter().encode(["k": [1, Double.infinity]]) }
        #expect(inArray?.path == "k[1]")
        let top = #expect(throws: JSONCodingError.self) { try JSONWriter().encode(-Float.infinity) }
        #expect(top?.path == "" && top?.description.hasPrefix("at the top level: cannot encode Float -inf") == true)
        // Nothing is appended when encoding fails.
        var out: [UInt8] = [1, 2]
        #expect(throws: JSONCodingError.self) { try JSONWriter().encode([Double.nan], into: &out) }
        #expect(out == [1, 2])
    }

    struct WithNil: Encodable {
        var a: Int?
        var b: String? = "x"
    }

    /// `encodeNil` writes null; nested containers and `superEncoder` as Foundation does.
    struct Manual: Encodable {
        enum K: String, CodingKey { case a, b, c, x, y }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encodeNil(forKey: .a)
            var b = c.nestedUnkeyedContainer(forKey: .b)
            try b.encodeNil()
            var inner = b.nestedContainer(keyedBy: K.self)
            try inner.encode(true, forKey: .a)
            var x = c.nestedUnkeyedContainer(forKey: .x)
            var y = c.nestedContainer(keyedBy: K.self, forKey: .y)
            // Filled after a later sibling was started.
            try x.encode(1)
            try y.encode("y", forKey: .c)
            try x.encode(UInt8(3))
            #expect(x.count == 2)
            #expect(y.codingPath.map(\.stringValue) == ["y"])
            _ = c.superEncoder()
            var s = c.superEncoder(forKey: .c).unkeyedContainer()
            try s.encode(2.5)
            var deeper = s.superEncoder().singleValueContainer()
            try deeper.encode("deep")
        }
    }

    @Test func nilNestedAndSuper() throws {
        #expect(try encoded(WithNil()) == #"{"b":"x"}"#)
        #expect(try encoded(WithNil(a: 1, b: nil)) == #"{"a":1}"#)
        let expected = #"{"a":null,"b":[null,{"a":true}],"x":[1,3],"y":{"c":"y"},"super":{},"c":[2.5,"deep"]}"#
        #expect(try encoded(Manual()) == expected)
        #expect(
            try encoded(Manual(), sortedKeys: true)
                == #"{"a":null,"b":[null,{"a":true}],"c":[2.5,"deep"],"super":{},"x":[1,3],"y":{"c":"y"}}"#)
        #expect(try encoded(Manual(), sortedKeys: true) == (try foundation(Manual(), .sortedKeys)))
    }

    /// A key encoded twice keeps its last value, written where it was encoded last.
    struct Repeated: Encodable {
        enum K: CodingKey { case a, b }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            try c.encode(1, forKey: .a)
            try c.encode(2, forKey: .b)
            try c.encode(3, forKey: .a)
            var again = encoder.container(keyedBy: K.self)
            try again.encode(4, forKey: .b)
        }
    }

    struct ManyRepeated: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            for i in 0..<40 { try c.encode(i, forKey: JSONKey("k\(i % 35)")) }
        }
    }

    @Test func repeatedKeys() throws {
        #expect(try encoded(Repeated()) == #"{"a":3,"b":4}"#)
        #expect(try encoded(Repeated(), sortedKeys: true) == #"{"a":3,"b":4}"#)
        #expect(try encoded(Repeated(), sortedKeys: true) == (try foundation(Repeated(), .sortedKeys)))
        let many = (5..<35).map { #""k\#($0)":\#($0)"# } + (0..<5).map { #""k\#($0)":\#($0 + 35)"# }
        #expect(try encoded(ManyRepeated()) == "{" + many.joined(separator: ",") + "}")
        #expect(try encoded(ManyRepeated(), sortedKeys: true) == (try foundation(ManyRepeated(), .sortedKeys)))
    }

    struct EncodesNothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    struct Failing: Encodable {
        struct Oops: Error {}
        func encode(to encoder: any Encoder) throws { throw Oops() }
    }

    @Test func valuesThatEncodeNothingOrFail() throws {
        let e = #expect(throws: JSONCodingError.self) { try JSONWriter().encode(EncodesNothing()) }
        #expect(e?.kind == .invalidValue)
        #expect(try encoded([EncodesNothing()]) == "[{}]")
        let f = #expect(throws: JSONCodingError.self) { try JSONWriter().encode(["a": Failing()]) }
        #expect(f?.kind == .other && f?.message == "Oops()")
    }

    /// What the agent writes, from the same bytes as a Foundation round trip.
    @Test func encodeIntoAppends() throws {
        var out: [UInt8] = Array(#"{"host":"#.utf8)
        try JSONWriter().encode("a\"b", into: &out)
        out.append(0x7D)
        #expect(text(out) == #"{"host":"a\"b"}"#)
    }
}

// MARK: - Decoding

@Suite struct JSONReaderTests {
    static let suiteDirectory = Fixture.directory + "/json-test-suite"

    static func suite(_ prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: suiteDirectory)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    static func suiteBytes(_ name: String) throws -> [UInt8] {
        try Fixture.bytes("json-test-suite/" + name)
    }

    @Test func suiteIsPresent() {
        #expect(Self.suite("y_").count == 95)
        #expect(Self.suite("n_").count == 188)
        #expect(Self.suite("i_").count == 35)
    }

    /// Every valid document parses, and (where Foundation reads it) to the same value.
    @Test func acceptsEveryValidDocument() throws {
        for name in Self.suite("y_") {
            let bytes = try Self.suiteBytes(name)
            #expect(failure(AnyDocument.self, bytes) == nil, "\(name)")
            let ours: AnyJSON
            do {
                ours = try JSONReader().decode(AnyJSON.self, from: bytes)
            } catch {
                Issue.record("\(name): \(error)")
                continue
            }
            // Foundation keeps the first of repeated keys; JSONReader the last.
            guard !name.contains("duplicated_key"),
                let theirs = try? JSONDecoder().decode(AnyJSON.self, from: Data(bytes))
            else { continue }
            #expect(ours == theirs, "\(name)")
        }
    }

    @Test func rejectsEveryInvalidDocument() throws {
        for name in Self.suite("n_") {
            let error = failure(AnyDocument.self, try Self.suiteBytes(name))
            #expect(error?.kind == .invalidJSON, "\(name) was accepted")
            #expect(error?.offset != nil, "\(name)")
        }
    }

    /// Implementation-defined cases: numbers parse (decoding one that does not fit is an
    /// error then), 500 levels of nesting parse; bad surrogates, invalid UTF-8, UTF-16 and
    /// a byte-order mark are rejected.
    @Test func implementationDefinedDocuments() throws {
        for name in Self.suite("i_") {
            let error = failure(AnyDocument.self, try Self.suiteBytes(name))
            if name.hasPrefix("i_number_") || name == "i_structure_500_nested_arrays.json" {
                #expect(error == nil, "\(name): \(String(describing: error))")
            } else {
                #expect(error?.kind == .invalidJSON, "\(name) was accepted")
            }
        }
        let huge = failure([Double].self, try Self.suiteBytes("i_number_huge_exp.json"))
        #expect(huge?.kind == .dataCorrupted && huge?.path == "[0]")
        #expect(try JSONReader().decode([Double].self, from: Self.suiteBytes("i_number_real_underflow.json")) == [0])
        #expect(failure([Int64].self, try Self.suiteBytes("i_number_too_big_neg_int.json"))?.kind == .dataCorrupted)
    }

    @Test func nestingDepthIsLimited() throws {
        func nested(_ n: Int) -> [UInt8] { Array(repeating: 0x5B, count: n) + Array(repeating: 0x5D, count: n) }
        #expect(failure(AnyDocument.self, nested(512)) == nil)
        let deep = failure(AnyDocument.self, nested(513))
        #expect(deep?.kind == .invalidJSON && deep?.offset == 512)
        #expect(deep?.message.contains("nested more than 512 deep") == true)
        #expect(failure(AnyDocument.self, Array(repeating: 0x5B, count: 1_000_000))?.kind == .invalidJSON)
        #expect(failure(AnyDocument.self, Array(repeating: 0x7B, count: 1_000_000)) != nil)
        let objects = Array(String(repeating: #"{"a":"#, count: 600).utf8)
        #expect(failure(AnyDocument.self, objects)?.message.contains("nested") == true)
        #expect(throws: JSONCodingError.self) { try JSONReader(maxDepth: 2).decode(AnyDocument.self, from: nested(3)) }
        #expect(try JSONReader(maxDepth: 2).decode([[Int]].self, from: Array("[[1]]".utf8)) == [[1]])
    }

    /// Every width, at and past its limits; Foundation agrees wherever both answer.
    @Test func integersOfEveryWidth() throws {
        func check<I: FixedWidthInteger & Decodable>(
            _ type: I.Type, _ json: String, _ expected: I?, foundationAgrees: Bool = true,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let ours = try? JSONReader().decode(I.self, from: Array(json.utf8))
            #expect(ours == expected, "\(json) as \(I.self)", sourceLocation: sourceLocation)
            let theirs = try? JSONDecoder().decode(I.self, from: Data(json.utf8))
            #expect(
                (theirs == expected) == foundationAgrees, "Foundation: \(json) as \(I.self)",
                sourceLocation: sourceLocation)
        }
        check(Int8.self, "-128", .min)
        check(Int8.self, "127", .max)
        check(Int8.self, "128", nil)
        check(Int8.self, "-129", nil)
        check(UInt8.self, "255", .max)
        check(UInt8.self, "256", nil)
        check(UInt8.self, "-1", nil)
        check(UInt8.self, "-0", 0)
        check(Int16.self, "-32768", .min)
        check(Int16.self, "32768", nil)
        check(UInt16.self, "65535", .max)
        check(UInt16.self, "65536", nil)
        check(Int32.self, "-2147483648", .min)
        check(Int32.self, "2147483648", nil)
        check(UInt32.self, "4294967295", .max)
        check(UInt32.self, "4294967296", nil)
        check(Int64.self, "-9223372036854775808", .min)
        check(Int64.self, "9223372036854775807", .max)
        check(Int64.self, "9223372036854775808", nil)
        check(Int64.self, "-9223372036854775809", nil)
        check(UInt64.self, "18446744073709551615", .max)
        check(UInt64.self, "18446744073709551616", nil)
        check(UInt64.self, "184467440737095516150", nil)
        check(Int.self, "-9223372036854775808", .min)
        check(UInt.self, "18446744073709551615", .max)
        // Written with a fraction or exponent: an integer if its value is one.
        check(Int.self, "1.0", 1)
        check(Int.self, "1e2", 100)
        check(Int.self, "1E+2", 100)
        check(Int.self, "12.50e1", 125)
        check(Int.self, "-0", 0)
        check(Int.self, "1.5", nil)
        check(Int.self, "1e-2", nil)
        check(Int.self, "1E400", nil)
        check(UInt64.self, "100000000000000000000e-2", 1_000_000_000_000_000_000)
        // Foundation reads these through a Double and gives up; they are exact integers.
        check(UInt64.self, "1.8446744073709551615e19", .max, foundationAgrees: false)
        check(UInt64.self, "1.8446744073709551616e19", nil)
        check(Int64.self, "-9.223372036854775808e18", .min, foundationAgrees: false)
        // Not numbers.
        check(Int.self, #""1""#, nil)
        check(Int.self, "true", nil)
        check(Int.self, "null", nil)
    }

    @Test func doublesAndFloats() throws {
        #expect(try decoded(Double.self, "0.1") == 0.1)
        #expect(try decoded(Double.self, "-0").sign == .minus)
        #expect(try decoded(Double.self, "-0.0e5").sign == .minus)
        #expect(try decoded(Double.self, "1E22") == 1e22)
        #expect(try decoded(Double.self, "1e-400") == 0)
        #expect(try decoded(Double.self, "18446744073709551615") == 18_446_744_073_709_551_615)
        #expect(try decoded(Double.self, "123456789012345678901234567890") == 1.2345678901234568e29)
        #expect(try decoded(Double.self, "9007199254740993") == 9_007_199_254_740_992)
        #expect(try decoded(Double.self, "2.2250738585072011e-308") == 2.2250738585072011e-308)
        let big = failure(Double.self, "1e400")
        #expect(
            big?.kind == .dataCorrupted && big?.description == "at the top level: number 1e400 does not fit in Double")
        #expect(try decoded(Float.self, "0.1") == Float(0.1))
        #expect(try decoded(Float.self, "16777217") == 16_777_216)
        #expect(failure(Float.self, "1e39")?.kind == .dataCorrupted)
        #expect(failure(Double.self, #""1""#)?.kind == .typeMismatch)
    }

    @Test func strings() throws {
        #expect(try decoded(String.self, #""plain""#) == "plain")
        #expect(try decoded(String.self, #""\"\\\/\b\f\n\r\t""#) == "\"\\/\u{8}\u{c}\n\r\t")
        #expect(try decoded(String.self, #""caf\u00e9 \u00E9 \u0000""#) == "café é \u{0}")
        #expect(try decoded(String.self, #""\ud83d\ude00 \uD834\uDD1E""#) == "😀 𝄞")
        #expect(try decoded(String.self, "\"raw 😀 é\"") == "raw 😀 é")
        #expect(try decoded(String.self, #""a\u0041\n""# + " ") == "aA\n")
        let lone = failure(String.self, #""\ud800""#)
        #expect(lone?.kind == .invalidJSON && lone?.message.contains("high surrogate \\ud800") == true)
        #expect(failure(String.self, #""\ud800\u0041""#)?.kind == .invalidJSON)
        #expect(failure(String.self, #""\udc00""#)?.message.contains("unpaired low surrogate") == true)
        #expect(failure(String.self, #""\u12""#)?.kind == .invalidJSON)
        #expect(failure(String.self, #""\x""#)?.message.contains("invalid escape") == true)
        for bad: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
            [0x22, 0xE2, 0x82, 0x22], [0x22, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
            [0x22, 0x5C, 0x6E, 0xFF, 0x22],
        ] {
            let e = failure(String.self, bad)
            #expect(e?.kind == .invalidJSON && e?.message.contains("UTF-8") == true, "\(bad): \(String(describing: e))")
        }
        // A run of plain ASCII is taken without validation: a byte past 0x7F anywhere in
        // it still sends the whole run through the check.
        let ascii = String(repeating: "a", count: 100)
        #expect(try decoded(String.self, "\"\(ascii)é\(ascii)\"") == ascii + "é" + ascii)
        let late = failure(String.self, [0x22] + Array(ascii.utf8) + [0xFF] + Array(ascii.utf8) + [0x22])
        #expect(late?.message.contains("UTF-8") == true && late?.offset == 101, "\(String(describing: late))")
        let control = failure(String.self, [0x22, 0x61, 0x0A, 0x22])
        #expect(control?.message.contains("control character") == true && control?.offset == 2)
        #expect(failure(String.self, #""abc"#)?.message.contains("end of input") == true)
    }

    /// Strings with escapes are read run by run (plain bytes between escapes copied in one
    /// piece): escapes at either end, next to each other and between long runs, and every
    /// error found at the byte it is about.
    @Test func stringsWithEscapesBetweenRuns() throws {
        let run = String(repeating: "oom-killer: gfp_mask=0xcc0 ", count: 40)
        #expect(try decoded(String.self, "\"\\n\(run)\\t\(run)\\u00e9\"") == "\n\(run)\t\(run)é")
        #expect(try decoded(String.self, #""\n\n\u0041\ud83d\ude00\"""#) == "\n\nA😀\"")
        #expect(try decoded(String.self, "\"é\(run)\\\\😀\"") == "é\(run)\\😀")
        // A kernel report as the agent writes it comes back byte for byte.
        var report = ""
        for k in 0..<200 {
            report += "[  105.\(k)] CPU: 1 PID: \(k) Comm: \"py\\thon\"\t\u{1}é😀 \(run.prefix(k % 50))\n"
        }
        #expect(try decoded(String.self, String(decoding: try JSONWriter().encode(report), as: UTF8.self)) == report)
        // A control character, bad UTF-8 or a bad escape after an escape is still refused.
        let control = failure(String.self, [0x22, 0x5C, 0x6E, 0x61, 0x61, 0x09, 0x22])
        #expect(control?.message.contains("control character") == true && control?.offset == 5)
        let utf8 = failure(String.self, [0x22, 0x5C, 0x6E, 0x61, 0x61, 0xC3, 0x22])
        #expect(utf8?.message.contains("UTF-8") == true && utf8?.offset == 5)
        #expect(failure(String.self, #""ab\ncd\q""#)?.message.contains("invalid escape '\\q'") == true)
        #expect(failure(String.self, #""ab\ncd"#)?.message.contains("end of input") == true)
        #expect(failure(String.self, #""ab\ncd\"#)?.message.contains("end of input") == true)
        #expect(failure(String.self, #""ab\ncd\ud800x""#)?.message.contains("high surrogate") == true)
    }

    @Test func documents() throws {
        #expect(try decoded(Int?.self, "null") == nil)
        #expect(try decoded(Bool.self, " \t\r\ntrue\n") == true)
        #expect(try decoded([String: [Int]].self, #"{"a":[1,2],"b":[]}"#) == ["a": [1, 2], "b": []])
        for bad in [
            "", " ", "1 2", "[1,]", "{\"a\":1,}", "tru", "nul", "01", "-", "1.", ".5", "1e", "+1", "[1}", "\u{FEFF}1",
        ] {
            #expect(failure(AnyDocument.self, bad)?.kind == .invalidJSON, "\(bad)")
        }
        let syntax = failure(AnyDocument.self, "{\n  \"a\" 1}")
        #expect(syntax?.offset == 8)
        #expect(
            syntax?.description == "invalid JSON at byte 8: line 2, column 7: unexpected '1' after a key, expected ':'")
    }

    @Test func anyCollectionOfBytes() throws {
        let json = #"["x",1]"#
        #expect(try JSONReader().decode(AnyJSON.self, from: json.utf8) == .array([.string("x"), .int(1)]))
        #expect(try JSONReader().decode(AnyJSON.self, from: Data(json.utf8)) == .array([.string("x"), .int(1)]))
        let padded = Array(("  " + json + "??").utf8)
        #expect(try JSONReader().decode([AnyJSON].self, from: padded[2..<(padded.count - 2)]).count == 2)
    }

    struct Pair: Decodable, Equatable {
        var a: Int
        var b: String?
    }

    @Test func repeatedKeysLastWins() throws {
        #expect(try decoded(Pair.self, #"{"a":1,"b":"x","a":2}"#) == Pair(a: 2, b: "x"))
        #expect(try decoded([String: Int].self, #"{"a":1,"a":2}"#) == ["a": 2])
        // Big enough for the keyed container's index.
        let members = (0..<40).map { #""k\#($0 % 30)":\#($0)"# }.joined(separator: ",")
        let d = try decoded([String: Int].self, "{" + members + "}")
        #expect(d.count == 30 && d["k0"] == 30 && d["k9"] == 39 && d["k10"] == 10)
        let any = try decoded(AnyJSON.self, "{" + members + "}")
        guard case .object(let o) = any else { throw JSONCodingError(kind: .other, path: "", message: "not an object") }
        #expect(o.count == 30)
    }

    /// The keyed container's whole API.
    struct KeyedProbe: Decodable {
        enum K: String, CodingKey { case a, b, n, missing, nested, list, `super`, sup2 }
        var log: [String] = []

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: K.self)
            log.append("keys " + c.allKeys.map(\.stringValue).sorted().joined(separator: ","))
            log.append("contains \(c.contains(.a)) \(c.contains(.missing)) \(c.contains(.n))")
            log.append("nil \(try c.decodeNil(forKey: .n)) \(try c.decodeNil(forKey: .a))")
            log.append("ifPresent \(String(describing: try c.decodeIfPresent(Int.self, forKey: .n)))")
            log.append("ifPresent \(String(describing: try c.decodeIfPresent(UInt16.self, forKey: .missing)))")
            log.append("ifPresent \(String(describing: try c.decodeIfPresent([Int].self, forKey: .list)))")
            log.append("ifPresent \(String(describing: try c.decodeIfPresent(Float.self, forKey: .b)))")
            let nested = try c.nestedContainer(keyedBy: K.self, forKey: .nested)
            log.append("nested \(try nested.decode(Int8.self, forKey: .a)) \(nested.codingPath.map(\.stringValue))")
            var list = try c.nestedUnkeyedContainer(forKey: .list)
            log.append("list \(list.count ?? -1) \(try list.decode(UInt32.self))")
            let sup = try c.superDecoder().singleValueContainer()
            log.append("super \(try sup.decode(String.self))")
            let sup2 = try c.superDecoder(forKey: .sup2).singleValueContainer()
            log.append("sup2 nil \(sup2.decodeNil())")
            do {
                _ = try c.decode(Int.self, forKey: .missing)
                log.append("no throw")
            } catch DecodingError.keyNotFound(let key, _) {
                log.append("keyNotFound \(key.stringValue)")
            }
            do {
                _ = try c.decodeNil(forKey: .missing)
            } catch DecodingError.keyNotFound {
                log.append("decodeNil keyNotFound")
            }
            do {
                _ = try c.nestedContainer(keyedBy: K.self, forKey: .list)
            } catch DecodingError.typeMismatch(_, let context) {
                log.append("typeMismatch \(context.codingPath.map(\.stringValue))")
            }
        }
    }

    @Test func keyedContainer() throws {
        let json = #"{"a":7,"b":2.5,"n":null,"nested":{"a":-3},"list":[4,5],"super":"s","a":8}"#
        let log = try decoded(KeyedProbe.self, json).log
        #expect(
            log == [
                "keys a,b,list,n,nested,super", "contains true false true", "nil true false", "ifPresent nil",
                "ifPresent nil", "ifPresent Optional([4, 5])", "ifPresent Optional(2.5)",
                #"nested -3 ["nested"]"#, "list 2 4", "super s", "sup2 nil true", "keyNotFound missing",
                "decodeNil keyNotFound", #"typeMismatch ["list"]"#,
            ])
    }

    /// The unkeyed container's whole API.
    struct UnkeyedProbe: Decodable {
        enum K: CodingKey { case x }
        var log: [String] = []

        init(from decoder: any Decoder) throws {
            var u = try decoder.unkeyedContainer()
            log.append("count \(u.count ?? -1) \(u.isAtEnd) \(u.currentIndex)")
            log.append("nil \(try u.decodeNil()) \(try u.decodeNil()) \(u.currentIndex)")
            do {
                _ = try u.decode(String.self)
            } catch DecodingError.typeMismatch(_, let context) {
                log.append("mismatch at \(context.codingPath.map { $0.intValue ?? -1 }) still \(u.currentIndex)")
            }
            log.append("int \(try u.decode(Int16.self))")
            let nested = try u.nestedContainer(keyedBy: K.self)
            log.append("nested \(try nested.decode(Bool.self, forKey: .x))")
            var inner = try u.nestedUnkeyedContainer()
            log.append("inner \(try inner.decode(Double.self)) \(inner.isAtEnd)")
            let sup = try u.superDecoder()
            log.append("super \(try sup.singleValueContainer().decode(String.self))")
            log.append("end \(u.isAtEnd) \(String(describing: try u.decodeIfPresent(Int.self)))")
            do {
                _ = try u.decode(Int.self)
            } catch DecodingError.valueNotFound(_, let context) {
                log.append("valueNotFound \(context.debugDescription)")
            }
        }
    }

    @Test func unkeyedContainer() throws {
        let log = try decoded(UnkeyedProbe.self, #"[null, 12, {"x":true}, [0.5], "s"]"#).log
        #expect(
            log == [
                "count 5 false 0", "nil true false 1", "mismatch at [1] still 1", "int 12", "nested true",
                "inner 0.5 true", "super s", "end true nil", "valueNotFound expected Int, found the end of the array",
            ])
    }

    /// Errors name the key path and what was wrong.
    @Test func errorMessages() throws {
        var json = text(try JSONWriter().encode(Samples.snapshot()))
        json = json.replacingOccurrences(of: #""rss_kb":1047576"#, with: #""rss_kb":"big""#)
        let mismatch = failure(MemorySnapshot.self, json)
        #expect(mismatch?.kind == .typeMismatch)
        #expect(mismatch?.path == "processes[1].rss_kb")
        #expect(mismatch?.description == "at processes[1].rss_kb: expected Int64, found a string")

        let missing = failure(OOMEvent.self, #"{"id":"x","source":"kernel","victim":{"pid":1}}"#)
        #expect(missing?.kind == .keyNotFound)
        #expect(missing?.path == "victim.comm")
        #expect(missing?.description == "at victim.comm: key is missing")

        let null = failure(OOMEvent.self, #"{"id":null,"source":"kernel","victim":{"pid":1,"comm":"a"}}"#)
        #expect(null?.kind == .valueNotFound && null?.description == "at id: expected String, found null")

        let enumValue = failure(OOMEvent.self, #"{"id":"x","source":"bogus","victim":{"pid":1,"comm":"a"}}"#)
        #expect(enumValue?.kind == .dataCorrupted && enumValue?.path == "source")

        let range = failure(OOMEvent.self, #"{"id":"x","source":"kernel","victim":{"pid":1,"comm":"a","uid":1e30}}"#)
        #expect(range?.kind == .dataCorrupted && range?.description == "at victim.uid: number 1e30 does not fit in Int")

        let notObject = failure(IngestResult.self, "[]")
        #expect(notObject?.description == "at the top level: expected an object, found an array")

        let inArray = failure([[Int]].self, "[[1],[2,true]]")
        #expect(inArray?.path == "[1][1]" && inArray?.description == "at [1][1]: expected Int, found a boolean")
    }
}

// MARK: - Speed (not a timed test: a sanity check that runs in any build)

@Suite struct JSONCodingSpeedTests {
    /// A snapshot with 20 processes survives many encode/decode cycles unchanged.
    @Test func repeatedRoundTrips() throws {
        let s = Samples.snapshot(processes: 20)
        let writer = JSONWriter()
        let reader = JSONReader()
        var bytes = try writer.encode(s)
        for _ in 0..<50 {
            bytes = try writer.encode(try reader.decode(MemorySnapshot.self, from: bytes))
        }
        #expect(try reader.decode(MemorySnapshot.self, from: bytes) == s)
    }
}
