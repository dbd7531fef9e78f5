/// ANSI colours, applied only when they are wanted (a terminal, no `NO_COLOR`).
struct Style: Sendable {
    enum Color: String, Sendable {
        case bold = "1"
        case dim = "2"
        case red = "31"
        case green = "32"
        case yellow = "33"
        case cyan = "36"
    }

    var enabled: Bool

    static let plain = Style(enabled: false)

    /// `text` wrapped in the colour's escape codes, or unchanged when colour is off.
    func apply(_ color: Color?, _ text: String) -> String {
        guard enabled, let color, !text.isEmpty else { return text }
        return "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m"
    }

    /// Whether to colour: only on a terminal, never with `NO_COLOR` set to anything
    /// non-empty (https://no-color.org), never with `TERM=dumb` or `--no-color`.
    static func colorWanted(isTerminal: Bool, environment: [String: String], noColorFlag: Bool) -> Bool {
        if noColorFlag || !isTerminal { return false }
        if let value = environment["NO_COLOR"], !value.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return true
    }
}
