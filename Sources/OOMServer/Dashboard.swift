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

    /// The page only talks to its own origin and may not be framed (Hummingbird's
    /// ContentSecurityMiddleware also sets `X-Content-Type-Options: nosniff`).
    static let contentSecurityPolicy: ContentSecurityPolicy = [
        .defaultSrc(.self), .imgSrc(.self, .scheme(.init(rawValue: "data:"))), .frameAncestors(.none),
    ]

    static func response(_ file: (path: String, contentType: String, bytes: [UInt8])) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: file.contentType, .cacheControl: "no-cache", .init("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }

    static func addRoutes(to router: Router<CollectorRequestContext>) {
        guard let index = files.first(where: { $0.path == "index.html" }) else { return }
        let pages = router.group().add(
            middleware: ContentSecurityMiddleware(contentSecurityPolicy: contentSecurityPolicy))
        pages.get("/") { _, _ in response(index) }
        pages.get("/dashboard") { _, _ in response(index) }
        for file in files {
            pages.get("/\(file.path)") { _, _ in response(file) }
            pages.get("/dashboard/\(file.path)") { _, _ in response(file) }
        }
    }
}
