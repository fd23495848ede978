import ArgumentParser
import IavfChecker

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a rule: what it means, which race it signals, which generation trips it.",
        discussion: "Rules: \(Rule.allCases.map(\.rawValue).joined(separator: ", ")). Also takes a cause as findings name it (R1, R3, R4, R5, R7, S1 to S4, ...)."
    )

    @Argument(help: "A rule name (e.g. ghost-filter) or a cause (e.g. R1). Omit to list the rules.")
    var name: String?

    func run() throws {
        guard let name else {
            var s = "Rules (iavf-check explain RULE for more):\n"
            for r in Rule.allCases {
                s += "  \(r.rawValue)\(String(repeating: " ", count: max(1, 22 - r.rawValue.count)))\(r.severity.rawValue): \(r.holdsWhen)\n"
            }
            s += "\nCauses findings name:\n"
            for c in Cause.allCases { s += "  \(c.rawValue)\(String(repeating: " ", count: max(1, 16 - c.rawValue.count)))\(c.title)\n" }
            FileHandleOutput.stdout(s)
            return
        }
        if let rule = Rule(rawValue: name) {
            FileHandleOutput.stdout(RuleExplanation.of(rule).text)
        } else if let cause = Cause(rawValue: name) ?? Cause(rawValue: name.uppercased()) {
            FileHandleOutput.stdout("\(cause.rawValue): \(cause.title)\n")
        } else {
            throw ValidationError("unknown rule '\(name)'; rules are: \(Rule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }
}
