import ArgumentParser
import Foundation
import IavfChecker
import IavfScenarios
import IavfVM

/// `iavf-check stress`: seeded random interleavings against the real drivers, the checker
/// as the oracle, and a shrunk op sequence for what it finds.
struct StressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress",
        abstract: "Random VLAN/down/up/namespace/reset/FLR/PF-fault interleavings on the real driver; shrink what the checker finds.",
        discussion: """
        Boots each kernel with the emulated PF (as `suite` does), draws --ops ops from --seed \
        (SplitMix64: the same seed gives the same ops everywhere) and runs them against VF1 \
        with the probes and the checker attached. Ops:
          add VID, del VID      a VLAN device on VF1 (VIDs 100-109; the PF allows 8)
          down, up              ip link set VF1 down/up
          netns                 move VF1 to the other test namespace and up (its VLANs go)
          pf-reset, flr         PF-initiated VF reset; VF function-level reset
          link-flap             the PF reports link down, then up 50 ms later
          reject-add/-del       the PF rejects VF1's next VLAN ADD/DEL message
          wait MS               let queued work go out (or not)
        After the last op it waits for the driver to settle, then asks the checker. A \
        violation is shrunk: ops are dropped while the same rule (and cause) still fires, \
        each candidate tried up to --tries times on a testbed reset to its start state; the \
        minimal sequence is then run --confirm times. Prints the seed, the finding, the op \
        after which it was seen, the minimal sequence, and the command that replays it.

        Writes to --output/KERNEL: stress.json, the attempts' traces (the first and the \
        minimal one are kept), the PF's trace, logs.

        Exit codes: 0 no violation on any kernel, 1 a violation (with its minimal sequence), \
        3 environment problem, 4 inconclusive (events were lost and nothing was found), \
        130/143 interrupted by SIGINT/SIGTERM (the guest is killed with iavf-check).
        """,
        subcommands: [StressRunCommand.self, StressGuestCommand.self],
        defaultSubcommand: StressRunCommand.self
    )
}

/// Options the host command passes through to the guest.
struct StressOptions: ParsableArguments {
    @OptionGroup var model: ModelOption

    @Option(help: "Seed of the op sequence (default: drawn from the clock and printed).")
    var seed: UInt64?

    @Option(help: "How many ops to draw.")
    var ops: Int = 30

    @Option(help: "Run these ops instead of drawing them: 'add 100; del 100; down'.")
    var replay: String?

    @Option(help: "Most candidate sequences the shrinker may try (each is run up to --tries times).")
    var shrinkAttempts: Int = 40

    @Option(help: "Runs of a candidate before it counts as not reproducing (races need luck).")
    var tries: Int = 2

    @Option(help: "Runs of the minimal sequence to say how reliably it reproduces.")
    var confirm: Int = 3

    @Option(help: "Op kinds never to draw, comma-separated (e.g. reject-add when its known finding dominates).")
    var without: String?

    var excluded: Set<String> {
        Set((without ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    @Option(help: "Shrink for this finding, e.g. ghost-filter or 'ghost-filter(R1)' (default: the first race, else the first violation).")
    var target: String?

    func validate() throws {
        guard (1...2000).contains(ops) else { throw ValidationError("--ops must be 1...2000") }
        guard shrinkAttempts >= 0 else { throw ValidationError("--shrink-attempts must be >= 0") }
        guard (1...10).contains(tries) else { throw ValidationError("--tries must be 1...10") }
        guard (0...20).contains(confirm) else { throw ValidationError("--confirm must be 0...20") }
        if let replay { do { _ = try StressPlan.parse(replay) } catch { throw ValidationError("--replay: \(error)") } }
        let kinds = Set(StressPlan.weights.map(\.kind))
        if let bad = excluded.first(where: { !kinds.contains($0) }) {
            throw ValidationError("--without: '\(bad)' is not an op kind (\(StressPlan.weights.map(\.kind).joined(separator: ", ")))")
        }
        if excluded.count == kinds.count { throw ValidationError("--without excludes every op kind") }
    }

    var guestArguments: [String] {
        var a = ["--ops", String(ops), "--shrink-attempts", String(shrinkAttempts), "--tries", String(tries),
                 "--confirm", String(confirm)]
        if let seed { a += ["--seed", String(seed)] }
        if let target { a += ["--target", target] }
        if let without { a += ["--without", without] }
        if let replay { a += ["--replay", replay] }
        // Validated on the host (load() exits 2 on bad input) before a guest boots.
        a += (try? model.guestArguments()) ?? []
        return a
    }
}

/// What the guest reports for one kernel (stress.json).
struct StressReport: Codable {
    struct Entry: Codable {
        var rule: String
        var cause: String?
        var dev: String
        var vid: Int?
        var event: String
        var message: String
        var op: Int?
        var opText: String?
    }

    var kernel: String
    var generation: String
    var seed: UInt64?
    var ops: [String]
    var outcomes: [String]
    /// pass, fail or inconclusive.
    var verdict: String
    var settled: Bool
    var findings: [Entry]
    var target: String?
    var minimal: [String]?
    var shrinkRuns: Int
    var confirmed: Int?
    var confirmRuns: Int?
    var trace: String
    var minimalTrace: String?
    var seconds: Double
}

struct StressRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot the kernel(s) with the emulated PF and run a seeded stress sequence (the default of `stress`)."
    )

    enum Format: String, ExpressibleByArgument { case text, json }

    @OptionGroup var stress: StressOptions

    @Option(help: "unpatched (6.1.170), patched (6.1.192) or both.")
    var kernel: KernelChoice = .both

    @Option(name: .shortAndLong, help: "Directory for traces, logs and stress.json.")
    var output: String = "stress-out"

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @OptionGroup var pf: PFModuleOption

    @Option(help: "Hard timeout per kernel, seconds.")
    var timeout: Double = 1800

    func run() throws {
        Interruption.install()
        let seed = stress.replay == nil ? (stress.seed ?? UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000) : nil
        var opts = stress
        opts.seed = seed
        _ = try opts.model.load()
        let kernels = kernel.names
        let out = URL(fileURLWithPath: output).standardizedFileURL.path
        let moduleDir = try pf.directory()
        if let seed { FileHandleOutput.stderr("iavf-check stress: seed \(seed), \(opts.ops) ops\n") }
        var reports: [(String, String, StressReport)] = []
        for k in kernels {
            let dir = "\(out)/\(k)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let args = (["--pf-control", EmulatedPFGuest.pfControl, "--pf-trace", "\(dir)/pf-\(k).jsonl",
                         "--output", dir, "--kernel-name", k] + opts.guestArguments)
                .map { "'" + $0.replacingOccurrences(of: "'", with: "") + "'" }.joined(separator: " ")
            let guest = EmulatedPFGuest(kernel: k, out: dir, moduleDir: moduleDir, exe: EmulatedPFGuest.executable,
                                        timeout: timeout, tag: k)
            let outcome: EmulatedPFGuest.Outcome
            // The guest writes its progress to a file in the shared directory: show it here.
            let tail = FileTail(path: "\(dir)/stress-\(k).log") { FileHandleOutput.stderr("  \(k): " + $0 + "\n") }
            defer { tail.stop() }
            do {
                outcome = try guest.run(job: "\"$IAVF_CHECK\" stress guest \(args) 2> \"$OUT/stress-\(k).log\"")
            } catch let e as VMError {
                FileHandleOutput.stderr("iavf-check: \(k): \(e)\n")
                throw ExitCode(ExitStatus.environment)
            }
            guard let data = FileManager.default.contents(atPath: "\(dir)/stress.json"),
                  let report = try? JSONDecoder().decode(StressReport.self, from: data) else {
                let log = (try? String(contentsOfFile: "\(dir)/stress-\(k).log", encoding: .utf8)) ?? ""
                FileHandleOutput.stderr("iavf-check: \(k): the stress run did not finish (exit \(outcome.jobExit.map(String.init) ?? "none")); see \(dir)/stress-\(k).log\n\(log.suffix(1500))\n")
                throw ExitCode(ExitStatus.environment)
            }
            reports.append((k, outcome.release, report))
        }
        if format == .json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileHandleOutput.stdout(String(decoding: try enc.encode(reports.map(\.2)), as: UTF8.self) + "\n")
        } else {
            for (k, release, r) in reports { FileHandleOutput.stdout(Self.text(k, release, r)) }
        }
        if reports.contains(where: { $0.2.verdict == "fail" }) { throw ExitCode(ExitStatus.fail) }
        if reports.contains(where: { $0.2.verdict == "inconclusive" }) { throw ExitCode(ExitStatus.inconclusive) }
    }

    static func text(_ k: String, _ release: String, _ r: StressReport) -> String {
        var s = "=== \(k) (\(release), \(r.generation)): " + (r.seed.map { "seed \($0), " } ?? "replay, ")
        s += "\(r.ops.count) ops, \(Int(r.seconds)) s: \(r.verdict.uppercased())\n"
        if !r.settled { s += "  (the driver did not settle after the last op: rules judged at settle points were not applied)\n" }
        for f in r.findings.prefix(10) {
            s += "  \(f.rule)\(f.cause.map { " (\($0))" } ?? "") on \(f.dev)\(f.vid.map { " VLAN \($0)" } ?? "") at \(f.event)"
            s += f.op.map { " after op \($0) '\(f.opText ?? "?")'" } ?? " before the first op"
            s += ": \(f.message)\n"
        }
        if r.findings.count > 10 { s += "  ... \(r.findings.count - 10) more in stress.json\n" }
        if let target = r.target, let minimal = r.minimal {
            s += "  shrunk \(r.ops.count) -> \(minimal.count) ops in \(r.shrinkRuns) runs; \(target) "
            s += "reproduced \(r.confirmed ?? 0)/\(r.confirmRuns ?? 0) times:\n    \(minimal.joined(separator: "; "))\n"
            s += "  replay: iavf-check stress --kernel \(k) --replay '\(minimal.joined(separator: "; "))'\n"
        }
        s += "  trace: \(r.trace)\(r.minimalTrace.map { "; minimal: \($0)" } ?? "")\n"
        return s
    }
}

/// The part that runs inside the guest with the PF up and iavf bound.
struct StressGuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guest",
        abstract: "Run the stress sequence here (inside a guest with the emulated PF running and iavf bound).",
        discussion: "Usually started by `iavf-check stress`; writes stress.json and the attempts' traces to --output."
    )

    @OptionGroup var stress: StressOptions

    @Option(help: "The emulated PF's control FIFO (iavf-check pf --control).")
    var pfControl: String

    @Option(help: "The emulated PF's trace of programmed VLANs (iavf-check pf --trace).")
    var pfTrace: String

    @Option(name: .shortAndLong, help: "Directory for stress.json and traces.")
    var output: String

    @Option(help: "The kernel's name in the report.")
    var kernelName: String = "guest"

    func run() throws {
        let t0 = Date()
        func log(_ s: String) { FileHandleOutput.stderr("iavf-check stress: \(s)\n") }
        let bed = Testbed(pfControl: pfControl, pfTrace: pfTrace) { log($0) }
        let lab: StressLab
        do {
            try bed.setUp(count: 2)
            lab = try StressLab(executor: StressExecutor(bed: bed), out: output, table: try stress.model.load(), log: log)
        } catch {
            log("set-up failed: \(error)")
            throw ExitCode(ExitStatus.environment)
        }
        defer { lab.close(); bed.tearDown() }
        let seed = stress.replay == nil ? (stress.seed ?? 1) : nil
        let ops = try stress.replay.map { try StressPlan.parse($0) } ?? StressPlan.generate(seed: seed!, count: stress.ops, excluding: stress.excluded)
        log("\(seed.map { "seed \($0): " } ?? "replay: ")\(StressPlan.text(ops))")

        let first = try lab.attempt(ops)
        log("run 1: \(first.violations.count) violation(s), verdict \(first.report?.verdict.rawValue ?? "no events")")
        var report = StressReport(
            kernel: kernelName, generation: lab.generation?.rawValue ?? "unknown", seed: seed,
            ops: ops.map(\.description), outcomes: first.outcomes,
            verdict: first.violations.isEmpty ? (first.lost ? "inconclusive" : "pass") : "fail",
            settled: first.settled,
            findings: first.violations.map { f in
                let op = first.opOfFinding[f.seq]
                return .init(rule: f.rule.rawValue, cause: f.cause?.rawValue, dev: f.dev, vid: f.key.map { Int($0.vid) },
                             event: f.event, message: f.message, op: op, opText: op.map { ops[$0 - 1].description })
            },
            target: nil, minimal: nil, shrinkRuns: 0, confirmed: nil, confirmRuns: nil,
            trace: first.trace, minimalTrace: nil, seconds: 0)
        var keep: Set<String> = [first.trace]

        if let f = stress.target.map({ t in first.violations.first { StressLab.signature($0).hasPrefix(t) } })
            ?? StressLab.preferredTarget(first.violations) {
            let target = StressLab.signature(f)
            report.target = target
            var shrinker = Shrinker<StressOp>(maxAttempts: stress.shrinkAttempts)
            shrinker.onProgress = { log("shrunk to \($0.count) ops: \(StressPlan.text($0))") }
            var runs = 0
            func reproduces(_ candidate: [StressOp]) throws -> Bool {
                for _ in 0..<stress.tries {
                    runs += 1
                    if try lab.attempt(candidate).has(target) { return true }
                }
                return false
            }
            // The ops after the one the finding was seen at cannot have caused it: try
            // without them first (one run instead of many of ddmin's).
            var start = ops
            if let n = first.opOfFinding[f.seq], n < ops.count, stress.shrinkAttempts > 0,
               try reproduces(Array(ops.prefix(n))) {
                start = Array(ops.prefix(n))
                log("cut after op \(n): \(n) ops")
            }
            let minimal = try shrinker.shrink(start, reproduces: reproduces)
            var confirmed = 0
            var minimalTrace: String?
            for _ in 0..<stress.confirm {
                let a = try lab.attempt(minimal)
                if a.has(target) { confirmed += 1; minimalTrace = minimalTrace ?? a.trace }
            }
            report.minimal = minimal.map(\.description)
            report.shrinkRuns = runs
            report.confirmed = confirmed
            report.confirmRuns = stress.confirm
            report.minimalTrace = minimalTrace
            if let minimalTrace { keep.insert(minimalTrace) }
            log("minimal (\(minimal.count) ops, \(target) in \(confirmed)/\(stress.confirm) runs): \(StressPlan.text(minimal))")
        }
        // Keep the first run's trace and one reproducing run of the minimal sequence.
        for n in 1...lab.attempts {
            let p = "\(output)/stress-attempt-\(n).jsonl"
            if !keep.contains(p) { try? FileManager.default.removeItem(atPath: p) }
        }
        report.seconds = Date().timeIntervalSince(t0)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        FileManager.default.createFile(atPath: "\(output)/stress.json", contents: try enc.encode(report))
    }
}

/// Follows a file another process appends to, handing each new line to `line` (on a
/// thread of its own) until `stop()`, which also delivers what is left.
final class FileTail: @unchecked Sendable {
    private let path: String
    private let line: (String) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var offset: UInt64 = 0
    private var partial = Data()
    private var thread: Thread?

    init(path: String, line: @escaping (String) -> Void) {
        self.path = path
        self.line = line
        try? FileManager.default.removeItem(atPath: path)
        let t = Thread { [weak self] in
            while let self, !self.isStopped {
                self.poll()
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread = t
        t.start()
    }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    private func poll() {
        lock.lock(); defer { lock.unlock() }
        guard let h = FileHandle(forReadingAtPath: path) else { return }
        defer { try? h.close() }
        try? h.seek(toOffset: offset)
        let data = h.readDataToEndOfFile()
        offset += UInt64(data.count)
        partial.append(data)
        while let nl = partial.firstIndex(of: 0x0a) {
            var text = String(decoding: partial[partial.startIndex..<nl], as: UTF8.self)
            if text.hasPrefix("iavf-check stress: ") { text.removeFirst(19) }
            partial.removeSubrange(partial.startIndex...nl)
            line(text.count > 300 ? String(text.prefix(300)) + " ..." : text)
        }
    }

    func stop() {
        poll()
        lock.lock(); stopped = true; lock.unlock()
    }
}
