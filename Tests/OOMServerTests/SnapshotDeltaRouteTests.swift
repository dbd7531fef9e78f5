import Foundation
import Hummingbird
import HummingbirdTesting
import OOMAgent
import OOMKit
import OOMServer
import OOMStore
import Testing

/// Snapshots as deltas through the real router, made by the agent's own body builder and
/// state (issue 15, "wire"): every stored snapshot is exactly the one sampled, across an
/// agent restart and a collector that lost its state.
@Suite struct SnapshotDeltaRouteTests {
    static let host = "build-1"

    /// `count` snapshots 10 s apart from the three real ones, with churn: RSS and memory
    /// move, vmstat counters grow, a process is replaced, a meminfo field comes and goes.
    static func sampled(count: Int) throws -> [MemorySnapshot] {
        let dir = #filePath[..<(#filePath.lastIndex(of: "/")!)]
        let text = try String(contentsOfFile: dir + "/Fixtures/real-snapshots.jsonl", encoding: .utf8)
        let real = try text.split(separator: "\n").map {
            try JSONReader().decode(MemorySnapshot.self, from: Array($0.utf8))
        }
        return (0..<count).map { i in
            var s = real[i % real.count]
            s.time = RFC3339.format(epochMicroseconds: 1_795_600_800_000_000 + Int64(i) * 10_000_000)
            s.uptimeS = 1000 + Double(i) * 10
            s.memory["available_kb", default: 0] += Int64(i) * 1024
            if i % 4 == 3 { s.memory["hugetlb_kb"] = nil }
            for key in s.vmstat.keys { s.vmstat[key, default: 0] += Int64(i) * 7 }
            for j in s.processes.indices { s.processes[j].rssKB += Int64(i * j) }
            if i >= 6, !s.processes.isEmpty {
                s.processes[0].pid = 3_000_000 + i / 3
                s.processes[0].startedAt = s.time
            }
            return s
        }
    }

    /// One agent's upload state, posting as `UploaderService` does: a 409 forgets what
    /// the collector held and sends the same batch again in full. A class, so one agent
    /// outlives a collector (the routers' closures); used by one test task at a time.
    final class Agent: @unchecked Sendable {
        var references = ProcessReferences()
        var deltas: [Int] = []
        var conflicts: [String] = []
        /// Whether each delivered body carried the agent info.
        var agentSent: [Bool] = []
        static let info = {
            var info = AgentInfo(version: "test")
            info.intervalS = 10
            return info
        }()

        func post(_ snapshots: [MemorySnapshot], to client: any TestClientProtocol) async throws {
            let records = try snapshots.map { SpoolRecord(kind: .snapshot, payload: try JSONWriter().encode($0)) }
            var sent = ProcessReferences.Sent()
            var answer = try await send(records, &sent, client)
            if answer.status == .conflict {
                conflicts.append(Fixture.message(answer.body))
                references.forget()
                sent = ProcessReferences.Sent()
                answer = try await send(records, &sent, client)
            }
            #expect(answer.status == .ok, "\(Fixture.message(answer.body))")
            let result = try Fixture.decode(IngestResult.self, answer.body)
            references.delivered(
                sent, collectorTakesReferences: result.processRefs == true,
                collectorTakesDeltas: result.snapshotDeltas == true)
            deltas.append(sent.deltas)
            agentSent.append(answer.sentAgent)
        }

        func send(_ records: [SpoolRecord], _ sent: inout ProcessReferences.Sent, _ client: any TestClientProtocol)
            async throws -> (status: HTTPResponse.Status, body: ByteBuffer, sentAgent: Bool)
        {
            let body = BatchBody.make(
                host: SnapshotDeltaRouteTests.host, bootID: nil, agent: Self.info,
                records: records, references: references, sent: &sent)
            let sentAgent = String(decoding: body, as: UTF8.self).contains(#""agent":"#)
            return try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: ByteBuffer(bytes: body)
            ) { ($0.status, $0.body, sentAgent) }
        }
    }

    static func expectStored(_ snapshots: [MemorySnapshot], in collector: Collector) async throws {
        for s in snapshots {
            let t = try #require(RFC3339.parse(s.time))
            let stored = try await collector.database.snapshots(host: host, since: t, until: t + 1, points: 1)
            #expect(stored.latest == s, "snapshot at \(s.time) stored otherwise than sampled")
        }
    }

    @Test func aDeltaChainAcrossAnAgentRestartStoresEverySnapshotAsSampled() async throws {
        let sampled = try Self.sampled(count: 12)
        try await withRouter { client, collector in
            let agent = Agent()
            for batch in [[0], [1], [2, 3], [4]] { try await agent.post(batch.map { sampled[$0] }, to: client) }
            // The first batch goes whole (nothing acknowledged yet); then deltas, two in
            // the batch of two (the second names the first).
            #expect(agent.deltas == [0, 1, 2, 1])
            // Restarted: nothing remembered, the chain starts again from a whole snapshot.
            let restarted = Agent()
            for batch in [[5], [6], [7, 8], [9], [10], [11]] {
                try await restarted.post(batch.map { sampled[$0] }, to: client)
            }
            #expect(restarted.deltas.first == 0)
            #expect(restarted.deltas.dropFirst().allSatisfy { $0 > 0 })
            #expect(agent.conflicts.isEmpty && restarted.conflicts.isEmpty)
            try await Self.expectStored(sampled, in: collector)
            // Batches after the first left the unchanged agent info out; the host keeps it.
            #expect(agent.agentSent == [true, false, false, false])
            let status = try await collector.database.hosts().first { $0.host == Self.host }
            #expect(status?.agentVersion == "test" && status?.agent?.intervalS == 10)
        }
    }

    @Test func aCollectorThatLostTheBaseAsksForTheFullFormAndLosesNothing() async throws {
        let sampled = try Self.sampled(count: 5)
        let agent = Agent()
        try await withRouter { client, collector in
            try await agent.post([sampled[0]], to: client)
            try await agent.post([sampled[1]], to: client)
            #expect(agent.deltas == [0, 1])
            try await Self.expectStored(Array(sampled[0...1]), in: collector)
        }
        // Another collector (a new database): the delta names a snapshot it never saw. The
        // full form sent again chains its second snapshot to its first, which this
        // collector resolves within the batch although it knows nothing of the host.
        try await withRouter { client, collector in
            try await agent.post([sampled[2], sampled[3]], to: client)
            #expect(agent.conflicts.count == 1)
            #expect(agent.conflicts.first?.hasPrefix("snapshots[0].base: ") == true)
            #expect(agent.conflicts.first?.contains("send the full form") == true)
            try await agent.post([sampled[4]], to: client)
            #expect(agent.deltas == [0, 1, 1, 1])
            #expect(agent.conflicts.count == 1)
            try await Self.expectStored(Array(sampled[2...4]), in: collector)
        }
    }

    @Test func aDeltaWhoseBaseWasNeverStoredIsRefusedWithNothingStored() async throws {
        let sampled = try Self.sampled(count: 3)
        try await withRouter { client, collector in
            let agent = Agent()
            try await agent.post([sampled[0]], to: client)
            // A delta naming a time this host never sent.
            var delta = try #require(MemorySnapshot.wireDelta(full: sampled[2], short: sampled[2], base: sampled[1]))
            delta.base?.time = sampled[1].time
            try await client.execute(
                uri: "/api/v1/ingest", method: .post, headers: Fixture.headers(Fixture.agentToken),
                body: Fixture.json(Fixture.batch(host: Self.host, snapshots: [delta]))
            ) { r in
                #expect(r.status == .conflict)
                #expect(Fixture.message(r.body).hasPrefix("snapshots[0].base: "))
            }
            let t = try #require(RFC3339.parse(sampled[2].time))
            #expect(
                try await collector.database.snapshots(host: Self.host, since: t, until: t + 1, points: 1).latest == nil
            )
        }
    }
}
