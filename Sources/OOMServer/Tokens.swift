public import OOMKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A tokens file that could not be read, with the line that is wrong.
public struct TokensFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var line: Int
    public var message: String
    public var description: String {
        line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)"
    }
}

/// One accepted token: only the SHA-256 of the secret is ever held.
public struct TokenEntry: Sendable, Equatable {
    public var role: TokenRole
    public var hash: [UInt8]
    public var name: String?
    /// `host=GLOB`: the hosts this token may send batches for (`*`, `?`, `[…]`); any host
    /// when `nil`.
    public var hostGlob: String?

    public init(role: TokenRole, hash: [UInt8], name: String?, hostGlob: String? = nil) {
        self.role = role
        self.hash = hash
        self.name = name
        self.hostGlob = hostGlob
    }

    /// Whether this token may write `host`'s data.
    public func mayWrite(host: String) -> Bool {
        guard let hostGlob else { return true }
        return fnmatch(hostGlob, host, 0) == 0
    }
}

/// The tokens file (`ROLE SECRET [NAME] [host=GLOB]` or `ROLE sha256:HEX [NAME]
/// [host=GLOB]`, `#` comments), reloadable while the server runs.
public final class TokenStore: Sendable {
    private let entries: Mutex<[TokenEntry]>
    /// The file, when tokens come from one.
    public let path: String?

    public init(entries: [TokenEntry], path: String? = nil) {
        self.entries = Mutex(entries)
        self.path = path
    }

    /// Loads `path`. A missing file means no tokens (every request is 401) rather than a
    /// failure, so a fresh collector starts and `token create` can add the first one.
    public convenience init(path: String) throws(TokensFileError) {
        self.init(entries: try Self.load(path: path), path: path)
    }

    /// How many tokens are loaded.
    public var count: Int { entries.withLock { $0.count } }

    /// Re-reads the file; on error the tokens in use stay as they were.
    public func reload() throws(TokensFileError) {
        guard let path else { return }
        let fresh = try Self.load(path: path)
        entries.withLock { $0 = fresh }
    }

    /// Parses a tokens file's text.
    public static func parse(_ text: String, path: String = "tokens") throws(TokensFileError)
        -> [TokenEntry]
    {
        var out: [TokenEntry] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            var hostGlob: String?
            if fields.count >= 3, let last = fields.last, last.hasPrefix("host=") {
                hostGlob = String(last.dropFirst(5))
                fields.removeLast()
                guard let glob = hostGlob, Self.validGlob(glob) else {
                    throw TokensFileError(
                        path: path, line: lineNumber,
                        message: "host= needs a host name pattern (letters, digits, . - _ * ? [ ])")
                }
                guard fields[0] == "agent" else {
                    throw TokensFileError(
                        path: path, line: lineNumber,
                        message: "host= binds agent tokens only (a \(fields[0]) token writes no host's data)")
                }
            }
            guard fields.count == 2 || fields.count == 3 else {
                throw TokensFileError(
                    path: path, line: lineNumber, message: "expected ROLE SECRET [NAME] [host=GLOB]")
            }
            guard let role = TokenRole(rawValue: String(fields[0])) else {
                throw TokensFileError(
                    path: path, line: lineNumber,
                    message: "role must be agent, read or admin, not \(fields[0])")
            }
            let secret = String(fields[1])
            let hash: [UInt8]
            if secret.hasPrefix("sha256:") {
                guard let bytes = hexBytes(secret.dropFirst(7)), bytes.count == 32 else {
                    throw TokensFileError(
                        path: path, line: lineNumber,
                        message: "sha256: must be followed by 64 hex digits")
                }
                hash = bytes
            } else {
                guard secret.utf8.count >= 16 else {
                    throw TokensFileError(
                        path: path, line: lineNumber,
                        message: "a token must be at least 16 characters")
                }
                hash = SHA256.digest(Array(secret.utf8))
            }
            out.append(
                TokenEntry(
                    role: role, hash: hash, name: fields.count == 3 ? String(fields[2]) : nil,
                    hostGlob: hostGlob))
        }
        return out
    }

    static func load(path: String) throws(TokensFileError) -> [TokenEntry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokensFileError(path: path, line: 0, message: "cannot read: \(error)")
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// The entry whose secret is `token`. Every stored hash is compared in full, so the
    /// time taken says nothing about which token (or how much of one) matched.
    public func authenticate(_ token: some StringProtocol) -> TokenEntry? {
        let digest = SHA256.digest(Array(token.utf8))
        return entries.withLock { entries in
            var found: TokenEntry?
            for entry in entries {
                var diff: UInt8 = 0
                for i in 0..<32 { diff |= entry.hash[i] ^ digest[i] }
                if diff == 0 && found == nil { found = entry }
            }
            return found
        }
    }

    /// A new random token (32 random bytes as hex).
    public static func generateSecret() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return "oomw_" + SHA256.hexString(bytes)
    }

    /// The line `token create` appends for `secret`.
    public static func fileLine(role: TokenRole, secret: String, name: String?, hostGlob: String? = nil)
        -> String
    {
        var line = role.rawValue + " sha256:" + SHA256.hex(of: Array(secret.utf8))
        if let name { line += " " + name }
        if let hostGlob { line += " host=" + hostGlob }
        return line
    }

    /// A `host=` pattern: host-name characters and the glob's own `* ? [ ]`, at most 253
    /// bytes.
    public static func validGlob(_ glob: String) -> Bool {
        !glob.isEmpty && glob.utf8.count <= 253
            && glob.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                    || "-._*?[]!".utf8.contains(c)
            }
    }

    private static func hexBytes(_ text: Substring) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
