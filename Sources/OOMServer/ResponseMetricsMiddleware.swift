import Hummingbird

/// Counts responses by status, errors included.
struct ResponseMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: CollectorMetrics

    func handle(
        _ request: Request, context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.response(status: response.status.code)
            return response
        } catch let error as HTTPError {
            metrics.response(status: error.status.code)
            throw error
        } catch {
            metrics.response(status: 500)
            throw error
        }
    }
}
