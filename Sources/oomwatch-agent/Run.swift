import ArgumentParser
import Logging
import OOMAgent
import OOMKit

#if canImport(Glibc)
    import Glibc
#endif

/// Flags shared by `run` and `snapshot`; each also has a config key and an
/// `OOMWATCH_…` variable (see agent-config/agent.yaml).
struct AgentOptions: ParsableArguments {
    @Option(help: "Config file (default: $OOMWATCH_CONFIG, else /etc/oomwatch/agent.yaml if present).")
    var config: String?
    @Option(help: "Collector base URL, e.g. https://oomwatch.example:8443.")
    var collector: String?
    @Option(help: "File holding the agent's bearer token.")
    var tokenFile: String?
    @Option(help: "State directory: spool, cursors, counters.")
    var stateDir: String?
    @Option(help: "Seconds between snapshots.")
    var interval: Double?
    @Option(help: "Host name to report (default: the kernel's).")
    var hostname: String?
    @Option(help: "Processes per snapshot, largest RSS first.")
    var topProcesses: Int?
    @Option(help: "Where procfs is mounted (/host/proc in a container).")
    var procRoot: String?
    @Option(help: "Where the cgroup file system is mounted.")
    var cgroupRoot: String?
    @Option(help: "The kernel log device.")
    var kmsgPath: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    /// Resolves flags > environment > file > defaults; a bad file or value is a
    /// `ValidationError` naming the setting.
    func resolve() throws -> AgentConfig {
        let env = Self.environment()
        let path =
            config ?? env["OOMWATCH_CONFIG"]
            ?? (access("/etc/oomwatch/agent.yaml", R_OK) == 0 ? "/etc/oomwatch/agent.yaml" : nil)
        var file = ConfigFile()
        if let path {
            let bytes: [UInt8]?
            do {
                bytes = try FileIO.readAll(path)
            } catch {
                throw ValidationError("cannot read config file: \(error)")
            }
            guard let bytes else { throw ValidationError("config file \(path) does not exist") }
            do {
                file = try ConfigFile.parse(String(decoding: bytes, as: UTF8.self))
            } catch {
                throw ValidationError("config file \(path): \(error)")
            }
        }
        var flags = AgentConfig.Flags()
        flags.collector = collector
        flags.tokenFile = tokenFile
        flags.stateDir = stateDir
        flags.interval = interval
        flags.hostname = hostname
        flags.topProcesses = topProcesses
        flags.procRoot = procRoot
        flags.cgroupRoot = cgroupRoot
        flags.kmsgPath = kmsgPath
        flags.logLevel = logLevel
        let layers = ConfigLayers(file: file, filePath: path, environment: env)
        let config: AgentConfig
        do {
            config = try AgentConfig.resolve(layers: layers, flags: flags)
        } catch {
            throw ValidationError(error.message)
        }
        // A misspelt variable is only a warning: other oomwatch binaries share the environment.
        for warning in layers.environmentWarnings(also: ["OOMWATCH_CONFIG"]) {
            let line = Array("warning: \(warning)\n".utf8)
            _ = write(2, line, line.count)
        }
        return config
    }

    static func environment() -> [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the agent: sample memory, follow OOM kills, upload to the collector.")

    @OptionGroup var options: AgentOptions

    func run() async throws {
        let config = try options.resolve()
        do {
            try config.validateForRun()
        } catch {
            throw ValidationError(error.message)
        }
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "oomwatch-agent")
        do {
            try await Agent.run(config: config, logger: logger)
        } catch let error as FileIOError {
            logger.critical("cannot use the state directory", metadata: ["error": "\(error)"])
            throw ExitCode(74)
        }
    }
}
