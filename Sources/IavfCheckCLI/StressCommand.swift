import ArgumentParser
import Foundation
import IavfCampaign
import IavfReport
import IavfChecker
import IavfScenarios

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
        With --replay, the sequence runs --tries times and each violation is reported as a \
        rate (ghost-filter(S3) in 7/20): a race reproduces at a rate, a fix should bring it \
        to 0/N (add --shrink-attempts 0 when the sequence is already minimal).

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

    @Option(help: "Runs of a candidate before it counts as not reproducing (races need luck); with --replay, runs of the sequence, each finding reported as a rate.")
    var tries: Int = 2

    @Option(help: "Runs of the minimal sequence to say how reliably it reproduces.")
    var confirm: Int = 3

    @Option(help: "How ops are drawn: uniform (every kind by weight), swarm (a per-seed subset of kinds), guided (swarm, plus VLAN work timed right after resets, downs and deletes) or coverage (guided, plus the op pairs that drive the model rows no attempt of the campaign has hit yet; with --search each sequence aims at what the previous ones missed).")
    var mode: StressMode = .uniform

    @Option(help: ArgumentHelp("Search: draw sequence after sequence from the seed (each a fresh attempt) until the --target (else any violation) shows up or SECONDS of guest time are spent; reports the time to the first finding. With --mode coverage each next sequence aims at the model rows the previous ones left unhit.", valueName: "SECONDS"))
    var search: Double?

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
        guard (1...(replay == nil ? 10 : 100)).contains(tries) else { throw ValidationError("--tries must be 1...10 (1...100 with --replay)") }
        guard (0...20).contains(confirm) else { throw ValidationError("--confirm must be 0...20") }
        if let search {
            guard (1...86_400).contains(search) else { throw ValidationError("--search must be 1...86400 seconds") }
            guard replay == nil else { throw ValidationError("--search draws its sequences; it does not take --replay") }
        }
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
        if mode != .uniform { a += ["--mode", mode.rawValue] }
        if let search { a += ["--search", String(search)] }
        if let replay { a += ["--replay", replay] }
        // Validated on the host (load() exits 2 on bad input) before a guest boots.
        a += (try? model.guestArguments()) ?? []
        return a
    }

    var campaignSettings: StressCampaign.Settings {
        var c = StressCampaign.Settings()
        c.shrinkAttempts = shrinkAttempts
        c.tries = tries
        c.confirm = confirm
        c.target = target
        c.replay = replay != nil
        c.searchSeconds = search
        return c
    }
}

struct StressRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot the kernel(s) with the emulated PF and run a seeded stress sequence (the default of `stress`)."
    )

    enum Format: String, ExpressibleByArgument { case text, json, junit }

    @OptionGroup var stress: StressOptions

    @OptionGroup var kernel: KernelOption

    @OptionGroup var iavf: IavfOption

    @Option(name: .shortAndLong, help: "Directory for traces, logs and stress.json.")
    var output: String = "stress-out"

    @Option(help: "Output format: text, json or junit (JUnit XML for CI servers).")
    var format: Format = .text

    @OptionGroup var pf: PFModuleOption

    @Option(help: "Hard timeout per kernel, seconds.")
    var timeout: Double = 1800

    @Option(help: ArgumentHelp("Run a campaign per seed of the range A-B (one guest per kernel), instead of --seed.", valueName: "A-B"))
    var seeds: String?

    @Option(help: ArgumentHelp("With --seeds: run only this machine's share of the range, seeds s with (s - A) mod N = I - 1; `iavf-check merge` combines the shards' stress-summary.json.", valueName: "I/N"))
    var shard: String?

    func validate() throws {
        if seeds != nil && (stress.seed != nil || stress.replay != nil) { throw ValidationError("--seeds replaces --seed and --replay") }
        if shard != nil && seeds == nil { throw ValidationError("--shard needs --seeds A-B") }
    }

    func run() throws {
        let targets = try iavf.targets(try kernel.kernels())
        let range = try seeds.map(SeedRange.parse)
        let share = try shard.map(Shard.parse) ?? (range == nil ? nil : .whole)
        let seedList = range.map { share!.seeds(of: $0) }
        if let seedList, seedList.isEmpty { throw BadInput("--shard \(share!) of --seeds \(range!) holds no seed") }
        let seed = stress.replay == nil && seedList == nil ? (stress.seed ?? UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000) : nil
        var opts = stress
        opts.seed = seed
        _ = try opts.model.load()
        let out = URL(fileURLWithPath: output).standardizedFileURL.path
        if let seed { FileHandleOutput.stderr("iavf-check stress: seed \(seed), \(opts.ops) ops\n") }
        if let seedList { FileHandleOutput.stderr("iavf-check stress: seeds \(range!) shard \(share!): \(seedList.count) seeds, \(opts.ops) ops each\n") }
        // A signal kills the guests and writes what the run has: the program's policy, so the
        // engines (also run inside the test process) only adopt children and add hooks.
        Interruption.install()
        var host = StressHost(targets: targets, out: out, moduleDir: try pf.directory(), exe: EmulatedPFGuest.executable,
                              timeout: timeout, guestArguments: opts.guestArguments)
        host.seeds = seedList
        host.log = { FileHandleOutput.stderr($0 + "\n") }
        let reports = try host.run()
        let summary = StressSummary(seeds: range, shard: share, results: reports)
        try summary.encoded().write(to: URL(fileURLWithPath: out + "/stress-summary.json"))
        switch format {
        case .json:
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileHandleOutput.stdout(String(decoding: try enc.encode(reports.map(\.report)), as: UTF8.self) + "\n")
        case .junit:
            FileHandleOutput.stdout(JUnit.render(JUnit.suites(for: reports)))
        case .text:
            for r in reports { FileHandleOutput.stdout(r.report.text(kernelName: r.kernel, release: r.release)) }
            FileHandleOutput.stdout(summary.searchText)
        }
        if reports.contains(where: { $0.report.verdict == .fail }) { throw CommandOutcome(ExitStatus.fail) }
        if reports.contains(where: { $0.report.verdict == .inconclusive }) { throw CommandOutcome(ExitStatus.inconclusive) }
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

    @Option(help: "Run a campaign per seed, comma-separated; each writes stress-seed-S.json.")
    var seedList: String?

    func run() throws {
        func log(_ s: String) { FileHandleOutput.stderr("iavf-check stress: \(s)\n") }
        let bed = Testbed(pfControl: pfControl, pfTrace: pfTrace, changes: .ip) { log($0) }
        let lab: StressLab
        do {
            try bed.setUp(count: 2)
            lab = try StressLab(executor: StressExecutor(bed: bed), out: output, table: try stress.model.load(), log: log)
        } catch let e as ToolError {
            throw e
        } catch {
            throw EnvironmentProblem("stress: set-up failed: \(error)")
        }
        defer { lab.close(); bed.tearDown() }
        let campaign = StressCampaign(settings: stress.campaignSettings, attempt: lab.campaignAttempt, log: log)
        func one(seed: UInt64?, file: String) throws {
            let firstAttempt = lab.attempts + 1
            let generation = lab.generation?.rawValue ?? "unknown"
            if let seed, stress.search != nil {
                log("seed \(seed): searching (\(stress.mode.rawValue)) for \(stress.target ?? "a violation")")
                let report = try campaign.search(seed: seed, mode: stress.mode, kernel: kernelName, generation: generation) { k, unhit in
                    let ops = StressPlan.generate(seed: StressPlan.searchSeed(seed, k), count: stress.ops, excluding: stress.excluded,
                                                  mode: stress.mode, unhit: unhit)
                    let aim = stress.mode == .coverage && !unhit.isEmpty ? " (aiming at \(unhit.count) unhit rows)" : ""
                    log("sequence \(k + 1)\(aim): \(StressPlan.text(ops))")
                    return ops
                }
                lab.pruneTraces(keeping: Set([report.trace] + (report.minimalTrace.map { [$0] } ?? [])), from: firstAttempt)
                FileManager.default.createFile(atPath: "\(output)/\(file)", contents: try report.encoded())
                return
            }
            let ops = try stress.replay.map { try StressPlan.parse($0) } ?? StressPlan.generate(seed: seed!, count: stress.ops, excluding: stress.excluded, mode: stress.mode)
            log("\(seed.map { "seed \($0): " } ?? "replay: ")\(StressPlan.text(ops))")
            let report = try campaign.run(ops, kernel: kernelName, generation: generation, seed: seed)
            // Keep the first run's trace and one reproducing run of the minimal sequence.
            lab.pruneTraces(keeping: Set([report.trace] + (report.minimalTrace.map { [$0] } ?? [])), from: firstAttempt)
            FileManager.default.createFile(atPath: "\(output)/\(file)", contents: try report.encoded())
        }
        if let seedList {
            let seeds = seedList.split(separator: ",").compactMap { UInt64($0) }
            for (i, s) in seeds.enumerated() {
                log("seed \(s) (\(i + 1)/\(seeds.count))")
                try one(seed: s, file: "stress-seed-\(s).json")
            }
        } else {
            try one(seed: stress.replay == nil ? (stress.seed ?? 1) : nil, file: "stress.json")
        }
    }
}

extension StressMode: ExpressibleByArgument {}
