import Dispatch
public import HostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Reads /dev/kmsg records with non-blocking `read`s (one record per read) and waits with
/// `poll` on a Dispatch thread, so no cooperative-pool thread ever blocks.
public final class KmsgReader: @unchecked Sendable {
    // @unchecked: `buffer` is used only by the single task that owns the reader; `fd` and
    // the wake pipe are immutable after init.
    public enum Result {
        case record(ArraySlice<UInt8>)
        /// Nothing new yet.
        case empty
        /// The ring buffer overwrote records we had not read (EPIPE).
        case overrun
    }

    public let path: String
    private let fd: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    private static let queue = DispatchQueue(label: "oomwatch.kmsg.poll")

    public init(path: String) throws(FileReadError) {
        self.path = path
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw FileReadError(path: path, errno: errno) }
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 {
            let e = errno
            close(fd)
            throw FileReadError(path: "pipe", errno: e)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        for p in fds {
            _ = fcntl(p, F_SETFL, O_NONBLOCK)
            _ = fcntl(p, F_SETFD, FD_CLOEXEC)
        }
    }

    deinit {
        close(fd)
        close(wakeRead)
        close(wakeWrite)
    }

    public func next() throws(FileReadError) -> Result {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n > 0 { return .record(buffer[0..<n]) }
            if n == 0 { return .empty }
            switch errno {
            case EINTR: continue
            case EAGAIN: return .empty
            case EPIPE: return .overrun
            default: throw FileReadError(path: path, errno: errno)
            }
        }
    }

    /// Waits until a record may be readable, `timeoutMs` passes, or `wake()` is called.
    public func wait(timeoutMs: Int32) async {
        let fd = self.fd
        let wakeRead = self.wakeRead
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Self.queue.async {
                var fds = [
                    pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                ]
                _ = poll(&fds, 2, timeoutMs)
                c.resume()
            }
        }
    }

    /// Ends a `wait` early (shutdown). The byte stays in the pipe, so every later wait
    /// returns at once too: the follower is stopping.
    public func wake() {
        var b: UInt8 = 1
        _ = Glibc.write(wakeWrite, &b, 1)
    }
}
