import IavfKTAP
import IavfModel
import IavfTrace

/// The report in the three formats `check` and `watch` offer.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, json, ktap
}

public enum ReportRenderer {
    public static func render(_ r: CheckReport, format: ReportFormat, traceName: String) -> String {
        switch format {
        case .text: return text(r, traceName: traceName)
        case .json: return json(r)
        case .ktap: return ktap(r, traceName: traceName)
        }
    }

    /// The same, with the model coverage (`--coverage`): text and KTAP print it after the
    /// verdict (KTAP as `#` lines), JSON carries a `coverage` object.
    public static func render(_ r: CheckReport, format: ReportFormat, traceName: String, coverage: Bool) -> String {
        guard coverage else { return render(r, format: format, traceName: traceName) }
        switch format {
        case .text: return text(r, traceName: traceName) + "\n" + r.coverage.text()
        case .json: return CheckReportDocument(r, model: r.model, coverage: true).encoded()
        case .ktap:
            return ktap(r, traceName: traceName)
                + r.coverage.text().split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "# " + $0 + "\n" }.joined()
        }
    }

    // MARK: text

    /// One finding as a person reads it: the rule and where, what is wrong, the likely race,
    /// and the events that led to it.
    public static func text(_ f: Finding) -> String {
        var s = "\(f.severity.rawValue.uppercased()) \(f.rule.rawValue)  dev \(f.dev)"
        if let k = f.key { s += "  VLAN \(k)" }
        s += "  at seq \(f.seq) (\(f.event))\n"
        s += "  \(f.message)\n"
        if let c = f.cause {
            s += "  likely cause: \(c.title)"
            if let o = f.origin { s += "\n    began at seq \(o.seq): \(o.text)" } else if let o = f.originSeq { s += " (began at seq \(o))" }
            s += "\n"
        } else if let o = f.originSeq {
            s += "  began at seq \(o)\n"
        }
        if !f.context.isEmpty {
            s += "  leading events:\n"
            let w = String(f.context.last!.seq).count
            for c in f.context {
                let n = String(c.seq)
                s += "    \(c.seq == f.seq ? ">" : " ") seq \(String(repeating: " ", count: max(0, w - n.count)))\(n)  \(c.text)\n"
            }
        }
        return s
    }

    public static func headerLine(_ h: TraceHeader) -> String {
        var parts = ["generation \(h.generation?.rawValue ?? "unknown")"]
        if let k = h.kernel { parts.append("kernel \(k)") }
        parts.append(h.vlanMode.rawValue)
        parts.append("max_filters \(h.maxFilters.map(String.init) ?? "unknown")")
        if let s = h.source { parts.append("source \(s.rawValue)") }
        return parts.joined(separator: ", ")
    }

    static func text(_ r: CheckReport, traceName: String) -> String {
        var s = "iavf-check: \(traceName) (\(headerLine(r.header)))\n"
        if r.header.generation == nil {
            s += "generation unknown: only the spec rules apply (no state-divergence)\n"
        }
        if let m = r.model { s += "model: \(m)\n" }
        s += "\n"
        for f in r.findings.sorted(by: { ($0.severity, $0.seq) < ($1.severity, $1.seq) }) {
            s += text(f) + "\n"
        }
        if r.totalFindings > r.findings.count {
            s += "(\(r.totalFindings - r.findings.count) more findings not shown; counts below include them)\n\n"
        }
        if !r.cases.isEmpty {
            s += "cases:\n"
            let w = r.cases.map(\.name.count).max() ?? 0
            for c in r.cases {
                let pad = String(repeating: " ", count: max(0, w - c.name.count))
                s += "  \(c.result)\(String(repeating: " ", count: max(0, 4 - c.result.count)))  \(c.name)\(pad)  \(c.violations) violations, \(c.findings - c.violations) other findings\n"
            }
            if r.outsideCases.findings > 0 {
                s += "  (outside any case: \(r.outsideCases.violations) violations, \(r.outsideCases.findings - r.outsideCases.violations) other findings)\n"
            }
            s += "\n"
        }
        if r.totalFindings > 0 {
            s += "by rule:\n"
            for rule in Rule.allCases { if let n = r.countsByRule[rule] { s += "  \(rule.rawValue): \(n)\n" } }
            s += "\n"
        }
        for reason in r.inconclusiveReasons { s += "inconclusive: \(reason)\n" }
        s += "verdict: \(r.verdict.rawValue.uppercased()) (\(r.count(.violation)) violations, \(r.count(.warning)) warnings, \(r.count(.note)) notes) in \(r.events) events, \(r.devices.count) device\(r.devices.count == 1 ? "" : "s")\n"
        return s
    }

    // MARK: json

    static func json(_ r: CheckReport) -> String { CheckReportDocument(r, model: r.model).encoded() }

    // MARK: ktap

    /// KTAP version 1 as kselftest prints it: one test point per case when the trace has
    /// cases, else one per rule; `# SKIP` for inconclusive; findings as diagnostic lines.
    static func ktap(_ r: CheckReport, traceName: String) -> String {
        var k = KTAPWriter()
        k.diagnostic("iavf-check \(traceName): \(headerLine(r.header))")
        let inconclusive = !r.inconclusiveReasons.isEmpty
        let skipWhy = "inconclusive: \(r.inconclusiveReasons.joined(separator: "; "))"
        func diag(_ fs: [Finding]) {
            for f in fs {
                k.diagnostic("\(f.severity.rawValue) \(f.rule.rawValue) dev \(f.dev)\(f.key.map { " VLAN \($0)" } ?? "") seq \(f.seq): \(f.message)")
                if let c = f.cause { k.diagnostic("  likely cause: \(c.title)") }
            }
        }
        /// A violation fails the point; else inconclusive skips it.
        func result(violations: Int) -> KTAPResult { violations > 0 ? .notOk : inconclusive ? .skip(skipWhy) : .ok }
        if !r.cases.isEmpty {
            // Findings in no case get a test point of their own, so a failing trace always
            // shows a `not ok` (a KTAP parser reads nothing else).
            let outside = r.outsideCases.findings > 0
            k.plan(r.cases.count + (outside ? 1 : 0))
            func inCase(_ f: Finding) -> Bool {
                r.cases.contains { f.seq >= ($0.firstSeq ?? .min) && f.seq <= $0.lastSeq }
            }
            for c in r.cases {
                let lo = c.firstSeq ?? .min
                diag(r.findings.filter { $0.seq >= lo && $0.seq <= c.lastSeq })
                if c.violations == 0 && c.result == CaseResult.unfinished {
                    k.point(.skip("the trace ends before the case's result"), c.name)
                } else {
                    k.point(result(violations: c.violations), c.name)
                }
            }
            if outside {
                diag(r.findings.filter { !inCase($0) })
                k.point(result(violations: r.outsideCases.violations), "findings outside any case")
            }
        } else {
            let rules = Rule.allCases
            k.plan(rules.count)
            for rule in rules {
                let n = r.countsByRule[rule] ?? 0
                diag(r.findings.filter { $0.rule == rule })
                k.point(result(violations: n > 0 && rule.severity == .violation ? n : 0), rule.rawValue)
            }
        }
        k.diagnostic("verdict: \(r.verdict.rawValue)")
        k.totals()
        return k.text
    }
}
