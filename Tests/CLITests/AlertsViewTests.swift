import OOMKit
import Testing

@testable import oomwatch

/// `oomwatch alerts`: golden tables for the receivers and the notifications.
@Suite struct AlertsViewTests {
    static let now = RFC3339.parse("2026-11-28T12:00:00Z")!
    static let times = Times(nowMicroseconds: now, absolute: false)

    @Test func receiversAndNotificationsGolden() {
        let receivers = [
            AlertReceiverState(
                receiver: "am", sent: 12, pending: 0, failing: 0, lastError: nil, lastSent: "2026-11-28T11:56:00Z"),
            AlertReceiverState(
                receiver: "pager", sent: 0, pending: 1, failing: 2,
                lastError: "http://127.0.0.1:9/hook: Couldn't connect to server", lastSent: nil),
        ]
        #expect(
            AlertsView.receivers(receivers, times: Self.times).render(maxWidth: nil) == """
                RECEIVER  SENT  PENDING  FAILING  LAST SENT  LAST ERROR
                am          12        0        0  4m ago     -
                pager        0        1        2  -          http://127.0.0.1:9/hook: Couldn't connect to server

                """)
        var failing = AlertNotification(
            id: 7, kind: "kill", receiver: "pager", state: "failing", host: "web-3", eventID: "e7", comm: "java",
            created: "2026-11-28T11:59:30Z", attempts: 3)
        failing.lastError = "HTTP 503: busy"
        let sent = AlertNotification(
            id: 6, kind: "kill", receiver: "am", state: "sent", host: "web-3", eventID: "e6", comm: "node",
            created: "2026-11-28T11:50:00Z", attempts: 1)
        #expect(
            AlertsView.notifications([failing, sent], times: Self.times).render(maxWidth: nil) == """
                ID  RECEIVER  STATE    HOST   COMM  CREATED  TRIES  ERROR
                 7  pager     failing  web-3  java  30s ago      3  HTTP 503: busy
                 6  am        sent     web-3  node  10m ago      1  -

                """)
        let csv = AlertsView.csv([failing]).render()
        #expect(csv.hasPrefix("id,kind,receiver,state,host,event_id,comm,created,sent_at,attempts,"))
        #expect(csv.contains("\n7,kill,pager,failing,web-3,e7,java,2026-11-28T11:59:30Z,,3,,HTTP 503: busy,\n"))
    }
}
