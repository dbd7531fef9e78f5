// swift-tools-version:6.0
// The plain HTTP floor for bench/snapshot-cpu.py: a bare Hummingbird server whose POST
// route checks a bearer token, reads the body and answers a constant JSON object. What
// one post costs a server on this framework before it does any of oomwatch's work.
import PackageDescription

let package = Package(
    name: "http-floor",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0")
    ],
    targets: [
        .executableTarget(
            name: "http-floor",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        )
    ]
)
