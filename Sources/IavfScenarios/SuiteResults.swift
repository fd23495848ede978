import Foundation
import IavfKTAP
import IavfModel
import IavfSystem

/// A case's own result, from the guest's case runner.
public enum CaseVerdict: String, Sendable, Codable {
    case pass = "PASS"
    case fail = "FAIL"
}

/// One case of a kernel's run as `suite.json` reports it: the guest's own result, then the
/// checker's counts for the case of the same name.
public struct SuiteCaseOutcome: Sendable, Equatable, Codable {
    public var name: String
    public var result: CaseVerdict
    public var reason: String
    public var findings: Int
    public var violations: Int
    /// The checker's rule(cause) labels for the case.
    public var rules: [String]
    /// Seconds the case took in the guest, when known.
    public var seconds: Double?

    public init(name: String, result: CaseVerdict, reason: String = "", findings: Int = 0, violations: Int = 0,
                rules: [String] = [], seconds: Double? = nil) {
        self.name = name
        self.result = result
        self.reason = reason
        self.findings = findings
        self.violations = violations
        self.rules = rules
        self.seconds = seconds
    }

    public var passed: Bool { result == .pass }
}

/// Where a kernel's run spent its time, in seconds: the host's preparation (kernel,
/// headers, avfpf.ko), the boot, the PF and drivers, the suite's own set-up, the cases (the
/// slowest named), and the rest (shutdown, dmesg, the host's bookkeeping).
public struct TimeBreakdown: Sendable, Codable, Equatable {
    public var prepare: Double
    public var boot: Double?
    public var pfAndDrivers: Double?
    /// The job minus the cases: the testbed's set-up (namespaces, VFs up) and the watch start.
    public var setup: Double?
    public var cases: Double
    public var rest: Double
    public var slowest: [SlowCase]
    /// What the guest's runner counted: the commands it ran (each a process: about 0.1 s
    /// in a TCG guest) and their seconds, inside the cases and the resets; the resets between
    /// cases (part of `setup`). From its `# commands:` and `# resets between cases:` lines.
    public var commands: Int?
    public var commandSeconds: Double?
    public var resetSeconds: Double?

    public struct SlowCase: Sendable, Codable, Equatable {
        public var name: String
        public var seconds: Double
    }

    enum CodingKeys: String, CodingKey {
        case prepare, boot, setup, cases, rest, slowest, commands
        case pfAndDrivers = "pf_and_drivers"
        case commandSeconds = "command_seconds"
        case resetSeconds = "reset_seconds"
    }

    /// Takes the runner's counts from its console output (KTAP diagnostics).
    public mutating func addGuestCounts(console: String) {
        for line in console.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.hasPrefix("# commands: "), words.count >= 6, words[3] == "commands" {
                commands = Int(words[2])
                commandSeconds = Double(words[5])
            } else if line.hasPrefix("# resets between cases: "), words.count >= 8 {
                resetSeconds = Double(words[6])
            }
        }
    }

    public init(prepare: Double, boot: Double?, pfAndDrivers: Double?, job: Double?, total: Double, cases: [SuiteCaseOutcome]) {
        let r = { (x: Double) in (x * 10).rounded() / 10 }
        self.prepare = r(prepare)
        self.boot = boot.map(r)
        self.pfAndDrivers = pfAndDrivers.map(r)
        let caseTime = cases.compactMap(\.seconds).reduce(0, +)
        self.cases = r(caseTime)
        self.setup = job.map { r(max(0, $0 - caseTime)) }
        self.rest = r(max(0, total - prepare - (boot ?? 0) - (pfAndDrivers ?? 0) - (job ?? caseTime)))
        self.slowest = cases.filter { $0.seconds != nil }.sorted { $0.seconds! > $1.seconds! }.prefix(3)
            .map { SlowCase(name: $0.name, seconds: r($0.seconds!)) }
    }

    public var text: String {
        func f(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "?" }
        var s = "time: prepare \(f(prepare)) s, boot \(f(boot)) s, PF and drivers \(f(pfAndDrivers)) s, set-up and resets between cases \(f(setup)) s, cases \(f(cases)) s, rest \(f(rest)) s"
        if let n = commands { s += "; \(n) commands ran \(f(commandSeconds)) s in all" }
        if let r = resetSeconds { s += ", the resets between cases \(f(r)) s" }
        if !slowest.isEmpty { s += "; slowest: " + slowest.map { "\($0.name) \(f($0.seconds)) s" }.joined(separator: ", ") }
        return s
    }
}

/// `suite.json`: one entry per kernel (in the order given), written as the run goes and at
/// its end; read back by `report` and `merge`.
public struct SuiteReport: Sendable, JSONDocument, Equatable {
    public struct Kernel: Sendable, Codable, Equatable {
        public var kernel: String
        public var release: String
        /// The checker's verdict over the kernel's whole trace (pass, fail, inconclusive; ? when none).
        public var checkerVerdict: String
        public var seconds: Int
        public var passed: Int
        public var total: Int
        /// Every case of the catalogue ran and the guest finished.
        public var complete: Bool
        /// Why the run is a failure though no case failed (no case ran, cases missing, the
        /// guest crashed or timed out, the run was interrupted).
        public var problem: String?
        public var cases: [SuiteCaseOutcome]
        /// Which run of the kernel this is (1-based) when the suite was repeated.
        public var run: Int?
        /// The model rows and rule evaluations the kernel's trace exercised.
        public var coverage: ModelCoverage?
        /// Where the kernel's seconds went (prepare, boot, pf_and_drivers, set-up and cases).
        public var time: TimeBreakdown?

        enum CodingKeys: String, CodingKey {
            case kernel, release, seconds, passed, total, complete, problem, cases, run, coverage, time
            case checkerVerdict = "checker_verdict"
        }

        public init(kernel: String, release: String, checkerVerdict: String, seconds: Double, problem: String?,
                    cases: [SuiteCaseOutcome]) {
            self.kernel = kernel
            self.release = release
            self.checkerVerdict = checkerVerdict
            self.seconds = Int(seconds)
            self.passed = cases.filter(\.passed).count
            self.total = cases.count
            self.complete = problem == nil
            self.problem = problem
            self.cases = cases
        }

        public var allPassed: Bool { problem == nil && !cases.isEmpty && cases.allSatisfy(\.passed) }
    }

    /// A case over the runs of one kernel: how often it failed, and every label the
    /// checker gave it in any run. Races make single runs anecdotes; this is the figure.
    public struct CaseRate: Sendable, Codable, Equatable {
        public var name: String
        public var failed: Int
        public var runs: Int
        public var rules: [String]
        /// "PASS 5/5" or "FAIL 2/5".
        public var text: String { failed == 0 ? "PASS \(runs)/\(runs)" : "FAIL \(failed)/\(runs)" }
    }

    public struct KernelRates: Sendable, Codable, Equatable {
        public var kernel: String
        public var runs: Int
        /// Runs that were not complete (crash, timeout, missing cases): counted, not hidden.
        public var incomplete: Int
        public var cases: [CaseRate]
    }

    /// Per kernel (in first-seen order), per case (in first-seen order): failures over runs.
    /// A case missing from a run counts as a failure of that run.
    public var rates: [KernelRates] {
        var order: [String] = []
        var byKernel: [String: [Kernel]] = [:]
        for k in kernels {
            if byKernel[k.kernel] == nil { order.append(k.kernel) }
            byKernel[k.kernel, default: []].append(k)
        }
        return order.map { name in
            let runs = byKernel[name]!
            var names: [String] = []
            for r in runs { for c in r.cases where !names.contains(c.name) { names.append(c.name) } }
            let cases = names.map { n -> CaseRate in
                var failed = 0
                var rules: [String] = []
                for r in runs {
                    let c = r.cases.first { $0.name == n }
                    if c?.passed != true { failed += 1 }
                    for l in c?.rules ?? [] where !rules.contains(l) { rules.append(l) }
                }
                return CaseRate(name: n, failed: failed, runs: runs.count, rules: rules)
            }
            return KernelRates(kernel: name, runs: runs.count, incomplete: runs.filter { $0.problem != nil }.count, cases: cases)
        }
    }

    public var kernels: [Kernel]
    public var interrupted: Bool

    enum CodingKeys: String, CodingKey { case kernels, interrupted, rates }

    public init(kernels: [Kernel], interrupted: Bool) {
        self.kernels = kernels
        self.interrupted = interrupted
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kernels = try c.decode([Kernel].self, forKey: .kernels)
        interrupted = try c.decode(Bool.self, forKey: .interrupted)
    }

    /// `rates` is derived, written only when a kernel ran more than once (read back, it is
    /// computed again from the runs).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kernels, forKey: .kernels)
        try c.encode(interrupted, forKey: .interrupted)
        let r = rates
        if r.contains(where: { $0.runs > 1 }) { try c.encode(r, forKey: .rates) }
    }

    public var allPassed: Bool { !interrupted && !kernels.isEmpty && kernels.allSatisfy(\.allPassed) }

    /// Every run's coverage merged, per generation (what the real drivers were seen doing).
    public var coverage: ModelCoverage { ModelCoverage.merging(kernels.compactMap(\.coverage)) }



    /// KTAP: a subtest per kernel, a test point per case (the checker's labels as diagnostics).
    public var ktap: String {
        var k = KTAPWriter(plan: kernels.count)
        for r in kernels {
            k.subtest("\(r.kernel) (\(r.release))\(r.run.map { " run \($0)" } ?? "")") { sub in
                sub.plan(r.cases.count)
                for c in r.cases {
                    if !c.passed { sub.diagnostic(c.reason) }
                    if !c.rules.isEmpty { sub.diagnostic("checker: \(c.rules.joined(separator: ", "))") }
                    sub.point(c.passed ? .ok : .notOk, c.name)
                }
            }
            if let p = r.problem { k.diagnostic("\(r.kernel): \(p.split(separator: "\n").first ?? "")") }
            k.point(r.allPassed ? .ok : .notOk, r.kernel + (r.run.map { " run \($0)" } ?? ""))
        }
        if interrupted { k.diagnostic("interrupted") }
        return k.text
    }

    /// Writes suite.json and suite.ktap into `dir`.
    public func write(to dir: String) throws {
        try encoded().write(to: URL(fileURLWithPath: dir + "/suite.json"))
        try Data(ktap.utf8).write(to: URL(fileURLWithPath: dir + "/suite.ktap"))
    }
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
        KTAPReader.points(text).map { p in
            // Names contain ": " themselves, so the reason is what follows "name: ".
            var reason = ""
            if p.result == .notOk, let c = p.comment, c.hasPrefix(p.name + ": ") { reason = String(c.dropFirst(p.name.count + 2)) }
            return SuiteCaseOutcome(name: p.name, result: p.result == .notOk ? .fail : .pass, reason: reason)
        }
    }
}
