import Foundation
import OOMKit
import Testing

/// The CLI as a user runs it: the built `oomwatch` binary against a real collector on a
/// loopback port, seeded with `Fleet`. Golden tables pin "now" (`--now`) and the width
/// (`COLUMNS`).
@Suite(.serialized) struct CLIOutputTests {
    static let now = ["--now", Fleet.fixedNow]
    static var javaID: String { Fleet.javaKill(base: RFC3339.parse(Fleet.fixedNow)!).id }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    // MARK: hosts

    /// Hosts carry times from the collector's own clock (last seen, kills in 24 h), so
    /// this fleet is seeded relative to the real clock and "now" is pinned to four
    /// minutes after the last batch arrived.
    @Test func hostsGoldenTable() async throws {
        let base = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let seed = Fleet.batches(eventBase: base, snapshotTime: Fleet.time(base, minus: 30))
        try await TestCollector.with(seed: seed) { c in
            let listing = try await c.run(["hosts", "--format", "json"])
            #expect(listing.status == 0)
            let hosts = try #require(try json(listing.stdout) as? [[String: Any]])
            let lastSeen = hosts.compactMap { ($0["last_seen"] as? String).flatMap(RFC3339.parse) }.max()!
            let now = ["--now", RFC3339.format(epochMicroseconds: lastSeen + 240_000_000)]

            let wide = try await c.run(["hosts"] + now, environment: ["COLUMNS": "200"])
            #expect(wide.status == 0)
            #expect(wide.stderr == "")
            #expect(
                wide.stdout == """
                    HOST                                       STATE             LAST SEEN      USED     TOTAL  AVAIL  PSI SOME10  PSI FULL60  KILLS 24H  LAST KILL
                    batch-worker-with-a-very-long-hostname-01  killing           4m ago      2.0 GiB   8.0 GiB  75.0%           -           -          1  49m ago
                    db-1                                       at risk, killing  4m ago     61.0 GiB  64.0 GiB   4.7%       20.00       12.50          1  10h ago
                    web-1                                      killing           4m ago     12.0 GiB  16.0 GiB  25.0%        0.50        0.10          2  8m ago

                    """)

            let narrow = try await c.run(["hosts"] + now, environment: ["COLUMNS": "100"])
            #expect(
                narrow.stdout == """
                    HOST        STATE             LAST SEEN      USED     TOTAL  AVAIL  PSI FULL60  KILLS 24H  LAST KILL
                    batch-wor…  killing           4m ago      2.0 GiB   8.0 GiB  75.0%           -          1  49m ago
                    db-1        at risk, killing  4m ago     61.0 GiB  64.0 GiB   4.7%       12.50          1  10h ago
                    web-1       killing           4m ago     12.0 GiB  16.0 GiB  25.0%        0.10          2  8m ago

                    """)

            #expect(narrow.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })

            let one = try await c.run(["hosts", "--host", "db-1", "--format", "csv"])
            #expect(one.stdout.split(separator: "\n").count == 2)
            #expect(one.stdout.hasPrefix("host,status,last_seen,stale,at_risk,"))
            #expect(one.stdout.contains("\ndb-1,at risk,"))
            #expect(one.stdout.contains(",67108864,3145728,63963136,4.7,"))
        }
    }

    /// `--expected FILE`: the hosts that never reported are listed as "missing", in every
    /// format, next to the ones that did.
    @Test func hostsExpectedListsMissingHosts() async throws {
        let dir = FileManager.default.temporaryDirectory.path + "/oomwatch-expected-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/fleet.txt"
        try "# the fleet\nweb-1\ndb-1\ncache-7\nDB-1\nnew-host-3  # rolling out\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let table = try await c.run(["hosts", "--expected", file] + Self.now, environment: ["COLUMNS": "200"])
            #expect(table.status == 0, "\(table.stderr)")
            let lines = table.stdout.split(separator: "\n")
            #expect(lines.count == 6)
            #expect(lines.contains { $0.hasPrefix("cache-7 ") && $0.contains(" missing ") && $0.contains(" never ") })
            #expect(lines.contains { $0.hasPrefix("new-host-3 ") && $0.contains(" missing ") })
            #expect(!lines.contains { $0.hasPrefix("db-1 ") && $0.contains("missing") })

            let csv = try await c.run(["hosts", "--expected", file, "--format", "csv"])
            #expect(csv.stdout.contains("\ncache-7,missing,"))
            let json = try await c.run(["hosts", "--expected", file, "--format", "json"])
            let rows = try #require(try self.json(json.stdout) as? [[String: Any]])
            let missing = rows.filter { $0["state"] as? String == "missing" }.compactMap { $0["host"] as? String }
            #expect(missing == ["cache-7", "new-host-3"])
            #expect(rows.count == 5)

            let none = try await c.run(["hosts", "--expected", dir + "/nope.txt"])
            #expect(none.status == 1)
            #expect(none.stderr.contains("--expected: \(dir)/nope.txt does not exist"))
        }
    }

    @Test func hostsJSONIsOneArrayWithRawKilobytes() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["hosts", "--format", "json"])
            #expect(r.status == 0)
            let hosts = try #require(try json(r.stdout) as? [[String: Any]])
            #expect(hosts.map { $0["host"] as? String } == [Fleet.longHost, "db-1", "web-1"])
            let web = try #require(hosts.last)
            #expect((web["memory"] as? [String: Any])?["total_kb"] as? Int == 16_777_216)
            #expect(RFC3339.parse(web["last_seen"] as? String ?? "") != nil)
            #expect(web["kills_24h"] is Int)
        }
    }

    // MARK: events

    @Test func eventsGoldenTable() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["events"] + Self.now, environment: ["COLUMNS": "200"])
            #expect(r.status == 0)
            #expect(r.stderr == "")
            #expect(
                r.stdout == """
                    TIME     HOST                                       SOURCE        SCOPE     PID  COMM               RSS  UNIT/CONTAINER          ID
                    4m ago   web-1                                      kernel        memcg    4242  java           1.5 GiB  app.service             fbcbe1377598b919621a3be7b434ba09
                    45m ago  batch-worker-with-a-very-long-hostname-01  systemd-oomd  -       31337  worker,1       1.0 GiB  container 0123456789ab  5c1bdd7d983d4d799ed826b23a5c6fe5
                    2h ago   web-1                                      kernel        memcg    4300  java           1.3 GiB  -                       f298b36f8ff9d461d12c2712875aae4b
                    10h ago  db-1                                       earlyoom      -         666  evil?[2Jname  10.0 MiB  -                       696d9966b45019234ecb261661b3cd0a
                    27h ago  web-1                                      kernel        memcg    4100  java           1.2 GiB  -                       882e40124e4e4e07df70cd59ec992247
                    3d ago   db-1                                       kernel        global    777  postgres      48.0 GiB  postgresql.service      31955dee3d13a70323b18bfd5395bd73

                    """)
            // A process name cannot send escape sequences to the terminal.
            #expect(!r.stdout.contains("\u{1B}"))

            let absolute = try await c.run(
                ["events", "--absolute-times", "--limit", "1", "--host", "db-1"] + Self.now,
                environment: ["COLUMNS": "80"])
            #expect(absolute.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 })
            #expect(
                absolute.stdout == """
                    TIME                  HOST  COMM           RSS  ID
                    2026-11-28T04:00:00Z  db-1  evil?[2…  10.0 MiB  696d9966b45019234ecb261661b3cd0a

                    """)
        }
    }

    @Test(arguments: [
        (["--host", "web-1", "--comm", "java"], 3),
        (["--source", "systemd-oomd"], 1),
        (["--scope", "global"], 1),
        (["--unit", "app.service"], 1),
        (["--container", "0123456789abcdef0123456789abcdef"], 1),
        (["--since", "3h"], 3),
        (["--until", "1d"], 2),
        (["--since", "2026-11-28T00:00:00Z", "--until", "2026-11-28T13:00:00Z"], 2),
        (["--limit", "2"], 2),
        (["--host", "nowhere"], 0),
    ])
    func eventFilters(arguments: [String], expected: Int) async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["events", "--format", "json"] + arguments + Self.now)
            #expect(r.status == 0, "\(r.stderr)")
            let events = try #require(try json(r.stdout) as? [[String: Any]])
            #expect(events.count == expected)
        }
    }

    @Test func eventsJSONAndCSVShapes() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let j = try await c.run(["events", "--format", "json"])
            let events = try #require(try json(j.stdout) as? [[String: Any]])
            #expect(events.count == 6)
            let times = events.compactMap { ($0["time"] as? String).flatMap(RFC3339.parse) }
            #expect(times == times.sorted(by: >), "newest first")
            let first = try #require(events.first)
            #expect(first["id"] as? String == Self.javaID)
            #expect((first["victim"] as? [String: Any])?["anon_rss_kb"] as? Int == 1_572_864)
            #expect((first["candidates"] as? [Any])?.count == 2)

            let csv = try await c.run(["events", "--format", "csv"])
            let lines = csv.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 8)  // header, six kills, the final newline
            #expect(lines[0].hasPrefix("id,time,host,boot_id,source,scope,constraint,pid,comm,uid,rss_kb,"))
            #expect(lines[1].hasPrefix("\(Self.javaID),2026-11-28T13:56:00Z,web-1,boot-web-1,kernel,memcg,"))
            #expect(lines[2].contains(",31337,\"worker,1\",,1048576,"))

            let empty = try await c.run(["events", "--host", "nowhere"])
            #expect(empty.stdout == "No OOM kills match.\n")
            #expect(empty.status == 0)
        }
    }

    /// More kills than one page: the CLI follows `next_cursor` until `--limit` is met.
    @Test func eventsFollowTheCursor() async throws {
        let base = RFC3339.parse(Fleet.fixedNow)!
        let events = (0..<1205).map { i in
            Fleet.kill(
                host: "farm-1", scope: .memcg, pid: 10_000 + i, comm: "job",
                time: Fleet.time(base, minus: Int64(60 * i)),
                uptime: Double(100_000 - i))
        }
        try await TestCollector.with(seed: [IngestBatch(host: "farm-1", events: events)]) { c in
            let some = try await c.run(["events", "--format", "json", "--limit", "1100"])
            let first = try #require(try json(some.stdout) as? [[String: Any]])
            #expect(first.count == 1100)
            let all = try await c.run(["events", "--format", "json", "--limit", "5000"])
            let every = try #require(try json(all.stdout) as? [[String: Any]])
            #expect(every.count == 1205)
            #expect(Set(every.compactMap { $0["id"] as? String }).count == 1205)
            let pids = every.compactMap { ($0["victim"] as? [String: Any])?["pid"] as? Int }
            #expect(pids == Array(10_000..<11_205), "newest first across pages")
        }
    }

    // MARK: show

    @Test func showGolden() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["show", Self.javaID] + Self.now, environment: ["COLUMNS": "100"])
            #expect(r.status == 0)
            #expect(
                r.stdout == """
                    Event       fbcbe1377598b919621a3be7b434ba09
                    Time        2026-11-28T13:56:00Z (4m ago)
                    Host        web-1
                    Boot        boot-web-1
                    Uptime      1000.5s
                    Source      kernel
                    Scope       memcg (CONSTRAINT_MEMCG)

                    Victim
                    Process     java (pid 4242, uid 1000)
                    RSS         1.5 GiB (anon 1.5 GiB, file 2.0 MiB, shmem 0 KiB)
                    Total VM    3.0 GiB
                    Page tables 3.1 MiB
                    Score adj   0
                    Unit        app.service
                    Cgroup      /system.slice/app.service
                    Command     java -Xmx2g -jar app.jar

                    Trigger
                    Process     java (pid 4250)
                    GFP mask    0xcc0(GFP_KERNEL)
                    Order       0
                    Score adj   0

                    Cgroups
                    Hit limit   /system.slice/app.service
                    Victim in   /system.slice/app.service
                    Usage       2.0 GiB of limit 2.0 GiB

                    Candidates (2 tasks; sizes assume 4 KiB pages; * = victim)
                      PID   UID  TGID  TOTAL VM       RSS  PGTABLES   SWAP   ADJ  NAME
                    *4242  1000  4242   3.0 GiB   1.5 GiB   3.1 MiB  0 KiB     0  java
                      900     0   900   100 MiB  20.0 MiB   128 KiB  0 KiB  -500  sidecar

                    Raw report
                      java invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
                      memory: usage 2097152kB, limit 2097152kB, failcnt 1
                      Memory cgroup out of memory: Killed process 4242 (java) total-vm:3145728kB, anon-rss:1572864kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:3200kB oom_score_adj:0

                    """)

            let j = try await c.run(["show", Self.javaID, "--format", "json"])
            let event = try #require(try json(j.stdout) as? [String: Any])
            #expect(event["id"] as? String == Self.javaID)
            #expect((event["trigger"] as? [String: Any])?["gfp_mask"] as? String == "0xcc0(GFP_KERNEL)")
            #expect((event["memcg"] as? [String: Any])?["limit_kb"] as? Int == 2_097_152)
            #expect((event["raw"] as? String)?.hasPrefix("java invoked oom-killer") == true)
        }
    }

    // MARK: summary and top

    @Test func summarySectionsAndShapes() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let since = ["--since", "2026-11-20T00:00:00Z"]
            let r = try await c.run(["summary"] + since + Self.now, environment: ["COLUMNS": "120"])
            #expect(r.status == 0)
            #expect(r.stdout.hasPrefix("OOM summary 2026-11-20T00:00:00Z to 2026-11-28T14:00:00Z\n"))
            for section in [
                "Totals", "By host", "By process", "By unit", "By container", "By day", "Largest victims",
                "Repeat offenders", "Hosts at risk",
            ] {
                #expect(r.stdout.contains("\n\(section)\n"), "section \(section)")
            }
            #expect(r.stdout.contains("  6 kills on 3 of 3 hosts\n"))
            #expect(r.stdout.contains("  by source: kernel 4, earlyoom 1, systemd-oomd 1\n"))
            #expect(
                r.stdout.contains(
                    "\nHOST   COMM  KILLS  FIRST KILL  LAST KILL\nweb-1  java      3  27h ago     4m ago\n"))
            #expect(r.stdout.contains("\n2026-11-28      4  ########################################\n"))
            #expect(
                r.stdout.contains("db-1  30s ago    4.7%       12.50  MemAvailable under 10%, PSI full avg60 over 10\n")
            )

            let j = try await c.run(["summary", "--format", "json"] + since + Self.now)
            let report = try #require(try json(j.stdout) as? [String: Any])
            #expect((report["totals"] as? [String: Any])?["kills"] as? Int == 6)
            #expect((report["by_day"] as? [Any])?.count == 3)
            #expect(report["since"] as? String == "2026-11-20T00:00:00Z")

            let csv = try await c.run(["summary", "--format", "csv"] + since + Self.now)
            #expect(csv.stdout.hasPrefix("section,key,kills,first_kill,last_kill,detail\ntotals,kills,6,,,\n"))
            #expect(csv.stdout.contains("\nrepeat_offenders,web-1/java,3,2026-11-27T11:00:00Z,2026-11-28T13:56:00Z,\n"))
        }
    }

    @Test func topGoldenTable() async throws {
        try await TestCollector.with(seed: Fleet.fixed) { c in
            let r = try await c.run(["top"] + Self.now, environment: ["COLUMNS": "140"])
            #expect(r.status == 0)
            #expect(
                r.stdout == """
                    HOST                 PID  COMM           RSS      ANON   SWAP  SCORE  ADJ  UNIT/CONTAINER      SEEN     COMMAND
                    db-1                 778  postgres  50.0 GiB  50.0 GiB  0 KiB    524    0  postgresql.service  30s ago  postgres: main: checkpointer
                    web-1               4500  java       1.2 GiB   1.2 GiB  0 KiB     12    0  app.service         30s ago  java -Xmx2g -jar app.jar
                    batch-worker-with…  2001  python3    1.0 GiB  1023 MiB  0 KiB     10    0  -                   30s ago  python3 /opt/jobs/nightly_rollup.py…
                    web-1                812  nginx      100 MiB  99.0 MiB  0 KiB      1    0  nginx.service       30s ago  nginx: worker process

                    """)
            #expect(r.stdout.split(separator: "\n").allSatisfy { $0.count <= 140 })
            let j = try await c.run(["top", "--format", "json", "--limit", "2"])
            let rows = try #require(try json(j.stdout) as? [[String: Any]])
            #expect(rows.count == 2)
            #expect((rows[0]["process"] as? [String: Any])?["rss_kb"] as? Int == 52_428_800)
            // Global options before the command's name answer the same.
            let leading = try await c.run(["--format", "json", "top", "--limit", "2"])
            #expect(leading.status == 0)
            #expect(leading.stdout == j.stdout)
            let csv = try await c.run(["top", "--format", "csv", "--host", "web-1"])
            #expect(csv.stdout.split(separator: "\n").count == 3)
        }
    }
}
