import OOMServer
import Testing

/// The collector's one line when it cannot listen: chosen by errno, with the fix, and
/// without NIO's wrapping (which the collector logs at debug level only).
@Suite struct ListenFailureTests {
    /// A failed bind as NIO describes it, wrapped as the service group passes it on.
    struct Wrapped: Error, CustomStringConvertible {
        var errno: Int
        var words: String
        var description: String {
            "ServiceGroupError(ServiceGroup: a service threw: Application(bind(descriptor:ptr:bytes:): \(words) "
                + "(errno: \(errno))))"
        }
    }

    struct Case: Sendable, CustomStringConvertible {
        var errno: Int
        var words: String
        var says: [String]
        var description: String { "errno \(errno)" }
    }

    @Test(arguments: [
        Case(errno: 98, words: "Address already in use", says: ["already in use", "--listen"]),
        Case(errno: 13, words: "Permission denied", says: ["permission denied", "CAP_NET_BIND_SERVICE", ">= 1024"]),
        Case(errno: 99, words: "Cannot assign requested address", says: ["no such address", "0.0.0.0"]),
        Case(
            errno: 97, words: "Address family not supported by protocol", says: ["bind failed: Address family", "97"]),
    ])
    func reasonNamesTheCauseAndTheFix(_ c: Case) throws {
        let reason = try #require(ListenFailure.reason(Wrapped(errno: c.errno, words: c.words)))
        for words in c.says { #expect(reason.contains(words), "\(reason)") }
        // The internal wrapping stays out of the operator's line.
        for wrapping in ["ServiceGroup", "Application", "descriptor", "(errno:"] {
            #expect(!reason.contains(wrapping), "\(reason)")
        }
        #expect(!reason.contains("\n"))
    }

    /// Only a failed bind is reported as one: a permission error on a file is not.
    @Test func otherErrorsAreNotBindFailures() {
        #expect(ListenFailure.reason(describing: "open(/etc/oomwatch/key.pem): Permission denied (errno: 13)") == nil)
        #expect(ListenFailure.reason(describing: "CancellationError()") == nil)
    }
}
