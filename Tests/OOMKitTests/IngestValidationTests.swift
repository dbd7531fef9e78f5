import OOMKit
import Testing

/// The collector's reading of an ingest body, with the models: one codec, strict about
/// what decoders disagree on, and every refusal naming the field.
@Suite struct IngestValidationTests {
    @Test(arguments: [
        #"{"a":1,"a":2}"#, #"{"a":1,"\u0061":2}"#, #"{"x":{"pid":1,"pid":1}}"#,
        // Past the small-object scan: a set finds the repeat.
        "{" + (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k7\":0}",
    ])
    func duplicateKeysAreRefusedWhenAsked(json: String) throws {
        struct Any1: Decodable {}
        #expect(throws: JSONCodingError.self) {
            try JSONReader(rejectsDuplicateKeys: true).decode(Any1.self, from: Array(json.utf8))
        }
        do {
            _ = try JSONReader(rejectsDuplicateKeys: true).decode(Any1.self, from: Array(json.utf8))
        } catch {
            #expect(error.kind == .duplicateKey)
            #expect(error.description.hasPrefix("duplicate key \""), "\(error)")
        }
        // The agent's own reader keeps the last value, as before.
        _ = try JSONReader().decode(Any1.self, from: Array(json.utf8))
    }

    @Test func distinctKeysInLargeObjectsPass() throws {
        let json = "{" + (0..<300).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        let map = try JSONReader(rejectsDuplicateKeys: true).decode([String: Int].self, from: Array(json.utf8))
        #expect(map.count == 300 && map["k299"] == 299)
    }

    @Test(arguments: [
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{"total_kb":"x"},"vmstat":{},"processes":[],"cgroups":[]}]}"#,
            "snapshots[0].memory.total_kb: expected an integer, found a string"
        ),
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{"total_kb":-1},"vmstat":{},"processes":[],"cgroups":[]}]}"#,
            "snapshots[0].memory.total_kb: must be 0 or more"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel"}],"snapshots":[]}"#,
            "events[0].victim: required field is missing"
        ),
        // Paths built only when a check fails: every level of a row's path is named.
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{},"vmstat":{},"processes":[{"pid":1,"comm":"a","rss_kb":1},{"pid":2,"comm":"b","rss_kb":1,"swap_kb":-5}],"cgroups":[]}]}"#,
            "snapshots[0].processes[1].swap_kb: must be between 0 and 2^50 kB"
        ),
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{},"vmstat":{},"processes":[],"cgroups":[{"path":"/a","usage_kb":1},{"path":"","usage_kb":1}]}]}"#,
            "snapshots[0].cgroups[1].path: must not be empty"
        ),
        (
            #"{"host":"h","events":[],"snapshots":[{"host":"h","time":"2026-11-20T10:00:00Z","memory":{},"vmstat":{},"processes":[],"cgroups":[],"critical":[{"service":"sshd","pid":-3,"comm":"sshd"}]}]}"#,
            "snapshots[0].critical[0].pid: must be a process id"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","victim":{"pid":1,"comm":"x"}},{"id":"b","source":"kernel","victim":{"pid":1,"comm":"x"},"candidates":[{"pid":1,"name":"x","rss_pages":-1}]}],"snapshots":[]}"#,
            "events[1].candidates[0].rss_pages: must be 0 or more"
        ),
        (
            #"{"host":"h","events":[{"id":"a","source":"kernel","time":"2999-01-01T00:00:00Z","victim":{"pid":1,"comm":"x"}}],"snapshots":[]}"#,
            "events[0].time: out of range"
        ),
        (#"{"host":"h","events":[]}"#, "snapshots: required field is missing"),
        (#"{"host":"h","host":"g","events":[],"snapshots":[]}"#, #"duplicate key "host" in one object"#),
        ("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "JSON nested deeper than 32 levels"),
        ("{not json", "body is not valid JSON"),
    ])
    func refusalsNameTheField(body: String, message: String) {
        do {
            let batch = try IngestValidator.decode(Array(body.utf8), limits: IngestLimits())
            try IngestValidator.validate(batch, limits: IngestLimits())
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
    }

    /// What the agent's writer sends, the collector's reader takes back unchanged.
    @Test func agentOutputRoundTrips() throws {
        let batch = IngestBatch(
            host: "web-1", agent: Samples.agent, snapshots: [Samples.snapshot()],
            events: [Samples.event])
        let decoded = try IngestValidator.decode(try JSONWriter().encode(batch), limits: IngestLimits())
        #expect(decoded == batch)
    }
}
