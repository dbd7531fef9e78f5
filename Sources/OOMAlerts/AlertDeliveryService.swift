import CurlHTTP
public import Logging
import OOMKit
public import OOMStore
public import ServiceLifecycle

/// Delivers the alert outbox until shutdown: reads unsent rows, builds the messages the
/// `DeliveryPlan` allows, sends each over HTTP and records the outcome. A row is marked
/// sent only after a 2xx; anything else is retried with capped backoff, forever, so a
/// receiver that was down gets everything when it returns. A crash between the send and
/// the mark re-sends the message with the same idempotency key.
public struct AlertDeliveryService: Service {
    let database: any CollectorStore
    let config: AlertConfig
    let client: CurlHTTPClient
    let logger: Logger
    /// How often the outbox is polled, seconds: the floor of kill-to-receiver latency.
    let pollSeconds: Double

    /// Upper bound of one delivery request, seconds.
    let requestTimeoutSeconds: Double

    public init(
        database: any CollectorStore, config: AlertConfig, logger: Logger, pollSeconds: Double = 0.2,
        requestTimeoutSeconds: Double = 10
    ) {
        self.database = database
        self.config = config
        self.logger = logger
        self.pollSeconds = pollSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.client = CurlHTTPClient(
            options: HTTPClientOptions(
                totalTimeoutSeconds: requestTimeoutSeconds, maxResponseBytes: 1 << 20,
                userAgent: "oomwatch-collector"))
    }

    public func run() async throws {
        var plan = DeliveryPlan(receivers: config.receivers)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await deliverOnce(&plan)
            } catch {
                logger.error("alert outbox read failed", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(for: .milliseconds(Int64(pollSeconds * 1000)))
                }
            } catch {
                return
            }
        }
    }

    /// One round: everything due goes out, receivers in parallel, each receiver's
    /// messages in order.
    func deliverOnce(_ plan: inout DeliveryPlan) async throws {
        let rows = try await database.unsentOutbox()
        guard !rows.isEmpty else { return }
        let messages = plan.messages(from: rows, now: nowMicroseconds())
        guard !messages.isEmpty else { return }
        var byReceiver: [String: [AlertMessage]] = [:]
        for m in messages { byReceiver[m.receiver, default: []].append(m) }
        let attempts = Dictionary(rows.map { ($0.id, $0.attempts) }, uniquingKeysWith: max)
        await withTaskGroup(of: Void.self) { group in
            for (name, queue) in byReceiver {
                guard let receiver = config.receiver(named: name) else { continue }
                group.addTask {
                    for message in queue {
                        let failures = message.rowIDs.compactMap { attempts[$0] }.max() ?? 0
                        // Later messages of a host wait behind a failed one.
                        guard await deliver(message, to: receiver, failures: failures) else { break }
                    }
                }
            }
        }
    }

    /// Sends one message and records the outcome; true when it was accepted.
    func deliver(_ message: AlertMessage, to receiver: AlertReceiver, failures: Int) async -> Bool {
        // Several collectors may share the database: only the one holding the rows sends
        // them. The claim outlives the request's timeout, and a crashed holder's claim
        // simply runs out.
        let claimSeconds = requestTimeoutSeconds + 5
        guard
            (try? await database.claimOutbox(
                ids: message.rowIDs, until: nowMicroseconds() + Int64(claimSeconds * 1_000_000))) == true
        else { return false }
        let (url, headers, body) = AlertPayload.request(message, to: receiver)
        let error: String
        do {
            let response = try await client.send(
                HTTPRequest(method: "POST", url: url, headers: headers, body: body))
            if (200..<300).contains(response.status) {
                do {
                    try await database.markOutboxSent(ids: message.rowIDs, key: message.idempotencyKey)
                    logger.info(
                        "alert sent",
                        metadata: [
                            "alert.receiver": "\(receiver.name)", "host.name": "\(LogText.escaped(message.host))",
                            "alert.kills": "\(message.victims.count)",
                        ])
                    return true
                } catch {
                    // Sent but not recorded: the next round re-sends with the same key.
                    logger.error("alert sent but not recorded", metadata: ["error": "\(error)"])
                    return false
                }
            }
            let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            error = "HTTP \(response.status): \(text)"
        } catch let e {
            error = e.message
        }
        let delay = DeliveryPlan.retryDelay(
            attempts: failures, initial: config.retryInitialSeconds, maximum: config.retryMaxSeconds)
        logger.warning(
            "alert delivery failed",
            metadata: [
                "alert.receiver": "\(receiver.name)", "error": "\(LogText.escaped(error))",
                "retry.seconds": "\(Double(delay) / 1_000_000)",
            ])
        try? await database.markOutboxFailed(
            ids: message.rowIDs, key: message.idempotencyKey, error: error,
            retryAt: nowMicroseconds() + delay)
        return false
    }
}
