#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The terminal the CLI writes to: whether stdout is one, and how wide it is.
enum Terminal {
    static var stdoutIsTerminal: Bool { isatty(1) == 1 }

    /// Columns to fit tables to: `$COLUMNS` when set (so scripts and tests can pin it),
    /// else the terminal's own width (TIOCGWINSZ), else `nil`: no limit, as for a pipe.
    static func width(environment: [String: String]) -> Int? {
        if let text = environment["COLUMNS"], let columns = Int(text), columns > 0 {
            return columns
        }
        guard stdoutIsTerminal else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Writes `text` to stdout straight away (no stdio buffer, so `watch` lines appear as
    /// they happen and nothing is lost on exit).
    static func write(_ text: String) {
        writeAll(fd: 1, text)
    }

    /// Writes one line to stderr.
    static func writeError(_ line: String) {
        writeAll(fd: 2, line.hasSuffix("\n") ? line : line + "\n")
    }

    private static func writeAll(fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return  // A closed pipe (`| head`): nothing more to say.
            }
            offset += n
        }
    }
}

/// write(2), named apart from `Terminal.write`.
private func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
        return Glibc.write(fd, pointer, count)
    #elseif canImport(Musl)
        return Musl.write(fd, pointer, count)
    #else
        return Darwin.write(fd, pointer, count)
    #endif
}
