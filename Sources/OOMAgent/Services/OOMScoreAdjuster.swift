public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Lowers the agent's own `oom_score_adj` so the OOM killer takes it last: the agent is
/// what reports the kill. -900 rather than -1000: a runaway agent must stay killable.
/// Lowering needs CAP_SYS_RESOURCE (the systemd unit's OOMScoreAdjust= does it too).
public enum OOMScoreAdjuster {
    @discardableResult
    public static func apply(_ value: Int, path: String = "/proc/self/oom_score_adj", logger: Logger) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else {
            logger.warning("cannot open oom_score_adj", metadata: ["path": "\(path)", "error": "\(errno)"])
            return false
        }
        defer { close(fd) }
        let text = Array(String(value).utf8)
        let n = text.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        if n != text.count {
            logger.warning(
                "cannot set oom_score_adj (needs CAP_SYS_RESOURCE to lower it)",
                metadata: ["oom_score_adj": "\(value)", "errno": "\(errno)"])
            return false
        }
        logger.info("oom_score_adj set", metadata: ["oom_score_adj": "\(value)"])
        return true
    }
}
