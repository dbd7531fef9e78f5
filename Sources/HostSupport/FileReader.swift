#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file could not be read.
public struct FileReadError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }

    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }

    /// The file does not exist (a process that exited, a kernel without the feature).
    public var isMissing: Bool { errno == ENOENT || errno == ESRCH }
}

/// Reads whole files with plain POSIX calls into one reusable buffer, so a sampling cycle
/// allocates nothing per file read. The one file reader of the agent and the CLI: /proc and
/// /sys files, the state directory's files, config and token files.
public struct FileReader: Sendable {
    private var buffer: [UInt8]

    public init(initialCapacity: Int = 16 * 1024) {
        buffer = [UInt8](repeating: 0, count: initialCapacity)
    }

    /// The bytes of `path`, valid until the next call. Grows the buffer for big files
    /// (a /proc file's size is unknown until read); stops at `limit` bytes.
    public mutating func read(_ path: String, limit: Int = 4 << 20) throws(FileReadError) -> ArraySlice<UInt8> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw FileReadError(path: path, errno: errno) }
        defer { close(fd) }
        guard let bytes = readAll(fd, limit: limit) else { throw FileReadError(path: path, errno: errno) }
        return bytes
    }

    /// `read` of a NUL-terminated path in `path` (a reusable buffer), for hot loops that
    /// should not build a `String` per file.
    public mutating func read(cPath path: [UInt8]) -> ArraySlice<UInt8>? {
        let fd = path.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        }
        if fd < 0 { return nil }
        defer { close(fd) }
        return readAll(fd, limit: 4 << 20)
    }

    /// The whole file at `path` as a fresh array, or `nil` if it does not exist; other
    /// failures throw. No size limit: state files (spool segments) must never be cut.
    public static func contents(of path: String) throws(FileReadError) -> [UInt8]? {
        var reader = FileReader(initialCapacity: 64 * 1024)
        do {
            return Array(try reader.read(path, limit: .max))
        } catch  where error.errno == ENOENT {
            return nil
        }
    }

    /// Reads `fd` to its end (or `limit` bytes) into the buffer; `nil` with `errno` set
    /// when a read fails.
    private mutating func readAll(_ fd: Int32, limit: Int) -> ArraySlice<UInt8>? {
        var total = 0
        while true {
            if total == buffer.count {
                guard buffer.count < limit else { break }
                buffer.append(contentsOf: repeatElement(0, count: Swift.max(buffer.count, 4096)))
            }
            let n = buffer.withUnsafeMutableBytes { raw in
                Glibc.read(fd, raw.baseAddress! + total, raw.count - total)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            total += n
        }
        return buffer[0..<Swift.min(total, limit)]
    }
}

/// Lists a directory's entry names with `opendir`/`readdir`.
public enum DirectoryList {
    /// Calls `body` with each entry name's bytes (no `.`/`..`) and whether it is a
    /// directory (when the file system says so).
    private static let dot = UInt8(ascii: ".")

    public static func forEach(
        _ path: String, _ body: (UnsafeBufferPointer<UInt8>, _ isDirectory: Bool) -> Void
    ) throws(FileReadError) {
        guard let dir = opendir(path) else { throw FileReadError(path: path, errno: errno) }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let isDir = entry.pointee.d_type == UInt8(DT_DIR)
            withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: UInt8.self, capacity: 256) { p in
                    let len = strlen(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
                    let name = UnsafeBufferPointer(start: p, count: len)
                    if len == 1 && p[0] == dot { return }
                    if len == 2 && p[0] == dot && p[1] == dot { return }
                    body(name, isDir)
                }
            }
        }
    }
}
