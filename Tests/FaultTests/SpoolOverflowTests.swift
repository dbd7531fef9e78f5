import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Faults {
    /// An outage longer than a 1 MB spool holds: the spool never exceeds its cap, the kills
    /// during the outage are all delivered (events kept in preference to snapshots), and the
    /// dropped-snapshot count the agent reports matches the snapshots that never arrived.
    @Test func spoolOverflowKeepsEventsAndCountsLoss() async throws {
        guard let bins = Binaries.locate() else { return }
        guard access("/dev/kmsg", R_OK) == 0, let cage = KillCage.make("spool") else { return }
        defer { cage.remove() }
        let tmp = TempDir("spool")
        defer { tmp.remove() }
        let collector = try CollectorProcess(binary: bins.collector, dir: tmp.path)
        defer { collector.stop() }
        tmp.write("agent-token", CollectorProcess.agentToken + "\n")
        let state = tmp.path + "/state"
        let interval = 0.1
        tmp.write(
            "agent.yaml",
            agentConfig(
                collector: collector.url, state: state, tokenFile: tmp.path + "/agent-token", spoolMB: 1,
                kmsg: true, interval: interval
            ).replacingOccurrences(of: "top_processes: 5", with: "top_processes: 1000"))
        let cap = 1 << 20
        let checks = Checks()
        let db = collector.dbPath
        let started = Date()
        let agent = try Child(bins.agent, ["run", "--config", tmp.path + "/agent.yaml"], log: tmp.path + "/agent.log")
        defer { agent.stop() }
        try await offload {
            // The collector is not there yet: everything goes to the spool.
            var victims: [Int32] = []
            var largest = 0
            let until = Date().addingTimeInterval(12)
            var nextKill = Date().addingTimeInterval(1)
            while Date() < until {
                if Date() >= nextKill, victims.count < 3 {
                    if let pid = cage.oomKill() { victims.append(pid) }
                    nextKill = Date().addingTimeInterval(3)
                }
                let names = (try? FileManager.default.contentsOfDirectory(atPath: state + "/spool")) ?? []
                let bytes = names.filter { $0.hasSuffix(".seg") }.reduce(0) {
                    $0
                        + ((try? FileManager.default.attributesOfItem(atPath: state + "/spool/" + $1)[.size] as? Int)
                            ?? 0)
                }
                largest = max(largest, bytes)
                usleep(100_000)
            }
            checks.expect(agent.isRunning, "agent died while its spool was full:\n\(agent.logTail())")
            checks.expect(largest <= cap, "spool grew to \(largest) bytes, over its \(cap)-byte cap")
            checks.expect(
                largest > cap / 2, "the spool never filled (largest \(largest) bytes): the test proves nothing")
            checks.expect(victims.count == 3, "dd was not OOM-killed")
            try collector.startBlocking()
            let list = victims.map(String.init).joined(separator: ",")
            checks.expect(
                eventually(30) {
                    count(db, "SELECT count(*) FROM events WHERE comm = 'dd' AND pid IN (\(list));") == victims.count
                }, "kills from the outage were not all delivered")
            // Let the backlog drain, then stop the agent so nothing is in flight.
            _ = eventually(20) {
                let segs = ((try? FileManager.default.contentsOfDirectory(atPath: state + "/spool")) ?? [])
                return segs.filter { $0.hasSuffix(".seg") }.count <= 1
            }
            usleep(1_500_000)
            agent.stop()
            let dropped =
                Int((try? sqlite(db, "SELECT max(dropped_snapshots) FROM agent_counters;"))?.first ?? "") ?? -1
            let droppedEvents =
                Int((try? sqlite(db, "SELECT max(dropped_events) FROM agent_counters;"))?.first ?? "") ?? -1
            let times = ((try? sqlite(db, "SELECT time FROM snapshots ORDER BY time;")) ?? []).compactMap { Int64($0) }
            checks.expect(dropped > 0, "no dropped snapshots reported (\(dropped))")
            checks.expect(droppedEvents == 0, "events were dropped (\(droppedEvents)) while snapshots could go")
            // Snapshots taken = the span from the agent's start to its last snapshot over the
            // cadence actually seen; delivered + reported loss must account for them.
            if times.count > 10, let last = times.last {
                let gaps = zip(times.dropFirst(), times).map { Double($0 - $1) / 1e6 }.sorted()
                let cadence = gaps[gaps.count / 2]
                let span = Double(last) / 1e6 - started.timeIntervalSince1970
                let taken = span / cadence + 1
                let accounted = Double(times.count + dropped)
                print(
                    "spoolOverflow: largest spool \(largest) B, delivered \(times.count), dropped \(dropped), "
                        + "estimated taken \(Int(taken)) (cadence \(cadence)s)")
                checks.expect(
                    abs(accounted - taken) <= max(5, taken * 0.15),
                    "delivered \(times.count) + reported lost \(dropped) ≠ about \(Int(taken)) taken")
            } else {
                checks.expect(false, "too few snapshots delivered: \(times.count)")
            }
        }
        checks.report()
    }
}
