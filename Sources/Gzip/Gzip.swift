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
        if let whole = oneMember(bytes, maxOutputBytes: maxOutputBytes) { return whole }
        var inflater = try GzipInflater()
        var output = try inflater.inflate(bytes, maxOutputBytes: maxOutputBytes)
        guard inflater.finished else {
            throw GzipError(.corrupt, "gzip data is truncated")
        }
        if output.capacity > output.count * 2 { output.reserveCapacity(0) }
        return output
    }
}

extension Gzip {
    /// What a request body usually is: one gzip member whose trailer states its size,
    /// inflated in one call straight into an array of that size (no 64 kB staging chunk to
    /// zero and copy out of: issue 15, collector CPU per post). `nil` whenever the input is
    /// anything else (several members, padding, a size the trailer gets wrong, corrupt
    /// data), for the streaming path to decompress or reject as it always did.
    static func oneMember(_ bytes: [UInt8], maxOutputBytes: Int) -> [UInt8]? {
        guard bytes.count >= 18, isGzip(bytes) else { return nil }
        let n = bytes.count
        // ISIZE: the uncompressed size modulo 2^32, little-endian, in the last 4 bytes.
        let size = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
        // Deflate expands at most ~1,032:1; a larger claim is a lie or a wrapped size.
        guard size <= maxOutputBytes, size <= max(1 << 20, n * 1_032) else { return nil }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return nil
        }
        defer { inflateEnd(&stream) }
        var status: Int32 = Z_OK
        // One byte of room past the stated size: output that reaches it means the trailer
        // understated the size, and the streaming path takes over.
        let output = bytes.withUnsafeBufferPointer { inBuf in
            [UInt8](unsafeUninitializedCapacity: size + 1) { outBuf, written in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = uInt(outBuf.count)
                status = CZlib.inflate(&stream, Z_FINISH)
                written = outBuf.count - Int(stream.avail_out)
            }
        }
        guard status == Z_STREAM_END, stream.avail_in == 0, output.count == size else { return nil }
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
