import IavfModel
import IavfTrace

/// The contract's verdicts and their exit codes.
public enum Verdict: String, Sendable, Codable {
    case pass, fail, inconclusive

    public var exitCode: Int32 {
        switch self {
        case .pass: return 0
        case .fail: return 1
        case .inconclusive: return 4
        }
    }
}

/// Findings grouped by test case (a `mark` with a result closes its case).
public struct CaseResult: Sendable {
    public var name: String
    /// The test's own result from the mark: PASS, FAIL or SKIP.
    public var result: String
    public var findings: Int
    public var violations: Int
    /// The case's findings as `rule(cause)` labels, each once, sorted.
    public var rules: [String]
    public var firstSeq: Int64?
    public var lastSeq: Int64
    /// The result of a case a mark without result opened and no result closed.
    public static let unfinished = "UNFINISHED"
}

/// Findings after the last case, or before a case's opening mark: in no case.
public struct OutsideCases: Sendable, Equatable {
    public var findings = 0
    public var violations = 0
    public init(findings: Int = 0, violations: Int = 0) {
        self.findings = findings
        self.violations = violations
    }
}

public struct CheckReport: Sendable {
    public var verdict: Verdict
    public var header: TraceHeader
    public var events: Int
    public var devices: [String]
    /// At most the checker's `maxStoredFindings`; `countsByRule` counts them all.
    public var findings: [Finding]
    public var countsByRule: [Rule: Int]
    public var cases: [CaseResult]
    /// With cases: the findings that belong to none of them.
    public var outsideCases: OutsideCases
    public var inconclusiveReasons: [String]
    /// Where the model's table came from when it was not the built-in one.
    public var model: String?
    /// Which table rows the trace exercised and how often each rule was evaluated and fired
    /// (always collected; `check --coverage` shows it).
    public var coverage = ModelCoverage()

    public var totalFindings: Int { countsByRule.values.reduce(0, +) }
    public func count(_ s: Severity) -> Int { countsByRule.filter { $0.key.severity == s }.values.reduce(0, +) }
}
