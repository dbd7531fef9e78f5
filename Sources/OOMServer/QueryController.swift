import Hummingbird
import OOMKit
import OOMStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The query API under `/api/v1` (read or admin token): hosts, snapshots, events, the
/// summary report and the largest processes.
struct QueryController {
    let collector: Collector

    func addRoutes(to group: RouterGroup<CollectorRequestContext>) {
        group.get("hosts", use: hosts)
            .get("hosts/{host}/snapshots", use: snapshots)
            .get("events", use: events)
            .get("events/{id}", use: event)
            .get("reports/summary", use: summary)
            .get("top", use: top)
    }

    @Sendable func hosts(_ request: Request, context: CollectorRequestContext) async throws -> HostsResponse {
        let hosts = try await collector.store { try await $0.hosts() }
        return HostsResponse(hosts: hosts, missing: missingHosts(reported: hosts))
    }

    /// The expected hosts that never reported; `nil` without an expected-hosts file. An
    /// unreadable file is logged, not an error: the hosts list still answers.
    func missingHosts(reported: [HostStatus]) -> [String]? {
        guard let path = collector.configuration.expectedHostsFile else { return nil }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            collector.logger.warning(
                "expected hosts file unreadable or over 1 MiB; not listing missing hosts",
                metadata: ["expected_hosts.file": "\(path)"])
            return nil
        }
        let expected = ExpectedHosts.parse(String(decoding: data, as: UTF8.self))
        return ExpectedHosts.missing(expected: expected, reported: reported.map(\.host))
    }

    @Sendable func snapshots(_ request: Request, context: CollectorRequestContext) async throws
        -> SnapshotsResponse
    {
        // Path parameters arrive as sent: `web%2D1` is the host `web-1`.
        guard let host = try context.parameters.require("host").removingPercentEncoding else {
            throw HTTPError(.badRequest, message: "host: invalid percent-encoding")
        }
        guard host.utf8.count <= 253 else {
            throw HTTPError(.badRequest, message: "host: longer than 253 bytes")
        }
        let range = try request.queryRange(defaultSpan: 86_400_000_000)
        let points = try request.query("points", default: 200, range: 1...5000)
        return try await collector.store {
            try await $0.snapshots(host: host, since: range.since, until: range.until, points: points)
        }
    }

    @Sendable func events(_ request: Request, context: CollectorRequestContext) async throws -> EventsPage {
        let now = nowMicroseconds()
        var filter = EventFilter()
        filter.host = try request.query("host", maxLength: 253)
        filter.comm = try request.query("comm")
        filter.source = try request.query(
            "source", as: OOMEvent.Source.self, expected: "kernel, systemd-oomd or earlyoom")?.rawValue
        filter.scope = try request.query(
            "scope", as: OOMEvent.Scope.self, expected: "global, memcg, cpuset or mempolicy")?.rawValue
        filter.unit = try request.query("unit")
        filter.container = try request.query("container")
        filter.since = try request.queryTime("since", now: now)
        filter.until = try request.queryTime("until", now: now)
        filter.limit = try request.query("limit", default: 100, range: 1...1000)
        filter.cursor = try request.query("cursor", maxLength: 64)
        return try await collector.store { [filter] in try await $0.events(filter) }
    }

    @Sendable func event(_ request: Request, context: CollectorRequestContext) async throws -> OOMEvent {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 128 else { throw HTTPError(.badRequest, message: "id: too long") }
        return try await collector.store { try await $0.event(id: id) }
    }

    @Sendable func summary(_ request: Request, context: CollectorRequestContext) async throws -> SummaryReport {
        let range = try request.queryRange(defaultSpan: 7 * 86_400_000_000)
        return try await collector.store { try await $0.summary(since: range.since, until: range.until) }
    }

    @Sendable func top(_ request: Request, context: CollectorRequestContext) async throws -> TopResponse {
        let host = try request.query("host", maxLength: 253)
        let limit = try request.query("limit", default: 20, range: 1...1000)
        return try await collector.store { try await $0.top(host: host, limit: limit) }
    }
}
