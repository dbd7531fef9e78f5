// libFuzzer entry for the kernel-log parser: the input is a log (any format the scanner
// understands), fed in two chunks split at a point the input chooses, then finished.
// Compiled into the same module as OOMKit's sources by Fuzz/build.sh.

@_cdecl("LLVMFuzzerTestOneInput")
public func kernelLogFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks where the chunk boundary falls, so line splitting across
    // reads is exercised too.
    let split = Int(bytes[0]) * (bytes.count - 1) / 255 + 1
    var scanner = KernelLogScanner()
    var events = scanner.feed(Array(bytes[1..<max(1, min(split, bytes.count))]))
    if split < bytes.count { events += scanner.feed(Array(bytes[split...])) }
    events += scanner.finish()

    // The same text line by line through the record parsers the agent uses.
    var assembler = OOMReportAssembler()
    for line in bytes.dropFirst().split(separator: 10, omittingEmptySubsequences: true).prefix(2000) {
        if let record = KmsgRecord.parse(bytes: line) {
            events += assembler.feed(record.logLine())
        }
    }
    events += assembler.flush()

    // Every event must encode with the agent's own writer (it is what the agent uploads).
    let writer = JSONWriter()
    for var event in events {
        if event.id.isEmpty { event.assignStableID() }
        guard (try? writer.encode(event)) != nil else { fatalError("event does not encode: \(event.id)") }
    }
    return 0
}
