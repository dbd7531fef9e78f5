/// What `JSONWriter` and `JSONReader` throw: what is wrong and where.
///
/// `path` names the value as `processes[3].rss_kb` (keys joined by dots, array indices in
/// brackets; empty at the top level). Invalid JSON has `offset`, the byte where reading
/// stopped.
public struct JSONCodingError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The input is not JSON (RFC 8259).
        case invalidJSON
        /// An object names a key twice (only with `JSONReader.rejectsDuplicateKeys`).
        case duplicateKey
        /// The JSON holds a different kind of value than the type asks for.
        case typeMismatch
        /// An object lacks a key the type needs.
        case keyNotFound
        /// `null` (or the end of an array) where the type needs a value.
        case valueNotFound
        /// A value of the right kind that the type cannot hold (a number out of range, …).
        case dataCorrupted
        /// A value JSON cannot represent (NaN, infinity) or a value that encoded nothing.
        case invalidValue
        /// An error thrown by a type's own `encode(to:)` or `init(from:)`.
        case other
    }

    public var kind: Kind
    /// Where: `processes[3].rss_kb`; empty at the top level.
    public var path: String
    /// What is wrong.
    public var message: String
    /// For `invalidJSON`: the byte offset where reading stopped.
    public var offset: Int?

    public init(kind: Kind, path: String, message: String, offset: Int? = nil) {
        self.kind = kind
        self.path = path
        self.message = message
        self.offset = offset
    }

    public var description: String {
        if kind == .duplicateKey { return message }
        if kind == .invalidJSON { return "invalid JSON" + (offset.map { " at byte \($0)" } ?? "") + ": " + message }
        return "at " + (path.isEmpty ? "the top level" : path) + ": " + message
    }

    /// `processes[3].rss_kb` from a coding path.
    static func render(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let index = key as? JSONIndexKey {
                out += "[" + String(index.index) + "]"
            } else {
                if !out.isEmpty { out += "." }
                out += key.stringValue
            }
        }
        return out
    }

    /// The error an `encode(to:)` or `init(from:)` threw, as a `JSONCodingError`.
    init(_ error: any Error) {
        switch error {
        case let e as JSONCodingError:
            self = e
        case let e as DecodingError:
            switch e {
            case .typeMismatch(_, let c):
                self.init(kind: .typeMismatch, path: Self.render(c.codingPath), message: c.debugDescription)
            case .valueNotFound(_, let c):
                self.init(kind: .valueNotFound, path: Self.render(c.codingPath), message: c.debugDescription)
            case .keyNotFound(let key, let c):
                self.init(kind: .keyNotFound, path: Self.render(c.codingPath + [key]), message: c.debugDescription)
            case .dataCorrupted(let c):
                self.init(kind: .dataCorrupted, path: Self.render(c.codingPath), message: c.debugDescription)
            @unknown default:
                self.init(kind: .other, path: "", message: String(describing: e))
            }
        case let e as EncodingError:
            switch e {
            case .invalidValue(_, let c):
                self.init(kind: .invalidValue, path: Self.render(c.codingPath), message: c.debugDescription)
            @unknown default:
                self.init(kind: .other, path: "", message: String(describing: e))
            }
        default:
            self.init(kind: .other, path: "", message: String(describing: error))
        }
    }
}

/// A coding path as a linked list, so going one level deeper costs nothing until someone
/// asks for the path (`codingPath`, or an error).
enum JSONCodingPath {
    case root
    indirect case key(any CodingKey, JSONCodingPath)
    indirect case index(Int, JSONCodingPath)

    var keys: [any CodingKey] {
        var out: [any CodingKey] = []
        var node = self
        while true {
            switch node {
            case .root:
                return out.reversed()
            case .key(let key, let parent):
                out.append(key)
                node = parent
            case .index(let index, let parent):
                out.append(JSONIndexKey(index))
                node = parent
            }
        }
    }

    func appending(_ key: some CodingKey) -> JSONCodingPath { .key(key, self) }
}

/// An array element's place in a coding path.
struct JSONIndexKey: CodingKey {
    let index: Int

    init(_ index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.index = intValue }

    var stringValue: String { "Index \(index)" }
    var intValue: Int? { index }
}

/// A key known only by its text: dictionary keys, `super`.
struct JSONStringKey: CodingKey {
    let stringValue: String

    init(_ stringValue: String) { self.stringValue = stringValue }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    var intValue: Int? { nil }

    static let superKey = JSONStringKey("super")
}

/// JSON's one-character string escapes, shared by the strict reader and the journal
/// scanner.
enum JSONEscape {
    /// The byte `\e` stands for (`"`, `\`, `/`, `b`, `f`, `n`, `r`, `t`); `nil` for `u`
    /// and for anything that is no escape.
    static func simple(_ e: UInt8) -> UInt8? {
        switch e {
        case 0x22, 0x5C, 0x2F: e
        case 0x62: 0x08
        case 0x66: 0x0C
        case 0x6E: 0x0A
        case 0x72: 0x0D
        case 0x74: 0x09
        default: nil
        }
    }
}
