import Synchronization

/// A configuration file problem, with the line it was found on.
public struct ConfigFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// The YAML subset oomwatch's config files use: nested maps of scalars, `- item` lists
/// of scalars, `#` comments, single- or double-quoted strings.
///
/// Keys are addressed with dots (`upload.ca_file`). A full YAML library would pull all of
/// Foundation into the agent; this covers what the shipped config files use and rejects,
/// with the line number, anything beyond it (anchors, flow maps, multi-line strings).
public struct ConfigFile: Sendable, Equatable {
    /// Every scalar by its dotted key.
    public private(set) var values: [String: String] = [:]
    /// Every list by its dotted key.
    public private(set) var lists: [String: [String]] = [:]
    /// The 1-based line each key (scalar or list) was set on, where known; only for
    /// messages, so it takes no part in equality.
    public private(set) var lines: [String: Int] = [:]

    public init(values: [String: String] = [:], lists: [String: [String]] = [:], lines: [String: Int] = [:]) {
        self.values = values
        self.lists = lists
        self.lines = lines
    }

    public static func == (a: ConfigFile, b: ConfigFile) -> Bool {
        a.values == b.values && a.lists == b.lists
    }

    /// Every key the file sets, scalars and lists.
    public var keys: Set<String> { Set(values.keys).union(lists.keys) }

    /// Parses `text`, throwing on the first line it cannot read.
    public static func parse(_ text: String) throws(ConfigFileError) -> ConfigFile {
        var file = ConfigFile()
        // The open maps, as (indent, key) from the outermost in.
        var stack: [(indent: Int, key: String)] = []
        var lastKey: (indent: Int, key: String)? = nil
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(stripComment(rawLine))
            while line.last == " " || line.last == "\t" || line.last == "\r" { line.removeLast() }
            guard !line.isEmpty else { continue }
            if line.hasPrefix("\t") || line.drop(while: { $0 == " " }).hasPrefix("\t") {
                throw ConfigFileError(line: lineNumber, message: "tabs are not allowed for indentation")
            }
            let indent = line.prefix(while: { $0 == " " }).count
            let content = line.dropFirst(indent)
            if content == "---" { continue }
            if content.hasPrefix("- ") || content == "-" {
                guard let owner = lastKey, indent >= owner.indent else {
                    throw ConfigFileError(line: lineNumber, message: "a list item must follow a key")
                }
                let item = try scalar(content.dropFirst(1), line: lineNumber)
                let key = dotted(stack.filter { $0.indent < owner.indent }.map(\.key) + [owner.key])
                file.lists[key, default: []].append(item)
                continue
            }
            guard let colon = keyColon(in: content) else {
                throw ConfigFileError(line: lineNumber, message: "expected `key: value`, found `\(content)`")
            }
            let key = String(content[..<colon]).trimmed()
            guard !key.isEmpty, !key.contains(" ") || key.hasPrefix("\"") else {
                throw ConfigFileError(line: lineNumber, message: "invalid key `\(key)`")
            }
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            let rest = content[content.index(after: colon)...]
            let fullKey = dotted(stack.map(\.key) + [unquote(key)])
            if rest.trimmed().isEmpty {
                // Opens a nested map or a list; a list's line is its key's.
                file.lines[fullKey] = lineNumber
                stack.append((indent, unquote(key)))
                lastKey = (indent, unquote(key))
            } else {
                let value = try scalar(rest, line: lineNumber)
                if value.hasPrefix("[") || value.hasPrefix("{") {
                    throw ConfigFileError(
                        line: lineNumber,
                        message: "flow collections (`[…]`, `{…}`) are not supported; use one `- item` a line")
                }
                file.values[fullKey] = value
                file.lines[fullKey] = lineNumber
                lastKey = nil
            }
        }
        return file
    }

    /// The scalar at `key`, or `nil`.
    public func string(_ key: String) -> String? {
        values[key]
    }

    /// The list at `key`, or `nil`.
    public func list(_ key: String) -> [String]? {
        lists[key]
    }

    private static func dotted(_ keys: [String]) -> String {
        keys.joined(separator: ".")
    }

    private static func stripComment(_ line: Substring) -> Substring {
        var quote: Character? = nil
        var previous: Character = " "
        for index in line.indices {
            let c = line[index]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || previous == "\t" || index == line.startIndex) {
                return line[..<index]
            }
            previous = c
        }
        return line
    }

    private static func keyColon(in content: Substring) -> Substring.Index? {
        var quote: Character? = nil
        for index in content.indices {
            let c = content[index]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == ":" {
                let next = content.index(after: index)
                if next == content.endIndex || content[next] == " " { return index }
            }
        }
        return nil
    }

    private static func scalar(_ text: Substring, line: Int) throws(ConfigFileError) -> String {
        let value = text.trimmed()
        if value.hasPrefix("&") || value.hasPrefix("*") || value.hasPrefix("|") || value.hasPrefix(">") {
            throw ConfigFileError(line: line, message: "anchors, aliases and block strings are not supported")
        }
        if value.hasPrefix("\"") || value.hasPrefix("'") {
            guard value.count >= 2, value.last == value.first else {
                throw ConfigFileError(line: line, message: "unterminated quoted string")
            }
            return unquote(value)
        }
        return value
    }

    private static func unquote(_ text: String) -> String {
        guard text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first else {
            return text
        }
        let inner = text.dropFirst().dropLast()
        guard first == "\"" else { return inner.replacingOccurrences("''", with: "'") }
        var out = ""
        var escaping = false
        for c in inner {
            if escaping {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}

/// A setting that could not be read as its type.
public struct ConfigValueError: Error, CustomStringConvertible, Sendable, Equatable {
    public var key: String
    public var value: String
    public var expected: String
    /// Where the value came from: `--flag`, `OOMWATCH_X`, or the config file.
    public var origin: String
    public var description: String { "\(origin): `\(value)` is not \(expected) (setting \(key))" }

    public init(key: String, value: String, expected: String, origin: String) {
        self.key = key
        self.value = value
        self.expected = expected
        self.origin = origin
    }
}

/// A setting that makes no sense, whatever layer it came from; the message names the
/// setting (and where it came from, when that is known) and what would work.
public struct SettingsError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// Resolves settings in the documented order: flag, then environment variable
/// (`OOMWATCH_` + the key upper-cased, dots and dashes as underscores), then the
/// config file, then the built-in default.
public struct ConfigLayers: Sendable {
    public var file: ConfigFile
    public var filePath: String?
    public var environment: [String: String]
    public var prefix: String
    /// Every key looked up through these layers (copies share it): the binary's settings
    /// table is the code that resolves it, so the keys it reads are the keys it knows.
    private let lookups = KeyLog()

    public init(
        file: ConfigFile = ConfigFile(), filePath: String? = nil, environment: [String: String],
        prefix: String = "OOMWATCH_"
    ) {
        self.file = file
        self.filePath = filePath
        self.environment = environment
        self.prefix = prefix
    }

    /// The environment variable that sets `key`: `upload.ca_file` → `OOMWATCH_UPLOAD_CA_FILE`.
    public func environmentName(for key: String) -> String {
        prefix
            + String(
                key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 })
    }

    /// The winning raw value and where it came from.
    public func raw(_ key: String, flag: String? = nil, flagName: String? = nil) -> (value: String, origin: String)? {
        lookups.insert(key)
        if let flag { return (flag, flagName ?? "--\(key)") }
        let env = environmentName(for: key)
        if let value = environment[env] { return (value, env) }
        if let value = file.string(key) { return (value, "\(filePath ?? "config file") key \(key)") }
        return nil
    }

    public func string(_ key: String, flag: String? = nil, default fallback: String? = nil) -> String? {
        raw(key, flag: flag)?.value ?? fallback
    }

    public func int(_ key: String, flag: Int? = nil, default fallback: Int) throws(ConfigValueError) -> Int {
        lookups.insert(key)
        if let flag { return flag }
        guard let (value, origin) = raw(key) else { return fallback }
        guard let number = Int(value.trimmed()) else {
            throw ConfigValueError(key: key, value: value, expected: "a whole number", origin: origin)
        }
        return number
    }

    public func double(_ key: String, flag: Double? = nil, default fallback: Double) throws(ConfigValueError) -> Double
    {
        lookups.insert(key)
        if let flag { return flag }
        guard let (value, origin) = raw(key) else { return fallback }
        guard let number = Double(value.trimmed()), number.isFinite else {
            throw ConfigValueError(key: key, value: value, expected: "a number", origin: origin)
        }
        return number
    }

    public func bool(_ key: String, flag: Bool? = nil, default fallback: Bool) throws(ConfigValueError) -> Bool {
        lookups.insert(key)
        if let flag { return flag }
        guard let (value, origin) = raw(key) else { return fallback }
        switch value.trimmed().lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default:
            throw ConfigValueError(key: key, value: value, expected: "true or false", origin: origin)
        }
    }

    /// One of `allowed` (compared case-insensitively, returned as listed): a value outside
    /// them is an error naming the key and where it came from, never the default.
    public func choice(
        _ key: String, flag: String? = nil, flagName: String? = nil, allowed: [String], default fallback: String
    ) throws(ConfigValueError) -> String {
        guard let (value, origin) = raw(key, flag: flag, flagName: flagName) else { return fallback }
        let wanted = value.trimmed().lowercased()
        guard let match = allowed.first(where: { $0.lowercased() == wanted }) else {
            throw ConfigValueError(
                key: key, value: value, expected: "one of " + allowed.joined(separator: ", "), origin: origin)
        }
        return match
    }

    /// A list from the file, or a comma-separated environment variable / flag.
    public func list(_ key: String, flag: [String]? = nil, default fallback: [String]) -> [String] {
        lookups.insert(key)
        if let flag, !flag.isEmpty { return flag }
        if let value = environment[environmentName(for: key)] {
            return value.split(separator: ",").map { $0.trimmed() }.filter { !$0.isEmpty }
        }
        return file.list(key) ?? fallback
    }
}

extension ConfigLayers {
    /// The keys looked up so far, plus `also` (keys a binary reads from ``file`` directly).
    public func knownKeys(also: [String] = []) -> Set<String> {
        lookups.keys.union(also)
    }

    /// Call after resolving every setting: a key the config file sets that no lookup asked
    /// for (`db.synchronus: full`) is a typo that would otherwise be silently ignored, so it
    /// is an error naming the key, the file and line, and the nearest known key.
    public func checkUnknownKeys(also: [String] = []) throws(SettingsError) {
        let known = knownKeys(also: also)
        // A map left empty (`tls:` with its keys commented out) reads as an empty value.
        let emptyMaps = file.values.filter { entry in
            entry.value.isEmpty && known.contains { $0.hasPrefix(entry.key + ".") }
        }
        let unknown = file.keys.subtracting(known).subtracting(emptyMaps.keys).sorted {
            (file.lines[$0] ?? 0, $0) < (file.lines[$1] ?? 0, $1)
        }
        guard !unknown.isEmpty else { return }
        let messages = unknown.map { key in
            let place = (filePath ?? "config file") + (file.lines[key].map { " line \($0)" } ?? "")
            let hint = ConfigKeys.nearest(to: key, in: known).map { "; did you mean \($0)?" } ?? ""
            return "\(place): \(key): unknown setting\(hint)"
        }
        throw SettingsError(messages.joined(separator: "\n"))
    }

    /// Warnings for `OOMWATCH_*` variables that set nothing here but are one slip away from
    /// a variable that does (`OOMWATCH_DB_SYNCHRONUS`). Only a warning: the environment is
    /// shared with the other oomwatch binaries and their own variables, and a name far from
    /// every setting is most likely one of those.
    public func environmentWarnings(also: [String] = []) -> [String] {
        // Compared without the shared prefix, which would make every name look close.
        let known = Set(knownKeys().map(environmentName(for:))).union(also)
        let stems = Set(known.map { String($0.dropFirst(prefix.count)) })
        return environment.keys.filter { $0.hasPrefix(prefix) && !known.contains($0) }.sorted().compactMap { name in
            guard let near = ConfigKeys.nearest(to: String(name.dropFirst(prefix.count)), in: stems) else {
                return nil
            }
            return "environment variable \(name) sets nothing; did you mean \(prefix + near)?"
        }
    }
}

/// Spelling suggestions for setting names.
public enum ConfigKeys {
    /// The known key closest to `key` (edit distance at most 2, or a third of its
    /// length for long keys), or the one key whose last part `key` is (`synchronous`
    /// written outside its `db:` map); `nil` when nothing is close.
    public static func nearest(to key: String, in known: Set<String>) -> String? {
        let limit = max(2, key.count / 3)
        let scored = known.map { (distance(key, $0), $0) }.filter { $0.0 <= limit }
        if let best = scored.min(by: { ($0.0, $0.1) < ($1.0, $1.1) }) { return best.1 }
        let suffixed = known.filter { $0.hasSuffix("." + key) }
        return suffixed.count == 1 ? suffixed.first : nil
    }

    /// Levenshtein distance over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// The keys one resolution looked up; shared by copies of a `ConfigLayers`.
private final class KeyLog: Sendable {
    private let stored = Mutex<Set<String>>([])

    func insert(_ key: String) {
        stored.withLock { _ = $0.insert(key) }
    }

    var keys: Set<String> { stored.withLock { $0 } }
}

extension StringProtocol {
    fileprivate func trimmed() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }

    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
