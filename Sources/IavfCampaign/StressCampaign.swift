import Foundation
import IavfSystem
import IavfChecker
import IavfModel
import IavfScenarios

/// What a stress run reports for one kernel (stress.json; read back by the host and `report`).
public struct StressReport: JSONDocument, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var rule: String
        public var cause: String?
        public var dev: String
        public var vid: Int?
        public var event: String
        public var message: String
        /// The op (1-based) whose mark came last before the finding.
        public var op: Int?
        public var opText: String?
        public init(rule: String, cause: String?, dev: String, vid: Int?, event: String, message: String, op: Int?, opText: String?) {
            self.rule = rule
            self.cause = cause
            self.dev = dev
            self.vid = vid
            self.event = event
            self.message = message
            self.op = op
            self.opText = opText
        }
    }

    public var kernel: String
    public var generation: String
    public var seed: UInt64?
    public var ops: [String]
    public var outcomes: [String]
    public var verdict: Verdict
    public var settled: Bool
    public var findings: [Entry]
    public var target: String?
    public var minimal: [String]?
    public var shrinkRuns: Int
    public var confirmed: Int?
    public var confirmRuns: Int?
    public var trace: String
    public var minimalTrace: String?
    public var seconds: Double
    /// The model rows and rule evaluations every attempt of the campaign exercised.
    public var coverage: ModelCoverage?
    /// A replay run `--tries` times: how many runs, and in how many each `rule(cause)` fired
    /// (a race reproduces at a rate, not always).
    public var replayRuns: Int?
    public var reproduced: [String: Int]?
    /// A `--search` campaign: how many sequences it drew and when the finding came.
    public var search: Search?

    /// `--search SECONDS`: sequences drawn one after another until the target (else any
    /// violation) shows up or the budget is spent.
    public struct Search: Codable, Sendable, Equatable {
        public var mode: StressMode
        public var budgetSeconds: Double
        public var sequences: Int
        /// From the search's start in the guest (boot and set-up not counted) to the end of
        /// the attempt that first showed the finding; nil: not found within the budget.
        public var firstFindingSeconds: Double?
        public var finding: String?
        /// Every violation signature of the search, with the number of sequences it fired in.
        public var violations: [String: Int]
        public init(mode: StressMode, budgetSeconds: Double, sequences: Int, firstFindingSeconds: Double?, finding: String?,
                    violations: [String: Int] = [:]) {
            self.violations = violations
            self.mode = mode
            self.budgetSeconds = budgetSeconds
            self.sequences = sequences
            self.firstFindingSeconds = firstFindingSeconds
            self.finding = finding
        }
    }

    public init(kernel: String, generation: String, seed: UInt64?, ops: [String], outcomes: [String], verdict: Verdict,
                settled: Bool, findings: [Entry], target: String?, minimal: [String]?, shrinkRuns: Int, confirmed: Int?,
                confirmRuns: Int?, trace: String, minimalTrace: String?, seconds: Double) {
        self.kernel = kernel
        self.generation = generation
        self.seed = seed
        self.ops = ops
        self.outcomes = outcomes
        self.verdict = verdict
        self.settled = settled
        self.findings = findings
        self.target = target
        self.minimal = minimal
        self.shrinkRuns = shrinkRuns
        self.confirmed = confirmed
        self.confirmRuns = confirmRuns
        self.trace = trace
        self.minimalTrace = minimalTrace
        self.seconds = seconds
    }



    /// The text `stress` prints for a kernel.
    public func text(kernelName k: String, release: String) -> String {
        var s = "=== \(k) (\(release), \(generation)): " + (seed.map { "seed \($0), " } ?? "replay, ")
        s += "\(ops.count) ops, \(Int(seconds)) s: \(verdict.rawValue.uppercased())\n"
        if !settled { s += "  (the driver did not settle after the last op: rules judged at settle points were not applied)\n" }
        for f in findings.prefix(10) {
            s += "  \(f.rule)\(f.cause.map { " (\($0))" } ?? "") on \(f.dev)\(f.vid.map { " VLAN \($0)" } ?? "") at \(f.event)"
            s += f.op.map { " after op \($0) '\(f.opText ?? "?")'" } ?? " before the first op"
            s += ": \(f.message)\n"
        }
        if findings.count > 10 { s += "  ... \(findings.count - 10) more in stress.json\n" }
        if let target, let minimal {
            s += "  shrunk \(ops.count) -> \(minimal.count) ops in \(shrinkRuns) runs; \(target) "
            s += "reproduced \(confirmed ?? 0)/\(confirmRuns ?? 0) times:\n    \(minimal.joined(separator: "; "))\n"
            s += "  replay: iavf-check stress --kernel \(k) --replay '\(minimal.joined(separator: "; "))'\n"
        }
        s += "  trace: \(trace)\(minimalTrace.map { "; minimal: \($0)" } ?? "")\n"
        if let n = replayRuns {
            s += "  replayed \(n) times: " + ((reproduced ?? [:]).isEmpty ? "no violation in any run"
                : (reproduced ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) in \($0.value)/\(n)" }.joined(separator: ", ")) + "\n"
        }
        if let search {
            s += "  search (\(search.mode.rawValue), \(Int(search.budgetSeconds)) s budget): \(search.sequences) sequence(s), "
            s += search.firstFindingSeconds.map { "\(search.finding ?? "finding") after \(String(format: "%.0f", $0)) s" } ?? "target not found"
            s += search.violations.isEmpty ? "\n" : "; violations by sequences: "
                + search.violations.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        }
        if let coverage { s += coverage.tables.map { "  " + ModelCoverage.headline($0) + " (every attempt)\n" }.joined() }
        return s
    }
}

/// The campaign `stress` runs in a guest: one attempt of the ops, then, for a violation,
/// a cut after the op it was seen at, ddmin shrinking while the same rule (and cause) still
/// fires, and confirmation runs of the minimal sequence. Independent of how an attempt is
/// made: the guest passes a `StressLab`; tests pass a function.
public struct StressCampaign {
    public struct Settings: Sendable {
        public var shrinkAttempts = 40
        public var tries = 2
        public var confirm = 3
        /// Shrink for this signature prefix (default: `StressLab.preferredTarget`).
        public var target: String?
        /// A given sequence (`--replay`): run it `tries` times and report each violation's
        /// rate, then shrink as for a drawn one (`shrinkAttempts` 0: no shrinking).
        public var replay = false
        /// `--search SECONDS`: draw sequence after sequence until the target shows up.
        public var searchSeconds: Double?
        public init() {}
    }

    /// What one attempt gives the campaign.
    public struct Outcome {
        public var violations: [Finding]
        public var lost: Bool
        public var settled: Bool
        public var outcomes: [String]
        public var trace: String
        public var opOfFinding: [Int64: Int]
        public var coverage: ModelCoverage?
        public init(violations: [Finding], lost: Bool, settled: Bool, outcomes: [String], trace: String, opOfFinding: [Int64: Int],
                    coverage: ModelCoverage? = nil) {
            self.coverage = coverage
            self.violations = violations
            self.lost = lost
            self.settled = settled
            self.outcomes = outcomes
            self.trace = trace
            self.opOfFinding = opOfFinding
        }
        public func has(_ signature: String) -> Bool { violations.contains { StressLab.signature($0) == signature } }
    }

    public var settings: Settings
    public var attempt: ([StressOp]) throws -> Outcome
    public var log: (String) -> Void

    public init(settings: Settings, attempt: @escaping ([StressOp]) throws -> Outcome, log: @escaping (String) -> Void) {
        self.settings = settings
        self.attempt = attempt
        self.log = log
    }

    /// Runs the campaign; `kernel`, `generation`, `seed` only label the report. The
    /// report's traces are the first attempt's and one reproducing run of the minimal one.
    public func run(_ ops: [StressOp], kernel: String, generation: String, seed: UInt64?) throws -> StressReport {
        try run(ops, kernel: kernel, generation: generation, seed: seed, first: nil, since: Date(), coverage: nil)
    }

    /// Whether an attempt shows what the campaign looks for: the target, else any violation.
    func shows(_ o: Outcome) -> Bool {
        guard let t = settings.target else { return !o.violations.isEmpty }
        return o.violations.contains { StressLab.signature($0).hasPrefix(t) }
    }

    /// A `--search`: sequence k of the seed is `draw(k, rows not hit yet)`; they run one after
    /// another until one shows the target (then it is shrunk as a drawn one is) or the budget
    /// is spent (the last sequence is reported).
    public func search(seed: UInt64, mode: StressMode, kernel: String, generation: String,
                       draw: (_ k: Int, _ unhit: [StressRowTarget]) -> [StressOp]) throws -> StressReport {
        let t0 = Date()
        let budget = settings.searchSeconds ?? 0
        var coverage: ModelCoverage?
        var k = 0
        var found: Double?
        var ops: [StressOp]
        var outcome: Outcome
        // Not what was searched for, but not to be lost: the first sequence with a violation
        // stands for the search when the target never shows, and every signature is counted.
        var firstViolating: ([StressOp], Outcome)?
        var seen: [String: Int] = [:]
        repeat {
            ops = draw(k, coverage.map { Self.unhit($0, generation: generation) } ?? [])
            outcome = try attempt(ops)
            if let c = outcome.coverage { coverage = coverage.map { $0.merged(with: c) } ?? c }
            for sig in Set(outcome.violations.map(StressLab.signature)) { seen[sig, default: 0] += 1 }
            if firstViolating == nil && !outcome.violations.isEmpty { firstViolating = (ops, outcome) }
            k += 1
            if shows(outcome) { found = Date().timeIntervalSince(t0) }
            log("sequence \(k): \(outcome.violations.count) violation(s), \(Int(Date().timeIntervalSince(t0))) s of \(Int(budget)) s"
                + (found != nil ? ": found" : ""))
        } while found == nil && Date().timeIntervalSince(t0) < budget
        if found == nil, let (o, v) = firstViolating { ops = o; outcome = v }
        var report = try run(ops, kernel: kernel, generation: generation, seed: seed, first: outcome, since: t0, coverage: coverage)
        report.search = .init(mode: mode, budgetSeconds: budget, sequences: k, firstFindingSeconds: found,
                              finding: found == nil ? nil : (settings.target ?? outcome.violations.first.map(StressLab.signature)),
                              violations: seen)
        return report
    }

    /// The rows of `generation`'s table no attempt has driven yet (and a trace event can drive).
    public static func unhit(_ c: ModelCoverage, generation: String) -> [StressRowTarget] {
        c.tables.filter { $0.generation == generation }.flatMap(\.rows)
            .filter { $0.hits == 0 && $0.drivenByTrace }.map { StressRowTarget(from: $0.from, event: $0.event) }
    }

    private func run(_ ops: [StressOp], kernel: String, generation: String, seed: UInt64?, first given: Outcome?,
                     since t0: Date, coverage initial: ModelCoverage?) throws -> StressReport {
        var coverage = initial
        let attempt: ([StressOp]) throws -> Outcome = { ops in
            let o = try self.attempt(ops)
            if let c = o.coverage { coverage = coverage.map { $0.merged(with: c) } ?? c }
            return o
        }
        let first = try given ?? attempt(ops)
        log("run 1: \(first.violations.count) violation(s)\(first.lost ? ", events lost" : "")")
        var runs = [first]
        if settings.replay {
            for i in 1..<max(1, settings.tries) {
                runs.append(try attempt(ops))
                log("run \(i + 1): \(runs.last!.violations.count) violation(s)")
            }
        }
        // The first run with a violation stands for the campaign (a replay's runs are equals).
        let shown = runs.first { !$0.violations.isEmpty } ?? first
        var report = StressReport(
            kernel: kernel, generation: generation, seed: seed,
            ops: ops.map(\.description), outcomes: shown.outcomes,
            verdict: !shown.violations.isEmpty ? .fail : runs.contains(where: \.lost) ? .inconclusive : .pass,
            settled: shown.settled,
            findings: shown.violations.map { f in
                let op = shown.opOfFinding[f.seq]
                return .init(rule: f.rule.rawValue, cause: f.cause?.rawValue, dev: f.dev, vid: f.key.map { Int($0.vid) },
                             event: f.event, message: f.message, op: op, opText: op.map { ops[$0 - 1].description })
            },
            target: nil, minimal: nil, shrinkRuns: 0, confirmed: nil, confirmRuns: nil,
            trace: shown.trace, minimalTrace: nil, seconds: 0)
        if settings.replay {
            report.replayRuns = runs.count
            var counts: [String: Int] = [:]
            for r in runs { for sig in Set(r.violations.map(StressLab.signature)) { counts[sig, default: 0] += 1 } }
            report.reproduced = counts
        }

        let chosen = settings.target.map { t in shown.violations.first { StressLab.signature($0).hasPrefix(t) } }
            ?? StressLab.preferredTarget(shown.violations)
        if let f = chosen {
            let target = StressLab.signature(f)
            report.target = target
            var shrinker = Shrinker<StressOp>(maxAttempts: settings.shrinkAttempts)
            shrinker.onProgress = { log("shrunk to \($0.count) ops: \(StressPlan.text($0))") }
            var runs = 0
            func reproduces(_ candidate: [StressOp]) throws -> Bool {
                for _ in 0..<settings.tries {
                    runs += 1
                    if try attempt(candidate).has(target) { return true }
                }
                return false
            }
            // The ops after the one the finding was seen at cannot have caused it: try
            // without them first (one run instead of many of ddmin's).
            var start = ops
            if let n = shown.opOfFinding[f.seq], n < ops.count, settings.shrinkAttempts > 0,
               try reproduces(Array(ops.prefix(n))) {
                start = Array(ops.prefix(n))
                log("cut after op \(n): \(n) ops")
            }
            let minimal = try shrinker.shrink(start, reproduces: reproduces)
            var confirmed = 0
            for _ in 0..<settings.confirm {
                let a = try attempt(minimal)
                if a.has(target) { confirmed += 1; report.minimalTrace = report.minimalTrace ?? a.trace }
            }
            report.minimal = minimal.map(\.description)
            report.shrinkRuns = runs
            report.confirmed = confirmed
            report.confirmRuns = settings.confirm
            log("minimal (\(minimal.count) ops, \(target) in \(confirmed)/\(settings.confirm) runs): \(StressPlan.text(minimal))")
        }
        report.seconds = Date().timeIntervalSince(t0)
        report.coverage = coverage
        return report
    }
}

extension StressLab {
    /// The lab as a campaign's attempt function.
    public func campaignAttempt(_ ops: [StressOp]) throws -> StressCampaign.Outcome {
        let a = try attempt(ops)
        return .init(violations: a.violations, lost: a.lost, settled: a.settled, outcomes: a.outcomes, trace: a.trace,
                     opOfFinding: a.opOfFinding, coverage: a.report?.coverage)
    }

    /// Removes the traces of attempts `from`... except `keep`.
    public func pruneTraces(keeping keep: Set<String>, from first: Int = 1) {
        for n in stride(from: first, through: attempts, by: 1) {
            let p = "\(out)/stress-attempt-\(n).jsonl"
            if !keep.contains(p) { try? FileManager.default.removeItem(atPath: p) }
        }
    }
}
