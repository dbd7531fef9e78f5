import OOMKit

/// `oomwatch alerts`: receivers' delivery state and the newest notifications.
enum AlertsView {
    static func receivers(_ rows: [AlertReceiverState], times: Times) -> Table {
        var table = Table([
            .init("RECEIVER", truncatable: true),
            .init("SENT", alignRight: true),
            .init("PENDING", alignRight: true),
            .init("FAILING", alignRight: true),
            .init("LAST SENT", dropRank: 1),
            .init("LAST ERROR", truncatable: true, minWidth: 10),
        ])
        for r in rows {
            table.append([
                Table.Cell(r.receiver, .bold),
                Table.Cell(String(r.sent)),
                Table.Cell(String(r.pending), r.pending > 0 ? .yellow : nil),
                Table.Cell(String(r.failing), r.failing > 0 ? .red : nil),
                Table.Cell(times.format(r.lastSent)),
                Table.Cell(r.lastError ?? "-", r.lastError == nil ? nil : .red),
            ])
        }
        return table
    }

    static func notifications(_ rows: [AlertNotification], times: Times) -> Table {
        var table = Table([
            .init("ID", alignRight: true),
            .init("RECEIVER", truncatable: true),
            .init("STATE"),
            .init("HOST", truncatable: true),
            .init("COMM", truncatable: true),
            .init("CREATED", dropRank: 2),
            .init("TRIES", alignRight: true, dropRank: 1),
            .init("ERROR", truncatable: true, minWidth: 10),
        ])
        for n in rows {
            let color: Style.Color? =
                switch n.state {
                case "sent": .green
                case "failing": .red
                default: .yellow
                }
            table.append([
                Table.Cell(String(n.id)),
                Table.Cell(n.receiver),
                Table.Cell(n.state, color),
                Table.Cell(n.host),
                Table.Cell(n.comm, .bold),
                Table.Cell(times.format(n.created)),
                Table.Cell(String(n.attempts)),
                Table.Cell(n.lastError ?? "-"),
            ])
        }
        return table
    }

    static func csv(_ rows: [AlertNotification]) -> CSV {
        var csv = CSV(header: [
            "id", "kind", "receiver", "state", "host", "event_id", "comm", "created", "sent_at", "attempts",
            "next_attempt", "last_error", "idempotency_key",
        ])
        for n in rows {
            csv.append([
                String(n.id), n.kind, n.receiver, n.state, n.host, n.eventID, n.comm, n.created, n.sentAt,
                String(n.attempts), n.nextAttempt, n.lastError, n.idempotencyKey,
            ])
        }
        return csv
    }
}
