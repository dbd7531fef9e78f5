import Glibc
import OOMKit

// One program, both codecs, the same inputs: OOMKit's JSONReader/JSONWriter (as the agent
// and, since issue 14, the collector use them) against FoundationEssentials'
// JSONDecoder/JSONEncoder (what the collector's ingest used before). Built by
// bench/json-codec.sh from OOMKit's sources; see there for what it prints.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { fatalError("cannot open \(path)") }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}

/// kB of VmRSS and of private memory (Private_Clean + Private_Dirty) of this process.
func memory() -> (rss: Int, priv: Int) {
    func field(_ text: String, _ name: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }
    let status = String(decoding: readFile("/proc/self/status"), as: UTF8.self)
    let rollup = String(decoding: readFile("/proc/self/smaps_rollup"), as: UTF8.self)
    return (field(status, "VmRSS:"), field(rollup, "Private_Clean:") + field(rollup, "Private_Dirty:"))
}

/// Best of five rounds, in microseconds per call.
func time(_ rounds: Int, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<5 {
        let start = now()
        for _ in 0..<rounds { try body() }
        best = min(best, (now() - start) / Double(rounds) * 1e6)
    }
    return best
}

let args = CommandLine.arguments
guard args.count >= 3 else { fatalError("usage: codec speed|rss-oomkit|rss-foundation FILE...") }
let files = args.dropFirst(2).map { readFile($0) }
let limits = IngestLimits()

switch args[1] {
case "speed":
    for (path, bytes) in zip(args.dropFirst(2), files) {
        let batch = try IngestValidator.decode(bytes, limits: limits)
        let rounds = max(3, 2_000_000 / bytes.count)
        let oomkitDecode = try time(rounds) { _ = try IngestValidator.decode(bytes, limits: limits) }
        let foundationDecode = try time(rounds) {
            _ = try JSONDecoder().decode(IngestBatch.self, from: Data(bytes))
        }
        let oomkitEncode = try time(rounds) { _ = try JSONWriter().encode(batch) }
        let foundationEncode = try time(rounds) { _ = try JSONEncoder().encode(batch) }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        print(
            "\(name) \(bytes.count) bytes, \(batch.snapshots.count) snapshots, \(batch.events.count) events:"
                + " decode oomkit \(Int(oomkitDecode)) us, foundation \(Int(foundationDecode)) us"
                + " (ratio \(Double(Int(foundationDecode / oomkitDecode * 100)) / 100));"
                + " encode oomkit \(Int(oomkitEncode)) us, foundation \(Int(foundationEncode)) us"
                + " (ratio \(Double(Int(foundationEncode / oomkitEncode * 100)) / 100))")
    }
case "rss-oomkit", "rss-foundation":
    // What a process that only encodes batches (the agent's part) holds after 200 rounds.
    let before = memory()
    let batches = try files.map { try IngestValidator.decode($0, limits: limits) }
    for _ in 0..<200 {
        for batch in batches {
            if args[1] == "rss-oomkit" {
                _ = try JSONWriter().encode(batch)
            } else {
                _ = try JSONEncoder().encode(batch)
            }
        }
    }
    let after = memory()
    print(
        "\(args[1]): RSS \(after.rss) kB (+\(after.rss - before.rss)), private \(after.priv) kB (+\(after.priv - before.priv))"
    )
default:
    fatalError("unknown mode \(args[1])")
}
