import CMalloc
import HostSupport
import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// Gives back the pages of the agent's code and data that only starting up touched
/// (argument parsing, config, preflight checks, library initialisers).
///
/// The kernel maps a file's code in 64 KB runs around each page the program touches and
/// reads ahead on top, so after start-up most of the binary and of libcurl's ~35 libraries
/// sit in the agent's resident set although a sampling cycle runs a small part of them
/// (bench/agent-footprint.sh, docs/capacity-agent.md). This marks every read-only file
/// mapping random-access (no more read-ahead or fault-around batches) and pages it out;
/// what the steady loop needs comes back one page at a time on its next run. On a host
/// without swap the binaries' writable data mappings are paged out too: there the kernel
/// can only drop the pages never written (clean copies of the file, mostly type metadata
/// read at start), and keeps the written ones; with swap it would write those out to it,
/// so they are left alone. Anonymous memory is never touched, and a kernel without
/// `MADV_PAGEOUT` (before 5.4) just declines: it is advice, never a failure. The heap's
/// free pages go back too (`malloc_trim`), so a burst (a backlog upload) does not stay
/// resident either.
public enum CodePageTrimmer {
    /// Trims the mappings listed in `mapsPath` (this process's own); returns the bytes of
    /// mappings advised. `swapsPath` tells whether the host swaps.
    @discardableResult
    public static func trim(mapsPath: String = "/proc/self/maps", swapsPath: String = "/proc/swaps") -> Int {
        var reader = FileReader()
        let swap = hasSwap(try? reader.read(swapsPath))
        guard let bytes = try? reader.read(mapsPath) else { return 0 }
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        var advised = 0
        for mapping in trimmed(ProcMaps.parse(bytes), hostHasSwap: swap) {
            let start = mapping.start & ~(page - 1)
            let length = Int(mapping.end - start)
            guard let address = UnsafeMutableRawPointer(bitPattern: start), length > 0 else { continue }
            _ = madvise(address, length, MADV_RANDOM)
            if madvise(address, length, MADV_PAGEOUT) == 0 { advised += length }
        }
        releaseFreeHeap()
        return advised
    }

    /// The mappings to page out: read-only files always, private writable files only on a
    /// host without swap.
    static func trimmed(_ mappings: [MemoryMapping], hostHasSwap: Bool) -> [MemoryMapping] {
        mappings.filter { $0.isReadOnlyFile || (!hostHasSwap && $0.isWritablePrivateFile) }
    }

    /// Whether /proc/swaps (`bytes`) lists a swap device below its header; unreadable
    /// (nil) counts as swap, the careful answer.
    public static func hasSwap(_ bytes: ArraySlice<UInt8>?) -> Bool {
        guard let bytes else { return true }
        return bytes.split(separator: ASCII.newline).count > 1
    }

    /// Returns the heap's free pages to the kernel (`malloc_trim`). Run after every
    /// sampling cycle: a cycle with 2,000 processes frees most of what it allocated, and
    /// glibc would otherwise keep those pages resident (about 1 MB measured,
    /// docs/capacity-agent.md), at a cost of a few system calls.
    public static func releaseFreeHeap() {
        malloc_trim(0)
    }
}
