import ArgumentParser
import OOMKit
import OOMServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage API tokens.", subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token: print it once, store only its SHA-256.")

        @OptionGroup var options: ConfigOptions

        @Option(help: "agent (may ingest), read (may query) or admin (both).")
        var role: String

        @Option(help: "A name for the token (one word), kept next to its hash.")
        var name: String?

        @Option(
            help: ArgumentHelp(
                "Bind an agent token to host names matching GLOB (e.g. 'web-*'): its batches for other hosts get 403.",
                valueName: "GLOB"))
        var host: String?

        func validate() throws {
            guard TokenRole(rawValue: role) != nil else {
                throw ValidationError("--role must be agent, read or admin")
            }
            if let name {
                guard !name.isEmpty, name.utf8.count <= 64,
                    !name.contains(where: { $0 == " " || $0 == "\t" || $0 == "#" || $0 == "\n" })
                else {
                    throw ValidationError("--name must be one word without # (at most 64 bytes)")
                }
                // A name that looks like host=… would be read back as the binding.
                guard !name.hasPrefix("host=") else { throw ValidationError("--name must not start with host=") }
            }
            if let host {
                guard role == "agent" else {
                    throw ValidationError("--host binds agent tokens only: use it with --role agent")
                }
                guard TokenStore.validGlob(host) else {
                    throw ValidationError(
                        "--host must be a host name pattern: letters, digits, . - _ and the glob characters * ? [ ]"
                    )
                }
            }
        }

        func run() throws {
            let layers = try options.layers()
            let path = options.tokensPath(layers)
            // Create the data directory (and parents) like the server would.
            var prefix = ""
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            for (i, part) in parts.enumerated() {
                prefix += (i == 0 ? "" : "/") + part
                if !prefix.isEmpty { mkdir(prefix, 0o700) }
            }
            let secret = TokenStore.generateSecret()
            let line = TokenStore.fileLine(
                role: TokenRole(rawValue: role)!, secret: secret, name: name, hostGlob: host)
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw ValidationError("cannot open \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            // Start on a fresh line even when the file's last line has no newline.
            prefix = ""
            var info = stat()
            if fstat(fd, &info) == 0, info.st_size > 0 {
                let rfd = open(path, O_RDONLY | O_CLOEXEC)
                if rfd >= 0 {
                    var last: UInt8 = 0
                    if pread(rfd, &last, 1, off_t(info.st_size - 1)) == 1, last != 10 { prefix = "\n" }
                    close(rfd)
                }
            }
            let bytes = Array((prefix + line + "\n").utf8)
            guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
                throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            print(secret)
            var stderr = StandardError()
            print(
                "stored sha256 of a new \(role) token in \(path); the token is shown only once",
                to: &stderr)
        }
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        let bytes = Array(string.utf8)
        _ = Glibc.write(2, bytes, bytes.count)
    }
}
