import Hummingbird

#if canImport(Glibc)
    import Glibc
#endif

// http-floor PORT TOKEN: listens on 127.0.0.1:PORT; POST /api/v1/ingest with
// `Authorization: Bearer TOKEN` reads the whole body and answers {"accepted":N} with N
// its length; anything else is 401. No decoding, no storage: the framework's own cost.
let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[1]) else {
    print("usage: http-floor PORT TOKEN")
    exit(2)
}
let expected = "Bearer " + arguments[2]
let router = Router()
router.post("/api/v1/ingest") { request, _ -> Response in
    guard request.headers[.authorization] == expected else { return Response(status: .unauthorized) }
    let body = try await request.body.collect(upTo: 16 << 20)
    return Response(
        status: .ok, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: "{\"accepted\":\(body.readableBytes)}")))
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
