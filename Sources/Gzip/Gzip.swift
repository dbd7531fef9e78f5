internal import CZlib

/// Why a gzip operation failed.
public struct GzipError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The input is not a valid gzip stream.
        case corrupt
        /// Decompressing would exceed the caller's output limit (a gzip bomb, or simply too big).
        case tooLarge
        /// zlib could not allocate its state.
        case noMemory
    }
    public var kind: Kind
    public var description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Whole-buffer gzip (RFC 1952) compression and decompression over the system zlib.
public enum Gzip {
    /// True when `bytes` starts with the gzip magic number.
    public static func isGzip(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        return iterator.next() == 0x1f && iterator.next() == 0x8b
    }

    /// `bytes` as one gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws(GzipError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 16 asks zlib for a gzip header and trailer instead of zlib's own.
        let status = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw GzipError(.noMemory, "deflateInit2 failed (\(status))") }
        defer { deflateEnd(&stream) }
        return try Deflate.finish(&stream, bytes)
    }

    /// The decompressed contents of a gzip stream (several members are concatenated, as
    /// `gunzip` does). Throws `.tooLarge` as soon as the output would pass `maxOutputBytes`.
    public static func decompress(
        _ bytes: [UInt8], maxOutputBytes: Int = Int.max
    ) throws(GzipError) -> [UInt8] {
        var inflater = try GzipInflater()
        var output = try inflater.inflate(bytes, maxOutputBytes: maxOutputBytes)
        guard inflater.finished else {
            throw GzipError(.corrupt, "gzip data is truncated")
        }
        if output.capacity > output.count * 2 { output.reserveCapacity(0) }
        return output
    }
}

/// Streaming gzip decompression: feed compressed chunks, get decompressed bytes back.
/// Used to scan multi-GB `kern.log.N.gz` files with flat memory.
public struct GzipInflater: ~Copyable {
    private var stream: UnsafeMutablePointer<z_stream>
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    /// True once a complete gzip member has ended and no further input started another.
    public private(set) var finished = false

    public init() throws(GzipError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 32: accept gzip or zlib headers, detected automatically.
        let status = inflateInit2_(stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw GzipError(.noMemory, "inflateInit2 failed (\(status))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Decompresses `input`, returning what it yields. Concatenated members are followed.
    public mutating func inflate(
        _ input: [UInt8], maxOutputBytes: Int = Int.max
    ) throws(GzipError) -> [UInt8] {
        var output: [UInt8] = []
        guard !input.isEmpty else { return output }
        var offset = 0
        var outputFull = false
        // Keep going while input remains, or while zlib filled the whole output chunk
        // (it may hold more output even with all input consumed).
        while offset < input.count || outputFull {
            if finished {
                guard offset < input.count else { break }
                // Another gzip member follows (e.g. `cat a.gz b.gz`).
                inflateReset(stream)
                finished = false
            }
            var status: Int32 = Z_OK
            var consumed = 0
            var produced = 0
            input.withUnsafeBufferPointer { inBuf in
                chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.pointee.next_in = UnsafeMutablePointer(
                        mutating: inBuf.baseAddress! + offset)
                    stream.pointee.avail_in = uInt(inBuf.count - offset)
                    stream.pointee.next_out = outBuf.baseAddress
                    stream.pointee.avail_out = uInt(outBuf.count)
                    status = CZlib.inflate(stream, Z_NO_FLUSH)
                    consumed = inBuf.count - offset - Int(stream.pointee.avail_in)
                    produced = outBuf.count - Int(stream.pointee.avail_out)
                }
            }
            offset += consumed
            outputFull = produced == chunk.count
            if produced > 0 {
                guard output.count + produced <= maxOutputBytes else {
                    throw GzipError(.tooLarge, "decompressed data exceeds \(maxOutputBytes) bytes")
                }
                output.append(contentsOf: chunk[0..<produced])
            }
            switch status {
            case Z_STREAM_END:
                finished = true
                outputFull = false
                // Trailing zero padding after the last member is common (tape-era tools); ignore it.
                if input[offset...].allSatisfy({ $0 == 0 }) { return output }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                if consumed == 0 && produced == 0 { return output }
                outputFull = false
            case Z_MEM_ERROR:
                throw GzipError(.noMemory, "zlib ran out of memory")
            default:
                throw GzipError(.corrupt, "invalid gzip data (zlib status \(status))")
            }
        }
        return output
    }
}
