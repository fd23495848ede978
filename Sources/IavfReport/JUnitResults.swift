import Foundation
import IavfCampaign
import IavfScenarios

extension JUnit {
    /// `suite run --format junit`: a suite per kernel run, a case per scenario case. A case
    /// fails on its own assertion or on a checker violation inside it (both are in the
    /// message); the checker's other labels go to system-out.
    public static func suites(for r: SuiteReport) -> [Suite] {
        r.kernels.map { k in
            let name = k.kernel + (k.run.map { " run \($0)" } ?? "")
            let cls = "iavf-check.suite." + KernelList.tag(k.kernel)
            var cases = k.cases.map { c -> Case in
                let labels = c.rules.isEmpty ? nil : "checker: " + c.rules.joined(separator: ", ")
                if !c.passed {
                    return Case(name: c.name, className: cls, status: .failed, message: c.reason.isEmpty ? "failed" : c.reason,
                                text: labels, time: c.seconds)
                }
                if c.violations > 0 {
                    return Case(name: c.name, className: cls, status: .failed,
                                message: "\(c.violations) checker violation\(c.violations == 1 ? "" : "s")", text: labels, time: c.seconds)
                }
                return Case(name: c.name, className: cls, status: .passed, time: c.seconds, systemOut: labels)
            }
            if let p = k.problem {
                cases.append(Case(name: "run complete", className: cls, status: .error, message: p))
            }
            return Suite(name: name, properties: [Property("kernel", k.kernel), Property("release", k.release),
                                                  Property("checker_verdict", k.checkerVerdict)],
                         cases: cases, time: Double(k.seconds))
        }
    }

    /// `stress --format junit`: a suite per kernel, one case per seed (or replay): failed with
    /// the findings and the minimal sequence with its replay command, skipped when inconclusive.
    public static func suites(for results: [StressHost.KernelResult]) -> [Suite] {
        results.map { res in
            let r = res.report
            let cls = "iavf-check.stress." + KernelList.tag(res.kernel)
            let name = r.seed.map { "seed \($0), \(r.ops.count) ops" } ?? "replay: " + r.ops.joined(separator: "; ")
            var details = r.findings.map { f in
                "\(f.rule)\(f.cause.map { " (\($0))" } ?? "") on \(f.dev)\(f.vid.map { " VLAN \($0)" } ?? "") at \(f.event)"
                    + (f.op.map { " after op \($0) '\(f.opText ?? "?")'" } ?? "") + ": \(f.message)"
            }
            if let n = r.replayRuns {
                details.append("replayed \(n) times: " + (r.reproduced ?? [:]).sorted { $0.key < $1.key }
                    .map { "\($0.key) in \($0.value)/\(n)" }.joined(separator: ", "))
            }
            if let m = r.minimal {
                details.append("minimal (\(r.target ?? "?") reproduced \(r.confirmed ?? 0)/\(r.confirmRuns ?? 0)): \(m.joined(separator: "; "))")
                details.append("replay: iavf-check stress --kernel \(res.kernel) --replay '\(m.joined(separator: "; "))'")
            }
            let c: Case
            switch r.verdict {
            case .fail:
                c = Case(name: name, className: cls, status: .failed, message: r.target ?? r.findings.first?.rule ?? "violation",
                         text: details.joined(separator: "\n"), time: r.seconds)
            case .inconclusive:
                c = Case(name: name, className: cls, status: .skipped, message: "inconclusive: events were lost", time: r.seconds)
            case .pass:
                c = Case(name: name, className: cls, status: .passed, time: r.seconds)
            }
            return Suite(name: "stress \(res.kernel)", properties: [Property("kernel", res.kernel), Property("release", res.release),
                                                                  Property("generation", r.generation)], cases: [c], time: r.seconds)
        }
    }
}
