import Hummingbird
import OOMKit
import OOMStore

/// The routes for operators and tools: health (`/healthz`, `/readyz`) and the API
/// contract (`/openapi.yaml`) open to everyone; `/metrics` (read or admin token: its
/// gauges name hosts and kills, which is data like any query).
struct OperationsController {
    let collector: Collector

    func addRoutes(open: Router<CollectorRequestContext>, read: RouterGroup<CollectorRequestContext>) {
        open.get("/healthz") { _, _ in HealthResponse(status: "ok") }
        open.get("/readyz", use: ready)
        open.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                // docs/openapi.yaml, embedded at build time (Package.swift).
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_yaml)))
        }
        read.get("/metrics", use: metrics)
    }

    @Sendable func ready(_ request: Request, context: CollectorRequestContext) async throws -> HealthResponse {
        guard await collector.store.isReachable() else {
            throw HTTPError(.serviceUnavailable, message: "database unreachable")
        }
        return HealthResponse(status: "ok")
    }

    @Sendable func metrics(_ request: Request, context: CollectorRequestContext) async throws -> Response {
        let database = collector.store
        let gauges = try await collector.store { try await $0.fleetGauges() }
        let text =
            collector.metrics.render(
                dbSizeBytes: await database.sizeBytes(), pendingWrites: database.pendingWrites, hosts: gauges.hosts,
                staleHosts: gauges.staleHosts, events: gauges.events, kills24h: gauges.kills24hByHost,
                pace: collector.pacer.current(), writerCache: database.writerCache)
            + (try await AlertController(collector: collector).metricsText())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
