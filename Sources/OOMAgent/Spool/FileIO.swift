import HostSupport
import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// A file system call failed.
public struct FileIOError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var errno: Int32
    /// What is wrong and what to do, when the error number alone does not say.
    public var detail: String? = nil
    public var description: String { "\(operation) \(path): \(detail ?? String(cString: strerror(errno)))" }
}

/// Small POSIX helpers for the state directory (spool, cursors, dead letters).
public enum FileIO {
    /// Creates `path` and its parents (mode 0700: the spool holds host details).
    public static func makeDirectories(_ path: String) throws(FileIOError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw FileIOError(operation: "mkdir", path: current, errno: errno)
            }
        }
    }

    /// Refuses a state directory that another user could tamper with: it must be a
    /// directory owned by this process's user and writable by nobody else, or a local
    /// user could plant symlinks and spool records there.
    public static func checkPrivateDirectory(_ path: String) throws(FileIOError) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileIOError(operation: "stat", path: path, errno: errno) }
        let uid = geteuid()
        var problems: [String] = []
        if st.st_mode & S_IFMT != S_IFDIR { problems.append("is not a directory") }
        if st.st_uid != uid { problems.append("is owned by uid \(st.st_uid), not the agent's uid \(uid)") }
        if st.st_mode & 0o022 != 0 {
            problems.append("is writable by its group or others (mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
        guard problems.isEmpty else {
            throw FileIOError(
                operation: "refusing state directory", path: path, errno: EPERM,
                detail: problems.joined(separator: " and ")
                    + "; use a directory only the agent's user can write (chown it, chmod 0700)")
        }
    }

    /// The whole file, or `nil` if it does not exist.
    public static func readAll(_ path: String) throws(FileIOError) -> [UInt8]? {
        do {
            return try FileReader.contents(of: path)
        } catch {
            throw FileIOError(operation: "read", path: path, errno: error.errno)
        }
    }

    /// Writes all of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(FileIOError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// Replaces `path` atomically and durably: temp file, fsync, rename, fsync of the
    /// directory. A crash leaves either the old or the new content.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(FileIOError) {
        let tmp = path + ".tmp"
        // A fresh file, never one found there: a symlink planted as the temp file would
        // otherwise have the agent overwrite its target.
        if unlink(tmp) != 0 && errno != ENOENT { throw FileIOError(operation: "unlink", path: tmp, errno: errno) }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { throw FileIOError(operation: "open", path: tmp, errno: errno) }
        do {
            try writeAll(fd, bytes, path: tmp)
        } catch {
            close(fd)
            throw error
        }
        if fsync(fd) != 0 {
            let e = errno
            close(fd)
            throw FileIOError(operation: "fsync", path: tmp, errno: e)
        }
        close(fd)
        if rename(tmp, path) != 0 { throw FileIOError(operation: "rename", path: path, errno: errno) }
        syncDirectory(of: path)
    }

    /// Makes a created, renamed or removed entry durable.
    public static func syncDirectory(of path: String) {
        let dir: String
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            dir = "."
        }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Appends one line durably-enough (no fsync) to `path`, creating it.
    public static func appendLine(_ path: String, _ bytes: [UInt8]) throws(FileIOError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { throw FileIOError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        try writeAll(fd, bytes + [ASCII.newline], path: path)
        fsync(fd)
    }

    public static func exists(_ path: String) -> Bool {
        Glibc.access(path, F_OK) == 0
    }

    public static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }
}
