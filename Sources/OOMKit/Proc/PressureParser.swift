/// /proc/pressure/memory (PSI) → `Pressure`.
public enum PressureParser {
    /// `nil` unless a `some` line is present (a kernel without PSI has no file at all, and
    /// one booted with `psi=0` refuses the read).
    public static func parse(_ bytes: ArraySlice<UInt8>) -> Pressure? {
        var some: (Double, Double, Double, Int64)?
        var full: (Double, Double, Double, Int64)?
        ProcBytes.forEachLine(bytes) { line in
            let isSome = line.starts(with: "some ".utf8)
            let isFull = line.starts(with: "full ".utf8)
            guard isSome || isFull else { return true }
            var a10: Double?
            var a60: Double?
            var a300: Double?
            var total: Int64?
            var i = line.startIndex + 5
            while i < line.endIndex {
                guard let eq = line[i...].firstIndex(of: 61) else { break }  // =
                let key = line[i..<eq]
                if key.elementsEqual("total".utf8) {
                    if let (v, n) = ProcBytes.integer(in: line, from: eq + 1) {
                        total = v
                        i = n
                    } else {
                        break
                    }
                } else if let (v, n) = ProcBytes.decimal(in: line, from: eq + 1) {
                    if key.elementsEqual("avg10".utf8) {
                        a10 = v
                    } else if key.elementsEqual("avg60".utf8) {
                        a60 = v
                    } else if key.elementsEqual("avg300".utf8) {
                        a300 = v
                    }
                    i = n
                } else {
                    break
                }
                while i < line.endIndex, ASCII.isBlank(line[i]) { i += 1 }
            }
            if let a10, let a60, let a300, let total {
                if isSome { some = (a10, a60, a300, total) } else { full = (a10, a60, a300, total) }
            }
            return true
        }
        guard let some else { return nil }
        return Pressure(
            someAvg10: some.0, someAvg60: some.1, someAvg300: some.2, someTotalUs: some.3,
            fullAvg10: full?.0, fullAvg60: full?.1, fullAvg300: full?.2, fullTotalUs: full?.3)
    }

    /// `parse` of text.
    public static func parse(_ text: String) -> Pressure? {
        parse(ArraySlice(text.utf8))
    }
}
