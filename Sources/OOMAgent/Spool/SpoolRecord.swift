/// One record in a spool segment file, and the framing that lets a damaged file cost only
/// its damaged records.
///
/// Layout (little-endian): magic `A5 5A`, kind (1 byte), 0 (1 byte), payload length
/// (4 bytes), CRC-32 of kind + payload (4 bytes), payload. After any damage the decoder
/// scans forward for the next header whose length fits and whose checksum matches.
public struct SpoolRecord: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case event = 1
        case snapshot = 2
    }

    public var kind: Kind
    public var payload: [UInt8]

    public init(kind: Kind, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }

    static let headerSize = 12
    /// The two bytes every record starts with, so a reader can find the next record after
    /// a torn one.
    static let magic: (UInt8, UInt8) = (0xA5, 0x5A)
    static let maxPayload = 64 << 20

    /// The record's bytes as written to disk.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.headerSize + payload.count)
        out.append(Self.magic.0)
        out.append(Self.magic.1)
        out.append(kind.rawValue)
        out.append(0)
        appendLE(&out, UInt32(payload.count))
        appendLE(&out, CRC32.update(CRC32.checksum(CollectionOfOne(kind.rawValue)), payload))
        out.append(contentsOf: payload)
        return out
    }

    /// What a segment file holds: the intact records, and how many damaged stretches
    /// (a torn tail from a crash mid-append, flipped bits) were skipped.
    public struct Decoded: Sendable, Equatable {
        public var records: [SpoolRecord]
        public var corrupt: Int
    }

    public static func decode(_ bytes: [UInt8]) -> Decoded {
        var records: [SpoolRecord] = []
        var corrupt = 0
        var p = 0
        var inDamage = false
        while p < bytes.count {
            if let (record, next) = record(at: p, in: bytes) {
                records.append(record)
                p = next
                inDamage = false
            } else {
                // One damaged stretch counts once, however many bytes it spans.
                if !inDamage { corrupt += 1 }
                inDamage = true
                p += 1
            }
        }
        return Decoded(records: records, corrupt: corrupt)
    }

    private static func record(at p: Int, in b: [UInt8]) -> (SpoolRecord, Int)? {
        guard p + headerSize <= b.count, b[p] == magic.0, b[p + 1] == magic.1, b[p + 3] == 0,
            let kind = Kind(rawValue: b[p + 2])
        else { return nil }
        let length = Int(readLE(b, p + 4))
        guard length <= maxPayload, p + headerSize + length <= b.count else { return nil }
        let crc = readLE(b, p + 8)
        let payload = b[(p + headerSize)..<(p + headerSize + length)]
        guard CRC32.update(CRC32.checksum(CollectionOfOne(kind.rawValue)), payload) == crc else {
            return nil
        }
        return (SpoolRecord(kind: kind, payload: Array(payload)), p + headerSize + length)
    }

    private static func readLE(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    private func appendLE(_ out: inout [UInt8], _ v: UInt32) {
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        out.append(UInt8(truncatingIfNeeded: v >> 16))
        out.append(UInt8(truncatingIfNeeded: v >> 24))
    }
}
