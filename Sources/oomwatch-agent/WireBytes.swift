import ArgumentParser
import Gzip
import OOMAgent
import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// `oomwatch-agent wire-bytes` (hidden, for `bench/wire-bytes.py` and
/// `bench/snapshot-cpu.py`): snapshots as JSON lines on standard input, one batch each as
/// the uploader makes them for a collector that acknowledges every batch (processes by
/// reference, snapshots as deltas). Prints one JSON line per batch: the bytes on the wire
/// (gzipped above the uploader's threshold) and those of the full form, and with
/// `--bodies` the body itself and its full form.
struct WireBytes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire-bytes", abstract: "Bytes on the wire per batch, for benchmarks.", shouldDisplay: false)

    @Option(help: "Snapshots per batch; a fraction alternates sizes around it (3.5: 3, 4, 3, 4...).")
    var batch = 1.0
    @Option(help: "The uploader's gzip threshold, bytes.")
    var gzipMinBytes = 1024
    @Flag(help: "Print each body and its full form too.")
    var bodies = false

    func run() async throws {
        let reader = JSONReader()
        // As the agent sends it: its version, intervals and every counter.
        let agent = AgentCounters().agentInfo(
            version: "wire-bytes", intervalS: 10, uploadIntervalS: 10 * max(batch, 1))
        var sizes = BatchSizes(mean: batch)
        var size = sizes.next()
        var references = ProcessReferences()
        var records: [SpoolRecord] = []
        var host = ""
        func flush() {
            guard !records.isEmpty else { return }
            var sent = ProcessReferences.Sent()
            let wire = BatchBody.make(
                host: host, bootID: nil, agent: agent, records: records, references: references, sent: &sent)
            let full = BatchBody.make(host: host, bootID: nil, agent: agent, records: records)
            references.delivered(sent, collectorTakesReferences: true, collectorTakesDeltas: true)
            var line = #"{"wire":\#(onWire(wire)),"full":\#(onWire(full)),"deltas":\#(sent.deltas)"#
            if bodies {
                line += #","body":"# + String(decoding: wire, as: UTF8.self)
                line += #","full_body":"# + String(decoding: full, as: UTF8.self)
            }
            print(line + "}")
            records = []
            size = sizes.next()
        }
        while let text = readLine(strippingNewline: true) {
            guard !text.isEmpty else { continue }
            let bytes = Array(text.utf8)
            let snapshot: MemorySnapshot
            do {
                snapshot = try reader.decode(MemorySnapshot.self, from: bytes)
            } catch {
                throw ValidationError("standard input: not a snapshot: \(error)")
            }
            if snapshot.host != host {
                flush()
                // Another host: another agent, with nothing acknowledged yet.
                references = ProcessReferences()
                host = snapshot.host
            }
            records.append(SpoolRecord(kind: .snapshot, payload: bytes))
            if records.count >= size { flush() }
        }
        flush()
    }

    /// Whole batch sizes averaging `mean`: each the whole part of what is due so far
    /// (bench/snapshot-cpu.py cuts its posts the same way).
    struct BatchSizes {
        let mean: Double
        var due = 0.0

        mutating func next() -> Int {
            due += max(mean, 1)
            let size = Int(due.rounded(.down))
            due -= Double(size)
            return size
        }
    }

    /// The body's size as the uploader sends it.
    func onWire(_ body: [UInt8]) -> Int {
        guard body.count > gzipMinBytes, let gz = try? Gzip.compress(body) else { return body.count }
        return gz.count
    }
}
