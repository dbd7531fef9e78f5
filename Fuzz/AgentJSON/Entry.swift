// libFuzzer entry for the agent's JSON codec (OOMKit's JSONReader and JSONWriter): the
// input is decoded as every type the agent reads, from the collector (ingest results,
// error bodies) and from its own state and spool (agent info, snapshots, events). Whatever
// decodes must encode again and decode back to the same value. Compiled into the same
// module as OOMKit's sources by Fuzz/build.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func agentJSONFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    roundTrip(IngestResult.self, bytes)
    roundTrip(APIErrorBody.self, bytes)
    roundTrip(AgentInfo.self, bytes)
    roundTrip(MemorySnapshot.self, bytes)
    roundTrip(OOMEvent.self, bytes)
    return 0
}

private func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ bytes: UnsafeBufferPointer<UInt8>) {
    guard let value = try? JSONReader().decode(type, from: bytes) else { return }
    for writer in [JSONWriter(), JSONWriter(sortedKeys: true, pretty: true)] {
        let encoded: [UInt8]
        do {
            encoded = try writer.encode(value)
        } catch {
            fatalError("a decoded \(T.self) does not encode: \(error)")
        }
        guard let back = try? JSONReader().decode(type, from: encoded), back == value else {
            fatalError("\(T.self) does not survive encode -> decode: \(String(decoding: encoded, as: UTF8.self))")
        }
    }
}
