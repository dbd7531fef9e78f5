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

    @Option(
        name: .long,
        help:
            "The store: a SQLite file (PATH or sqlite:PATH, default DATA_DIR/oomwatch.sqlite) or postgres://USER@HOST:PORT/DB?sslmode=verify-full."
    )
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

    /// `tokens_file`, by default in the data directory.
    func tokensPath(_ layers: ConfigLayers) -> String {
        CollectorConfiguration.tokensPath(layers, flag: tokensFile)
    }
}
