import OOMStore
import Synchronization

/// The collector's own figures, rendered in the Prometheus text format.
public final class CollectorMetrics: Sendable {
    struct State {
        var batches: [String: Int] = [:]
        var eventsStored = 0
        var eventsDuplicate = 0
        var snapshotsStored = 0
        var bodyBytes = 0
        var httpResponses: [Int: Int] = [:]
        var ingestLatency = Histogram()
        var authFailures = 0
        var rateLimited = 0
        var overloaded = 0
        var dbErrors = 0
    }

    struct Histogram {
        static let bounds: [Double] = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
        ]
        var counts = [Int](repeating: 0, count: bounds.count)
        var sum = 0.0
        var count = 0

        mutating func observe(_ seconds: Double) {
            for (i, b) in Self.bounds.enumerated() where seconds <= b { counts[i] += 1 }
            sum += seconds
            count += 1
        }
    }

    private let state = Mutex(State())

    public init() {}

    func ingested(stored: Int, duplicate: Int, snapshots: Int, seconds: Double) {
        state.withLock {
            $0.batches["ok", default: 0] += 1
            $0.eventsStored += stored
            $0.eventsDuplicate += duplicate
            $0.snapshotsStored += snapshots
            $0.ingestLatency.observe(seconds)
        }
    }

    /// An ingest body's size as it came over the wire (before gzip decoding).
    func received(bodyBytes: Int) {
        state.withLock { $0.bodyBytes += bodyBytes }
    }

    func batchFailed(_ reason: String) {
        state.withLock { $0.batches[reason, default: 0] += 1 }
    }

    func response(status: Int) {
        state.withLock { $0.httpResponses[status, default: 0] += 1 }
    }

    func authFailed() { state.withLock { $0.authFailures += 1 } }
    func rateLimited() { state.withLock { $0.rateLimited += 1 } }
    func overloaded() { state.withLock { $0.overloaded += 1 } }
    func databaseError() { state.withLock { $0.dbErrors += 1 } }

    /// Prometheus exposition text, with fleet gauges appended by the caller.
    func render(
        dbSizeBytes: Int64, pendingWrites: Int, hosts: Int, staleHosts: Int, events: Int,
        kills24h: [String: Int], pace: (hosts: Int, interval: Double?), writerCache: WriterCacheStats? = nil
    ) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        /// A family with one unlabelled sample: the name is written once.
        func single(_ name: String, _ type: String, _ help: String, _ value: some Numeric) {
            family(name, type, help)
            out += "\(name) \(value)\n"
        }
        family("oomwatch_ingest_batches_total", "counter", "Ingest batches by result.")
        for key in ["ok", "invalid", "overloaded", "error"] {
            out += "oomwatch_ingest_batches_total{result=\"\(key)\"} \(s.batches[key] ?? 0)\n"
        }
        single("oomwatch_ingest_events_total", "counter", "OOM events stored.", s.eventsStored)
        single("oomwatch_ingest_duplicate_events_total", "counter", "Re-sent events ignored.", s.eventsDuplicate)
        single("oomwatch_ingest_snapshots_total", "counter", "Memory snapshots stored.", s.snapshotsStored)
        single(
            "oomwatch_ingest_body_bytes_total", "counter", "Ingest body bytes as received (before gzip decoding).",
            s.bodyBytes)
        family(
            "oomwatch_ingest_duration_seconds", "histogram",
            "Time from request to commit of successful ingests.")
        for (i, b) in Histogram.bounds.enumerated() {
            out += "oomwatch_ingest_duration_seconds_bucket{le=\"\(b)\"} \(s.ingestLatency.counts[i])\n"
        }
        out += "oomwatch_ingest_duration_seconds_bucket{le=\"+Inf\"} \(s.ingestLatency.count)\n"
        out += "oomwatch_ingest_duration_seconds_sum \(s.ingestLatency.sum)\n"
        out += "oomwatch_ingest_duration_seconds_count \(s.ingestLatency.count)\n"
        family("oomwatch_http_responses_total", "counter", "HTTP responses by status code.")
        for code in s.httpResponses.keys.sorted() {
            out += "oomwatch_http_responses_total{code=\"\(code)\"} \(s.httpResponses[code]!)\n"
        }
        single("oomwatch_auth_failures_total", "counter", "Requests refused with 401 or 403.", s.authFailures)
        single("oomwatch_rate_limited_total", "counter", "Requests refused with 429.", s.rateLimited)
        single("oomwatch_overloaded_total", "counter", "Ingests refused with 503 (queue full).", s.overloaded)
        single("oomwatch_database_errors_total", "counter", "Database errors (5xx).", s.dbErrors)
        single("oomwatch_database_size_bytes", "gauge", "SQLite file plus WAL size.", dbSizeBytes)
        single("oomwatch_pending_writes", "gauge", "Ingest batches waiting for the writer.", pendingWrites)
        single("oomwatch_hosts", "gauge", "Hosts known.", hosts)
        single("oomwatch_stale_hosts", "gauge", "Hosts silent for three intervals.", staleHosts)
        single(
            "oomwatch_ingest_active_hosts", "gauge", "Hosts that posted to this collector in the pacing window.",
            pace.hosts)
        single(
            "oomwatch_ingest_upload_interval_seconds", "gauge",
            "Upload interval this collector asks agents for (0: their own).", pace.interval ?? 0)
        if let cache = writerCache {
            single("oomwatch_writer_cache_hosts", "gauge", "Hosts the writer's cache holds.", cache.hosts)
            single(
                "oomwatch_writer_cache_hosts_limit", "gauge", "The writer's cache bound (db.cache_hosts).", cache.limit)
            family(
                "oomwatch_writer_cache_reads_total", "counter",
                "Stored rows read back because the writer's cache did not hold them.")
            for kind in WriterCacheStats.Kind.allCases {
                out += "oomwatch_writer_cache_reads_total{kind=\"\(kind.rawValue)\"} \(cache.reads[kind])\n"
            }
        }
        single("oomwatch_events_stored", "gauge", "Highest event row id (events ever stored).", events)
        family("oomwatch_host_kills_24h", "gauge", "OOM kills per host in the last 24 hours.")
        for host in kills24h.keys.sorted() {
            out += "oomwatch_host_kills_24h{host=\"\(Self.escapeLabel(host))\"} \(kills24h[host]!)\n"
        }
        return out
    }

    static func escapeLabel(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
