import Foundation
import IavfChecker
import IavfModel
import IavfProbes
import IavfRecorder
import IavfScenarios
import IavfSystem
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

/// The guest side of `stress`: one probe session for the whole run; each attempt resets
/// the testbed, records the ops with a fresh recorder and checker, and returns what the
/// checker found. The ring buffer is polled on this thread the whole time (the ops and
/// the resets run on a worker), so nothing is lost between attempts either.
public final class StressLab {
    public struct Attempt {
        public var number: Int
        public var ops: [StressOp]
        public var outcomes: [String]
        public var report: CheckReport?
        public var trace: String
        /// For each finding's seq, the op (1-based) whose mark came last before it.
        public var opOfFinding: [Int64: Int]
        public var settled: Bool

        public var violations: [Finding] { report?.findings.filter { $0.severity == .violation } ?? [] }
        public var lost: Bool { report?.verdict == .inconclusive }
        public func has(_ signature: String) -> Bool { violations.contains { StressLab.signature($0) == signature } }
    }

    let session: IavfProbeSession
    public let executor: StressExecutor
    let out: String
    let settleNs: UInt64
    let settleTimeout: Double
    let log: (String) -> Void
    public private(set) var attempts = 0
    private var handler: (ProbeStreamItem) throws -> Void = { _ in }
    private var failure: Error?

    /// The table the checker follows (`--model`), or the generation's built-in one.
    let table: ModelTable?

    public init(executor: StressExecutor, out: String, settleMs: Int = 300, settleTimeout: Double = 20,
         table: ModelTable? = nil, log: @escaping (String) -> Void) throws {
        self.table = table
        guard geteuid() == 0 else { throw EnvironmentProblem("stress needs root (it attaches BPF probes)") }
        guard FileManager.default.fileExists(atPath: "/sys/kernel/btf/iavf") else {
            throw EnvironmentProblem("iavf module BTF not found: load the driver first (modprobe iavf)")
        }
        do {
            session = try IavfProbeSession()
        } catch {
            throw EnvironmentProblem("could not load and attach the iavf probes: \(error)\n`iavf-check doctor` shows which probe fails and why")
        }
        self.executor = executor
        self.out = out
        self.settleNs = UInt64(settleMs) * 1_000_000
        self.settleTimeout = settleTimeout
        self.log = log
        try session.pipeline.setHandler { [unowned self] item in
            do { try self.handler(item) } catch { self.failure = error; return false }
            return true
        }
    }

    public func close() {
        try? session.pipeline.finish()
        session.close()
    }

    public var generation: Generation? { session.generation }

    /// "ghost-filter(R1)": what a shrunk sequence must reproduce.
    public static func signature(_ f: Finding) -> String {
        f.rule.rawValue + (f.cause.map { "(\($0.rawValue))" } ?? "")
    }

    /// Runs `body` on a worker thread while this thread polls the probes; `done` is asked
    /// after every poll, with the time the worker finished once it has.
    private func whileRunning(_ body: @escaping () -> Void, done: (UInt64?) throws -> Bool) throws {
        let finished = ManagedAtomicFlag()
        let t = Thread {
            body()
            finished.set(MonotonicClock.ns())
        }
        t.start()
        while true {
            _ = try session.pipeline.pollOnce(timeoutMs: 20)
            if let failure { throw failure }
            if try done(finished.value) { break }
        }
    }

    /// Resets the testbed, then runs `ops` with the recorder and the checker attached.
    public func attempt(_ ops: [StressOp]) throws -> Attempt {
        attempts += 1
        let number = attempts
        try resetTestbed()

        let path = "\(out)/stress-attempt-\(number).jsonl"
        var writer: TraceWriter?
        var checker: Checker?
        var settledCount = 0
        var resetOpen = false
        var lastMark: (seq: Int64, op: Int)?
        var opOfFinding: [Int64: Int] = [:]
        let table = self.table
        let recorder = TraceRecorder(
            generation: generation, kernel: LiveSession.kernelRelease(), settlePeriodNs: settleNs,
            start: { h in
                writer = try TraceWriter(path: path, header: h)
                let c = Checker(header: h, table: table?.generation == h.generation ? table : nil)
                c.onFinding = { f in if let m = lastMark { opOfFinding[f.seq] = m.op } }
                checker = c
            },
            emit: { e in
                try writer?.write(e)
                switch e.body {
                case .settled: if !resetOpen { settledCount += 1 }
                case .reset(let phase): resetOpen = phase == .enter
                case .mark(let text, _):
                    if let n = Self.opNumber(text) { lastMark = (e.seq, n) }
                default: break
                }
                checker?.feed(e)
            })
        var lastItemNs: UInt64 = 0
        // The ops act on VF1: its marks belong to it even before its first record.
        recorder.markDevice = executor.bed.vfs[0].pci
        handler = { item in
            lastItemNs = MonotonicClock.ns()
            try recorder.handle(item)
        }
        let marks = MarkQueue()
        var outcomes: [String] = []
        var settledAtDone: Int?
        var settled = false
        try whileRunning({
            for (i, op) in ops.enumerated() {
                marks.add("stress op \(i + 1): \(op)", nil)
                outcomes.append(self.executor.run(op).description)
            }
        }, done: { finishedAt in
            let now = MonotonicClock.ns()
            for m in marks.drain() { try recorder.mark(m.text, result: m.result, nowNs: m.t) }
            try recorder.tick(nowNs: now)
            guard let finishedAt else { return false }
            if settledAtDone == nil { settledAtDone = settledCount }
            // Done once the driver has settled after the last op (or was already quiet:
            // nothing from the probes for a second), or the budget is spent.
            // 2.5 s: longer than iavf's 2 s watchdog, which is what notices a reset.
            let idle = now >= max(lastItemNs, finishedAt) + 2_500_000_000 && !resetOpen
            if settledCount > settledAtDone! || idle { settled = true; return true }
            return Double(now - finishedAt) / 1e9 > settleTimeout
        })
        for m in marks.drain() { try recorder.mark(m.text, result: m.result, nowNs: m.t) }
        try recorder.finish()
        try writer?.close()
        handler = { _ in }
        return Attempt(number: number, ops: ops, outcomes: outcomes, report: checker?.finish(), trace: path,
                       opOfFinding: opOfFinding, settled: settled)
    }

    /// What to shrink for: a race or residual hole (R*, S*, P-*) over a trait of the
    /// unpatched design (U-*: every delete frees at send), so the minimal sequence shows
    /// an interleaving rather than the design; otherwise the first violation.
    public static func preferredTarget(_ violations: [Finding]) -> Finding? {
        violations.first { f in f.cause.map { !$0.rawValue.hasPrefix("U-") } ?? false } ?? violations.first
    }

    /// Where the driver is between attempts, from the probes (not recorded).
    private final class Quiet {
        var state = DriverQuiet()
    }

    /// Brings the testbed back to its start state, and makes sure the driver is there too
    /// before the next attempt records anything: no reset in flight, no VLAN work pending,
    /// an empty filter list. Otherwise a reset or a delete left over from the previous
    /// attempt would race the next one's ops, and the shrinker would credit the candidate
    /// with what its predecessor did.
    private func resetTestbed() throws {
        let quiet = Quiet()
        let recorder = TraceRecorder(generation: generation, kernel: LiveSession.kernelRelease(), settlePeriodNs: settleNs,
                                     start: { _ in }, emit: { e in
            quiet.state.note(e.body, nowNs: MonotonicClock.ns())
        })
        handler = { item in try recorder.handle(item) }
        defer { handler = { _ in } }
        /// Runs `body` on the worker, then polls until the driver has settled after it.
        func settle(_ body: @escaping () -> Void, needEmpty: Bool) throws -> Bool {
            var at: DriverQuiet?
            var ok = false
            try whileRunning(body, done: { finishedAt in
                let now = MonotonicClock.ns()
                try recorder.tick(nowNs: now)
                guard let finishedAt else { return false }
                if at == nil { at = quiet.state }
                // Settled after the body, or (an idle driver gives no `settled`) no driver
                // activity for a second after it.
                if quiet.state.isQuiet(since: at!, startNs: finishedAt, nowNs: now, idleNs: 1_000_000_000)
                    && (!needEmpty || quiet.state.listEmpty != false) {
                    ok = true
                    return true
                }
                return Double(now - finishedAt) / 1e9 > settleTimeout
            })
            return ok
        }
        // Let whatever the last attempt started (a reset, a queued delete) finish first.
        _ = try settle({}, needEmpty: false)
        var problem: String?
        if try !settle({ problem = self.executor.reset() }, needEmpty: true) || problem != nil {
            log("the driver did not come back clean (\(problem ?? "filters left in the list")): rebinding VF1")
            problem = nil
            if try !settle({ problem = self.executor.rebind() }, needEmpty: true) || problem != nil {
                throw EnvironmentProblem("cannot bring the testbed back to its start state: \(problem ?? "the driver keeps filters or does not settle")")
            }
        }
    }

    /// "stress op 12: add 104" -> 12.
    public static func opNumber(_ mark: String) -> Int? {
        guard mark.hasPrefix("stress op "), let colon = mark.firstIndex(of: ":") else { return nil }
        return Int(mark[mark.index(mark.startIndex, offsetBy: 10)..<colon])
    }
}

/// A value set once from another thread.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: UInt64?
    func set(_ v: UInt64) { lock.lock(); stored = v; lock.unlock() }
    var value: UInt64? { lock.lock(); defer { lock.unlock() }; return stored }
}
