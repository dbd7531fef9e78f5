import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Fixture files live next to the tests; located from this source file's path because
/// `Bundle.module` needs full Foundation.
enum Fixture {
    static let directory: String = {
        let path = #filePath
        let dir = path[..<(path.lastIndex(of: "/") ?? path.endIndex)]
        return String(dir) + "/Fixtures"
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
    }

    static func text(_ name: String) throws -> String {
        String(decoding: try bytes(name), as: UTF8.self)
    }
}

/// Scans `bytes` the way `oomwatch-agent scan` does, feeding `chunkSize` bytes at a time.
func scan(
    _ bytes: [UInt8], chunkSize: Int = 1 << 16, fastPath: Bool = true,
    options: LogLineParser.Options = LogLineParser.Options(referenceEpochSeconds: 1_767_225_600)
) -> [OOMEvent] {
    var scanner = KernelLogScanner(parser: LogLineParser(options: options))
    scanner.fastPath = fastPath
    var events: [OOMEvent] = []
    var i = 0
    while i < bytes.count {
        let end = min(i + chunkSize, bytes.count)
        events += scanner.feed(Array(bytes[i..<end]))
        i = end
    }
    return events + scanner.finish()
}

func scan(_ text: String, fastPath: Bool = true) -> [OOMEvent] {
    scan(Array(text.utf8), fastPath: fastPath)
}

func scanFixture(_ name: String) throws -> [OOMEvent] {
    scan(try Fixture.bytes(name))
}

/// A victim with the fields the kernel prints on its kill line.
func victim(
    _ pid: Int, _ comm: String, uid: Int? = nil, totalVm: Int64? = nil, anon: Int64? = nil,
    file: Int64? = nil, shmem: Int64? = nil, pgtables: Int64? = nil, adj: Int? = nil,
    score: Int? = nil, cgroup: String? = nil
) -> OOMEvent.Victim {
    var v = OOMEvent.Victim(pid: pid, comm: comm)
    v.uid = uid
    v.totalVmKB = totalVm
    v.anonRssKB = anon
    v.fileRssKB = file
    v.shmemRssKB = shmem
    v.pgtablesKB = pgtables
    v.oomScoreAdj = adj
    v.score = score
    v.cgroup = cgroup
    return v
}

func trigger(
    pid: Int?, comm: String, gfp: String?, order: Int?, adj: Int?, oomAdj: Int? = nil
) -> OOMEvent.Trigger {
    var t = OOMEvent.Trigger()
    t.pid = pid
    t.comm = comm
    t.gfpMask = gfp
    t.order = order
    t.oomScoreAdj = adj
    t.oomAdj = oomAdj
    return t
}

func memcg(
    oom: String? = nil, task: String? = nil, usage: Int64? = nil, limit: Int64? = nil, failcnt: Int64? = nil
) -> OOMEvent.Memcg {
    var m = OOMEvent.Memcg()
    m.oom = oom
    m.task = task
    m.usageKB = usage
    m.limitKB = limit
    m.failcnt = failcnt
    return m
}
