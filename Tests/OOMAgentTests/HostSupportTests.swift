import HostSupport
import OOMKit
import Testing

@testable import OOMAgent

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

    /// Writable file mappings (a binary's data) are paged out only where the host has no
    /// swap: with swap the kernel would write the agent's own changed pages to it. Shared
    /// and anonymous mappings never are; an unreadable /proc/swaps counts as swap.
    @Test func dataMappingsAreTrimmedOnlyWithoutSwap() {
        let maps = ProcMaps.parse(
            ArraySlice(
                """
                55d0c1a00000-55d0c1c00000 r-xp 00001000 08:01 1234 /usr/bin/oomwatch-agent
                55d0c1c00000-55d0c1d00000 rw-p 00201000 08:01 1234 /usr/bin/oomwatch-agent
                55d0c1d00000-55d0c1e00000 rw-p 00000000 00:00 0
                7f2000000000-7f2000001000 rw-s 00000000 08:01 7 /dev/shm/x
                7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
                """.utf8))
        let header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
        let noSwap = CodePageTrimmer.hasSwap(ArraySlice(header.utf8))
        let swap = CodePageTrimmer.hasSwap(ArraySlice((header + "/swapfile file 1048572 0 -2\n").utf8))
        #expect(!noSwap && swap && CodePageTrimmer.hasSwap(nil))
        #expect(CodePageTrimmer.trimmed(maps, hostHasSwap: false).map(\.start) == [0x55d0_c1a0_0000, 0x55d0_c1c0_0000])
        #expect(CodePageTrimmer.trimmed(maps, hostHasSwap: true).map(\.start) == [0x55d0_c1a0_0000])
    }
}
