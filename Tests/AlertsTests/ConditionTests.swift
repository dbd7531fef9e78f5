import OOMAlerts
import OOMStore
import Testing

@Suite struct ConditionTests {
    static let second: Int64 = 1_000_000

    static func rules() -> ConditionRules {
        var r = ConditionRules()
        r.staleReceivers = ["am"]
        r.pressureReceivers = ["am"]
        r.pressureThreshold = 10
        r.pressureForSeconds = 60
        return r
    }

    @Test func aHostGoesStaleOnceAndIsResolvedWhenItReportsAgain() {
        var t = ConditionTracker(rules: Self.rules())
        let seen = 1_000 * Self.second
        let r = HostReading(host: "web-3", lastSeen: seen, intervalSeconds: 10, fullAvg60: 0)
        #expect(t.observe([r], now: seen + 30 * Self.second).isEmpty)
        let fired = t.observe([r], now: seen + 31 * Self.second)
        #expect(fired.map(\.kind) == [.stale])
        #expect(fired.first?.detail.hasPrefix("web-3 is stale: nothing received since") == true)
        #expect(t.observe([r], now: seen + 60 * Self.second).isEmpty)
        var back = r
        back.lastSeen = seen + 100 * Self.second
        let resolved = t.observe([back], now: back.lastSeen)
        #expect(resolved.map(\.kind) == [.staleResolved])
        #expect(resolved.first?.key == fired.first?.key)
        #expect(resolved.first?.detail == "web-3 reports again after 100 s of silence")
    }

    @Test func pressureFiresOnlyAfterItsDurationAndEndsWithAResolve() {
        var t = ConditionTracker(rules: Self.rules())
        func at(_ s: Int64, _ psi: Double) -> [ConditionChange] {
            t.observe(
                [HostReading(host: "db-1", lastSeen: s * Self.second, intervalSeconds: 10, fullAvg60: psi)],
                now: s * Self.second)
        }
        #expect(at(0, 25).isEmpty)
        #expect(at(30, 5).isEmpty)  // dipped: the clock starts again
        #expect(at(40, 25).isEmpty)
        #expect(at(90, 25).isEmpty)
        let fired = at(100, 30)
        #expect(fired.map(\.kind) == [.pressure])
        #expect(fired.first?.detail == "memory pressure on db-1: PSI full avg60 30.0% above 10.0% for 60 s")
        #expect(at(110, 40).isEmpty)
        let ended = at(200, 2)
        #expect(ended.map(\.kind) == [.pressureResolved])
        #expect(ended.first?.key == fired.first?.key)
    }

    @Test func aRestoredEpisodeStillGetsItsResolve() {
        var t = ConditionTracker(rules: Self.rules())
        t.restore(kind: .stale, host: "web-3", key: "web-3@\(5 * Self.second)")
        let now = 100 * Self.second
        let changes = t.observe(
            [HostReading(host: "web-3", lastSeen: now, intervalSeconds: 10, fullAvg60: nil)], now: now)
        #expect(changes.map(\.kind) == [.staleResolved])
        #expect(changes.first?.key == "web-3@\(5 * Self.second)")
    }
}
