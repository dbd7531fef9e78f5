import CMalloc
import HostSupport
import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// Gives back the pages of the agent's code and read-only data that only starting up
/// touched (argument parsing, config, preflight checks, library initialisers).
///
/// The kernel maps a file's code in 64 KB runs around each page the program touches and
/// reads ahead on top, so after start-up most of the binary and of libcurl's ~35 libraries
/// sit in the agent's resident set although a sampling cycle runs a small part of them
/// (bench/agent-footprint.sh, docs/capacity-agent.md). This marks every read-only file
/// mapping random-access (no more read-ahead or fault-around batches) and pages it out;
/// what the steady loop needs comes back one page at a time on its next run. Writable
/// and anonymous memory is never touched, and a kernel without `MADV_PAGEOUT` (before
/// 5.4) just declines: it is advice, never a failure. The heap's free pages go back too
/// (`malloc_trim`), so a burst (a backlog upload) does not stay resident either.
public enum CodePageTrimmer {
    /// Trims the mappings listed in `mapsPath` (this process's own); returns the bytes of
    /// mappings advised.
    @discardableResult
    public static func trim(mapsPath: String = "/proc/self/maps") -> Int {
        var reader = FileReader()
        guard let bytes = try? reader.read(mapsPath) else { return 0 }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        var advised = 0
        for mapping in ProcMaps.parse(bytes) where mapping.isReadOnlyFile {
            let start = mapping.start & ~(page - 1)
            let length = Int(mapping.end - start)
            guard let address = UnsafeMutableRawPointer(bitPattern: start), length > 0 else { continue }
            _ = madvise(address, length, MADV_RANDOM)
            if madvise(address, length, MADV_PAGEOUT) == 0 { advised += length }
        }
        releaseFreeHeap()
        return advised
    }

    /// Returns the heap's free pages to the kernel (`malloc_trim`). Run after every
    /// sampling cycle: a cycle with 2,000 processes frees most of what it allocated, and
    /// glibc would otherwise keep those pages resident (about 1 MB measured,
    /// docs/capacity-agent.md), at a cost of a few system calls.
    public static func releaseFreeHeap() {
        malloc_trim(0)
    }
}
