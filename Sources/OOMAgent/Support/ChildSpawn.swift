#if canImport(Glibc)
    public import Glibc
#endif

/// Starts child processes with posix_spawn, shared by the agent (journalctl) and its tests.
public enum ChildSpawn {
    /// Spawns `args` (`args[0]` is the executable's path) with the file actions that
    /// `fileActions` adds; the child's pid, or `nil` when posix_spawn fails.
    public static func spawn(
        _ args: [String],
        fileActions: (inout posix_spawn_file_actions_t) -> Void = { _ in }
    ) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        fileActions(&actions)
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // Dispatch threads block signals and a spawned child inherits the mask: reset it,
        // or the child could never be stopped with SIGTERM.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        guard posix_spawn(&pid, args[0], &actions, &attr, &argv, environ) == 0 else { return nil }
        return pid
    }
}
