import Foundation
import OOMKit
import OOMStore
import Testing

/// One set of store tests, run against every engine (`Engine`): what the API promises
/// holds whichever database is behind the collector.
@Suite("Store conformance")
struct StoreConformanceTests {
    static let end = t("2026-11-20T12:00:00Z")

    @Test(arguments: Engine.allCases)
    func ingestIsIdempotent(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let now = Self.end
            let batch = Seed.batch(
                events: [
                    Seed.event("a", time: now - 3_000_000), Seed.event("b", time: now - 2_000_000),
                    Seed.event("a", time: now - 3_000_000),
                ],
                snapshots: [Seed.snapshot(time: now - 60_000_000), Seed.snapshot(time: now)])
            let first = try await store.ingest(batch, receivedAt: now)
            #expect(first.eventsStored == 2)
            #expect(first.eventsDuplicate == 1)
            #expect(first.snapshotsStored == 2)
            let again = try await store.ingest(batch, receivedAt: now + 1)
            #expect(again.eventsStored == 0)
            #expect(again.eventsDuplicate == 3)
            #expect(again.snapshotsStored == 0)
            #expect(again.snapshotsDuplicate == 2)
            var all = EventFilter()
            all.limit = 100
            #expect(try await store.events(all).events.map(\.id) == ["b", "a"])
            let summary = try await store.summary(since: now - 86_400_000_000, until: now + 1, now: now)
            #expect(summary.totals.kills == 2)
        }
    }

    /// Every filter of the events listing returns exactly the seeded events it matches,
    /// newest first, and the pages of a small limit add up to the whole list.
    @Test(arguments: Engine.allCases)
    func eventFiltersAndPages(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let fleet = Seed.fleet(events: 300, end: Self.end)
            for b in fleet { _ = try await store.ingest(b, receivedAt: Self.end) }
            let all = fleet.flatMap(\.events).sorted {
                (t($0.time!), $0.id) > (t($1.time!), $1.id)
            }
            let since = Self.end - 3 * 86_400_000_000 - 12_345
            let until = Self.end - 86_400_000_000 + 999
            let cases: [(String, (inout EventFilter) -> Void, (OOMEvent) -> Bool)] = [
                ("host", { $0.host = "host-2" }, { $0.host == "host-2" }),
                ("comm", { $0.comm = "postgres" }, { $0.victim.comm == "postgres" }),
                ("source", { $0.source = "systemd-oomd" }, { $0.source == .systemdOomd }),
                ("scope", { $0.scope = "memcg" }, { $0.scope == .memcg }),
                ("unit", { $0.unit = "db.service" }, { $0.victim.unit == "db.service" }),
                ("container", { $0.container = "c0ffee" }, { $0.victim.containerID == "c0ffee" }),
                ("since", { $0.since = since }, { t($0.time!) >= since }),
                ("until", { $0.until = until }, { t($0.time!) < until }),
                (
                    "host+window",
                    {
                        $0.host = "host-3"; $0.since = since; $0.until = until
                    },
                    { $0.host == "host-3" && t($0.time!) >= since && t($0.time!) < until }
                ),
            ]
            for (name, set, matches) in cases {
                var filter = EventFilter()
                set(&filter)
                filter.limit = 17
                var got: [String] = []
                var pages = 0
                while true {
                    let page = try await store.events(filter)
                    got += page.events.map(\.id)
                    pages += 1
                    guard let next = page.nextCursor, pages < 100 else { break }
                    filter.cursor = next
                }
                let expected = all.filter(matches).map(\.id)
                #expect(!expected.isEmpty, "\(name): the seed covers the filter")
                #expect(got == expected, "\(name) on \(engine)")
            }
            var bad = EventFilter()
            bad.cursor = "not-a-cursor"
            await #expect(throws: StoreError.invalidCursor) { try await store.events(bad) }
        }
    }

    @Test(arguments: Engine.allCases)
    func eventByID(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let e = Seed.event("one", comm: "hostile \"name\"\n\u{1F4A5}", time: Self.end - 5, unit: "x.service")
            _ = try await store.ingest(Seed.batch(events: [e]), receivedAt: Self.end)
            let got = try await store.event(id: "one")
            #expect(got.id == "one")
            #expect(got.victim.comm == e.victim.comm)
            #expect(got.host == "web-1")
            #expect(got.bootID == "boot-1")
            await #expect(throws: StoreError.notFound("event nope")) { try await store.event(id: "nope") }
        }
    }

    /// An agent that uploads less often than it samples (`upload.interval: 60` at a 10 s
    /// interval) is stale only after three upload intervals, wherever a store counts stale
    /// hosts; an agent that never said (older) keeps its snapshot interval.
    @Test(arguments: Engine.allCases)
    func staleAfterThreeUploadIntervals(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            var batched = Seed.batch(host: "batched")
            batched.agent?.intervalS = 10
            batched.agent?.uploadIntervalS = 60
            var plain = Seed.batch(host: "plain")
            plain.agent?.intervalS = 10
            for b in [batched, plain] { _ = try await store.ingest(b, receivedAt: Self.end) }
            // A later batch that does not say (an older agent's) keeps what was said.
            batched.agent?.uploadIntervalS = nil
            _ = try await store.ingest(batched, receivedAt: Self.end)

            func stale(at now: Int64) async throws -> ([String], Int, Int) {
                let hosts = try await store.hosts(now: now)
                let summary = try await store.summary(since: now - 86_400_000_000, until: now, now: now)
                return (
                    hosts.filter(\.stale).map(\.host), try await store.fleetGauges(now: now).staleHosts,
                    summary.totals.staleHosts
                )
            }
            let hosts = try await store.hosts(now: Self.end)
            #expect(hosts.map(\.uploadIntervalS) == [60, nil])
            // 100 s on: past three snapshot intervals, inside three upload intervals.
            let later = try await stale(at: Self.end + 100_000_000)
            #expect(later.0 == ["plain"] && later.1 == 1 && later.2 == 1)
            let gone = try await stale(at: Self.end + 181_000_000)
            #expect(gone.0 == ["batched", "plain"] && gone.1 == 2 && gone.2 == 2)
        }
    }

    @Test(arguments: Engine.allCases)
    func hostsAndTop(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let fleet = Seed.fleet(events: 120, end: Self.end)
            for b in fleet { _ = try await store.ingest(b, receivedAt: Self.end) }
            // Byte order, whatever the database's collation: upper case before lower.
            for name in ["Zeta", "alpha", "_x"] {
                _ = try await store.ingest(Seed.batch(host: name), receivedAt: Self.end - 60_000_000)
            }
            #expect(try await store.hosts(now: Self.end).map(\.host) == ["Zeta", "_x", "alpha"] + fleet.map(\.host))
            let hosts = try await store.hosts(now: Self.end).filter { $0.host.hasPrefix("host-") }
            #expect(hosts.map(\.host) == fleet.map(\.host).sorted())
            for h in hosts {
                let mine = fleet.first { $0.host == h.host }!.events
                let day = mine.filter { t($0.time!) >= Self.end - 86_400_000_000 }
                #expect(h.kills24h == day.count, "\(h.host)")
                #expect(h.lastKill == mine.map { t($0.time!) }.max().map { RFC3339.format(epochMicroseconds: $0) })
                #expect(h.stale == false)
                #expect(h.snapshotTime == RFC3339.format(epochMicroseconds: Self.end))
            }
            #expect(hosts.first { $0.host == "host-0" }?.atRisk == true)
            #expect(try await store.hosts(now: Self.end + 3_600_000_000).allSatisfy(\.stale))
            let top = try await store.top(host: nil, limit: 3)
            #expect(top.processes.count == 3)
            #expect(top.processes.allSatisfy { $0.process.rssKB == 1000 })
            let one = try await store.top(host: "host-2", limit: 20)
            #expect(one.processes.map(\.host) == ["host-2"])
        }
    }

    @Test(arguments: Engine.allCases)
    func snapshotsQuery(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let snaps = (0..<60).map { k in
                Seed.snapshot(time: Self.end - Int64(59 - k) * 60_000_000, available: 400_000 + Int64(k) * 1000)
            }
            _ = try await store.ingest(Seed.batch(snapshots: snaps), receivedAt: Self.end)
            let r = try await store.snapshots(
                host: "web-1", since: Self.end - 3_600_000_000, until: Self.end + 1, points: 6)
            #expect(r.points.count == 6)
            #expect(r.points.reduce(0) { $0 + $1.samples } == 60)
            #expect(r.points.first?.minAvailableKB == 400_000)
            #expect(r.latest?.time == RFC3339.format(epochMicroseconds: Self.end))
            #expect(r.latest?.memory["available_kb"] == 459_000)
            await #expect(throws: StoreError.notFound("host ghost")) {
                try await store.snapshots(host: "ghost", since: 0, until: Self.end, points: 10)
            }
        }
    }

    /// The summary's totals match the seed on random windows (whole days and edges).
    @Test(arguments: Engine.allCases)
    func summaryOnRandomWindows(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let fleet = Seed.fleet(events: 400, end: Self.end)
            for b in fleet { _ = try await store.ingest(b, receivedAt: Self.end) }
            let all = fleet.flatMap(\.events)
            var rng = SplitMix(seed: 7)
            let start = Self.end - 10 * 86_400_000_000
            for _ in 0..<25 {
                let a = start + Int64(rng.next() % UInt64(11 * 86_400_000_000))
                let b = start + Int64(rng.next() % UInt64(11 * 86_400_000_000))
                let (since, until) = (min(a, b), max(a, b) + 1)
                let r = try await store.summary(since: since, until: until, now: Self.end)
                let inWindow = all.filter { t($0.time!) >= since && t($0.time!) < until }
                #expect(r.totals.kills == inWindow.count)
                #expect(r.totals.hostsWithKills == Set(inWindow.compactMap(\.host)).count)
                #expect(r.byDay.reduce(0) { $0 + $1.kills } == inWindow.count)
                let comms = Dictionary(grouping: inWindow, by: \.victim.comm).mapValues(\.count)
                #expect(Dictionary(uniqueKeysWithValues: r.byComm.map { ($0.key, $0.kills) }) == comms)
                #expect(r.largestVictims.first?.rssKB == inWindow.map { $0.victim.anonRssKB ?? 0 }.max())
            }
            let whole = try await store.summary(since: start, until: Self.end + 1, now: Self.end)
            #expect(whole.totals.hosts == fleet.count)
            #expect(whole.hostsAtRisk.map(\.host).sorted() == ["host-0", "host-1"])
        }
    }

    @Test(arguments: Engine.allCases)
    func retentionDeletesOnlyExpired(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let now = Self.end
            let day: Int64 = 86_400_000_000
            let events = (0..<20).map { Seed.event("r\($0)", time: now - Int64($0) * day / 2 - 1) }
            let snaps = (0..<20).map { Seed.snapshot(time: now - Int64($0) * day / 2 - 1) }
            _ = try await store.ingest(Seed.batch(events: events, snapshots: snaps), receivedAt: now)
            let countersBefore = try await store.killCounters()
            #expect(countersBefore.reduce(0) { $0 + $1.kills } == events.count)
            var policy = RetentionPolicy()
            policy.snapshotDays = 3
            policy.eventDays = 4.25
            let o = try await store.applyRetention(policy, now: now)
            let keptEvents = events.filter { t($0.time!) >= now - 4 * day - day / 4 }
            #expect(o.events == events.count - keptEvents.count)
            #expect(o.snapshots == snaps.filter { t($0.time) < now - 3 * day }.count)
            var all = EventFilter()
            all.limit = 1000
            #expect(Set(try await store.events(all).events.map(\.id)) == Set(keptEvents.map(\.id)))
            let r = try await store.summary(since: now - 30 * day, until: now + 1, now: now)
            #expect(r.totals.kills == keptEvents.count)
            // `oomwatch_kills_total` is a Prometheus counter: retention must not lower it, or
            // increase() reads the drop as a reset and fires for kills that never happened.
            #expect(keptEvents.count < events.count)
            #expect(try await store.killCounters() == countersBefore)
            #expect(try await store.applyRetention(policy, now: now) == .nothing)
            let again = try await store.ingest(Seed.batch(events: keptEvents), receivedAt: now)
            #expect(again.eventsStored == 0)
            #expect(try await store.killCounters() == countersBefore)
            let fresh = try await store.ingest(Seed.batch(events: [Seed.event("r-new", time: now)]), receivedAt: now)
            #expect(fresh.eventsStored == 1)
            #expect(try await store.killCounters().reduce(0) { $0 + $1.kills } == events.count + 1)
        }
    }

    @Test(arguments: Engine.allCases)
    func outboxClaimSentFailed(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            let now = Self.end
            let a = try await store.enqueueTestAlert(receiver: "team", now: now)
            let b = try await store.enqueueTestAlert(receiver: "team", now: now + 1)
            #expect(try await store.unsentOutbox(limit: 10).map(\.id) == [a, b])
            #expect(try await store.claimOutbox(ids: [a, b], until: now + 1000, now: now))
            // Held: nobody else may claim either row until the claim runs out.
            #expect(try await store.claimOutbox(ids: [b], until: now + 2000, now: now + 10) == false)
            try await store.markOutboxFailed(ids: [a], key: "k1", error: "HTTP 500", retryAt: now + 5000)
            try await store.markOutboxSent(ids: [b], key: "k2", now: now + 20)
            #expect(try await store.claimOutbox(ids: [b], until: now + 3000, now: now + 30) == false)
            let unsent = try await store.unsentOutbox(limit: 10)
            #expect(unsent.map(\.id) == [a])
            #expect(unsent.first?.lastError == "HTTP 500")
            #expect(unsent.first?.idempotencyKey == "k1")
            let overview = try await store.alertOverview(state: nil, limit: 10)
            #expect(overview.receivers.map(\.receiver) == ["team"])
            #expect(overview.receivers.first?.sent == 1)
            #expect(overview.receivers.first?.failing == 1)
            try await store.enqueueCondition(
                kind: .stale, host: "web-1", key: "web-1@1", since: now, detail: "silent", receivers: ["team"], now: now
            )
            try await store.enqueueCondition(
                kind: .stale, host: "web-1", key: "web-1@1", since: now, detail: "silent", receivers: ["team"], now: now
            )
            let open = try await store.openConditions()
            #expect(open.count == 1)
            #expect(open.first?.key == "web-1@1")
        }
    }
}

extension StoreConformanceTests {
    /// Processes sent by reference resolve to the details stored with an earlier snapshot
    /// of the same host; an unknown reference is named (the agent then sends in full).
    @Test(arguments: Engine.allCases)
    func processReferencesResolve(engine: Engine) async throws {
        guard engine.isAvailable else { return }
        try await withStore(engine) { store in
            var full = ProcessSample(pid: 4242, comm: "java", rssKB: 900_000)
            full.cmdline = "java -Xmx8g -jar app.jar"
            full.unit = "app.service"
            full.startedAt = "2026-11-20T08:00:00Z"
            _ = try await store.ingest(
                Seed.batch(snapshots: [Seed.snapshot(time: Self.end - 60_000_000, processes: [full])]),
                receivedAt: Self.end)
            var moved = full
            moved.rssKB = 950_000
            let digest = ProcessDetail.digest(try ProcessDetail(full).canonicalJSON())
            var batch = Seed.batch(snapshots: [
                Seed.snapshot(time: Self.end, processes: [moved.reference(digest: digest)])
            ])
            #expect(try await store.resolveProcessReferences(&batch) == nil)
            #expect(batch.snapshots[0].processes == [moved])
            var other = Seed.batch(
                host: "web-2",
                snapshots: [Seed.snapshot(host: "web-2", time: Self.end, processes: [moved.reference(digest: digest)])])
            #expect(try await store.resolveProcessReferences(&other) == "snapshots[0].processes[0].ref")
            var unknown = Seed.batch(snapshots: [
                Seed.snapshot(time: Self.end, processes: [full, moved.reference(digest: digest &+ 1)])
            ])
            #expect(try await store.resolveProcessReferences(&unknown) == "snapshots[0].processes[1].ref")
        }
    }
}
