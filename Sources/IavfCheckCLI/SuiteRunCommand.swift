import ArgumentParser
import Foundation
import IavfVM

/// `iavf-check suite run`: boots each kernel with the emulated PF, runs the cases under
/// `watch`, and prints the selftest-style results, the checker's findings per case, and a
/// side-by-side table of the two generations.
struct SuiteRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot the kernels, load the emulated PF, attach the probes, run the cases; compare the generations.",
        discussion: """
        For each kernel: builds pf-module/avfpf.ko against its headers (cached), boots it under \
        QEMU with memmap=2M$0x7e000000, starts `iavf-check pf` (ice-like PF, 8 VLANs per \
        untrusted VF), binds the stock iavf to two VFs, moves them into namespaces \
        (VF1 -> iavf-t1-PID, VF2 -> iavf-t2-PID), and runs the 35 state and reset cases plus the \
        dmesg check under `iavf-check watch`. Between cases VF1's VLANs are deleted and VF1 is \
        cycled down and up.

        Writes to --output: trace-KERNEL.jsonl (probes), pf-KERNEL.jsonl (what the PF programmed), \
        suite.json, suite.ktap, console and dmesg logs.

        Exit codes: 0 every case passed on every kernel, 1 a case failed, 3 environment problem.
        """
    )

    enum Format: String, ExpressibleByArgument { case text, json, ktap }

    @Option(help: "unpatched (6.1.170), patched (6.1.192) or both.")
    var kernel: KernelChoice = .both

    @Option(name: .shortAndLong, help: "Directory for traces, logs, suite.json and suite.ktap.")
    var output: String = "suite-out"

    @Option(help: "Run only cases whose name contains this text.")
    var only: String?

    @Option(help: "What to print at the end: text, json or ktap.")
    var format: Format = .text

    @OptionGroup var pf: PFModuleOption

    @Option(help: "Hard timeout per kernel, seconds.")
    var timeout: Double = 1500

    struct CaseOutcome { var result: String; var reason: String; var findings: Int; var violations: Int; var rules: [String] }
    struct KernelRun { var name: String; var release: String; var cases: [(String, CaseOutcome)]; var verdict: String; var seconds: Double }

    func run() throws {
        let kernels = kernel.names
        let out = URL(fileURLWithPath: output).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let moduleDir = try pf.directory()
        let exe = EmulatedPFGuest.executable
        var runs: [KernelRun] = []
        for k in kernels {
            do {
                runs.append(try runKernel(k, out: out, moduleDir: moduleDir, exe: exe))
            } catch let e as VMError {
                FileHandleOutput.stderr("iavf-check: \(k): \(e)\n")
                throw ExitCode(ExitStatus.environment)
            }
        }
        try writeReports(runs, out: out)
        switch format {
        case .text: FileHandleOutput.stdout(textReport(runs))
        case .json: FileHandleOutput.stdout((try? String(contentsOfFile: out + "/suite.json", encoding: .utf8)) ?? "")
        case .ktap: FileHandleOutput.stdout((try? String(contentsOfFile: out + "/suite.ktap", encoding: .utf8)) ?? "")
        }
        if runs.contains(where: { $0.cases.contains { $0.1.result != "PASS" } }) { throw ExitCode(ExitStatus.fail) }
    }


    private func runKernel(_ k: String, out: String, moduleDir: String, exe: String) throws -> KernelRun {
        let t0 = Date()
        let only = self.only.map { " --only '\($0.replacingOccurrences(of: "'", with: ""))'" } ?? ""
        let guest = EmulatedPFGuest(kernel: k, out: out, moduleDir: moduleDir, exe: exe, timeout: timeout, tag: k)
        let outcome = try guest.run(job: """
        "$IAVF_CHECK" watch -o "$OUT/trace-\(k).jsonl" --format json --settle-ms 300 -- \\
          "$IAVF_CHECK" suite cases --pf-control \(EmulatedPFGuest.pfControl) --pf-trace "\(guest.pfTrace)" \\
          --results "$OUT/cases-\(k).json"\(only) > "$OUT/watch-\(k).json" 2> "$OUT/console-\(k).txt"
        """)
        guard outcome.jobExit != nil else {
            throw VMError.environment("the suite did not finish in the \(k) guest; see \(out)/console-\(k).txt\n\(outcome.stderr.suffix(2000))")
        }
        // The runner's own results, then the checker's findings per case.
        var cases: [(String, CaseOutcome)] = []
        if let d = FileManager.default.contents(atPath: "\(out)/cases-\(k).json"),
           let list = try? JSONSerialization.jsonObject(with: d) as? [[String: Any]] {
            for c in list {
                cases.append((c["name"] as? String ?? "?", CaseOutcome(result: c["result"] as? String ?? "?",
                                                                        reason: c["reason"] as? String ?? "",
                                                                        findings: 0, violations: 0, rules: [])))
            }
        }
        var verdict = "?"
        if let d = FileManager.default.contents(atPath: "\(out)/watch-\(k).json"),
           let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
            verdict = obj["verdict"] as? String ?? "?"
            let findings = obj["findings"] as? [[String: Any]] ?? []
            let marks = (obj["cases"] as? [[String: Any]]) ?? []
            // Attribute findings by the runner's case order: checker cases come in the same order.
            for (i, m) in marks.enumerated() where i < cases.count {
                cases[i].1.findings = m["findings"] as? Int ?? 0
                cases[i].1.violations = m["violations"] as? Int ?? 0
            }
            _ = findings
        }
        // Rules per case from the trace itself (the JSON report lists findings without cases).
        let perCase = (try? Self.rulesPerCase(trace: "\(out)/trace-\(k).jsonl")) ?? [:]
        for i in cases.indices { cases[i].1.rules = perCase[cases[i].0] ?? [] }
        return KernelRun(name: k, release: outcome.release, cases: cases, verdict: verdict,
                         seconds: Date().timeIntervalSince(t0))
    }

    /// Checks the recorded trace again and groups the findings' rules by case.
    static func rulesPerCase(trace: String) throws -> [String: [String]] {
        let report = try CheckRun.check(path: trace, context: 0, maxFindings: 100_000, warn: { _ in })
        var out: [String: [String]] = [:]
        for c in report.cases {
            let lo = c.firstSeq ?? .min
            let rules = report.findings.filter { $0.seq >= lo && $0.seq <= c.lastSeq }
                .map { $0.rule.rawValue + ($0.cause.map { "(\($0.rawValue))" } ?? "") }
            out[c.name] = Array(Set(rules)).sorted()
        }
        return out
    }

    private func writeReports(_ runs: [KernelRun], out: String) throws {
        var kernels: [[String: Any]] = []
        for r in runs {
            kernels.append([
                "kernel": r.name, "release": r.release, "checker_verdict": r.verdict,
                "seconds": Int(r.seconds),
                "passed": r.cases.filter { $0.1.result == "PASS" }.count, "total": r.cases.count,
                "cases": r.cases.map { ["name": $0.0, "result": $0.1.result, "reason": $0.1.reason,
                                        "findings": $0.1.findings, "violations": $0.1.violations, "rules": $0.1.rules] },
            ])
        }
        let data = try JSONSerialization.data(withJSONObject: ["kernels": kernels], options: [.prettyPrinted, .sortedKeys])
        FileManager.default.createFile(atPath: out + "/suite.json", contents: data)
        var ktap = "KTAP version 1\n1..\(runs.count)\n"
        for (i, r) in runs.enumerated() {
            ktap += "    KTAP version 1\n    # Subtest: \(r.name) (\(r.release))\n    1..\(r.cases.count)\n"
            for (j, c) in r.cases.enumerated() {
                if c.1.result != "PASS" { ktap += "    # \(c.1.reason)\n" }
                if !c.1.rules.isEmpty { ktap += "    # checker: \(c.1.rules.joined(separator: ", "))\n" }
                ktap += "    \(c.1.result == "PASS" ? "ok" : "not ok") \(j + 1) \(c.0)\n"
            }
            let ok = r.cases.allSatisfy { $0.1.result == "PASS" }
            ktap += "\(ok ? "ok" : "not ok") \(i + 1) \(r.name)\n"
        }
        FileManager.default.createFile(atPath: out + "/suite.ktap", contents: Data(ktap.utf8))
    }

    private func textReport(_ runs: [KernelRun]) -> String {
        var s = ""
        for r in runs {
            s += "=== \(r.name) (\(r.release)), \(Int(r.seconds)) s\n"
            for c in r.cases {
                s += "\(c.1.result == "PASS" ? "PASS" : "FAIL"): \(c.0)\(c.1.reason.isEmpty ? "" : "  (\(c.1.reason))")\n"
            }
            let p = r.cases.filter { $0.1.result == "PASS" }.count
            s += "Totals: \(p) PASS, \(r.cases.count - p) FAIL of \(r.cases.count); checker verdict \(r.verdict)\n\n"
        }
        guard runs.count > 1 else { return s }
        let names = runs[0].cases.map(\.0)
        let w = (names.map(\.count).max() ?? 10)
        s += "case".padded(w) + "  " + runs.map { $0.name.padded(10) + " checker".padded(34) }.joined(separator: "  ") + "\n"
        for n in names {
            var line = n.padded(w)
            for r in runs {
                let c = r.cases.first { $0.0 == n }?.1
                line += "  " + (c?.result ?? "-").padded(10) + " " + ((c?.rules.isEmpty ?? true) ? "-" : c!.rules.joined(separator: ",")).padded(33)
            }
            s += line + "\n"
        }
        return s
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
