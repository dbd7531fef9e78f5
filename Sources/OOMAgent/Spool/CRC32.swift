/// CRC-32 (IEEE 802.3, the zlib/gzip polynomial), for spool record checksums.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// Continues `crc` over `bytes` (start with 0).
    public static func update(_ crc: UInt32, _ bytes: some Sequence<UInt8>) -> UInt32 {
        // Contiguous storage takes the fast path (every spool record does).
        if let fast = bytes.withContiguousStorageIfAvailable({ update(crc, buffer: $0) }) {
            return fast
        }
        let copy = Array(bytes)
        return copy.withUnsafeBufferPointer { update(crc, buffer: $0) }
    }

    private static func update(_ crc: UInt32, buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var c = ~crc
        table.withUnsafeBufferPointer { t in
            for b in buffer { c = t[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
        }
        return ~c
    }

    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 { update(0, bytes) }
}
