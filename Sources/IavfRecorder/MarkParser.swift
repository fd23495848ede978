import IavfTrace

/// Finds test-case results in a command's output, the way kernel selftests print them, so
/// findings land on test cases: KTAP/TAP (`ok 3 name`, `not ok 3 name`, `ok 3 name # SKIP`),
/// and result-first or result-last lines (`PASS: name`, `[FAIL] name`, `name ... SKIP`).
public enum MarkParser {
    public static func parse(_ raw: String) -> (text: String, result: TraceEvent.MarkResult)? {
        let line = raw.trimmingWhitespace()
        if line.isEmpty || line.hasPrefix("#") { return nil }
        // TAP / KTAP
        if let rest = line.dropPrefix("not ok ") { return (tapName(rest), .FAIL) }
        if let rest = line.dropPrefix("ok ") {
            let skip = rest.uppercased().contains("# SKIP")
            return (tapName(rest), skip ? .SKIP : .PASS)
        }
        for r in [TraceEvent.MarkResult.PASS, .FAIL, .SKIP] {
            let word = r.rawValue
            for prefix in ["\(word): ", "\(word) ", "[\(word)] ", "[ \(word) ] "] {
                if let rest = line.dropPrefix(prefix) {
                    let name = rest.trimmingWhitespace()
                    if !name.isEmpty { return (name, r) }
                }
            }
            for suffix in [" \(word)", " [\(word)]", ": \(word)", " ... \(word)"] where line.hasSuffix(suffix) {
                var name = String(line.dropLast(suffix.count)).trimmingWhitespace()
                while name.hasSuffix(".") || name.hasSuffix(":") { name.removeLast() }
                name = name.trimmingWhitespace()
                if !name.isEmpty { return (name, r) }
            }
        }
        return nil
    }

    /// "3 - name # directive" -> "name".
    private static func tapName(_ rest: Substring) -> String {
        var s = rest.drop { $0.isNumber }
        s = s.drop { $0 == " " }
        if s.hasPrefix("- ") { s = s.dropFirst(2) }
        if let hash = s.range(of: " #") { s = s[..<hash.lowerBound] }
        return String(s).trimmingWhitespace()
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let t = drop { $0.isWhitespace }
        return String(t.reversed().drop { $0.isWhitespace }.reversed())
    }

    func dropPrefix(_ p: String) -> Substring? {
        hasPrefix(p) ? Substring(dropFirst(p.count)) : nil
    }

    func range(of s: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(s) { return i..<index(i, offsetBy: s.count) }
            i = index(after: i)
        }
        return nil
    }
}
