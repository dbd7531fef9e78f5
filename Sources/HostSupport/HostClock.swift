#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The host's wall, monotonic and boot clocks, read with `clock_gettime` (no Foundation).
///
/// Named so it does not shadow the standard library's `Clock` protocol.
public enum HostClock {
    /// Wall-clock time: microseconds since the Unix epoch.
    public static func nowMicros() -> Int64 {
        micros(CLOCK_REALTIME)
    }

    /// Monotonic nanoseconds, for durations and deadlines (unaffected by clock changes).
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// CLOCK_BOOTTIME in microseconds: the kernel log's time base (includes suspend).
    public static func bootMicros() -> Int64 {
        micros(CLOCK_BOOTTIME)
    }

    private static func micros(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}
