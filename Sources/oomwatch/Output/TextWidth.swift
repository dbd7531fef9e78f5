import OOMKit

/// Terminal-safe text: how many columns a string takes, and a version of it that cannot
/// move the cursor or change colours.
///
/// Process names and cgroup paths come from the hosts being watched; a `comm` may hold
/// an escape sequence, so everything printed in a table goes through `sanitized`.
enum TextWidth {
    /// `text` with control characters (C0, DEL, C1) replaced by `?` and Unicode bidi
    /// controls shown as `\u{202E}` (so `java\u{202E}gnp.exe` cannot pass for
    /// "javaexe.png"). Newlines and tabs become spaces when `keepNewlines` is false, so a
    /// table row stays one line.
    static func sanitized(_ text: String, keepNewlines: Bool = false) -> String {
        var out = String.UnicodeScalarView()
        var changed = false
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if keepNewlines && v == 0x0A {
                out.append(scalar)
            } else if v == 0x09 || v == 0x0A || v == 0x0D {
                out.append(" ")
                changed = true
            } else if LogText.isControl(scalar) {
                out.append("?")
                changed = true
            } else if LogText.isBidiControl(scalar) {
                out.append(contentsOf: LogText.escaped(String(scalar)).unicodeScalars)
                changed = true
            } else {
                out.append(scalar)
            }
        }
        return changed ? String(out) : text
    }

    /// Columns `text` occupies on a terminal: 2 for East Asian wide and emoji scalars,
    /// 0 for combining marks and zero-width joiners, 1 otherwise.
    static func width(_ text: String) -> Int {
        var total = 0
        for scalar in text.unicodeScalars {
            total += width(of: scalar)
        }
        return total
    }

    static func width(of scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v < 0x300 { return 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format:
            return 0
        default:
            break
        }
        if v == 0x200B || v == 0x200D || (0xFE00...0xFE0F).contains(v) { return 0 }
        if (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
            || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1F64F).contains(v) || (0x1F900...0x1F9FF).contains(v)
            || (0x20000...0x3FFFD).contains(v)
        {
            return 2
        }
        return 1
    }

    /// `text` cut to at most `columns` columns, ending in `…` when anything was cut.
    static func truncated(_ text: String, to columns: Int) -> String {
        guard width(text) > columns else { return text }
        guard columns > 0 else { return "" }
        var out = ""
        var used = 0
        for character in text {
            let w = width(String(character))
            if used + w > columns - 1 { break }
            out.append(character)
            used += w
        }
        return out + "…"
    }

    /// `text` padded with spaces to `columns` columns, on the right or on the left.
    static func padded(_ text: String, to columns: Int, alignRight: Bool) -> String {
        let missing = columns - width(text)
        guard missing > 0 else { return text }
        let pad = String(repeating: " ", count: missing)
        return alignRight ? pad + text : text + pad
    }
}
