import ArgumentParser
import OOMAlerts
import OOMKit
import OOMServer
import OOMStore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Options shared by every verb that needs the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (see server-config/collector.yaml).")
    var config: String?

    @Option(name: .customLong("tokens-file"), help: "Tokens file (default: DATA_DIR/tokens).")
    var tokensFile: String?

    @Option(name: .long, help: "SQLite database file (default: DATA_DIR/oomwatch.sqlite).")
    var db: String?

    /// The layered configuration: flag > OOMWATCH_* > file > default.
    func layers() throws -> ConfigLayers {
        try load().layers
    }

    /// The layered settings and the file's `alerts:` section. The file is full YAML; a
    /// bad alert rule stops the collector here, with the key and line named.
    func load() throws -> (layers: ConfigLayers, alerts: AlertConfig) {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["OOMWATCH_CONFIG"]
        var file = CollectorConfigFile(settings: ConfigFile(), alerts: AlertConfig())
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--config: cannot read \(path)")
            }
            do {
                file = try CollectorConfigFile.parse(String(decoding: data, as: UTF8.self))
            } catch {
                throw ValidationError("\(path): \(error)")
            }
        }
        return (ConfigLayers(file: file.settings, filePath: path, environment: environment), file.alerts)
    }

    /// The data directory: systemd's $STATE_DIRECTORY, else $XDG_DATA_HOME/oomwatch,
    /// else ~/.local/share/oomwatch, else ./oomwatch-data.
    static func defaultDataDirectory(_ env: [String: String]) -> String {
        if let dir = env["STATE_DIRECTORY"], !dir.isEmpty {
            // systemd may pass several, colon-separated; the first is ours.
            return String(dir.split(separator: ":").first ?? Substring(dir))
        }
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/oomwatch" }
        if let home = env["HOME"], !home.isEmpty, home != "/" {
            return home + "/.local/share/oomwatch"
        }
        return "oomwatch-data"
    }

    func dataDirectory(_ layers: ConfigLayers) -> String {
        layers.string("data_dir") ?? Self.defaultDataDirectory(layers.environment)
    }

    func databasePath(_ layers: ConfigLayers) -> String {
        layers.string("db.path", flag: db) ?? dataDirectory(layers) + "/oomwatch.sqlite"
    }

    func tokensPath(_ layers: ConfigLayers) -> String {
        layers.string("tokens_file", flag: tokensFile) ?? dataDirectory(layers) + "/tokens"
    }
}
