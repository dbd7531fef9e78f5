import Testing

@testable import OOMKit

/// `JSONWriter`'s stream (compact output written as `encode(to:)` goes) against its tree
/// encoder, which defines the output: the same bytes, or the same error, for every value;
/// and the stream really takes the models, rather than leaving them to the tree.
@Suite struct JSONStreamTests {
    private func tree<T: Encodable>(_ value: T, sortedKeys: Bool) -> Result<[UInt8], JSONCodingError> {
        var writer = JSONWriter(sortedKeys: sortedKeys)
        writer.treeOnly = true
        return Result { () throws(JSONCodingError) in try writer.encode(value) }
    }

    /// Both forms equal the tree's; `streamed` says whether the stream wrote them itself.
    private func check<T: Encodable>(
        _ value: T, streamed: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for sortedKeys in [false, true] {
            let writer = JSONWriter(sortedKeys: sortedKeys)
            let ours = Result { () throws(JSONCodingError) in try writer.encode(value) }
            let reference = tree(value, sortedKeys: sortedKeys)
            #expect(ours == reference, "sortedKeys: \(sortedKeys)", sourceLocation: sourceLocation)
            var out: [UInt8] = [7]
            let took = JSONStream.encode(value, sortedKeys: sortedKeys, into: &out)
            if took {
                #expect([7] + ((try? reference.get()) ?? []) == out, sourceLocation: sourceLocation)
            } else {
                #expect(
                    out == [7], "a stream that gives up leaves the output as it was", sourceLocation: sourceLocation)
            }
            if let streamed { #expect(took == streamed, "sortedKeys: \(sortedKeys)", sourceLocation: sourceLocation) }
        }
    }

    @Test func modelsAreStreamedAsTheTreeWritesThem() throws {
        let real = try Fixture.text("real-snapshots.jsonl").split(separator: "\n").map {
            try JSONReader().decode(MemorySnapshot.self, from: Array($0.utf8))
        }
        #expect(real.count >= 3)
        for snapshot in real {
            check(snapshot, streamed: true)
            check(snapshot.processes, streamed: true)
            check(snapshot.memory, streamed: true)
            var next: Int64 = 0
            check(
                CompactSnapshot(snapshot) { _ in
                    next += 1
                    return next
                }, streamed: true)
        }
        check(Samples.event, streamed: true)
        check(Samples.bareEvent, streamed: true)
        check(Samples.batch, streamed: true)
        check(Samples.snapshot(processes: 20), streamed: true)
        check(Samples.bareSnapshot, streamed: true)
        check(Samples.partialPressureSnapshot, streamed: true)
        check(Samples.agent, streamed: true)
        check(IngestResult(eventsStored: 3, eventsDuplicate: 0, snapshotsStored: Int.max), streamed: true)
        check(APIErrorBody(message: "bad \"batch\": \n"), streamed: true)
    }

    /// Scalars, nesting, escapes, every integer width, floats, empty containers.
    @Test func valuesOfEveryShape() {
        check("a\"b\\c\n\u{1}é😀", streamed: true)
        check(42, streamed: true)
        check(Int64.min, streamed: true)
        check(UInt64.max, streamed: true)
        check([Int8.min, Int8.max].map(Int64.init) + [Int64(UInt16.max)])
        check([UInt8(1), 2, 255], streamed: true)
        check([Float(0.1), 1e20, -3])
        check([0.5, 1e-5, 1e20, -0.0, 123_456_789.125], streamed: true)
        check([true, false], streamed: true)
        check([Int?.none, 1, nil], streamed: true)
        check([[Int]](), streamed: true)
        check([[1, 2], [], [3]], streamed: true)
        check([String: Int](), streamed: true)
        check(["b": 1, "a": 2, "ab": 3, "a!": 4, "é": 5, "": 6], streamed: true)
        check(["z": ["y": [1], "x": []], "a": [:]], streamed: true)
        // A key that needs escapes: sorted by its unescaped bytes, so the tree sorts it.
        check(["a\"": 1, "a": 2, "a\n": 3, "b": 4])
        check([JSONWriterOutputTests.EncodesNothing()], streamed: true)
        check(JSONWriterOutputTests.WithNil(), streamed: true)
        check(JSONWriterOutputTests.WithNil(a: 1, b: nil), streamed: true)
    }

    /// What only the tree can write, and errors: given back to the tree, same result.
    @Test func whatTheStreamLeavesToTheTree() {
        check(JSONWriterOutputTests.Manual(), streamed: false)
        check(JSONWriterOutputTests.Repeated(), streamed: false)
        check(JSONWriterOutputTests.ManyRepeated(), streamed: false)
        check(JSONWriterOutputTests.EncodesNothing(), streamed: false)
        check(["a": JSONWriterOutputTests.Failing()], streamed: false)
        check([1.0, .nan], streamed: false)
        check(["k": Float.infinity], streamed: false)
        check(TwoContainers(), streamed: true)
        check(Keyed(keys: ["b", "a", "b"]), streamed: false)
        check(Keyed(keys: (0..<40).map { "k\($0 % 37)" }), streamed: false)
        check(Keyed(keys: (0..<40).map { "k\($0)" }.reversed()), streamed: true)
    }

    /// A keyed container asked for twice: the same object, as synthesized subclasses do.
    struct TwoContainers: Encodable {
        enum K: CodingKey { case a, b, c }
        func encode(to encoder: any Encoder) throws {
            var first = encoder.container(keyedBy: K.self)
            try first.encode(1, forKey: .b)
            var second = encoder.container(keyedBy: K.self)
            try second.encode([2], forKey: .a)
            try first.encode("3", forKey: .c)
        }
    }

    struct Keyed: Encodable {
        var keys: [String]
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: JSONKey.self)
            for (i, key) in keys.enumerated() { try c.encode(i, forKey: JSONKey(key)) }
        }
    }
}
