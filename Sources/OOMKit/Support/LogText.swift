/// Text from hosts and networks made safe to show: host names, process names and
/// messages may hold escape sequences (ESC, BEL, an OSC 52 clipboard write) or Unicode
/// bidirectional overrides that make `java\u{202E}gnp.exe` read as "javaexe.png".
public enum LogText {
    /// Unicode's explicit bidirectional formatting characters: embeddings and overrides
    /// (U+202A–U+202E) and isolates (U+2066–U+2069).
    public static func isBidiControl(_ scalar: Unicode.Scalar) -> Bool {
        (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }

    /// C0 controls, DEL and C1 controls: what a terminal may act on.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < ASCII.space || v == ASCII.delete || (0x80...0x9F).contains(v)
    }

    /// `text` with every control character written as `\xNN` and every bidi control as
    /// `\u{NNNN}`, so a log line stays one line, in order, and shows what was sent (a
    /// backslash is doubled, so the escapes cannot be forged).
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) || isBidiControl($0) || $0 == "\\" }) else {
            return text
        }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                out += "\\\\"
            } else if isControl(scalar) {
                out += "\\x" + hex(scalar.value, width: 2)
            } else if isBidiControl(scalar) {
                out += "\\u{" + hex(scalar.value, width: 4) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
