/// `JSONWriter`'s fast path for compact output: values go straight into the bytes as
/// `encode(to:)` hands them over, with no tree of nodes in between (issue 15: encoding
/// was a fifth of the collector's CPU per snapshot, most of it allocating that tree).
///
/// It covers what synthesized `Codable` and ordinary hand-written `encode(to:)` do: one
/// container per value, nested containers filled before their parent moves on, each key
/// once. Anything else (a container used after its parent wrote on, a key encoded twice,
/// `superEncoder`, a key that needs escapes under `sortedKeys`, or any error) abandons the
/// stream: `encode` returns false with `out` as it was, and `JSONWriter` encodes the value
/// through the tree, whose output (or error) is the definition. Tests compare both paths.
struct JSONStream {
    var out: [UInt8]
    let sortedKeys: Bool
    /// Open containers, innermost last; ids grow with depth, so a container's id is in
    /// the stack exactly when it is still open.
    private var stack: [Frame] = []
    /// Open objects' members, three numbers each: where the member starts (its key's
    /// opening quote), where its key ends (after the closing quote), where it ends.
    private var members: [Int] = []
    private var nextID = 0
    /// Set where the `Encoder` API cannot throw (opening a container): the stream is
    /// abandoned at the next write, or at the end.
    var abandoned = false

    struct Abandon: Error {}

    private struct Frame {
        var id: Int
        var isObject: Bool
        /// Keys known distinct (a dictionary's): no need to look for repeats.
        var distinct: Bool
        var count = 0
        /// Index in `members` of this object's first member.
        var firstMember: Int
    }

    private init(out: [UInt8], sortedKeys: Bool) {
        self.out = out
        self.sortedKeys = sortedKeys
    }

    /// Appends `value` to `out`; false (and `out` unchanged) when the stream could not
    /// encode it as the tree would.
    static func encode<T: Encodable>(_ value: T, sortedKeys: Bool, into out: inout [UInt8]) -> Bool {
        let start = out.count
        // The encoders reach the stream through a pointer: a class's stored properties
        // would cost a dynamic exclusivity check on every byte appended.
        let stream = UnsafeMutablePointer<JSONStream>.allocate(capacity: 1)
        stream.initialize(to: JSONStream(out: [], sortedKeys: sortedKeys))
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        swap(&stream.pointee.out, &out)
        var done = false
        do {
            try JSONStream.value(value, parent: -1, path: .root, in: stream)
            try stream.pointee.focus(-1)
            done = !stream.pointee.abandoned && stream.pointee.out.count > start
        } catch {
            done = false
        }
        swap(&stream.pointee.out, &out)
        if !done { out.removeSubrange(start...) }
        return done
    }

    // MARK: Containers

    /// Closes every container opened after `id` (they are finished: their owner moved
    /// on); throws when `id` itself is closed. `-1` closes everything.
    mutating func focus(_ id: Int) throws(Abandon) {
        if abandoned || id < -1 { throw Abandon() }
        while let top = stack.last, top.id != id {
            if top.id < id { throw Abandon() }
            try closeTop()
        }
        if id >= 0 && stack.isEmpty { throw Abandon() }
    }

    /// Opens an object or array inside container `parent` (after its key or comma).
    mutating func open(object: Bool, distinct: Bool = false) -> Int {
        let id = nextID
        nextID += 1
        stack.append(Frame(id: id, isObject: object, distinct: distinct, firstMember: members.count))
        out.append(object ? 0x7B : 0x5B)
        return id
    }

    /// Closes container `id` and whatever was opened in it.
    mutating func close(_ id: Int) throws(Abandon) {
        try focus(id)
        try closeTop()
    }

    /// Starts member `key` of object `id`: the comma, the key and the colon.
    mutating func key(_ key: String, in id: Int) throws(Abandon) {
        try focus(id)
        let i = stack.count - 1
        if stack[i].count > 0 {
            members[members.count - 1] = out.count
            out.append(0x2C)
        }
        stack[i].count += 1
        let start = out.count
        if JSONBytes.string(key, into: &out) && sortedKeys { throw Abandon() }
        members.append(start)
        members.append(out.count)
        members.append(0)
        out.append(0x3A)
    }

    /// Starts the next element of array `id`.
    mutating func element(in id: Int) throws(Abandon) {
        try focus(id)
        let i = stack.count - 1
        if stack[i].count > 0 { out.append(0x2C) }
        stack[i].count += 1
    }

    private mutating func closeTop() throws(Abandon) {
        let frame = stack.removeLast()
        guard frame.isObject else {
            out.append(0x5D)
            return
        }
        if frame.count > 0 { members[members.count - 1] = out.count }
        if frame.count > 1 { try order(frame) }
        members.removeSubrange(frame.firstMember...)
        out.append(0x7D)
    }

    /// The members of a closing object: checked for repeated keys, and sorted by key
    /// bytes with `sortedKeys`.
    private mutating func order(_ frame: Frame) throws(Abandon) {
        let n = frame.count
        let m = frame.firstMember
        let ordered = out.withUnsafeBufferPointer { bytes in
            members.withUnsafeBufferPointer { members in
                // The key's bytes between its quotes (escapes only without `sortedKeys`,
                // where equal keys are equal text all the same).
                func key(_ i: Int) -> UnsafeBufferPointer<UInt8> {
                    UnsafeBufferPointer(rebasing: bytes[(members[m + 3 * i] + 1)..<(members[m + 3 * i + 1] - 1)])
                }
                func less(_ a: Int, _ b: Int) -> Int { JSONBytes.compare(key(a), key(b)) }
                var increasing = true
                for i in 1..<n where less(i - 1, i) >= 0 {
                    increasing = false
                    break
                }
                if increasing { return [Int]?.none }
                if !sortedKeys && frame.distinct { return [Int]?.none }
                let order = (0..<n).sorted { less($0, $1) < 0 }
                for i in 1..<n where less(order[i - 1], order[i]) == 0 { return [] }
                return sortedKeys ? order : nil
            }
        }
        guard let ordered else { return }
        if ordered.isEmpty { throw Abandon() }  // a key encoded twice: the tree keeps the last
        let start = members[m]
        let region = Array(out[start...])
        out.removeSubrange(start...)
        for (n, i) in ordered.enumerated() {
            if n > 0 { out.append(0x2C) }
            out.append(contentsOf: region[(members[m + 3 * i] - start)..<(members[m + 3 * i + 2] - start)])
        }
    }

    // MARK: Values

    /// Writes `value` where container `parent` of `stream` is ready for it (after a key
    /// or comma).
    static func value<T: Encodable>(
        _ value: T, parent: Int, path: @autoclosure () -> JSONCodingPath, in stream: UnsafeMutablePointer<JSONStream>
    ) throws {
        if let node = JSONNode.scalar(value) { return try stream.pointee.scalar(node) }
        if let dictionary = value as? any JSONStringKeyedDictionary {
            return try dictionary.stream(into: stream, path: path())
        }
        let encoder = JSONStreamEncoder(stream: stream, parent: parent, path: path())
        try value.encode(to: encoder)
        try encoder.finish()
    }

    /// A scalar's bytes, as the tree writes them; NaN and infinity give up to the tree,
    /// which throws the error.
    mutating func scalar(_ node: JSONNode) throws(Abandon) {
        switch node {
        case .double(let v) where !v.isFinite: throw Abandon()
        case .float(let v) where !v.isFinite: throw Abandon()
        default: JSONNode.writeScalar(node, into: &out)
        }
    }

    mutating func double(_ value: Double) throws(Abandon) { try scalar(.double(value)) }

    mutating func float(_ value: Float) throws(Abandon) { try scalar(.float(value)) }

    mutating func bool(_ value: Bool) { JSONNode.writeScalar(.bool(value), into: &out) }

    mutating func null() { JSONNode.writeScalar(.null, into: &out) }
}

extension Dictionary where Key == String, Value: Encodable {
    func stream(into stream: UnsafeMutablePointer<JSONStream>, path: JSONCodingPath) throws {
        let id = stream.pointee.open(object: true, distinct: true)
        for (key, value) in self {
            try stream.pointee.key(key, in: id)
            try JSONStream.value(value, parent: id, path: path.appending(JSONStringKey(key)), in: stream)
        }
        try stream.pointee.close(id)
    }
}

/// The `Encoder` for one value in a stream; also its single-value container.
final class JSONStreamEncoder: Encoder, SingleValueEncodingContainer {
    let stream: UnsafeMutablePointer<JSONStream>
    /// The container this value is written in (`-1` at the top level).
    let parent: Int
    let path: JSONCodingPath
    /// What this value has become: its object or array's id, or `-2` for a scalar.
    private var opened: Int?
    private var isObject = false
    private var finished = false

    init(stream: UnsafeMutablePointer<JSONStream>, parent: Int, path: JSONCodingPath) {
        self.stream = stream
        self.parent = parent
        self.path = path
    }

    var codingPath: [any CodingKey] { path.keys }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Opens this value's container, or finds the one opened before.
    private func container(object: Bool) -> Int {
        if let opened {
            if opened >= 0 && isObject == object && !finished { return opened }
            stream.pointee.abandoned = true
            return -3
        }
        do {
            try stream.pointee.focus(parent)
        } catch {
            stream.pointee.abandoned = true
            return -3
        }
        let id = stream.pointee.open(object: object)
        opened = id
        isObject = object
        return id
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(JSONStreamKeyedContainer<Key>(stream: stream, id: container(object: true), path: path))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONStreamUnkeyedContainer(stream: stream, id: container(object: false), path: path)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    /// Before a scalar: this value has written nothing yet, and its place is current.
    private func scalar() throws(JSONStream.Abandon) {
        guard opened == nil, !finished else { throw JSONStream.Abandon() }
        try stream.pointee.focus(parent)
        opened = -2
    }

    /// After `encode(to:)`: closes what this value opened; `{}` when it wrote nothing.
    func finish() throws(JSONStream.Abandon) {
        if let opened {
            if opened >= 0 { try stream.pointee.close(opened) }
        } else {
            // A document of nothing is the tree's error to tell.
            if parent < 0 { throw JSONStream.Abandon() }
            try stream.pointee.focus(parent)
            stream.pointee.out.append(contentsOf: [0x7B, 0x7D])
        }
        finished = true
    }

    func encodeNil() throws {
        try scalar()
        stream.pointee.null()
    }
    func encode(_ value: Bool) throws {
        try scalar()
        stream.pointee.bool(value)
    }
    func encode(_ value: String) throws {
        try scalar()
        JSONBytes.string(value, into: &stream.pointee.out)
    }
    func encode(_ value: Double) throws {
        try scalar()
        try stream.pointee.double(value)
    }
    func encode(_ value: Float) throws {
        try scalar()
        try stream.pointee.float(value)
    }
    func encode(_ value: Int) throws { try int(Int64(value)) }
    func encode(_ value: Int8) throws { try int(Int64(value)) }
    func encode(_ value: Int16) throws { try int(Int64(value)) }
    func encode(_ value: Int32) throws { try int(Int64(value)) }
    func encode(_ value: Int64) throws { try int(value) }
    func encode(_ value: UInt) throws { try uint(UInt64(value)) }
    func encode(_ value: UInt8) throws { try uint(UInt64(value)) }
    func encode(_ value: UInt16) throws { try uint(UInt64(value)) }
    func encode(_ value: UInt32) throws { try uint(UInt64(value)) }
    func encode(_ value: UInt64) throws { try uint(value) }
    func encode<T: Encodable>(_ value: T) throws {
        try scalar()
        try JSONStream.value(value, parent: parent, path: path, in: stream)
    }

    private func int(_ value: Int64) throws {
        try scalar()
        JSONBytes.int(value, into: &stream.pointee.out)
    }

    private func uint(_ value: UInt64) throws {
        try scalar()
        JSONBytes.digits(value, into: &stream.pointee.out)
    }
}

private struct JSONStreamKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let stream: UnsafeMutablePointer<JSONStream>
    let id: Int
    let path: JSONCodingPath

    var codingPath: [any CodingKey] { path.keys }

    private func key(_ key: Key) throws(JSONStream.Abandon) { try stream.pointee.key(key.stringValue, in: id) }

    mutating func encodeNil(forKey key: Key) throws {
        try self.key(key)
        stream.pointee.null()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try self.key(key)
        stream.pointee.bool(value)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        try self.key(key)
        JSONBytes.string(value, into: &stream.pointee.out)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try self.key(key)
        try stream.pointee.double(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try self.key(key)
        try stream.pointee.float(value)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { try int(Int64(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try int(Int64(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try int(Int64(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try int(Int64(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try int(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try uint(UInt64(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try uint(UInt64(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try uint(UInt64(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try uint(UInt64(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try uint(value, key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try self.key(key)
        try JSONStream.value(value, parent: id, path: path.appending(key), in: stream)
    }

    private func int(_ value: Int64, _ key: Key) throws {
        try self.key(key)
        JSONBytes.int(value, into: &stream.pointee.out)
    }

    private func uint(_ value: UInt64, _ key: Key) throws {
        try self.key(key)
        JSONBytes.digits(value, into: &stream.pointee.out)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(
            JSONStreamKeyedContainer<NestedKey>(
                stream: stream, id: nested(key, object: true), path: path.appending(key)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        JSONStreamUnkeyedContainer(stream: stream, id: nested(key, object: false), path: path.appending(key))
    }

    private func nested(_ key: Key, object: Bool) -> Int {
        do {
            try self.key(key)
        } catch {
            stream.pointee.abandoned = true
            return -3
        }
        return stream.pointee.open(object: object)
    }

    mutating func superEncoder() -> any Encoder { abandon() }
    mutating func superEncoder(forKey key: Key) -> any Encoder { abandon() }

    private func abandon() -> any Encoder {
        stream.pointee.abandoned = true
        return JSONStreamEncoder(stream: stream, parent: -3, path: path)
    }
}

private struct JSONStreamUnkeyedContainer: UnkeyedEncodingContainer {
    let stream: UnsafeMutablePointer<JSONStream>
    let id: Int
    let path: JSONCodingPath
    private(set) var count = 0

    init(stream: UnsafeMutablePointer<JSONStream>, id: Int, path: JSONCodingPath) {
        self.stream = stream
        self.id = id
        self.path = path
    }

    var codingPath: [any CodingKey] { path.keys }

    private mutating func next() throws(JSONStream.Abandon) {
        try stream.pointee.element(in: id)
        count += 1
    }

    mutating func encodeNil() throws {
        try next()
        stream.pointee.null()
    }
    mutating func encode(_ value: Bool) throws {
        try next()
        stream.pointee.bool(value)
    }
    mutating func encode(_ value: String) throws {
        try next()
        JSONBytes.string(value, into: &stream.pointee.out)
    }
    mutating func encode(_ value: Double) throws {
        try next()
        try stream.pointee.double(value)
    }
    mutating func encode(_ value: Float) throws {
        try next()
        try stream.pointee.float(value)
    }
    mutating func encode(_ value: Int) throws { try int(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try int(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try int(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try int(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try int(value) }
    mutating func encode(_ value: UInt) throws { try uint(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try uint(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try uint(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try uint(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try uint(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        try next()
        try JSONStream.value(value, parent: id, path: .index(index, path), in: stream)
    }

    private mutating func int(_ value: Int64) throws {
        try next()
        JSONBytes.int(value, into: &stream.pointee.out)
    }

    private mutating func uint(_ value: UInt64) throws {
        try next()
        JSONBytes.digits(value, into: &stream.pointee.out)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        let index = count
        return KeyedEncodingContainer(
            JSONStreamKeyedContainer<NestedKey>(stream: stream, id: nested(object: true), path: .index(index, path)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let index = count
        return JSONStreamUnkeyedContainer(stream: stream, id: nested(object: false), path: .index(index, path))
    }

    private mutating func nested(object: Bool) -> Int {
        do {
            try next()
        } catch {
            stream.pointee.abandoned = true
            return -3
        }
        return stream.pointee.open(object: object)
    }

    mutating func superEncoder() -> any Encoder {
        stream.pointee.abandoned = true
        return JSONStreamEncoder(stream: stream, parent: -3, path: path)
    }
}
