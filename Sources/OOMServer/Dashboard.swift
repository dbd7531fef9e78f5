import Hummingbird

/// The web dashboard's static files, embedded at build time (Package.swift:
/// `resources: [.embedInCode("Dashboard")]`), served without a token: the page asks for
/// the read token itself and sends it with its API calls.
///
/// SwiftPM names each embedded file `PackageResources.<name with . → _>`; a file added
/// to Dashboard/ needs a line in `files` below.
enum Dashboard {
    static let files: [(path: String, contentType: String, bytes: [UInt8])] = [
        ("index.html", "text/html; charset=utf-8", PackageResources.index_html),
        ("app.js", "text/javascript; charset=utf-8", PackageResources.app_js),
        ("style.css", "text/css; charset=utf-8", PackageResources.style_css),
    ]

    static func response(_ file: (path: String, contentType: String, bytes: [UInt8])) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: file.contentType,
                .cacheControl: "no-cache",
                // The page only talks to its own origin.
                .init("Content-Security-Policy")!:
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                .init("X-Content-Type-Options")!: "nosniff",
                .init("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }

    static func addRoutes(to router: Router<CollectorRequestContext>) {
        guard let index = files.first(where: { $0.path == "index.html" }) else { return }
        router.get("/") { _, _ in response(index) }
        router.get("/dashboard") { _, _ in response(index) }
        for file in files {
            router.get("/\(file.path)") { _, _ in response(file) }
            router.get("/dashboard/\(file.path)") { _, _ in response(file) }
        }
    }
}
