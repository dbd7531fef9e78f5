public import OOMKit
import Yams

/// A collector config file problem, naming the key and the line it is on.
public struct AlertConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The dotted key, e.g. `alerts.routes[1].match.comm`.
    public var key: String
    /// 1-based line in the file, when known.
    public var line: Int?
    public var message: String

    public init(key: String, line: Int?, message: String) {
        self.key = key
        self.line = line
        self.message = message
    }

    public var description: String {
        (line.map { "line \($0): " } ?? "") + "\(key): \(message)"
    }
}

/// The collector's config file read as full YAML (Yams): the plain settings flattened to
/// the dotted keys `ConfigLayers` resolves, plus the `alerts:` section.
public struct CollectorConfigFile: Sendable {
    public var settings: ConfigFile
    public var alerts: AlertConfig

    public init(settings: ConfigFile = ConfigFile(), alerts: AlertConfig = AlertConfig()) {
        self.settings = settings
        self.alerts = alerts
    }

    /// Parses `text`; any YAML error or bad alert rule throws with the line named.
    public static func parse(_ text: String) throws(AlertConfigError) -> CollectorConfigFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw AlertConfigError(key: "(file)", line: Self.line(of: error), message: "\(error)")
        } catch {
            throw AlertConfigError(key: "(file)", line: nil, message: "\(error)")
        }
        guard let root else {
            return CollectorConfigFile(settings: ConfigFile(), alerts: AlertConfig())
        }
        guard let mapping = root.mapping else {
            throw AlertConfigError(
                key: "(file)", line: root.mark?.line, message: "the file must be a map of settings")
        }
        var values: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var lines: [String: Int] = [:]
        var alerts = AlertConfig()
        for (key, value) in mapping {
            let name = key.string ?? ""
            if name == "alerts" {
                alerts = try AlertConfig.parse(YAMLValue(node: value, key: "alerts"))
            } else {
                try flatten(value, key: name, line: key.mark?.line, values: &values, lists: &lists, lines: &lines)
            }
        }
        return CollectorConfigFile(
            settings: ConfigFile(values: values, lists: lists, lines: lines), alerts: alerts)
    }

    private static func flatten(
        _ node: Node, key: String, line: Int?, values: inout [String: String], lists: inout [String: [String]],
        lines: inout [String: Int]
    ) throws(AlertConfigError) {
        // The key's own line, so an unknown setting can be pointed at.
        if let line { lines[key] = line }
        switch node {
        case .scalar(let scalar):
            values[key] = scalar.string
        case .mapping(let mapping):
            for (k, v) in mapping {
                try flatten(
                    v, key: key + "." + (k.string ?? ""), line: k.mark?.line, values: &values, lists: &lists,
                    lines: &lines)
            }
        case .sequence(let sequence):
            var items: [String] = []
            for item in sequence {
                guard let text = item.scalar?.string else {
                    throw AlertConfigError(
                        key: key, line: item.mark?.line, message: "expected a list of plain values")
                }
                items.append(text)
            }
            lists[key] = items
        case .alias:
            throw AlertConfigError(key: key, line: node.mark?.line, message: "aliases are not supported")
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            mark.line
        default:
            nil
        }
    }
}

/// A YAML node with the dotted key it was found at, for error messages.
struct YAMLValue {
    let node: Node
    let key: String

    var line: Int? { node.mark?.line }

    func error(_ message: String) -> AlertConfigError {
        AlertConfigError(key: key, line: line, message: message)
    }

    /// The entries of a map, rejecting keys not in `allowed` (a typo must not silently
    /// turn a rule into a catch-all).
    func map(allowed: Set<String>) throws(AlertConfigError) -> [String: YAMLValue] {
        guard let mapping = node.mapping else { throw error("expected a map") }
        var out: [String: YAMLValue] = [:]
        for (k, v) in mapping {
            let name = k.string ?? ""
            let child = YAMLValue(node: v, key: key + "." + name)
            guard allowed.contains(name) else {
                throw AlertConfigError(
                    key: child.key, line: k.mark?.line,
                    message: "unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
            }
            out[name] = child
        }
        return out
    }

    func list() throws(AlertConfigError) -> [YAMLValue] {
        guard let sequence = node.sequence else { throw error("expected a list") }
        return sequence.enumerated().map { YAMLValue(node: $1, key: key + "[\($0)]") }
    }

    func string() throws(AlertConfigError) -> String {
        guard let text = node.scalar?.string else { throw error("expected a plain value") }
        return text
    }

    func int() throws(AlertConfigError) -> Int64 {
        guard let number = Int64(try string()), number >= 0 else {
            throw error("expected a whole number ≥ 0")
        }
        return number
    }

    func bool() throws(AlertConfigError) -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false")
        }
    }

    /// A duration: `30s`, `2m`, `1h`, `500ms` or a plain number of seconds.
    func seconds() throws(AlertConfigError) -> Double {
        let text = try string()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let n = Double(text.dropLast(suffix.count)), n >= 0, n.isFinite { return n * factor }
        }
        guard let n = Double(text), n >= 0, n.isFinite else {
            throw error("expected a duration such as 30s, 2m or 1h")
        }
        return n
    }
}
