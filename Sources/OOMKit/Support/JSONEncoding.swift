/// Encodes `Encodable` values as UTF-8 JSON without Foundation, so the agent need not
/// link FoundationEssentials for `JSONEncoder`.
///
/// With `sortedKeys` the output is byte for byte what Foundation's `JSONEncoder` writes
/// with `.sortedKeys` and `.withoutEscapingSlashes` (and `.prettyPrinted` when asked).
/// Without it, keys come in encoding order (Foundation's come in hash order, different on
/// every run); otherwise the output is the same:
/// - object keys sorted by their UTF-8 bytes, or in encoding order; a key encoded twice
///   keeps its last value, written where it was encoded last;
/// - strings escape `"`, `\` and control characters (`\n \r \t \b \f`, else `\u00XX`),
///   and nothing else (not `/`, not non-ASCII);
/// - integers of every width exactly; `Double` and `Float` as their shortest round-trip
///   form (`description`) without a trailing `.0`: `1`, `0.5`, `1e-05`, `1e+20`;
///   NaN and infinity throw;
/// - `nil` optionals in synthesized `Codable` are left out (`encodeIfPresent`); an
///   explicit `encodeNil` writes `null`; a bare scalar (`"text"`, `42`) is a document.
///
/// Pretty output indents by two spaces and writes `"key" : value`; empty containers are
/// `[\n\n]` and `{\n\n}` (indented), as Foundation writes them.
public struct JSONWriter: Sendable {
    /// Object keys sorted by their UTF-8 bytes (Foundation's `.sortedKeys`).
    public var sortedKeys: Bool
    /// Two-space indentation (Foundation's `.prettyPrinted`).
    public var pretty: Bool

    /// Only the tree encoder, never the stream (tests compare the two).
    var treeOnly = false

    public init(sortedKeys: Bool = false, pretty: Bool = false) {
        self.sortedKeys = sortedKeys
        self.pretty = pretty
    }

    /// `value` as a JSON document.
    public func encode<T: Encodable>(_ value: T) throws(JSONCodingError) -> [UInt8] {
        var out: [UInt8] = []
        try encode(value, into: &out)
        return out
    }

    /// Appends `value` as a JSON document to `out`. On error `out` is left as it was:
    /// the whole value is encoded before a byte is written.
    public func encode<T: Encodable>(_ value: T, into out: inout [UInt8]) throws(JSONCodingError) {
        if !pretty && !treeOnly && JSONStream.encode(value, sortedKeys: sortedKeys, into: &out) { return }
        let node: JSONNode
        do {
            node = try JSONNode.make(value, path: .root)
        } catch {
            throw JSONCodingError(error)
        }
        if case .encoder(let encoder) = node, encoder.node == nil {
            throw JSONCodingError(
                kind: .invalidValue, path: "", message: "top-level \(T.self) did not encode any values")
        }
        var serializer = JSONSerializer(sortedKeys: sortedKeys, pretty: pretty)
        swap(&serializer.out, &out)
        serializer.write(node, depth: 0)
        swap(&serializer.out, &out)
    }
}

/// A value on its way to JSON. Containers are references: a nested container handed out
/// earlier can still be filled after its parent moved on.
enum JSONNode {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case float(Float)
    case string(String)
    case array(JSONArrayNode)
    case object(JSONObjectNode)
    /// What a child encoder (`superEncoder`, a nested `Encodable`) produced, read when
    /// written; `{}` when it produced nothing.
    case encoder(JSONTreeEncoder)

    /// The node for one value: scalars directly, `[String: V]` entry by entry, anything
    /// else through its `encode(to:)`.
    static func make<T: Encodable>(_ value: T, path: @autoclosure () -> JSONCodingPath) throws -> JSONNode {
        if let node = scalar(value) {
            switch node {
            case .double(let v): return try double(v, path())
            case .float(let v): return try float(v, path())
            default: return node
            }
        }
        if let dictionary = value as? any JSONStringKeyedDictionary {
            return .object(try dictionary.jsonObject(path: path()))
        }
        let encoder = JSONTreeEncoder(path: path())
        try value.encode(to: encoder)
        return .encoder(encoder)
    }

    /// The node for a value of a standard scalar type (`String`, `Bool`, integers of every
    /// width, `Double`, `Float`; not yet checked for NaN or infinity), nil for any other
    /// type. Shared by the tree and the stream (JSONStreaming.swift).
    @inline(__always)
    static func scalar<T>(_ value: T) -> JSONNode? {
        // Metadata comparisons, then a bit cast of the same type: no dynamic casts.
        if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if T.self == Int.self { return .int(Int64(unsafeBitCast(value, to: Int.self))) }
        if T.self == Int64.self { return .int(unsafeBitCast(value, to: Int64.self)) }
        if T.self == Double.self { return .double(unsafeBitCast(value, to: Double.self)) }
        if T.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if T.self == Int32.self { return .int(Int64(unsafeBitCast(value, to: Int32.self))) }
        if T.self == UInt64.self { return .uint(unsafeBitCast(value, to: UInt64.self)) }
        if T.self == UInt.self { return .uint(UInt64(unsafeBitCast(value, to: UInt.self))) }
        if T.self == UInt32.self { return .uint(UInt64(unsafeBitCast(value, to: UInt32.self))) }
        if T.self == Int16.self { return .int(Int64(unsafeBitCast(value, to: Int16.self))) }
        if T.self == UInt16.self { return .uint(UInt64(unsafeBitCast(value, to: UInt16.self))) }
        if T.self == Int8.self { return .int(Int64(unsafeBitCast(value, to: Int8.self))) }
        if T.self == UInt8.self { return .uint(UInt64(unsafeBitCast(value, to: UInt8.self))) }
        if T.self == Float.self { return .float(unsafeBitCast(value, to: Float.self)) }
        return nil
    }

    /// Writes a scalar node's JSON; containers are the serializer's, and write nothing here.
    static func writeScalar(_ node: JSONNode, into out: inout [UInt8]) {
        switch node {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let v): JSONBytes.int(v, into: &out)
        case .uint(let v): JSONBytes.digits(v, into: &out)
        case .double(let v): JSONBytes.number(v.description, into: &out)
        case .float(let v): JSONBytes.number(v.description, into: &out)
        case .string(let s): JSONBytes.string(s, into: &out)
        case .array, .object, .encoder: assertionFailure("writeScalar given a container")
        }
    }

    static func double(_ value: Double, _ path: @autoclosure () -> JSONCodingPath) throws -> JSONNode {
        guard value.isFinite else { throw nonFinite(value, path()) }
        return .double(value)
    }

    static func float(_ value: Float, _ path: @autoclosure () -> JSONCodingPath) throws -> JSONNode {
        guard value.isFinite else { throw nonFinite(value, path()) }
        return .float(value)
    }

    static func nonFinite<F: BinaryFloatingPoint>(_ value: F, _ path: JSONCodingPath) -> EncodingError {
        EncodingError.invalidValue(
            value,
            EncodingError.Context(
                codingPath: path.keys, debugDescription: "cannot encode \(F.self) \(value): JSON has no NaN or infinity"
            ))
    }
}

final class JSONArrayNode {
    var items: [JSONNode] = []
}

final class JSONObjectNode {
    var entries: [(key: String, value: JSONNode)] = []
    /// False when the keys are known to be distinct (a dictionary's).
    var mayRepeatKeys = true
}

/// `[String: V]`, encoded straight into an object: its keys are distinct, so there is no
/// need to look for repeats.
protocol JSONStringKeyedDictionary {
    func jsonObject(path: JSONCodingPath) throws -> JSONObjectNode
    /// The dictionary as an object in `stream`, where its value goes.
    func stream(into stream: UnsafeMutablePointer<JSONStream>, path: JSONCodingPath) throws
}

extension Dictionary: JSONStringKeyedDictionary where Key == String, Value: Encodable {
    func jsonObject(path: JSONCodingPath) throws -> JSONObjectNode {
        let object = JSONObjectNode()
        object.mayRepeatKeys = false
        object.entries.reserveCapacity(count)
        for (key, value) in self {
            object.entries.append((key, try JSONNode.make(value, path: path.appending(JSONStringKey(key)))))
        }
        return object
    }
}

/// The `Encoder` for one value; also its single-value container.
final class JSONTreeEncoder: Encoder, SingleValueEncodingContainer {
    let path: JSONCodingPath
    /// What was encoded; `nil` until something is.
    var node: JSONNode?

    init(path: JSONCodingPath) { self.path = path }

    var codingPath: [any CodingKey] { path.keys }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: JSONObjectNode
        if case .object(let existing) = node {
            object = existing
        } else {
            object = JSONObjectNode()
            node = .object(object)
        }
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<Key>(object: object, path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: JSONArrayNode
        if case .array(let existing) = node {
            array = existing
        } else {
            array = JSONArrayNode()
            node = .array(array)
        }
        return JSONUnkeyedEncodingContainer(array: array, path: path)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() { node = .null }
    func encode(_ value: Bool) { node = .bool(value) }
    func encode(_ value: String) { node = .string(value) }
    func encode(_ value: Double) throws { node = try .double(value, path) }
    func encode(_ value: Float) throws { node = try .float(value, path) }
    func encode(_ value: Int) { node = .int(Int64(value)) }
    func encode(_ value: Int8) { node = .int(Int64(value)) }
    func encode(_ value: Int16) { node = .int(Int64(value)) }
    func encode(_ value: Int32) { node = .int(Int64(value)) }
    func encode(_ value: Int64) { node = .int(value) }
    func encode(_ value: UInt) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt8) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt16) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt32) { node = .uint(UInt64(value)) }
    func encode(_ value: UInt64) { node = .uint(value) }
    func encode<T: Encodable>(_ value: T) throws { node = try .make(value, path: path) }
}

private struct JSONKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: JSONObjectNode
    let path: JSONCodingPath

    var codingPath: [any CodingKey] { path.keys }

    private func add(_ key: Key, _ node: JSONNode) {
        object.entries.append((key.stringValue, node))
    }

    mutating func encodeNil(forKey key: Key) { add(key, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) { add(key, .bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) { add(key, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        add(key, try .double(value, path.appending(key)))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        add(key, try .float(value, path.appending(key)))
    }
    mutating func encode(_ value: Int, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int8, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int16, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) { add(key, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) { add(key, .int(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt8, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt16, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt32, forKey key: Key) { add(key, .uint(UInt64(value))) }
    mutating func encode(_ value: UInt64, forKey key: Key) { add(key, .uint(value)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        add(key, try .make(value, path: path.appending(key)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONObjectNode()
        add(key, .object(nested))
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<NestedKey>(object: nested, path: path.appending(key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONArrayNode()
        add(key, .array(nested))
        return JSONUnkeyedEncodingContainer(array: nested, path: path.appending(key))
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = JSONTreeEncoder(path: path.appending(JSONStringKey.superKey))
        object.entries.append((JSONStringKey.superKey.stringValue, .encoder(encoder)))
        return encoder
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let encoder = JSONTreeEncoder(path: path.appending(key))
        add(key, .encoder(encoder))
        return encoder
    }
}

private struct JSONUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let array: JSONArrayNode
    let path: JSONCodingPath

    var codingPath: [any CodingKey] { path.keys }
    var count: Int { array.items.count }

    private var next: JSONCodingPath { .index(array.items.count, path) }

    mutating func encodeNil() { array.items.append(.null) }
    mutating func encode(_ value: Bool) { array.items.append(.bool(value)) }
    mutating func encode(_ value: String) { array.items.append(.string(value)) }
    mutating func encode(_ value: Double) throws { array.items.append(try .double(value, next)) }
    mutating func encode(_ value: Float) throws { array.items.append(try .float(value, next)) }
    mutating func encode(_ value: Int) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) { array.items.append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) { array.items.append(.int(value)) }
    mutating func encode(_ value: UInt) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt8) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt16) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt32) { array.items.append(.uint(UInt64(value))) }
    mutating func encode(_ value: UInt64) { array.items.append(.uint(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { array.items.append(try .make(value, path: next)) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        let nested = JSONObjectNode()
        let nestedPath = next
        array.items.append(.object(nested))
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<NestedKey>(object: nested, path: nestedPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONArrayNode()
        let nestedPath = next
        array.items.append(.array(nested))
        return JSONUnkeyedEncodingContainer(array: nested, path: nestedPath)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = JSONTreeEncoder(path: next)
        array.items.append(.encoder(encoder))
        return encoder
    }
}

/// Writes a finished `JSONNode` tree as bytes.
private struct JSONSerializer {
    var out: [UInt8] = []
    let sortedKeys: Bool
    let pretty: Bool

    init(sortedKeys: Bool, pretty: Bool) {
        self.sortedKeys = sortedKeys
        self.pretty = pretty
    }

    mutating func write(_ node: JSONNode, depth: Int) {
        switch node {
        case .null, .bool, .int, .uint, .double, .float, .string: JSONNode.writeScalar(node, into: &out)
        case .array(let array): writeArray(array.items, depth: depth)
        case .object(let object): writeObject(object, depth: depth)
        case .encoder(let encoder):
            if let inner = encoder.node {
                write(inner, depth: depth)
            } else {
                writeObject(JSONObjectNode(), depth: depth)
            }
        }
    }

    mutating func newline(indent depth: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: 2 * depth))
    }

    mutating func writeArray(_ items: [JSONNode], depth: Int) {
        out.append(0x5B)
        if items.isEmpty {
            if pretty {
                out.append(0x0A)
                newline(indent: depth)
            }
        } else {
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                if pretty { newline(indent: depth + 1) }
                write(item, depth: depth + 1)
            }
            if pretty { newline(indent: depth) }
        }
        out.append(0x5D)
    }

    mutating func writeObject(_ object: JSONObjectNode, depth: Int) {
        out.append(0x7B)
        let entries = object.entries
        if entries.isEmpty {
            if pretty {
                out.append(0x0A)
                newline(indent: depth)
            }
        } else if !sortedKeys && !(object.mayRepeatKeys && Self.mayRepeat(entries)) {
            for i in entries.indices { writeMember(entries[i], first: i == 0, depth: depth) }
            if pretty { newline(indent: depth) }
        } else {
            // Sorted by key bytes, ties by position: the last of equal keys is the one kept.
            let order = entries.indices.sorted {
                let c = JSONBytes.compare(entries[$0].key, entries[$1].key)
                return c != 0 ? c < 0 : $0 < $1
            }
            var keep: [Int] = []
            keep.reserveCapacity(order.count)
            for (n, i) in order.enumerated()
            where n + 1 == order.count || JSONBytes.compare(entries[i].key, entries[order[n + 1]].key) != 0 {
                keep.append(i)
            }
            if !sortedKeys { keep.sort() }
            for (n, i) in keep.enumerated() { writeMember(entries[i], first: n == 0, depth: depth) }
            if pretty { newline(indent: depth) }
        }
        out.append(0x7D)
    }

    mutating func writeMember(_ entry: (key: String, value: JSONNode), first: Bool, depth: Int) {
        if !first { out.append(0x2C) }
        if pretty { newline(indent: depth + 1) }
        JSONBytes.string(entry.key, into: &out)
        if pretty {
            out.append(contentsOf: [0x20, 0x3A, 0x20])
        } else {
            out.append(0x3A)
        }
        write(entry.value, depth: depth + 1)
    }

    /// Whether two keys might be equal. Small objects: a cheap fingerprint (length, first
    /// and last byte) first, strings compared only when that matches.
    static func mayRepeat(_ entries: [(key: String, value: JSONNode)]) -> Bool {
        let n = entries.count
        if n < 2 { return false }
        if n > 32 {
            var seen = Set<String>(minimumCapacity: n)
            for entry in entries where !seen.insert(entry.key).inserted { return true }
            return false
        }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n) { prints in
            for i in 0..<n {
                let utf8 = entries[i].key.utf8
                prints[i] =
                    UInt64(utf8.count) << 16 | UInt64(utf8.first ?? 0) << 8 | UInt64(utf8.last ?? 0)
            }
            for i in 1..<n {
                let p = prints[i]
                for j in 0..<i where prints[j] == p && entries[j].key == entries[i].key { return true }
            }
            return false
        }
    }
}

/// JSON's scalar forms as bytes, shared by the tree's serializer and the stream.
enum JSONBytes {
    static func int(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 { out.append(0x2D) }
        digits(value.magnitude, into: &out)
    }

    static func digits(_ value: UInt64, into out: inout [UInt8]) {
        var count = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        let start = out.count
        out.append(contentsOf: repeatElement(0x30, count: count))
        out.withUnsafeMutableBufferPointer { p in
            var i = start + count
            var v = value
            repeat {
                i -= 1
                p[i] = 0x30 &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            } while v != 0
        }
    }

    /// A float's shortest round-trip form, without the `.0` of integral values.
    static func number(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { p in
            var n = p.count
            if n > 2, p[n - 2] == 0x2E, p[n - 1] == 0x30 { n -= 2 }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: p[0..<n]))
        }
    }

    /// Writes `s` quoted; true when it needed an escape.
    @discardableResult
    static func string(_ s: String, into out: inout [UInt8]) -> Bool {
        out.append(0x22)
        var s = s
        let escaped = s.withUTF8 { p in
            var run = 0
            for i in 0..<p.count {
                let c = p[i]
                if c >= 0x20, c != 0x22, c != 0x5C { continue }
                if run < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[run..<i])) }
                run = i + 1
                out.append(0x5C)
                switch c {
                case 0x22, 0x5C: out.append(c)
                case 0x0A: out.append(0x6E)
                case 0x0D: out.append(0x72)
                case 0x09: out.append(0x74)
                case 0x08: out.append(0x62)
                case 0x0C: out.append(0x66)
                default:
                    let low = c & 0xF
                    out.append(contentsOf: [0x75, 0x30, 0x30, 0x30 + (c >> 4), low < 10 ? 0x30 + low : 0x57 + low])
                }
            }
            if run < p.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: p[run..<p.count])) }
            return run > 0
        }
        out.append(0x22)
        return escaped
    }

    /// Orders strings by their UTF-8 bytes (not by `String`'s Unicode ordering).
    static func compare(_ a: String, _ b: String) -> Int {
        var a = a
        var b = b
        return a.withUTF8 { pa in b.withUTF8 { pb in compare(pa, pb) } }
    }

    static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        var i = 0
        while i < n {
            if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
            i += 1
        }
        return a.count - b.count
    }
}
