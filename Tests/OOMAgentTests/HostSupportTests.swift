import HostSupport
import OOMAgent
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct HostSupportTests {
    @Test func fileReaderReadsWholeFilesAndGrows() throws {
        let path = "/tmp/oomwatch-filereader-\(getpid())"
        defer { unlink(path) }
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try FileIO.writeAtomically(path, bytes)
        var reader = FileReader(initialCapacity: 16)
        #expect(Array(try reader.read(path)) == bytes)
        #expect(try reader.read(path, limit: 1000).count == 1000)
        #expect(try FileReader.contents(of: path) == bytes)
        #expect(try FileReader.contents(of: path + ".missing") == nil)
        #expect(try FileIO.readAll(path) == bytes)
        #expect(throws: FileReadError.self) { try reader.read(path + ".missing") }
        #expect(throws: FileIOError.self) { try FileIO.readAll("/proc/self/mem") }
    }

    @Test func clocksMove() {
        let wall = HostClock.nowMicros()
        #expect(wall > 1_700_000_000_000_000)
        let a = HostClock.monotonicNanos()
        usleep(2000)
        #expect(HostClock.monotonicNanos() - a >= 2_000_000)
        #expect(HostClock.bootMicros() > 0)
    }

    /// The trim really gives pages back: this test process's resident file-backed memory
    /// (its own test binary is mapped by no one else) drops.
    @Test func codePageTrimDropsResidentFilePages() throws {
        func residentFileKB() -> Int {
            guard let bytes = try? FileReader.contents(of: "/proc/self/smaps_rollup") else { return 0 }
            let text = String(decoding: bytes, as: UTF8.self)
            let line = text.split(separator: "\n").first { $0.hasPrefix("Rss:") } ?? ""
            let anon = text.split(separator: "\n").first { $0.hasPrefix("Anonymous:") } ?? ""
            func kb(_ l: Substring) -> Int { Int(l.split(separator: " ")[1]) ?? 0 }
            return kb(line) - kb(anon)
        }
        let before = residentFileKB()
        let advised = CodePageTrimmer.trim()
        let after = residentFileKB()
        #expect(advised > 0)
        #expect(after < before, "resident file-backed kB: \(before) before the trim, \(after) after")
    }
}
