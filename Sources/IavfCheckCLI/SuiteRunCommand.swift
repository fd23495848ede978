import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IavfScenarios
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

        Exit codes: 0 every case of the catalogue ran and passed on every kernel; 1 a case \
        failed, or a kernel's guest ran no case or fewer than the catalogue (set-up failed, \
        the guest crashed or hung), with the reason; 3 environment problem; 130/143 \
        interrupted by SIGINT/SIGTERM: the guest is killed, and suite.json/suite.ktap hold the \
        cases finished so far, marked "interrupted": true.
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

    @OptionGroup var model: ModelOption

    @OptionGroup var pf: PFModuleOption

    @Option(help: "Hard timeout per kernel, seconds.")
    var timeout: Double = 1500

    struct KernelRun {
        var name: String
        var release: String
        var cases: [SuiteCaseOutcome]
        var verdict: String
        var seconds: Double
        /// Why the run is a failure though no case failed: no case ran, cases are missing,
        /// the guest crashed or timed out, the run was interrupted.
        var problem: String?
        var passed: Bool { problem == nil && !cases.isEmpty && cases.allSatisfy(\.passed) }
    }

    func run() throws {
        _ = try model.load()   // bad input fails before anything builds or boots
        let kernels = kernel.names
        let out = URL(fileURLWithPath: output).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let moduleDir = try pf.directory()
        let exe = EmulatedPFGuest.executable
        // What an interrupted run can still report: the kernels done, and the cases the
        // current guest finished (its KTAP lines so far).
        final class Progress: @unchecked Sendable {
            let lock = NSLock()
            var runs: [KernelRun] = []
            var current: (name: String, since: Date)?
        }
        let progress = Progress()
        Interruption.install()
        Interruption.onInterrupt { sig in
            progress.lock.lock()
            var runs = progress.runs
            if let c = progress.current {
                runs.append(KernelRun(name: c.name, release: "?", cases: Self.casesSoFar(out: out, kernel: c.name), verdict: "?",
                                      seconds: Date().timeIntervalSince(c.since),
                                      problem: "interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM")"))
            }
            progress.lock.unlock()
            try? Self.writeReports(runs, out: out, interrupted: true)
            FileHandleOutput.stderr("iavf-check suite: partial results (\(runs.map { "\($0.name): \($0.cases.count) cases" }.joined(separator: ", "))) in \(out)/suite.json\n")
        }
        var runs: [KernelRun] = [] {
            didSet { progress.lock.lock(); progress.runs = runs; progress.lock.unlock() }
        }
        for k in kernels {
            progress.lock.lock(); progress.current = (k, Date()); progress.lock.unlock()
            defer { progress.lock.lock(); progress.current = nil; progress.lock.unlock() }
            do {
                runs.append(try runKernel(k, out: out, moduleDir: moduleDir, exe: exe))
            } catch let e as VMError {
                switch e {
                case .timeout, .guestCrashed:
                    // The driver's business (a panic, a hang): a failure, with what ran before it.
                    runs.append(KernelRun(name: k, release: "?", cases: Self.casesSoFar(out: out, kernel: k),
                                          verdict: "?", seconds: 0, problem: "\(e)"))
                default:
                    FileHandleOutput.stderr("iavf-check: \(k): \(e)\n")
                    throw ExitCode(ExitStatus.environment)
                }
            }
        }
        try Self.writeReports(runs, out: out, interrupted: false)
        switch format {
        case .text: FileHandleOutput.stdout(textReport(runs))
        case .json: FileHandleOutput.stdout((try? String(contentsOfFile: out + "/suite.json", encoding: .utf8)) ?? "")
        case .ktap: FileHandleOutput.stdout((try? String(contentsOfFile: out + "/suite.ktap", encoding: .utf8)) ?? "")
        }
        if runs.contains(where: { !$0.passed }) { throw ExitCode(ExitStatus.fail) }
    }

    /// What the guest's case runner finished so far, from its KTAP lines (console-K.txt is
    /// written live over the shared directory).
    static func casesSoFar(out: String, kernel k: String) -> [SuiteCaseOutcome] {
        SuiteResults.ktapResults((try? String(contentsOfFile: "\(out)/console-\(k).txt", encoding: .utf8)) ?? "")
    }

    private func runKernel(_ k: String, out: String, moduleDir: String, exe: String) throws -> KernelRun {
        let t0 = Date()
        let only = self.only.map { " --only '\($0.replacingOccurrences(of: "'", with: ""))'" } ?? ""
        let guest = EmulatedPFGuest(kernel: k, out: out, moduleDir: moduleDir, exe: exe, timeout: timeout, tag: k)
        for f in ["cases-\(k).json", "watch-\(k).json", "console-\(k).txt"] { try? FileManager.default.removeItem(atPath: "\(out)/\(f)") }
        let outcome = try guest.run(job: """
        "$IAVF_CHECK" watch -o "$OUT/trace-\(k).jsonl" --format json --settle-ms 300 --quiet-file /tmp/iavf-quiet\(try model.guestShellArgument()) -- \\
          "$IAVF_CHECK" suite cases --pf-control \(EmulatedPFGuest.pfControl) --pf-trace "\(guest.pfTrace)" \\
          --quiet-file /tmp/iavf-quiet --results "$OUT/cases-\(k).json"\(only) > "$OUT/watch-\(k).json" 2> "$OUT/console-\(k).txt"
        """)
        // The runner's own results (or, when it died, its KTAP lines so far), then the
        // checker's counts joined by case name.
        var cases: [SuiteCaseOutcome] = []
        if let d = FileManager.default.contents(atPath: "\(out)/cases-\(k).json"),
           let list = try? JSONSerialization.jsonObject(with: d) as? [[String: Any]] {
            cases = list.map { SuiteCaseOutcome(name: $0["name"] as? String ?? "?", result: $0["result"] as? String ?? "?",
                                                reason: $0["reason"] as? String ?? "") }
        } else {
            cases = Self.casesSoFar(out: out, kernel: k)
        }
        var verdict = "?"
        if let d = FileManager.default.contents(atPath: "\(out)/watch-\(k).json"),
           let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
            verdict = obj["verdict"] as? String ?? "?"
            let marks = (obj["cases"] as? [[String: Any]]) ?? []
            cases = SuiteResults.join(cases, checker: marks.map {
                CheckerCaseCount(name: $0["name"] as? String ?? "", findings: $0["findings"] as? Int ?? 0,
                                 violations: $0["violations"] as? Int ?? 0)
            })
            // The checker's rule(cause) labels per case, by name like the counts.
            var perCase: [String: [String]] = [:]
            for m in marks { if let n = m["name"] as? String { perCase[n] = m["rules"] as? [String] ?? [] } }
            for i in cases.indices { cases[i].rules = perCase[cases[i].name] ?? [] }
        }
        var problems: [String] = []
        if outcome.jobExit == nil { problems.append("the suite did not finish in the guest") }
        if let short = SuiteResults.shortfall(ran: cases.map(\.name), expected: SuiteResults.expectedNames(only: self.only)) {
            problems.append(short)
        }
        var problem: String?
        if !problems.isEmpty {
            let console = (try? String(contentsOfFile: "\(out)/console-\(k).txt", encoding: .utf8)) ?? ""
            let tail = console.split(separator: "\n").suffix(3).joined(separator: " | ")
            problem = problems.joined(separator: "; ") + "; see \(out)/console-\(k).txt" + (tail.isEmpty ? "" : ": \(tail)")
        }
        return KernelRun(name: k, release: outcome.release, cases: cases, verdict: verdict,
                         seconds: Date().timeIntervalSince(t0), problem: problem)
    }

    /// Checks the recorded trace again and groups the findings' rules by case.
    static func writeReports(_ runs: [KernelRun], out: String, interrupted: Bool) throws {
        var kernels: [[String: Any]] = []
        for r in runs {
            kernels.append([
                "kernel": r.name, "release": r.release, "checker_verdict": r.verdict,
                "seconds": Int(r.seconds),
                "passed": r.cases.filter(\.passed).count, "total": r.cases.count,
                "complete": r.problem == nil, "problem": r.problem ?? NSNull(),
                "cases": r.cases.map { ["name": $0.name, "result": $0.result, "reason": $0.reason,
                                        "findings": $0.findings, "violations": $0.violations, "rules": $0.rules] },
            ])
        }
        let data = try JSONSerialization.data(withJSONObject: ["kernels": kernels, "interrupted": interrupted],
                                              options: [.prettyPrinted, .sortedKeys])
        FileManager.default.createFile(atPath: out + "/suite.json", contents: data)
        var ktap = "KTAP version 1\n1..\(runs.count)\n"
        for (i, r) in runs.enumerated() {
            ktap += "    KTAP version 1\n    # Subtest: \(r.name) (\(r.release))\n    1..\(r.cases.count)\n"
            for (j, c) in r.cases.enumerated() {
                if !c.passed { ktap += "    # \(c.reason)\n" }
                if !c.rules.isEmpty { ktap += "    # checker: \(c.rules.joined(separator: ", "))\n" }
                ktap += "    \(c.passed ? "ok" : "not ok") \(j + 1) \(c.name)\n"
            }
            if let p = r.problem { ktap += "# \(r.name): \(p.split(separator: "\n").first ?? "")\n" }
            ktap += "\(r.passed ? "ok" : "not ok") \(i + 1) \(r.name)\n"
        }
        if interrupted { ktap += "# interrupted\n" }
        FileManager.default.createFile(atPath: out + "/suite.ktap", contents: Data(ktap.utf8))
    }

    private func textReport(_ runs: [KernelRun]) -> String {
        var s = ""
        for r in runs {
            s += "=== \(r.name) (\(r.release)), \(Int(r.seconds)) s\n"
            for c in r.cases {
                s += "\(c.passed ? "PASS" : "FAIL"): \(c.name)\(c.reason.isEmpty ? "" : "  (\(c.reason))")\n"
            }
            let p = r.cases.filter(\.passed).count
            if let problem = r.problem { s += "INCOMPLETE: \(problem)\n" }
            s += "Totals: \(p) PASS, \(r.cases.count - p) FAIL of \(r.cases.count); checker verdict \(r.verdict)\n\n"
        }
        guard runs.count > 1 else { return s }
        let names = runs[0].cases.map(\.name)
        let w = (names.map(\.count).max() ?? 10)
        s += "case".padded(w) + "  " + runs.map { $0.name.padded(10) + " checker".padded(34) }.joined(separator: "  ") + "\n"
        for n in names {
            var line = n.padded(w)
            for r in runs {
                let c = r.cases.first { $0.name == n }
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
