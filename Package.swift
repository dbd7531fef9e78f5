// swift-tools-version:6.1
import PackageDescription

/// One set of settings for every target, so the whole package compiles the same way.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "oomwatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "oomwatch-agent", targets: ["oomwatch-agent"]),
        .executable(name: "oomwatch-collector", targets: ["oomwatch-collector"]),
        .executable(name: "oomwatch", targets: ["oomwatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // Full YAML for the collector's config file (alert rules are lists of maps); the
        // agent keeps its small hand-written reader.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // The PostgreSQL store (collector only: never the agent or the CLI).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Pure core: models and parsers. No I/O, no logging.
        .target(name: "OOMKit", swiftSettings: swiftSettings),
        // The host's clocks and the one file reader, for the agent and the CLI: POSIX
        // calls instead of Foundation, kept out of the pure core.
        .target(name: "HostSupport", swiftSettings: swiftSettings),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "Gzip", dependencies: ["CZlib"], swiftSettings: swiftSettings),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CurlHTTP", dependencies: ["CCurl", "Gzip"], swiftSettings: swiftSettings),
        // glibc's <malloc.h>, for the agent's single malloc arena.
        .systemLibrary(name: "CMalloc"),
        // sqlite3_config (variadic in C) for the collector's store.
        .systemLibrary(name: "CSQLiteConfig"),
        .target(
            name: "OOMAgent",
            dependencies: [
                "OOMKit", "HostSupport", "CurlHTTP", "Gzip", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OOMStore",
            dependencies: [
                "OOMKit", "Gzip", "CSQLiteConfig",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The SQLite C API itself, for the ingest writer's typed bindings.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The PostgreSQL implementation of the store protocol, for several collectors on
        // one database.
        .target(
            name: "OOMPostgres",
            dependencies: [
                "OOMKit", "OOMStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OOMServer",
            dependencies: [
                "OOMKit", "OOMStore", "OOMPostgres", "Gzip",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The dashboard's files, and the API contract served at /openapi.yaml
            // (OpenAPI/openapi.yaml is a link to docs/openapi.yaml, the one copy).
            resources: [.embedInCode("Dashboard"), .embedInCode("OpenAPI/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OOMAlerts",
            dependencies: [
                "OOMKit", "OOMStore", "CurlHTTP",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "oomwatch-agent",
            dependencies: [
                "OOMAgent", "OOMKit", "HostSupport", "Gzip", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            // One self-contained file for every host: the Swift runtime is linked in, so a
            // host needs only glibc and libcurl, and the agent maps no Swift shared
            // libraries (~4 MB less resident memory; bench/agent-footprint.sh).
            // FoundationEssentials (which ArgumentParser imports) needs its two helper
            // libraries named when it is linked statically.
            linkerSettings: [
                .unsafeFlags(["-static-stdlib"]),
                .linkedLibrary("_FoundationCollections"),
                .linkedLibrary("_FoundationCShims"),
            ]
        ),
        .executableTarget(
            name: "oomwatch-collector",
            dependencies: [
                "OOMServer", "OOMStore", "OOMPostgres", "OOMKit", "OOMAlerts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "oomwatch",
            dependencies: [
                "OOMKit", "HostSupport", "CurlHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OOMKitTests",
            dependencies: ["OOMKit", "Gzip"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OOMAgentTests",
            dependencies: ["OOMAgent", "OOMKit", "HostSupport", "CurlHTTP", "Gzip"],
            // Fixture /proc and cgroup trees, found via #filePath (not bundled).
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // Helpers more than one test target uses (log capture, free loopback ports).
        .target(
            name: "TestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OOMServerTests",
            dependencies: [
                "OOMServer", "OOMStore", "OOMKit", "OOMAgent", "Gzip", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        // One suite over both stores: SQLite always, PostgreSQL when OOMWATCH_TEST_POSTGRES
        // names a server.
        .testTarget(
            name: "StoreConformanceTests",
            dependencies: [
                "OOMStore", "OOMPostgres", "OOMKit", "OOMServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "OOMKit", "oomwatch", "OOMServer", "OOMStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AlertsTests",
            dependencies: [
                "OOMAlerts", "OOMServer", "OOMStore", "OOMKit", "CurlHTTP", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SupportTests",
            dependencies: ["OOMKit", "Gzip", "CurlHTTP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FaultTests", dependencies: ["OOMKit", "Gzip", "CurlHTTP", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["OOMKit", "Gzip", "TestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
