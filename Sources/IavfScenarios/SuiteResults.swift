/// One case of a kernel's run as `suite.json` reports it: the guest's own result, then the
/// checker's counts for the case of the same name.
public struct SuiteCaseOutcome: Sendable, Equatable {
    public var name: String
    /// PASS or FAIL, from the guest's case runner.
    public var result: String
    public var reason: String
    public var findings: Int
    public var violations: Int
    public var rules: [String]

    public init(name: String, result: String, reason: String = "", findings: Int = 0, violations: Int = 0, rules: [String] = []) {
        self.name = name
        self.result = result
        self.reason = reason
        self.findings = findings
        self.violations = violations
        self.rules = rules
    }

    public var passed: Bool { result == "PASS" }
}

/// The checker's counts for one case (its report's `cases`, named by `mark` events).
public struct CheckerCaseCount: Sendable, Equatable {
    public var name: String
    public var findings: Int
    public var violations: Int
    public init(name: String, findings: Int, violations: Int) {
        self.name = name
        self.findings = findings
        self.violations = violations
    }
}

/// How the host turns what came back from a guest into the suite's verdict.
public enum SuiteResults {
    /// Every case the guest must report: the catalogue's (those whose name contains `only`)
    /// and the dmesg check.
    public static func expectedNames(only: String?) -> [String] {
        ScenarioCatalog.all.map(\.name).filter { only == nil || $0.contains(only!) } + [SuiteRunner.dmesgCaseName]
    }

    /// The checker's counts joined to the guest's cases by name, never by position: one mark
    /// missing or extra (a line the recorder did not see, a stray PASS in some output) must
    /// not move every later case's findings onto its neighbour. A name the checker has
    /// several times (a case repeated) gets the sum; a case it never saw gets 0.
    public static func join(_ cases: [SuiteCaseOutcome], checker: [CheckerCaseCount]) -> [SuiteCaseOutcome] {
        var byName: [String: (findings: Int, violations: Int)] = [:]
        for c in checker {
            let old = byName[c.name] ?? (0, 0)
            byName[c.name] = (old.findings + c.findings, old.violations + c.violations)
        }
        return cases.map { c in
            var c = c
            c.findings = byName[c.name]?.findings ?? 0
            c.violations = byName[c.name]?.violations ?? 0
            return c
        }
    }

    /// Why a run whose cases all passed is still not a pass: the guest ran no case, or fewer
    /// than it had to (set-up failed, the guest crashed, the runner died). nil when complete.
    public static func shortfall(ran: [String], expected: [String]) -> String? {
        if ran.isEmpty { return "the guest ran no case (of \(expected.count))" }
        let missing = expected.filter { !ran.contains($0) }
        guard !missing.isEmpty else { return nil }
        let list = missing.prefix(5).map { "'\($0)'" }.joined(separator: ", ") + (missing.count > 5 ? ", ..." : "")
        return "the guest ran \(expected.count - missing.count) of \(expected.count) cases; missing \(list)"
    }

    /// The cases a guest finished so far, from its KTAP output (`ok N name`, `not ok N name`,
    /// with the `# name: reason` line the runner prints before a failure): what an
    /// interrupted or crashed run can still report.
    public static func ktapResults(_ text: String) -> [SuiteCaseOutcome] {
        var out: [SuiteCaseOutcome] = []
        var comment: Substring?
        for raw in text.split(separator: "\n") {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.hasPrefix("# ") { comment = line.dropFirst(2); continue }
            defer { comment = nil }
            let passed: Bool
            var rest: Substring
            if line.hasPrefix("ok ") { passed = true; rest = line.dropFirst(3) }
            else if line.hasPrefix("not ok ") { passed = false; rest = line.dropFirst(7) }
            else { continue }
            guard rest.first?.isNumber == true else { continue }
            rest = rest.drop { $0.isNumber }.drop { $0 == " " }
            let name = String(rest)
            guard !name.isEmpty else { continue }
            // Names contain ": " themselves, so the reason is what follows "name: ".
            var reason = ""
            if !passed, let c = comment, c.hasPrefix(name + ": ") { reason = String(c.dropFirst(name.count + 2)) }
            out.append(SuiteCaseOutcome(name: name, result: passed ? "PASS" : "FAIL", reason: reason))
        }
        return out
    }
}
