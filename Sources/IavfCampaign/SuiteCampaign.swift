import Foundation
import IavfChecker
import IavfKTAP
import IavfModel
import IavfScenarios
import IavfSystem
import IavfVM
#if canImport(Glibc)
import Glibc
#endif

/// `suite run` on the host: for each kernel a guest with the emulated PF, the cases under
/// `watch`, then the runner's results joined with the checker's by case name; suite.json and
/// suite.ktap written at the end, and on SIGINT/SIGTERM with what finished so far.
public struct SuiteCampaign {
    /// The columns: each kernel with the iavf it runs (`GuestTarget.plan`).
    public var targets: [GuestTarget]
    public var out: String
    public var moduleDir: String
    public var exe: String
    public var timeout: Double
    /// Only cases whose name contains this.
    public var only: String?
    /// Runs per kernel (races make one run an anecdote; the report gives failure rates).
    public var repeatCount = 1
    /// Guests at once (`--jobs`): the kernels' runs are independent, and a guest under TCG
    /// spends much of a case waiting for the driver, so two share two cores well.
    public var jobs = 1
    /// How one (kernel, run) is run: a guest (`runKernel`); tests pass a function.
    public var runOne: ((_ target: GuestTarget, _ tag: String, _ run: Int?) throws -> SuiteReport.Kernel)?
    /// Arguments for the guest's `watch` (`--model FILE`).
    public var watchArguments: [String] = []
    /// Each finished case as it is reported (nil: no live progress).
    public var onCase: ((SuiteProgress.Line) -> Void)?
    /// Set-up notes (kernel fetched, module built).
    public var note: (String) -> Void = { _ in }

    public init(targets: [GuestTarget], out: String, moduleDir: String, exe: String, timeout: Double) {
        self.targets = targets
        self.out = out
        self.moduleDir = moduleDir
        self.exe = exe
        self.timeout = timeout
    }

    public func run() throws -> SuiteReport {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // What an interrupted run can still report: the kernels done, and the cases the
        // current guest finished (its KTAP lines so far).
        final class State: @unchecked Sendable {
            let lock = NSLock()
            var runs: [Int: SuiteReport.Kernel] = [:]
            var current: [Int: (name: String, tag: String, since: Date)] = [:]
            var failure: Error?
            var next = 0
        }
        let state = State()
        let out = self.out
        // Every (kernel, run) of the table, in the order the report lists them.
        let items: [(target: GuestTarget, index: Int?)] = targets.flatMap { t in
            (1...max(1, repeatCount)).map { (t, repeatCount > 1 ? $0 : nil) }
        }
        let hook = Interruption.onInterrupt { sig in
            state.lock.lock()
            var runs = state.runs
            for (i, c) in state.current {
                runs[i] = .init(kernel: c.name, release: "?", checkerVerdict: "?", seconds: Date().timeIntervalSince(c.since),
                                problem: "interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM")",
                                cases: Self.casesSoFar(out: out, tag: c.tag))
                runs[i]?.run = items[i].index
            }
            state.lock.unlock()
            let ordered = runs.sorted { $0.key < $1.key }.map(\.value)
            try? SuiteReport(kernels: ordered, interrupted: true).write(to: out)
            let summary = ordered.map { "\($0.kernel): \($0.cases.count) cases" }.joined(separator: ", ")
            FileHandleOutput.stderr("iavf-check suite: partial results (\(summary)) in \(out)/suite.json\n")
        }
        defer { Interruption.removeHook(hook) }
        /// Takes items off the list until none is left (or one failed for the environment).
        func worker() {
            while true {
                state.lock.lock()
                guard state.failure == nil, state.next < items.count else { state.lock.unlock(); return }
                let n = state.next
                state.next += 1
                let (target, index) = items[n]
                let k = target.label
                let tag = Self.tag(target, run: index)
                state.current[n] = (k, tag, Date())
                state.lock.unlock()
                var run: SuiteReport.Kernel
                do {
                    run = try runOne?(target, tag, index) ?? runKernel(target, tag: tag, runIndex: index)
                } catch let e as VMError {
                    switch e {
                    case .timeout, .guestCrashed:
                        // The driver's business (a panic, a hang): a failure, with what ran before it.
                        run = .init(kernel: k, release: "?", checkerVerdict: "?", seconds: 0, problem: "\(e)",
                                    cases: Self.casesSoFar(out: out, tag: tag))
                    default:
                        state.lock.lock(); state.failure = state.failure ?? EnvironmentProblem("\(k): \(e)"); state.current[n] = nil; state.lock.unlock()
                        return
                    }
                } catch {
                    state.lock.lock(); state.failure = state.failure ?? error; state.current[n] = nil; state.lock.unlock()
                    return
                }
                run.run = index
                state.lock.lock(); state.runs[n] = run; state.current[n] = nil; state.lock.unlock()
            }
        }
        let width = max(1, min(jobs, items.count))
        if width == 1 {
            worker()
        } else {
            // The workers share only `state` (locked); each guest's files carry its own tag.
            final class Work: @unchecked Sendable { let run: () -> Void; init(_ r: @escaping () -> Void) { run = r } }
            let work = Work(worker)
            let group = DispatchGroup()
            for _ in 0..<width {
                group.enter()
                Thread { work.run(); group.leave() }.start()
            }
            group.wait()
        }
        if let failure = state.failure { throw failure }
        let report = SuiteReport(kernels: state.runs.sorted { $0.key < $1.key }.map(\.value), interrupted: false)
        try report.write(to: out)
        return report
    }

    /// What the guest's case runner finished so far, from its KTAP lines (console-TAG.txt is
    /// written live over the shared directory).
    static func casesSoFar(out: String, tag: String) -> [SuiteCaseOutcome] {
        SuiteResults.ktapResults((try? String(contentsOfFile: "\(out)/console-\(tag).txt", encoding: .utf8)) ?? "")
    }

    /// File names of a kernel's run: the kernel's tag, with `-runN` when repeated.
    static func tag(_ t: GuestTarget, run: Int?) -> String { t.tag + (run.map { "-run\($0)" } ?? "") }

    func runKernel(_ target: GuestTarget, tag: String, runIndex: Int?) throws -> SuiteReport.Kernel {
        let t0 = Date()
        let k = target.label
        var guest = EmulatedPFGuest(kernel: target.kernel, out: out, moduleDir: moduleDir, exe: exe, timeout: timeout, tag: tag)
        guest.iavf = target.iavf
        guest.label = target.label
        guest.progress = true
        for f in ["cases-\(tag).json", "watch-\(tag).json", "console-\(tag).txt"] { try? FileManager.default.removeItem(atPath: "\(out)/\(f)") }
        let q = GuestCommand.quote
        let watch = (["\"$IAVF_CHECK\"", "watch", "-o", "\"$OUT/trace-\(tag).jsonl\"", "--format", "json", "--settle-ms", "300",
                      "--quiet-file", "/tmp/iavf-quiet", "--coverage"] + watchArguments.map(q)).joined(separator: " ")
        let cases = (["\"$IAVF_CHECK\"", "suite", "cases", "--pf-control", EmulatedPFGuest.pfControl, "--pf-trace", q(guest.pfTrace),
                      "--quiet-file", "/tmp/iavf-quiet", "--results", "\"$OUT/cases-\(tag).json\""]
                     + (only.map { ["--only", q($0)] } ?? [])).joined(separator: " ")
        var tail: FileTail?
        if let onCase {
            let total = SuiteResults.expectedNames(only: only).count
            let progress = SuiteProgress(kernel: k + (runIndex.map { " run \($0)" } ?? ""), total: total)
            tail = FileTail(path: "\(out)/console-\(tag).txt") { line in
                if let l = progress.feed(line) { onCase(l) }
            }
        }
        defer { tail?.stop() }
        let outcome = try guest.run(job: "\(watch) -- \\\n  \(cases) > \"$OUT/watch-\(tag).json\" 2> \"$OUT/console-\(tag).txt\"",
                                    note: note)
        var run = Self.collect(kernel: k, tag: tag, release: outcome.release, jobFinished: outcome.jobExit != nil,
                               out: out, only: only, seconds: Date().timeIntervalSince(t0))
        let t = outcome.timing
        run.time = TimeBreakdown(prepare: t.prepare, boot: t.boot, pfAndDrivers: t.pfAndDrivers, job: t.job,
                                 total: Date().timeIntervalSince(t0), cases: run.cases)
        if let console = try? String(contentsOfFile: "\(out)/console-\(tag).txt", encoding: .utf8) {
            run.time?.addGuestCounts(console: console)
        }
        return run
    }

    /// The runner's own results (or, when it died, its KTAP lines so far), then the
    /// checker's counts and labels joined by case name; a problem when the guest did not
    /// finish or ran fewer cases than the catalogue.
    public static func collect(kernel k: String, tag: String, release: String, jobFinished: Bool, out: String,
                               only: String?, seconds: Double) -> SuiteReport.Kernel {
        var cases: [SuiteCaseOutcome]
        if let d = FileManager.default.contents(atPath: "\(out)/cases-\(tag).json"),
           let list = try? JSONDecoder().decode([SuiteCaseOutcome].self, from: d) {
            cases = list
        } else {
            cases = casesSoFar(out: out, tag: tag)
        }
        var verdict = "?"
        var coverage: ModelCoverage?
        if let d = FileManager.default.contents(atPath: "\(out)/watch-\(tag).json"),
           let doc = try? CheckReportDocument.decode(d) {
            verdict = doc.verdict.rawValue
            coverage = doc.coverage
            cases = SuiteResults.join(cases, checker: doc.cases.map {
                CheckerCaseCount(name: $0.name, findings: $0.findings, violations: $0.violations)
            })
            // The checker's rule(cause) labels per case, by name like the counts.
            var perCase: [String: [String]] = [:]
            for c in doc.cases { perCase[c.name, default: []] += c.rules }
            for i in cases.indices { cases[i].rules = perCase[cases[i].name] ?? [] }
        }
        var problems: [String] = []
        if !jobFinished { problems.append("the suite did not finish in the guest") }
        if let short = SuiteResults.shortfall(ran: cases.map(\.name), expected: SuiteResults.expectedNames(only: only)) {
            problems.append(short)
        }
        var problem: String?
        if !problems.isEmpty {
            let console = (try? String(contentsOfFile: "\(out)/console-\(tag).txt", encoding: .utf8)) ?? ""
            let tail = console.split(separator: "\n").suffix(3).joined(separator: " | ")
            problem = problems.joined(separator: "; ") + "; see \(out)/console-\(tag).txt" + (tail.isEmpty ? "" : ": \(tail)")
        }
        var run = SuiteReport.Kernel(kernel: k, release: release, checkerVerdict: verdict, seconds: seconds, problem: problem, cases: cases)
        run.coverage = coverage
        return run
    }
}

/// Live progress of a guest's suite from its console (the runner's KTAP lines and `watch`'s
/// findings as they print): one line per finished case.
public final class SuiteProgress: @unchecked Sendable {
    public struct Line: Sendable, Equatable {
        public var kernel: String
        public var number: Int
        public var total: Int
        public var name: String
        public var passed: Bool
        public var reason: String
        public var seconds: Double?
        /// The checker's findings printed while the case ran: "VIOLATION ghost-filter ...".
        public var findings: [String]

        public var text: String {
            var s = "\(passed ? "PASS" : "FAIL") \(name)\(seconds.map { String(format: " (%.1f s)", $0) } ?? "")  [\(kernel) \(number)/\(total)]"
            if !passed && !reason.isEmpty { s += "\n    \(reason)" }
            for f in findings.prefix(5) { s += "\n    checker: \(f)" }
            if findings.count > 5 { s += "\n    checker: ... \(findings.count - 5) more" }
            return s
        }
    }

    private let kernel: String
    private let total: Int
    private let lock = NSLock()
    private var pendingFindings: [String] = []
    private var lastComment: String?
    private var last: Line?
    private var count = 0
    private var seconds: Double?

    public init(kernel: String, total: Int) {
        self.kernel = kernel
        self.total = total
    }

    /// One console line; returns a finished case's line when `line` completes one (the
    /// runner prints `# took S s` and a failure's `# name: reason` before its point).
    public func feed(_ line: String) -> Line? {
        lock.lock(); defer { lock.unlock() }
        if line.hasPrefix("iavf-check: VIOLATION ") || line.hasPrefix("iavf-check: WARNING ") || line.hasPrefix("iavf-check: NOTE ") {
            pendingFindings.append(String(line.dropFirst("iavf-check: ".count)))
            return nil
        }
        if line.hasPrefix("# took "), let s = Double(line.dropFirst(7).split(separator: " ").first ?? "") {
            seconds = s
            return nil
        }
        if line.hasPrefix("# ") { lastComment = String(line.dropFirst(2)); return nil }
        defer { lastComment = nil }
        guard let p = KTAPReader.points(line).first else { return nil }
        count += 1
        var reason = ""
        if p.result == .notOk, let c = lastComment, c.hasPrefix(p.name + ": ") { reason = String(c.dropFirst(p.name.count + 2)) }
        let l = Line(kernel: kernel, number: count, total: total, name: p.name, passed: p.result != .notOk,
                     reason: reason, seconds: seconds, findings: pendingFindings)
        pendingFindings = []
        seconds = nil
        return l
    }
}
