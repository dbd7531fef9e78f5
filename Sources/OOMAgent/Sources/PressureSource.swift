import HostSupport
public import OOMKit

/// /proc/pressure/memory. A kernel without PSI (no file, or `psi=0` refusing the read) is
/// "nothing to report", not an error: `pressure` stays `nil`.
public struct PressureSource: MemorySource {
    public let name = "pressure"
    private let path: String
    private var reader = FileReader(initialCapacity: 512)

    public init(procRoot: String) { path = procRoot + "/pressure/memory" }

    public mutating func collect(into snapshot: inout MemorySnapshot) throws {
        let bytes: ArraySlice<UInt8>
        do {
            bytes = try reader.read(path)
        } catch {
            // EOPNOTSUPP (95): booted with psi=0.
            guard error.isMissing || error.errno == 95 else { throw error }
            snapshot.pressure = nil
            return
        }
        snapshot.pressure = PressureParser.parse(bytes)
    }
}
