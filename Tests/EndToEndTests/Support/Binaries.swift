import Foundation

/// The three release executables the end-to-end test drives.
struct Binaries {
    var agent: String
    var collector: String
    var cli: String

    enum Lookup {
        case found(Binaries)
        /// Not built (or older than the sources): the test is skipped with this reason.
        case skip(String)
    }

    /// `OOMWATCH_BIN_DIR` when set (scripts/test sets it after `swift build -c release`);
    /// otherwise the package's own `.build/release` — what `swift build -c release
    /// --show-bin-path` prints — found from this file's path rather than by running
    /// SwiftPM again under the lock `swift test` holds.
    static func locate() throws -> Lookup {
        let names = ["oomwatch-agent", "oomwatch-collector", "oomwatch"]
        if let dir = ProcessInfo.processInfo.environment["OOMWATCH_BIN_DIR"], !dir.isEmpty {
            let missing = names.filter { !FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }
            // Set on purpose, so a missing binary is a broken build, not a reason to skip.
            guard missing.isEmpty else {
                throw E2EError("OOMWATCH_BIN_DIR=\(dir) has no \(missing.joined(separator: ", "))")
            }
            return .found(Binaries(dir: dir))
        }
        // This file is <root>/Tests/EndToEndTests/Support/Binaries.swift.
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let dir = root + "/.build/release"
        let missing = names.filter { !FileManager.default.isExecutableFile(atPath: dir + "/" + $0) }
        guard missing.isEmpty else {
            return .skip(
                "release binaries not built (\(missing.joined(separator: ", ")) missing in \(dir)); "
                    + "run scripts/test, or `swift build -c release` and set OOMWATCH_BIN_DIR")
        }
        // Stale binaries would test yesterday's code and fail confusingly; only an explicit
        // OOMWATCH_BIN_DIR is trusted without this check.
        let newestSource = newestModification(under: root + "/Sources")
        let oldestBinary = names.compactMap { modification(of: dir + "/" + $0) }.min() ?? .distantPast
        if let newestSource, newestSource > oldestBinary {
            return .skip(
                "release binaries in \(dir) are older than Sources/; run scripts/test, or "
                    + "`swift build -c release` and set OOMWATCH_BIN_DIR=\(dir)")
        }
        return .found(Binaries(dir: dir))
    }

    private init(dir: String) {
        agent = dir + "/oomwatch-agent"
        collector = dir + "/oomwatch-collector"
        cli = dir + "/oomwatch"
    }

    private static func modification(of path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    private static func newestModification(under directory: String) -> Date? {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return nil }
        var newest: Date?
        while let relative = walker.nextObject() as? String {
            guard let date = modification(of: directory + "/" + relative) else { continue }
            if newest.map({ date > $0 }) ?? true { newest = date }
        }
        return newest
    }
}
