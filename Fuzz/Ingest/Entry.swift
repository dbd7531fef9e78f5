// libFuzzer entry for the collector's ingest decoder: the input is an ingest body, run
// through the same decode + validate the collector uses (OOMKit's IngestValidator,
// Sources/OOMKit/Models/IngestValidation.swift, compiled into this module by
// Fuzz/build.sh). An accepted batch must survive a round trip through the same codec.
@_cdecl("LLVMFuzzerTestOneInput")
public func ingestFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = IngestLimits()
    let batch: IngestBatch
    do {
        batch = try IngestValidator.decode(bytes, limits: limits)
        try IngestValidator.validate(batch, limits: limits)
    } catch {
        return 0
    }
    // The agent writes what the collector reads with the one codec; it must read back.
    guard let encoded = try? JSONWriter().encode(batch) else { fatalError("accepted batch does not encode") }
    do {
        let again = try IngestValidator.decode(encoded, limits: limits)
        try IngestValidator.validate(again, limits: limits)
        guard again == batch else { fatalError("accepted batch changes in a round trip") }
    } catch {
        fatalError("accepted batch fails after a round trip: \(error)")
    }
    return 0
}
