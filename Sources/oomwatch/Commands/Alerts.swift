import ArgumentParser
import CurlHTTP
import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Alert delivery: each receiver's sent, pending and failing notifications.",
        discussion: """
            Receivers and routes are set in the collector's config file (alerts:). A \
            failing receiver shows its last error; its notifications stay in the outbox \
            and are retried until it accepts them.

            Examples:
              oomwatch alerts
              oomwatch alerts --state failing --limit 100
              oomwatch alerts test pager      # needs an admin token
            """,
        subcommands: [List.self, Test.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "Receivers and the newest notifications (the default).")

        @OptionGroup var global: GlobalOptions

        @Option(
            name: .long,
            help: ArgumentHelp("Only notifications in this state: sent, pending or failing.", valueName: "STATE"))
        var state: String?

        @Option(name: .long, help: "Most notifications to show.")
        var limit = 20

        func validate() throws {
            if let state, !["sent", "pending", "failing"].contains(state) {
                throw ValidationError("invalid --state '\(state)': use sent, pending or failing")
            }
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
        }

        func run() async throws {
            let settings = try Settings.current(global)
            let client = CollectorClient(settings: settings)
            let alerts = try await client.get(
                "/api/v1/alerts", query: [("state", state), ("limit", String(limit))], as: AlertsResponse.self)
            Printer.emit(
                settings,
                table: { AlertsView.receivers(alerts.receivers, times: settings.times) },
                csv: { AlertsView.csv(alerts.notifications) },
                json: { JSONOutput.document(alerts) },
                empty: "No alert notifications yet (is an alerts: section configured on the collector?)."
            )
            if settings.format == .table, !alerts.notifications.isEmpty {
                Terminal.write(
                    "\n"
                        + AlertsView.notifications(alerts.notifications, times: settings.times)
                        .render(maxWidth: settings.width, style: settings.style))
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test message to a receiver and wait for its delivery (admin token).")

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The receiver's name in the collector's alerts: section.")
        var receiver: String

        @Option(name: .long, help: "Seconds to wait for the delivery.")
        var wait: Double = 15

        func validate() throws {
            guard wait >= 0, wait <= 600 else { throw ValidationError("--wait must be between 0 and 600 seconds") }
        }

        func run() async throws {
            let settings = try Settings.current(global)
            let client = CollectorClient(settings: settings)
            let queued = try await client.post(
                "/api/v1/alerts/test", body: AlertTestRequest(receiver: receiver), as: AlertTestResponse.self,
                notFound: "the collector has no alert receiver named \(receiver)")
            let deadline = settings.nowMicroseconds + Int64(wait * 1_000_000)
            var last: AlertNotification?
            while true {
                let alerts = try await client.get(
                    "/api/v1/alerts", query: [("limit", "1000")], as: AlertsResponse.self)
                last = alerts.notifications.first { $0.id == queued.id }
                if last?.state == "sent" {
                    Terminal.write("test message delivered to \(receiver)\n")
                    return
                }
                if clockNow() >= deadline { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            let why = last?.lastError.map { ": last error: \(TextWidth.sanitized($0))" } ?? " yet (still in the outbox)"
            throw CLIError.failure("test message to \(receiver) not delivered within \(Int(wait)) s\(why)")
        }

        func clockNow() -> Int64 {
            Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        }
    }
}

extension CollectorClient {
    /// POSTs `body` as JSON to `path` and decodes a 2xx answer as `T`.
    func post<T: Decodable>(
        _ path: String, body: some Encodable, as type: T.Type, notFound: String? = nil
    ) async throws(CLIError) -> T {
        let url = Self.url(server: server, path: path, query: [])
        var headers: [(name: String, value: String)] = [
            ("Accept", "application/json"), ("Content-Type", "application/json"),
        ]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        let bytes: [UInt8]
        do {
            bytes = try JSONWriter().encode(body)
        } catch {
            throw .failure("cannot encode the request: \(error)")
        }
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(method: "POST", url: url, headers: headers, body: bytes))
        } catch {
            throw Self.transportError(error, server: server)
        }
        guard (200..<300).contains(response.status) else {
            if response.status == 403 {
                throw .failure(
                    "the collector at \(server) refused (403): this needs an admin token"
                        + (Self.serverMessage(response.body).map { " (\($0))" } ?? ""))
            }
            throw Self.error(for: response, server: server, hadToken: token != nil, notFound: notFound)
        }
        do {
            return try JSONReader().decode(T.self, from: response.body)
        } catch {
            throw .failure("the server at \(server) did not answer \(path) like an oomwatch collector")
        }
    }
}
