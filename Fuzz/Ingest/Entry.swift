// libFuzzer entry for the collector's ingest decoder: the input is an ingest body, run
// through the same decode + validate the collector uses (Sources/OOMServer/Validation.swift,
// compiled into this module by Fuzz/build.sh). An accepted batch must survive a round trip.
import OOMKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

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
    // What the collector stores is re-encoded JSON; it must decode and validate again.
    guard let encoded = try? JSONEncoder().encode(batch) else { fatalError("accepted batch does not encode") }
    do {
        let again = try IngestValidator.decode(Array(encoded), limits: limits)
        try IngestValidator.validate(again, limits: limits)
    } catch {
        fatalError("accepted batch fails after a round trip: \(error)")
    }
    return 0
}
