/// Compact JSON written by hand, member by member, in the order `JSONWriter` writes them:
/// byte order for the stored snapshot (`sortedKeys`), declaration order otherwise. The
/// writers for each type are extensions (SnapshotJSON.swift, OOMEventJSON.swift); the
/// tests hold each to `JSONWriter`'s bytes.
struct DirectJSON {
    var out: [UInt8] = []
    /// A value was written in the current container: the next one needs a comma.
    var comma = false

    init() { out.reserveCapacity(4096) }

    /// What `write` writes; nil when it gives up (a value only `JSONWriter` should encode).
    static func bytes(_ write: (inout DirectJSON) throws(UnusualValue) -> Void) -> [UInt8]? {
        var w = DirectJSON()
        do {
            try write(&w)
        } catch {
            return nil
        }
        return w.out
    }

    mutating func open(_ bracket: UInt8) {
        out.append(bracket)
        comma = false
    }

    mutating func close(_ bracket: UInt8) {
        out.append(bracket)
        comma = true
    }

    mutating func element() {
        if comma { out.append(0x2C) }
    }

    /// A key that needs no escapes.
    mutating func key(_ key: StaticString) {
        element()
        out.append(0x22)
        key.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: [0x22, 0x3A])
    }

    mutating func int(_ key: StaticString, _ value: Int64?) {
        guard let value else { return }
        self.key(key)
        JSONBytes.int(value, into: &out)
        comma = true
    }

    mutating func int(_ key: StaticString, _ value: Int?) { int(key, value.map(Int64.init)) }

    mutating func string(_ key: StaticString, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONBytes.string(value, into: &out)
        comma = true
    }

    mutating func double(_ key: StaticString, _ value: Double?) throws(UnusualValue) {
        guard let value else { return }
        guard value.isFinite else { throw UnusualValue() }
        self.key(key)
        JSONNode.writeScalar(.double(value), into: &out)
        comma = true
    }

    mutating func bool(_ key: StaticString, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        JSONNode.writeScalar(.bool(value), into: &out)
        comma = true
    }
}
