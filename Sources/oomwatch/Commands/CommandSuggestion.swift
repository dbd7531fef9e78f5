/// "Did you mean…" for a mistyped command: ArgumentParser alone would only say
/// "Unexpected argument".
enum CommandSuggestion {
    /// The global options that take a value, whose value is not a command word
    /// (`--format json evnts`). CLITests checks this list against GlobalOptions' help.
    static let valuedOptions: Set<String> = [
        "--server", "--token", "--token-file", "--format", "--since", "--host", "--config", "--ca-file", "--now",
        "--timeout",
    ]

    /// The first word that should be a command but is not one, with the closest command
    /// when one is close enough; `nil` when the command is known (or there is none).
    static func unknown(_ arguments: [String], commands: Set<String>) -> (word: String, suggestion: String?)? {
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { return nil }
            if a.hasPrefix("-") {
                i += valuedOptions.contains(a) || a == "--generate-completion-script" ? 2 : 1
                continue
            }
            if commands.contains(a) || a == "help" { return nil }
            return (a, closest(to: a, in: commands))
        }
        return nil
    }

    /// A command the word starts, or the one fewest edits away (at most a third of its
    /// letters, at least 2).
    static func closest(to word: String, in commands: Set<String>) -> String? {
        let w = word.lowercased()
        if let prefix = commands.sorted().first(where: { $0.hasPrefix(w) && w.count >= 2 }) { return prefix }
        let scored = commands.map { ($0, distance(w, $0)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best = scored.first, best.1 <= max(2, w.count / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance, transpositions counting one (Damerau, optimal string alignment).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
