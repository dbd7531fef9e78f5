// libFuzzer entry for the agent's handling of a collector's answer to an upload (issue 19,
// point 5): any bytes become a status, a clock, header lines and a body, go through
// `CollectorAnswer` (Retry-After, error message, ingest result) and the retry wait goes
// through `UploadBackoff`. Nothing may trap; the wait must be finite and capped; the
// message must be short and free of control characters. Compiled into one module with
// OOMKit's sources and Sources/OOMAgent/Upload/UploadBackoff.swift by Fuzz/build.sh.
//
// Input layout: 2 bytes status (mod 1000), 8 bytes the wall clock (a Double's bits, so
// NaN and infinities too), 1 byte the jitter draw, then header lines up to an empty line,
// then the body.

@_cdecl("LLVMFuzzerTestOneInput")
public func uploadResponseFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 11 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let status = (Int(bytes[0]) << 8 | Int(bytes[1])) % 1000
    var bits: UInt64 = 0
    for b in bytes[2..<10] { bits = bits << 8 | UInt64(b) }
    let now = Double(bitPattern: bits)
    let random = Double(bytes[10]) / 256
    let rest = bytes[11...]
    let end = rest.firstRange(of: [13, 10, 13, 10])
    let headerBytes = end.map { rest[..<$0.lowerBound] } ?? rest
    let body = end.map { Array(rest[$0.upperBound...]) } ?? []
    var headers: [String: String] = [:]
    for line in String(decoding: headerBytes, as: UTF8.self).split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...])
    }
    let answer = CollectorAnswer(status: status, headers: headers, body: body, nowEpochSeconds: now)
    if let after = answer.retryAfter, !(after.isFinite && after >= 0) {
        fatalError("Retry-After gave \(after)")
    }
    if let message = answer.message {
        if message.utf8.count > CollectorAnswer.maxMessageBytes + 3 { fatalError("message too long") }
        if message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            fatalError("control character in message")
        }
    }
    var backoff = UploadBackoff()
    let clock = 1_000.0
    switch backoff.record(.retryable(retryAfter: answer.retryAfter), now: clock, random: random) {
    case .retry(let at):
        if !(at.isFinite && at >= clock && at <= clock + max(backoff.retryAfterCap, backoff.maximum)) {
            fatalError("retry at \(at)")
        }
    default:
        fatalError("a retryable outcome must retry")
    }
    return 0
}
