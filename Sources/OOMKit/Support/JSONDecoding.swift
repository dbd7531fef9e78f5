/// Decodes `Decodable` values from UTF-8 JSON without Foundation.
///
/// The input is parsed strictly by RFC 8259 before anything is decoded: no comments,
/// trailing commas, leading zeros, byte-order mark, unescaped control characters, invalid
/// UTF-8 or unpaired `\u` surrogates; arrays and objects nest at most `maxDepth` deep, so
/// hostile input cannot exhaust the stack. A key repeated in an object (after escapes are
/// resolved, so `"a"` and `"\u0061"` are one key) is an error with `rejectsDuplicateKeys`,
/// as the collector reads ingest bodies: decoders disagree on which value wins, so a body
/// must not say two things. Without it the last value wins.
///
/// Numbers decode into every integer width exactly, overflow checked; a number written
/// with a fraction or exponent decodes as an integer when its value is one (`1.0`, `1e2`).
/// `Double` and `Float` are correctly rounded; a number beyond their range is an error.
public struct JSONReader: Sendable {
    /// The deepest nesting of arrays and objects accepted.
    public var maxDepth: Int
    /// A key named twice in one object is an error (`JSONCodingError.Kind.duplicateKey`).
    public var rejectsDuplicateKeys: Bool

    public init(maxDepth: Int = 512, rejectsDuplicateKeys: Bool = false) {
        self.maxDepth = maxDepth
        self.rejectsDuplicateKeys = rejectsDuplicateKeys
    }

    /// The `T` that `bytes`, one JSON document, holds.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws(JSONCodingError) -> T {
        let value: JSONValue
        if let array = bytes as? [UInt8] {
            value = try parse(array)
        } else {
            value = try parse(Array(bytes))
        }
        do {
            return try JSONValueDecoder.unbox(T.self, from: value, path: .root)
        } catch {
            throw JSONCodingError(error)
        }
    }

    private func parse(_ bytes: [UInt8]) throws(JSONCodingError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (p) throws(JSONCodingError) -> JSONValue in
            var parser = JSONParser(bytes: p, maxDepth: maxDepth, rejectsDuplicateKeys: rejectsDuplicateKeys)
            return try parser.parseDocument()
        }
    }
}

/// A parsed JSON value.
enum JSONValue {
    case null
    case bool(Bool)
    /// A number without fraction or exponent whose magnitude fits in 64 bits.
    case integer(negative: Bool, magnitude: UInt64)
    /// Any other number, as written.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// What a type mismatch says it found.
    var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// An object's members in document order, repeats included.
struct JSONObject {
    var keys: [String] = []
    var values: [JSONValue] = []
}

/// RFC 8259, over bytes.
struct JSONParser {
    let p: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let rejectsDuplicateKeys: Bool
    var i = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, rejectsDuplicateKeys: Bool = false) {
        self.p = bytes
        self.maxDepth = maxDepth
        self.rejectsDuplicateKeys = rejectsDuplicateKeys
    }

    mutating func parseDocument() throws(JSONCodingError) -> JSONValue {
        skipSpace()
        let value = try parseValue()
        skipSpace()
        guard i == p.count else { throw fail("unexpected \(found) after the JSON value") }
        return value
    }

    func fail(_ message: String) -> JSONCodingError {
        var line = 1
        var column = 1
        for b in p[0..<min(i, p.count)] {
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONCodingError(
            kind: .invalidJSON, path: "", message: "line \(line), column \(column): " + message, offset: i)
    }

    /// The byte at `i`, for error messages.
    var found: String {
        guard i < p.count else { return "end of input" }
        let b = p[i]
        if b >= 0x21 && b < 0x7F { return "'" + String(UnicodeScalar(b)) + "'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    mutating func skipSpace() {
        while i < p.count {
            let b = p[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    mutating func parseValue() throws(JSONCodingError) -> JSONValue {
        guard i < p.count else { throw fail("unexpected end of input, expected a value") }
        switch p[i] {
        case 0x7B: return try parseObject()
        case 0x5B: return try parseArray()
        case 0x22: return .string(try parseString())
        case 0x74:
            try literal([0x74, 0x72, 0x75, 0x65])
            return .bool(true)
        case 0x66:
            try literal([0x66, 0x61, 0x6C, 0x73, 0x65])
            return .bool(false)
        case 0x6E:
            try literal([0x6E, 0x75, 0x6C, 0x6C])
            return .null
        case 0x2D, 0x30...0x39: return try parseNumber()
        default: throw fail("unexpected \(found), expected a value")
        }
    }

    mutating func literal(_ word: [UInt8]) throws(JSONCodingError) {
        let start = i
        for b in word {
            guard i < p.count, p[i] == b else {
                i = start
                throw fail("invalid literal, expected '\(String(decoding: word, as: UTF8.self))'")
            }
            i += 1
        }
    }

    mutating func enter() throws(JSONCodingError) {
        depth += 1
        guard depth <= maxDepth else { throw fail("arrays and objects nested more than \(maxDepth) deep") }
        i += 1
    }

    mutating func parseArray() throws(JSONCodingError) -> JSONValue {
        try enter()
        var items: [JSONValue] = []
        skipSpace()
        if i < p.count, p[i] == 0x5D {
            i += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try parseValue())
            skipSpace()
            guard i < p.count else { throw fail("unexpected end of input in an array") }
            if p[i] == 0x2C {
                i += 1
            } else if p[i] == 0x5D {
                i += 1
                depth -= 1
                return .array(items)
            } else {
                throw fail("unexpected \(found) in an array, expected ',' or ']'")
            }
        }
    }

    mutating func parseObject() throws(JSONCodingError) -> JSONValue {
        try enter()
        var object = JSONObject()
        var seenKeys: Set<String> = []
        skipSpace()
        if i < p.count, p[i] == 0x7D {
            i += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipSpace()
            guard i < p.count, p[i] == 0x22 else { throw fail("unexpected \(found), expected a string key") }
            let key = try parseString()
            if rejectsDuplicateKeys {
                // A linear look for small objects; a set once an object is large (vmstat's
                // 170 keys), so a hostile object cannot cost quadratic time.
                let seen: Bool
                if object.keys.count < 16 {
                    seen = object.keys.contains(key)
                } else {
                    if seenKeys.isEmpty { seenKeys = Set(object.keys) }
                    seen = !seenKeys.insert(key).inserted
                }
                if seen {
                    throw JSONCodingError(
                        kind: .duplicateKey, path: "", message: "duplicate key \"\(key)\" in one object", offset: i)
                }
            }
            object.keys.append(key)
            skipSpace()
            guard i < p.count, p[i] == 0x3A else { throw fail("unexpected \(found) after a key, expected ':'") }
            i += 1
            skipSpace()
            object.values.append(try parseValue())
            skipSpace()
            guard i < p.count else { throw fail("unexpected end of input in an object") }
            if p[i] == 0x2C {
                i += 1
            } else if p[i] == 0x7D {
                i += 1
                depth -= 1
                return .object(object)
            } else {
                throw fail("unexpected \(found) in an object, expected ',' or '}'")
            }
        }
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    mutating func parseNumber() throws(JSONCodingError) -> JSONValue {
        let start = i
        let negative = p[i] == 0x2D
        if negative { i += 1 }
        guard i < p.count, Self.isDigit(p[i]) else { throw fail("unexpected \(found) in a number, expected a digit") }
        var magnitude: UInt64 = 0
        var fits = true
        if p[i] == 0x30 {
            i += 1
            if i < p.count, Self.isDigit(p[i]) { throw fail("a number cannot have leading zeros") }
        } else {
            while i < p.count, Self.isDigit(p[i]) {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(p[i] - 0x30))
                magnitude = s
                if o1 || o2 { fits = false }
                i += 1
            }
        }
        var integral = true
        if i < p.count, p[i] == 0x2E {
            i += 1
            guard i < p.count, Self.isDigit(p[i]) else {
                throw fail("unexpected \(found) after a decimal point, expected a digit")
            }
            while i < p.count, Self.isDigit(p[i]) { i += 1 }
            integral = false
        }
        if i < p.count, p[i] == 0x65 || p[i] == 0x45 {
            i += 1
            if i < p.count, p[i] == 0x2B || p[i] == 0x2D { i += 1 }
            guard i < p.count, Self.isDigit(p[i]) else {
                throw fail("unexpected \(found) in an exponent, expected a digit")
            }
            while i < p.count, Self.isDigit(p[i]) { i += 1 }
            integral = false
        }
        if integral && fits { return .integer(negative: negative, magnitude: magnitude) }
        return .number(String(decoding: UnsafeBufferPointer(rebasing: p[start..<i]), as: UTF8.self))
    }

    /// A string at `i` (the opening quote); UTF-8 checked, escapes resolved.
    mutating func parseString() throws(JSONCodingError) -> String {
        i += 1
        let start = i
        let ascii = scanPlain()
        guard i < p.count else { throw fail("unexpected end of input in a string") }
        let b = p[i]
        if b == 0x22 {
            let run = UnsafeBufferPointer(rebasing: p[start..<i])
            // Plain ASCII is valid UTF-8 as it stands: no validation pass (most of the wire).
            let text = ascii ? String(decoding: run, as: UTF8.self) : try utf8(run, at: start)
            i += 1
            return text
        }
        if b == 0x5C { return try parseEscapedString(from: start) }
        throw fail("control character \(found) in a string must be escaped")
    }

    /// Moves `i` to the next byte a string cannot hold as is (quote, backslash, control
    /// character) or to the end: one tight loop over the buffer, so a run of plain text
    /// costs a compare per byte and is then copied or validated in one piece. True when
    /// every byte passed was ASCII (nothing to validate).
    @discardableResult mutating func scanPlain() -> Bool {
        let end = p.count
        guard let base = p.baseAddress else { return true }
        var k = i
        var bits: UInt8 = 0
        while k < end {
            let b = base[k]
            if b == 0x22 || b == 0x5C || b < 0x20 { break }
            bits |= b
            k += 1
        }
        i = k
        return bits < 0x80
    }

    func utf8(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int) throws(JSONCodingError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var parser = self
        parser.i = start
        try parser.invalidUTF8()
    }

    /// Finds and reports the first invalid UTF-8 byte from `i`.
    mutating func invalidUTF8() throws(JSONCodingError) -> Never {
        while i < p.count {
            let b = p[i]
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch b {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                low = 0xA0
            case 0xED:
                length = 3
                high = 0x9F
            case 0xE1...0xEF: length = 3
            case 0xF0:
                length = 4
                low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                high = 0x8F
            default: throw fail("invalid UTF-8 \(found) in a string")
            }
            for k in 1..<max(length, 1) {
                guard i + k < p.count else { throw fail("invalid UTF-8 sequence starting with \(found) in a string") }
                let c = p[i + k]
                guard c >= (k == 1 ? low : 0x80), c <= (k == 1 ? high : 0xBF) else {
                    throw fail("invalid UTF-8 sequence starting with \(found) in a string")
                }
            }
            i += length
        }
        throw fail("invalid UTF-8 in a string")
    }

    /// The rest of a string that has escapes (`i` at the first backslash): each run of
    /// plain bytes between escapes is appended in one piece, and the whole is checked as
    /// UTF-8 once at the closing quote.
    mutating func parseEscapedString(from start: Int) throws(JSONCodingError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(i - start + 64)
        var runStart = start
        while true {
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[runStart..<i])) }
            guard i < p.count else { break }
            let b = p[i]
            if b == 0x22 {
                i += 1
                if let text = String(validating: bytes, as: UTF8.self) { return text }
                i = start
                try invalidUTF8()
            }
            guard b == 0x5C else { throw fail("control character \(found) in a string must be escaped") }
            i += 1
            guard i < p.count else { break }
            if let simple = JSONEscape.simple(p[i]) {
                bytes.append(simple)
            } else if p[i] == 0x75 {
                Self.appendUTF8(try unicodeEscape(), to: &bytes)
            } else {
                throw fail("invalid escape '\\\(String(UnicodeScalar(p[i])))' in a string")
            }
            i += 1
            runStart = i
            scanPlain()
        }
        throw fail("unexpected end of input in a string")
    }

    /// The scalar of a `\uXXXX` escape, or of a `\uXXXX\uXXXX` surrogate pair (`i` at the
    /// first `u`; left at the last hex digit).
    mutating func unicodeEscape() throws(JSONCodingError) -> UInt32 {
        let scalar = try hex4()
        if scalar >= 0xDC00 && scalar <= 0xDFFF {
            throw fail("unpaired low surrogate \\u\(String(scalar, radix: 16)) in a string")
        }
        guard scalar >= 0xD800 && scalar <= 0xDBFF else { return scalar }
        guard i + 2 < p.count, p[i + 1] == 0x5C, p[i + 2] == 0x75 else {
            throw fail("high surrogate \\u\(String(scalar, radix: 16)) is not followed by a low one")
        }
        i += 2
        let low = try hex4()
        guard low >= 0xDC00 && low <= 0xDFFF else {
            throw fail("high surrogate \\u\(String(scalar, radix: 16)) is not followed by a low one")
        }
        return 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
    }

    /// The four hex digits after `\u` (`i` at the `u`; left at the last digit).
    mutating func hex4() throws(JSONCodingError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            i += 1
            guard i < p.count else { throw fail("unexpected end of input in a \\u escape") }
            let b = p[i]
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x41...0x46: d = b - 0x37
            case 0x61...0x66: d = b - 0x57
            default: throw fail("unexpected \(found) in a \\u escape, expected a hex digit")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    static func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            bytes.append(UInt8(scalar))
        case 0x80..<0x800:
            bytes.append(0xC0 | UInt8(scalar >> 6))
            bytes.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            bytes.append(0xE0 | UInt8(scalar >> 12))
            bytes.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            bytes.append(0x80 | UInt8(scalar & 0x3F))
        default:
            bytes.append(0xF0 | UInt8(scalar >> 18))
            bytes.append(0x80 | UInt8(scalar >> 12 & 0x3F))
            bytes.append(0x80 | UInt8(scalar >> 6 & 0x3F))
            bytes.append(0x80 | UInt8(scalar & 0x3F))
        }
    }
}

// MARK: - Scalars

extension JSONValue {
    /// `expected` names what was wanted when the type's name would not help ("an object").
    func mismatch(_ type: Any.Type, _ path: JSONCodingPath, expected: String? = nil) -> DecodingError {
        let context = DecodingError.Context(
            codingPath: path.keys, debugDescription: "expected \(expected ?? "\(type)"), found \(kindDescription)")
        return isNull ? .valueNotFound(type, context) : .typeMismatch(type, context)
    }

    func bool(_ path: @autoclosure () -> JSONCodingPath) throws -> Bool {
        guard case .bool(let b) = self else { throw mismatch(Bool.self, path()) }
        return b
    }

    func string(_ path: @autoclosure () -> JSONCodingPath) throws -> String {
        guard case .string(let s) = self else { throw mismatch(String.self, path()) }
        return s
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type, _ path: @autoclosure () -> JSONCodingPath) throws -> I {
        let negative: Bool
        let magnitude: UInt64
        switch self {
        case .integer(let n, let m):
            negative = n
            magnitude = m
        case .number(let text):
            guard let value = Self.integerValue(text) else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: path().keys, debugDescription: "number \(text) is not an integer (\(I.self))"))
            }
            guard let m = value.magnitude else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: path().keys, debugDescription: "number \(text) does not fit in \(I.self)"))
            }
            negative = value.negative
            magnitude = m
        default:
            throw mismatch(I.self, path())
        }
        if !negative, let v = I(exactly: magnitude) { return v }
        if negative, magnitude == 0 { return 0 }
        if negative, I.isSigned, let v = I(exactly: magnitude - 1) { return ~v }  // -v - 1
        throw DecodingError.dataCorrupted(
            DecodingError.Context(
                codingPath: path().keys,
                debugDescription: "number \(negative ? "-" : "")\(magnitude) does not fit in \(I.self)"))
    }

    /// The integer a number with a fraction or exponent stands for: `nil` when it has a
    /// fractional part, `(sign, nil)` when its magnitude needs more than 64 bits.
    static func integerValue(_ text: String) -> (negative: Bool, magnitude: UInt64?)? {
        var digits: [UInt8] = []
        var negative = false
        var exponent = 0
        var inFraction = false
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            switch b {
            case 0x2D: negative = true
            case 0x2E: inFraction = true
            case 0x30...0x39:
                if !(digits.isEmpty && b == 0x30) { digits.append(b - 0x30) }  // leading zeros
                if inFraction { exponent -= 1 }
            case 0x65, 0x45:
                var e = 0
                var eNegative = false
                while let c = it.next() {
                    if c == 0x2D {
                        eNegative = true
                    } else if c != 0x2B {
                        e = min(e * 10 + Int(c - 0x30), 1_000_000)
                    }
                }
                exponent += eNegative ? -e : e
            default: return nil
            }
        }
        while let last = digits.last, last == 0 {
            // 1500e-2 == 15: trailing zeros move into the exponent.
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty { return (negative, 0) }
        guard exponent >= 0 else { return nil }
        guard digits.count + exponent <= 20 else { return (negative, nil) }
        var m: UInt64 = 0
        for d in digits + [UInt8](repeating: 0, count: exponent) {
            let (a, o1) = m.multipliedReportingOverflow(by: 10)
            let (b, o2) = a.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return (negative, nil) }
            m = b
        }
        return (negative, m)
    }

    func double(_ path: @autoclosure () -> JSONCodingPath) throws -> Double { try floatingPoint(path()) }

    func float(_ path: @autoclosure () -> JSONCodingPath) throws -> Float { try floatingPoint(path()) }

    /// A number as `F`: integers convert (rounding), other numbers must be finite in `F`.
    func floatingPoint<F: BinaryFloatingPoint & LosslessStringConvertible>(_ path: JSONCodingPath) throws -> F {
        switch self {
        case .integer(let negative, let magnitude):
            let v = F(magnitude)
            return negative ? -v : v
        case .number(let text):
            guard let v = F(text), v.isFinite else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: path.keys, debugDescription: "number \(text) does not fit in \(F.self)"))
            }
            return v
        default:
            throw mismatch(F.self, path)
        }
    }
}

// MARK: - Decoder

/// The `Decoder` for one value; also its single-value container.
struct JSONValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let path: JSONCodingPath

    var codingPath: [any CodingKey] { path.keys }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// A `T` from `value`: scalars directly, anything else through `T(from:)`.
    static func unbox<T: Decodable>(
        _ type: T.Type, from value: JSONValue, path: @autoclosure () -> JSONCodingPath
    ) throws -> T {
        // Metadata comparisons, then a bit cast to the same type: no dynamic casts.
        if T.self == String.self { return unsafeBitCast(try value.string(path()), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try value.integer(Int.self, path()), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try value.integer(Int64.self, path()), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try value.double(path()), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try value.bool(path()), to: T.self) }
        // The collector's hottest types, read by hand (nil: `Decodable` decides).
        if T.self == MemorySnapshot.self, let snapshot = MemorySnapshot(tree: value) {
            return unsafeBitCast(snapshot, to: T.self)
        }
        if T.self == OOMEvent.self, let event = OOMEvent(tree: value) { return unsafeBitCast(event, to: T.self) }
        return try T(from: JSONValueDecoder(value: value, path: path()))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else {
            throw value.mismatch([String: Any].self, path, expected: "an object")
        }
        return KeyedDecodingContainer(JSONKeyedDecodingContainer<Key>(object: object, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw value.mismatch([Any].self, path, expected: "an array") }
        return JSONUnkeyedDecodingContainer(items: items, path: path)
    }

    func singleValueContainer() -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try value.bool(path) }
    func decode(_ type: String.Type) throws -> String { try value.string(path) }
    func decode(_ type: Double.Type) throws -> Double { try value.double(path) }
    func decode(_ type: Float.Type) throws -> Float { try value.float(path) }
    func decode(_ type: Int.Type) throws -> Int { try value.integer(type, path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try value.integer(type, path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try value.integer(type, path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try value.integer(type, path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try value.integer(type, path) }
    func decode(_ type: UInt.Type) throws -> UInt { try value.integer(type, path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try value.integer(type, path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try value.integer(type, path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try value.integer(type, path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try value.integer(type, path) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try Self.unbox(type, from: value, path: path) }
}

private struct JSONKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let path: JSONCodingPath
    /// Key → index of its last value, for objects too big to search.
    let index: [String: Int]?

    init(object: JSONObject, path: JSONCodingPath) {
        self.object = object
        self.path = path
        if object.keys.count > 16 {
            var index: [String: Int] = [:]
            index.reserveCapacity(object.keys.count)
            for (i, key) in object.keys.enumerated() { index[key] = i }
            self.index = index
        } else {
            index = nil
        }
    }

    var codingPath: [any CodingKey] { path.keys }

    /// Each key once, in the order it first appears.
    var allKeys: [Key] {
        var seen = Set<String>(minimumCapacity: object.keys.count)
        var keys: [Key] = []
        keys.reserveCapacity(object.keys.count)
        for name in object.keys where seen.insert(name).inserted {
            if let key = Key(stringValue: name) { keys.append(key) }
        }
        return keys
    }

    func value(_ name: String) -> JSONValue? {
        if let index { return index[name].map { object.values[$0] } }
        var i = object.keys.count - 1
        while i >= 0 {
            if object.keys[i] == name { return object.values[i] }
            i -= 1
        }
        return nil
    }

    func required(_ key: Key) throws -> JSONValue {
        guard let v = value(key.stringValue) else {
            throw DecodingError.keyNotFound(
                key, DecodingError.Context(codingPath: path.keys, debugDescription: "key is missing"))
        }
        return v
    }

    func contains(_ key: Key) -> Bool { value(key.stringValue) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try required(key).isNull }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try required(key).bool(path.appending(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try required(key).string(path.appending(key))
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try required(key).double(path.appending(key))
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try required(key).float(path.appending(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(type, key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try JSONValueDecoder.unbox(type, from: required(key), path: path.appending(key))
    }

    private func integer<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I {
        try required(key).integer(type, path.appending(key))
    }

    /// The value at `key` unless it is missing or `null`.
    private func present(_ key: Key) -> JSONValue? {
        guard let v = value(key.stringValue), !v.isNull else { return nil }
        return v
    }

    // One lookup per key, where the protocol's defaults make three.
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try present(key)?.bool(path.appending(key))
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try present(key)?.string(path.appending(key))
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try present(key)?.double(path.appending(key))
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try present(key)?.float(path.appending(key))
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try integerIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
        try integerIfPresent(type, key)
    }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
        try integerIfPresent(type, key)
    }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
        try integerIfPresent(type, key)
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = present(key) else { return nil }
        return try JSONValueDecoder.unbox(type, from: v, path: path.appending(key))
    }

    private func integerIfPresent<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I? {
        try present(key)?.integer(type, path.appending(key))
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: required(key), path: path.appending(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoder(value: required(key), path: path.appending(key)).unkeyedContainer()
    }

    /// The decoder for `super`; `null` when the key is missing.
    func superDecoder() -> any Decoder {
        JSONValueDecoder(
            value: value(JSONStringKey.superKey.stringValue) ?? .null, path: path.appending(JSONStringKey.superKey))
    }

    func superDecoder(forKey key: Key) -> any Decoder {
        JSONValueDecoder(value: value(key.stringValue) ?? .null, path: path.appending(key))
    }
}

private struct JSONUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let path: JSONCodingPath
    private(set) var currentIndex = 0

    init(items: [JSONValue], path: JSONCodingPath) {
        self.items = items
        self.path = path
    }

    var codingPath: [any CodingKey] { path.keys }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private var here: JSONCodingPath { .index(currentIndex, path) }

    /// The next value; `currentIndex` moves on only once it is decoded.
    private func next(_ type: Any.Type, _ expected: @autoclosure () -> String? = nil) throws -> JSONValue {
        guard currentIndex < items.count else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(
                    codingPath: here.keys,
                    debugDescription: "expected \(expected() ?? "\(type)"), found the end of the array"))
        }
        return items[currentIndex]
    }

    private mutating func take<T>(_ type: T.Type, _ decode: (JSONValue, JSONCodingPath) throws -> T) throws -> T {
        let v = try decode(next(type), here)
        currentIndex += 1
        return v
    }

    mutating func decodeNil() throws -> Bool {
        guard try next(Any?.self, "a value").isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try take(type) { try $0.bool($1) } }
    mutating func decode(_ type: String.Type) throws -> String { try take(type) { try $0.string($1) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try take(type) { try $0.double($1) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try take(type) { try $0.float($1) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try take(type) { try $0.integer(type, $1) } }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try take(type) { try JSONValueDecoder.unbox(type, from: $0, path: $1) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try take(KeyedDecodingContainer<NestedKey>.self) {
            try JSONValueDecoder(value: $0, path: $1).container(keyedBy: type)
        }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try take((any UnkeyedDecodingContainer).self) { try JSONValueDecoder(value: $0, path: $1).unkeyedContainer() }
    }

    mutating func superDecoder() throws -> any Decoder {
        try take((any Decoder).self) { JSONValueDecoder(value: $0, path: $1) }
    }
}
