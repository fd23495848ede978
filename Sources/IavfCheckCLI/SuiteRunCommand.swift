import ArgumentParser
import Foundation
import IavfCampaign
import IavfReport
import IavfScenarios

/// `iavf-check suite run`: boots each kernel with the emulated PF, runs the cases under
/// `watch`, and prints the selftest-style results, the checker's findings per case, and a
/// side-by-side table of the two generations.
struct SuiteRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot the kernels, load the emulated PF, attach the probes, run the cases; compare the generations.",
        discussion: """
        For each kernel (--kernel: an alias, a Debian package, a .deb, a tree, or a \
        comma-separated list of them): builds pf-module/avfpf.ko against its headers (cached), boots it under \
        QEMU with memmap=2M$0x7e000000, starts `iavf-check pf` (ice-like PF, 8 VLANs per \
        untrusted VF), binds the stock iavf to two VFs, moves them into namespaces \
        (VF1 -> iavf-t1-PID, VF2 -> iavf-t2-PID), and runs the 51 state, reset and ping cases plus the \
        dmesg check under `iavf-check watch`. Between cases VF1's VLANs are deleted and VF1 is \
        cycled down and up.

        Prints each case as it finishes (result, time, the checker's findings for it, \
        KERNEL n/N) on standard error unless --quiet.

        Writes to --output: trace-KERNEL.jsonl (probes), pf-KERNEL.jsonl (what the PF programmed), \
        suite.json, suite.ktap, console and dmesg logs.

        Exit codes: 0 every case of the catalogue ran and passed on every kernel; 1 a case \
        failed, or a kernel's guest ran no case or fewer than the catalogue (set-up failed, \
        the guest crashed or hung), with the reason; 3 environment problem; 130/143 \
        interrupted by SIGINT/SIGTERM: the guest is killed, and suite.json/suite.ktap hold the \
        cases finished so far, marked "interrupted": true.
        """
    )

    enum Format: String, ExpressibleByArgument { case text, json, ktap, junit }

    @OptionGroup var kernel: KernelOption

    @OptionGroup var iavf: IavfOption

    @Option(name: .shortAndLong, help: "Directory for traces, logs, suite.json and suite.ktap.")
    var output: String = "suite-out"

    @Option(help: "Run only cases whose name contains this text.")
    var only: String?

    @Option(help: "What to print at the end: text, json, ktap or junit (JUnit XML for CI servers).")
    var format: Format = .text

    @Flag(help: "No per-case progress lines while the guests run.")
    var quiet = false

    @Option(name: .customLong("repeat"), help: "Run the suite N times per kernel and report each case as a failure rate (FAIL 2/5) with every checker label it got.")
    var repeatCount: Int = 1

    @Option(help: "Guests at once: the kernels' (and repeats') runs are independent; two share this machine's two cores well because a guest spends much of a case waiting for the driver. Race rates may move with the load; results do not mix.")
    var jobs: Int = 1

    func validate() throws {
        guard (1...100).contains(repeatCount) else { throw ValidationError("--repeat must be 1...100") }
        guard (1...8).contains(jobs) else { throw ValidationError("--jobs must be 1...8") }
    }

    @OptionGroup var model: ModelOption

    @OptionGroup var pf: PFModuleOption

    @Option(help: "Hard timeout per kernel, seconds.")
    var timeout: Double = 1500

    func run() throws {
        // Bad input fails before anything builds or boots.
        let targets = try iavf.targets(try kernel.kernels())
        let watchArguments = try model.guestArguments()
        // A signal kills the guests and writes what the run has: the program's policy, so the
        // engines (also run inside the test process) only adopt children and add hooks.
        Interruption.install()
        var campaign = SuiteCampaign(targets: targets, out: URL(fileURLWithPath: output).standardizedFileURL.path,
                                     moduleDir: try pf.directory(), exe: EmulatedPFGuest.executable, timeout: timeout)
        campaign.only = only
        campaign.repeatCount = repeatCount
        campaign.jobs = jobs
        campaign.watchArguments = watchArguments
        campaign.note = { FileHandleOutput.stderr("iavf-check: \($0)\n") }
        if !quiet { campaign.onCase = { FileHandleOutput.stderr($0.text + "\n") } }
        let report = try campaign.run()
        switch format {
        case .text: FileHandleOutput.stdout(Self.text(report))
        case .json: FileHandleOutput.stdout(String(decoding: try report.encoded(), as: UTF8.self))
        case .ktap: FileHandleOutput.stdout(report.ktap)
        case .junit: FileHandleOutput.stdout(JUnit.render(JUnit.suites(for: report)))
        }
        if !report.allPassed { throw CommandOutcome(ExitStatus.fail) }
    }

    /// The selftest-style listing per kernel, then a side-by-side table when there are several
    /// (of failure rates when the kernels ran more than once).
    static func text(_ report: SuiteReport) -> String {
        let runs = report.kernels
        var s = ""
        for r in runs {
            s += "=== \(r.kernel)\(r.run.map { " run \($0)" } ?? "") (\(r.release)), \(r.seconds) s\n"
            for c in r.cases {
                s += "\(c.passed ? "PASS" : "FAIL"): \(c.name)\(c.reason.isEmpty ? "" : "  (\(c.reason))")\n"
            }
            if let problem = r.problem { s += "INCOMPLETE: \(problem)\n" }
            s += "Totals: \(r.passed) PASS, \(r.total - r.passed) FAIL of \(r.total); checker verdict \(r.checkerVerdict)\n"
            if let t = r.time { s += t.text + "\n" }
            s += "\n"
        }
        let cov = report.coverage
        let coverageText = cov.tables.isEmpty ? "" : "\nmodel coverage of the real drivers (rows the traces exercised):\n" + cov.text(indent: "  ")
        let rates = report.rates
        if rates.contains(where: { $0.runs > 1 }) { return s + Self.rateTable(rates) + coverageText }
        guard runs.count > 1 else { return s + coverageText }
        let names = runs[0].cases.map(\.name)
        let w = (names.map(\.count).max() ?? 10)
        s += "case".padded(w) + "  " + runs.map { $0.kernel.padded(10) + " checker".padded(34) }.joined(separator: "  ") + "\n"
        for n in names {
            var line = n.padded(w)
            for r in runs {
                let c = r.cases.first { $0.name == n }
                line += "  " + (c?.result.rawValue ?? "-").padded(10) + " " + ((c?.rules.isEmpty ?? true) ? "-" : c!.rules.joined(separator: ",")).padded(33)
            }
            s += line + "\n"
        }
        return s + coverageText
    }
}

extension SuiteRunCommand {
    /// One column pair per kernel: the case's failure rate over the runs, every label.
    static func rateTable(_ rates: [SuiteReport.KernelRates]) -> String {
        var names: [String] = []
        for k in rates { for c in k.cases where !names.contains(c.name) { names.append(c.name) } }
        let w = names.map(\.count).max() ?? 10
        var s = "case".padded(w) + "  " + rates.map { "\($0.kernel) (\($0.runs) runs)".padded(16) + " checker".padded(34) }.joined(separator: "  ") + "\n"
        for n in names {
            var line = n.padded(w)
            for k in rates {
                let c = k.cases.first { $0.name == n }
                line += "  " + (c?.text ?? "-").padded(16) + " " + ((c?.rules.isEmpty ?? true) ? "-" : c!.rules.joined(separator: ",")).padded(33)
            }
            s += line + "\n"
        }
        for k in rates {
            let always = k.cases.filter { $0.failed == 0 }.count
            s += "\(k.kernel): \(always)/\(k.cases.count) cases passed in all \(k.runs) runs"
            s += k.incomplete > 0 ? "; \(k.incomplete) run(s) incomplete\n" : "\n"
        }
        return s
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
