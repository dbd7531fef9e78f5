/// Where the /dev/kmsg follower stopped: the boot and the last sequence number whose
/// records are fully handled (their events spooled). Kept in `<state>/kmsg.cursor` as
/// `BOOT_ID SEQ`.
public struct KmsgCursor: Sendable, Equatable {
    public var bootID: String
    public var sequence: UInt64

    public init(bootID: String, sequence: UInt64) {
        self.bootID = bootID
        self.sequence = sequence
    }

    public var fileText: String { "\(bootID) \(sequence)\n" }

    /// `nil` for a missing, empty or damaged file (the follower then reads the boot from
    /// its start; repeated kills keep their ids, so the collector stores them once).
    public static func parse(_ text: String) -> KmsgCursor? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 2, let seq = UInt64(parts[1]), !parts[0].isEmpty else { return nil }
        return KmsgCursor(bootID: String(parts[0]), sequence: seq)
    }

    public static func load(_ path: String) -> KmsgCursor? {
        guard let bytes = try? FileIO.readAll(path) else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    public func save(_ path: String) throws(FileIOError) {
        try FileIO.writeAtomically(path, Array(fileText.utf8))
    }
}
