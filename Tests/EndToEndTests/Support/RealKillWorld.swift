import Foundation
import Testing

extension Binaries {
    /// The built binaries, or the test cancelled with the reason they are missing.
    static func required() throws -> Binaries {
        switch try locate() {
        case .found(let found): return found
        case .skip(let reason): try Test.cancel(Comment(rawValue: reason))
        }
    }
}

extension E2EWorld {
    /// A world for a test that makes real kills. The one reason to skip besides unbuilt
    /// binaries: the kernel will not give us a memory cgroup to fill.
    static func forRealKills(probe: String) throws -> E2EWorld {
        let binaries = try Binaries.required()
        do {
            try MemoryCgroup.create(name: "oomwatch-\(probe)-probe-\(getpid())", limitBytes: 64 << 20).remove()
        } catch {
            try Test.cancel(Comment(rawValue: "no writable memory cgroup: \(error)"))
        }
        return try E2EWorld(binaries: binaries)
    }

    /// Runs `body` in this world, then undoes the world whether `body` threw or not.
    func within(_ body: (E2EWorld) async throws -> Void) async throws {
        do {
            try await body(self)
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }
}
