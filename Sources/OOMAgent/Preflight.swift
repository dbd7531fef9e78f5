public import CurlHTTP
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One preflight check's result: a line of `oomwatch-agent check` and of the agent's
/// start-up log.
public struct PreflightCheck: Sendable, Equatable {
    public enum Level: String, Sendable, Equatable {
        case ok
        /// Worth knowing; nothing is lost.
        case info
        /// Works, but weaker than it should be (plain HTTP, no journal…).
        case warn
        /// Data would be lost or never delivered: `check` exits non-zero.
        case fail
    }

    public var name: String
    public var level: Level
    public var detail: String
    /// What to do about it (warn and fail).
    public var fix: String?

    public init(_ name: String, _ level: Level, _ detail: String, fix: String? = nil) {
        self.name = name
        self.level = level
        self.detail = detail
        self.fix = fix
    }

    /// `ok    name: detail`, and the fix on the same line after `->`.
    public var line: String {
        let tag = level.rawValue.uppercased()
        var out = tag + String(repeating: " ", count: max(1, 6 - tag.count)) + name + ": " + detail
        if let fix { out += " -> " + fix }
        return out
    }
}

/// The checks behind `oomwatch-agent check`, also logged when `run` starts: everything a
/// first deployment gets wrong, each with its fix. The configuration was already resolved
/// (a file that does not parse never gets here); its validation is the first check.
public enum Preflight {
    /// All checks, `config` first. `journalDirectories` is where a journal would be (a
    /// parameter so tests can use fake roots).
    public static func run(
        config: AgentConfig, logger: Logger, journalDirectories: [String] = JournalService.defaultDirectories
    ) async -> [PreflightCheck] {
        var checks: [PreflightCheck] = [configuration(config)]
        checks.append(tokenFile(config))
        checks += await collector(config, logger: logger)
        checks.append(kmsg(config))
        checks.append(journal(config, directories: journalDirectories))
        checks.append(cgroup(config))
        checks.append(stateDirectory(config))
        return checks
    }

    /// `oomwatch-agent check`'s exit status: 1 when a check that would lose data failed.
    public static func exitStatus(_ checks: [PreflightCheck]) -> Int32 {
        checks.contains { $0.level == .fail } ? 1 : 0
    }

    static func configuration(_ config: AgentConfig) -> PreflightCheck {
        do {
            try config.validate()
        } catch {
            return PreflightCheck("config", .fail, "\(error)", fix: "fix the setting named")
        }
        return PreflightCheck("config", .ok, "valid (state_dir \(config.stateDir))")
    }

    /// Logs each result at a level matching it (run start).
    public static func log(_ checks: [PreflightCheck], logger: Logger) {
        for c in checks {
            let metadata: Logger.Metadata = ["check": "\(c.name)", "check.fix": "\(c.fix ?? "-")"]
            switch c.level {
            case .ok, .info: logger.info("preflight \(c.level.rawValue): \(c.detail)", metadata: metadata)
            case .warn: logger.warning("preflight: \(c.detail)", metadata: metadata)
            case .fail: logger.error("preflight failed: \(c.detail)", metadata: metadata)
            }
        }
    }

    static func tokenFile(_ config: AgentConfig) -> PreflightCheck {
        guard let path = config.tokenFile else {
            return PreflightCheck(
                "token file", .fail, "no token_file set: the collector refuses uploads without a token",
                fix: "create an agent token (`oomwatch-collector token create --role agent`), save it in a file "
                    + "readable only by the agent and set token_file (or --token-file)")
        }
        let bytes: [UInt8]?
        do {
            bytes = try FileIO.readAll(path)
        } catch {
            return PreflightCheck(
                "token file", .fail, "\(path) is not readable (\(error))",
                fix: "make it readable by the agent's user (chmod 0400, owned by that user)")
        }
        guard let bytes else {
            return PreflightCheck(
                "token file", .fail, "\(path) does not exist",
                fix: "save the agent token there, or point token_file at the right file")
        }
        guard bytes.contains(where: { $0 > 32 }) else {
            return PreflightCheck("token file", .fail, "\(path) is empty", fix: "save the agent token in it")
        }
        return PreflightCheck("token file", .ok, "\(path) present and readable")
    }

    /// Reachability, TLS and the token's role, all from one `GET /api/v1/agent/check`.
    static func collector(_ config: AgentConfig, logger: Logger) async -> [PreflightCheck] {
        guard let url = config.collector else {
            return [
                PreflightCheck(
                    "collector", .fail, "no collector set",
                    fix: "pass --collector URL, set OOMWATCH_COLLECTOR, or add `collector:` to the config file")
            ]
        }
        let uploader = Uploader(
            collector: url, tokenFile: config.tokenFile, options: config.httpClientOptions(), logger: logger)
        var out: [PreflightCheck] = []
        let https = url.hasPrefix("https://")
        let response: HTTPResponse
        do {
            response = try await uploader.probe()
        } catch {
            if error.kind == .tls {
                out.append(PreflightCheck("collector reachable", .ok, "\(url) answers TCP"))
                out.append(
                    PreflightCheck(
                        "TLS verified", .fail, error.message,
                        fix: "set upload.ca_file to the CA bundle that signed the collector's certificate, and use "
                            + "the host name the certificate names"))
            } else {
                out.append(
                    PreflightCheck(
                        "collector reachable", .fail, error.message,
                        fix: "check the URL and port, that the collector runs and listens on an address this host "
                            + "can reach (its --listen), and firewalls; kills stay spooled meanwhile"))
            }
            return out
        }
        out.append(PreflightCheck("collector reachable", .ok, "\(url) answered HTTP \(response.status)"))
        if !https {
            out.append(
                PreflightCheck(
                    "TLS verified", .warn, "plain HTTP: the token and host data travel unencrypted",
                    fix: "serve the collector over TLS (tls.cert/tls.key) and use an https:// collector URL"))
        } else if !config.upload.verifyTLS {
            out.append(
                PreflightCheck(
                    "TLS verified", .warn, "certificate verification is off (upload.verify_tls: false)",
                    fix: "set upload.ca_file to the collector's CA and upload.verify_tls: true"))
        } else {
            out.append(PreflightCheck("TLS verified", .ok, "certificate and host name verified"))
        }
        switch response.status {
        case 200..<300:
            out.append(PreflightCheck("token accepted", .ok, "the collector accepts this token for ingest"))
        case 401, 403:
            out.append(
                PreflightCheck(
                    "token accepted", .fail, "HTTP \(response.status)" + Uploader.message(response),
                    fix: UploadStatus.fix(status: response.status, tokenFile: config.tokenFile)))
        case 404:
            out.append(
                PreflightCheck(
                    "token accepted", .fail, "HTTP 404: no /api/v1/agent/check at \(url)",
                    fix: "set collector to the collector's base URL with no path; a collector older than this "
                        + "agent lacks the check: upgrade it"))
        default:
            out.append(
                PreflightCheck(
                    "token accepted", .fail, "HTTP \(response.status)" + Uploader.message(response),
                    fix: "see the collector's log"))
        }
        return out
    }

    static func kmsg(_ config: AgentConfig) -> PreflightCheck {
        let path = config.roots.kmsg
        guard config.sources.kmsg else {
            return PreflightCheck(
                "kernel log", .warn, "sources.kmsg is off: kernel OOM kills are only counted from vmstat",
                fix: "set sources.kmsg: true")
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = String(cString: strerror(errno))
            return PreflightCheck(
                "kernel log", .fail, "\(path) not readable (\(e)): kernel OOM kills would be missed",
                fix: "run the agent with CAP_SYSLOG (the shipped unit does) or as root")
        }
        close(fd)
        return PreflightCheck("kernel log", .ok, "\(path) readable")
    }

    static func journal(_ config: AgentConfig, directories: [String]) -> PreflightCheck {
        guard config.sources.journal else {
            return PreflightCheck(
                "journal", .info, "sources.journal is off: systemd-oomd and earlyoom kills are not followed")
        }
        guard access(config.journalctlPath, X_OK) == 0 else {
            return PreflightCheck(
                "journal", .info,
                "no \(config.journalctlPath): systemd-oomd and earlyoom kills are not followed (fine without them)")
        }
        guard directories.contains(where: { JournalService.hasJournalFiles($0) }) else {
            return PreflightCheck(
                "journal", .info, "no systemd journal on this host: systemd-oomd and earlyoom kills are not followed")
        }
        return PreflightCheck("journal", .ok, "available: systemd-oomd and earlyoom kills are followed")
    }

    static func cgroup(_ config: AgentConfig) -> PreflightCheck {
        guard let layout = CgroupSource.detect(cgroupRoot: config.roots.cgroup) else {
            return PreflightCheck(
                "cgroups", .info, "no memory controller under \(config.roots.cgroup): no per-cgroup usage or limits")
        }
        let version = layout.version == .v1 ? "v1" : "v2"
        return PreflightCheck("cgroups", .ok, "memory controller on cgroup \(version) at \(layout.root)")
    }

    /// Applies the owner and mode rule `run` enforces, then creates, syncs and removes a
    /// file where the spool lives.
    static func stateDirectory(_ config: AgentConfig) -> PreflightCheck {
        let dir = config.stateDir
        let fix = "create \(dir) owned by the agent's user, mode 0700, on a file system with free space"
        do {
            try FileIO.makeDirectories(dir)
            do {
                try FileIO.checkPrivateDirectory(dir)
            } catch {
                // The refusal `run` stops on: a check that passes means `run` starts.
                return PreflightCheck("state directory", .fail, "\(error); `run` would refuse it", fix: fix)
            }
            try FileIO.writeAtomically(dir + "/.preflight", Array("ok\n".utf8))
        } catch {
            return PreflightCheck(
                "state directory", .fail, "\(dir) not writable (\(error)): nothing could be spooled", fix: fix)
        }
        unlink(dir + "/.preflight")
        var fs = statvfs()
        if statvfs(dir, &fs) == 0 {
            let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
            if free < config.spoolMaxBytes {
                return PreflightCheck(
                    "state directory", .warn,
                    "\(dir) writable, but only \(free >> 20) MB free, less than spool.max_mb", fix: fix)
            }
        }
        return PreflightCheck("state directory", .ok, "\(dir) writable")
    }
}
