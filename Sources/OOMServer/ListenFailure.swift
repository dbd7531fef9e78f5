/// Why the collector could not listen, in one line a person can act on.
///
/// NIO reports a failed bind as `bind(descriptor:ptr:bytes:): Address already in use
/// (errno: 98)`, wrapped in service-group and application errors; only the errno says
/// what happened, so the words here are chosen by errno and the wrapping stays out of the
/// line (the caller logs the raw error at debug level).
public enum ListenFailure {
    /// The reason with its fix, or `nil` when `error` is not a failed bind.
    public static func reason(_ error: any Error) -> String? {
        reason(describing: String(describing: error))
    }

    /// The same for an error's description (pure, for tests).
    public static func reason(describing text: String) -> String? {
        let code = errno(in: text)
        // 13 alone may be a file's permission; 98 and 99 come only from binding.
        guard text.contains("bind(") || code == 98 || code == 99 else { return nil }
        switch code {
        case 98:
            return "the address is already in use (another collector or program listens there): stop it or choose "
                + "another --listen / listen:"
        case 13:
            return "permission denied: ports below 1024 need CAP_NET_BIND_SERVICE, or choose a port >= 1024"
        case 99:
            return "this host has no such address: listen on one of its own addresses, 0.0.0.0 or [::]"
        default:
            // Unusual errnos: the system's words and the number, without the wrapping.
            let words = systemWords(in: text)
            return "bind failed: " + (words ?? "unknown error") + (code.map { " (errno \($0))" } ?? "")
        }
    }

    /// N in the first `(errno: N)`.
    static func errno(in text: String) -> Int? {
        guard let marker = text.firstRange(of: "(errno: ") else { return nil }
        return Int(text[marker.upperBound...].prefix { $0.isASCII && $0.isNumber })
    }

    /// The system's words in `bind(…): Words (errno: N)`.
    static func systemWords(in text: String) -> String? {
        guard let call = text.firstRange(of: "bind("), let colon = text[call.upperBound...].firstRange(of: "): "),
            let end = text[colon.upperBound...].firstRange(of: " (errno: ")
        else { return nil }
        let words = text[colon.upperBound..<end.lowerBound]
        return words.isEmpty ? nil : String(words)
    }
}
