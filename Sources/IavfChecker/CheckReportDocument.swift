import Foundation
import IavfModel

/// `check --format json` (and `watch`): the report as a document, written and read through
/// this one type (keys sorted, so the output is the same on every run). docs/trace-format.md
/// describes each field.
public struct CheckReportDocument: Codable, Sendable, Equatable {
    public struct FindingEntry: Codable, Sendable, Equatable {
        public struct Line: Codable, Sendable, Equatable {
            public var seq: Int64
            public var event: String
        }
        public var rule: Rule
        public var severity: Severity
        public var seq: Int64
        public var dev: String
        public var vid: UInt16?
        public var tpid: UInt16?
        public var event: String
        public var message: String
        public var cause: Cause?
        public var originSeq: Int64?
        public var originEvent: String?
        public var context: [Line]

        enum CodingKeys: String, CodingKey {
            case rule, severity, seq, dev, vid, tpid, event, message, cause, context
            case originSeq = "origin_seq", originEvent = "origin_event"
        }

        // vid and tpid are null (not absent) for a finding about no single VLAN.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rule, forKey: .rule)
            try c.encode(severity, forKey: .severity)
            try c.encode(seq, forKey: .seq)
            try c.encode(dev, forKey: .dev)
            try c.encode(vid, forKey: .vid)
            try c.encode(tpid, forKey: .tpid)
            try c.encode(event, forKey: .event)
            try c.encode(message, forKey: .message)
            try c.encodeIfPresent(cause, forKey: .cause)
            try c.encodeIfPresent(originSeq, forKey: .originSeq)
            try c.encodeIfPresent(originEvent, forKey: .originEvent)
            try c.encode(context, forKey: .context)
        }
    }

    public struct Case: Codable, Sendable, Equatable {
        public var name: String
        public var result: String
        public var findings: Int
        public var violations: Int
        /// `rule(cause)` of the case's findings, each once.
        public var rules: [String]
    }

    public struct Outside: Codable, Sendable, Equatable {
        public var findings: Int
        public var violations: Int
    }

    public var verdict: Verdict
    public var events: Int
    public var devices: [String]
    public var generation: String
    /// The table the model followed when it was not the built-in one (`--model`).
    public var model: String?
    public var findings: [FindingEntry]
    public var findingsTotal: Int
    public var counts: [String: Int]
    public var cases: [Case]
    public var outsideCases: Outside
    public var inconclusiveReasons: [String]
    /// Present only when asked for (`check --coverage`): rows hit and rule evaluations.
    public var coverage: ModelCoverage?

    enum CodingKeys: String, CodingKey {
        case verdict, events, devices, generation, model, findings, counts, cases, coverage
        case findingsTotal = "findings_total", outsideCases = "outside_cases", inconclusiveReasons = "inconclusive_reasons"
    }

    /// `coverage`: carry the report's coverage (absent otherwise, so the document without it
    /// is the same bytes as before coverage existed).
    public init(_ r: CheckReport, model: String? = nil, coverage: Bool = false) {
        verdict = r.verdict
        events = r.events
        devices = r.devices
        generation = r.header.generation?.rawValue ?? "unknown"
        self.model = model
        findings = r.findings.map { f in
            FindingEntry(rule: f.rule, severity: f.severity, seq: f.seq, dev: f.dev, vid: f.key?.vid, tpid: f.key?.tpid,
                         event: f.event, message: f.message, cause: f.cause, originSeq: f.originSeq,
                         originEvent: f.origin?.text, context: f.context.map { .init(seq: $0.seq, event: $0.text) })
        }
        findingsTotal = r.totalFindings
        counts = Dictionary(uniqueKeysWithValues: r.countsByRule.map { ($0.key.rawValue, $0.value) })
        cases = r.cases.map { Case(name: $0.name, result: $0.result, findings: $0.findings, violations: $0.violations, rules: $0.rules) }
        outsideCases = Outside(findings: r.outsideCases.findings, violations: r.outsideCases.violations)
        inconclusiveReasons = r.inconclusiveReasons
        self.coverage = coverage ? r.coverage : nil
    }

    public func encoded() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every field is a plain value: encoding cannot fail.
        return String(decoding: try! e.encode(self), as: UTF8.self) + "\n"
    }

    public static func decode(_ data: Data) throws -> CheckReportDocument {
        try JSONDecoder().decode(CheckReportDocument.self, from: data)
    }
}
