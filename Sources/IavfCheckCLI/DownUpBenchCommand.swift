import ArgumentParser
import Foundation
import IavfBench
import IavfScenarios
import IavfTrace
import IavfCampaign
import IavfVM

/// `iavf-check bench downup`: interface down/up latency of both driver generations against
/// the emulated PF, from the probes' timestamps, with the checker as witness.
struct DownUpBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "downup",
        abstract: "Down/up latency per VLAN count on the unpatched and patched drivers (in QEMU, emulated PF).",
        discussion: """
        For each kernel: boots it with the emulated PF (giving every admin-queue reply the \
        --service-us delay, so the figures model hardware, not the emulator), puts K VLANs on \
        VF1 for each K in --vlans, and runs --iterations cycles of `ip link set down`, waited \
        out, then `ip link set up`, waited out. Latency is measured from the probes: `open` \
        enter to the last ENABLE_QUEUES or VLAN reply of the cycle (down: `close` enter to the \
        last DISABLE_QUEUES or VLAN reply). VLAN messages per cycle are counted at \
        iavf_send_pf_msg, from one `close` enter to the next (or to the loop's next VLAN \
        set-up). The same loop also runs without probes; the ratio of the wall-clock \
        times is the probes' overhead. Writes downup.json, downup.svg and the traces to --output.

        Exit codes: 0 measured, 2 bad input, 3 environment problem, 4 a trace that cannot be \
        cut into cycles exactly (no figures rather than wrong ones), 130/143 interrupted by \
        SIGINT/SIGTERM (the guest is stopped).
        """
    )

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(help: "Kernels, comma-separated: unpatched, patched, or both (= unpatched,patched).")
    var kernel: String = "unpatched,patched"

    @Option(help: "VLAN counts, comma-separated.")
    var vlans: String = "0,1,2,4,8"

    @Option(help: "Down/up cycles per VLAN count.")
    var iterations: Int = 10

    @Option(help: "The emulated PF's admin-queue service time per message, microseconds.")
    var serviceUs: Int = 50

    @Option(name: .shortAndLong, help: "Directory for downup.json, downup.svg, traces and logs.")
    var output: String = "downup-out"

    @Option(help: "text or json (per kernel and VLAN count: p50_ms, p99_ms, vlan_messages_per_cycle).")
    var format: Format = .text

    @OptionGroup var model: ModelOption

    @OptionGroup var pf: PFModuleOption

    @Flag(help: "Boot nothing: analyse the traces an earlier run left in --output again.")
    var reanalyse = false

    func validate() throws {
        guard iterations >= 1 && iterations <= 10_000 else { throw ValidationError("--iterations must be 1...10000") }
        guard !vlanCounts.isEmpty, vlanCounts.allSatisfy({ $0 >= 0 && $0 <= 8 }) else {
            throw ValidationError("--vlans takes counts 0...8 (the emulated PF allows 8 per VF), comma-separated")
        }
    }

    var vlanCounts: [Int] { vlans.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    struct KernelResult {
        var name: String
        var release: String
        var stats: [DownUpStats]
        var wallWith: Double
        var wallWithout: Double
        var checker: String
        /// bpf_stats of the probe programs over the loop: (program, runs, ns per run).
        var programStats: [(String, UInt64, Double)]
    }

    func run() throws {
        // Bad input fails before anything builds or boots.
        let kernels = try KernelList.parse(kernel)
        _ = try model.load()
        Interruption.install()
        let out = URL(fileURLWithPath: output).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let moduleDir = try pf.directory()
        let exe = EmulatedPFGuest.executable
        var results: [KernelResult] = []
        for k in kernels {
            do {
                results.append(reanalyse ? try analyse(k, out: out, release: nil)
                                         : try runKernel(k, out: out, moduleDir: moduleDir, exe: exe))
            } catch let e as VMError {
                throw EnvironmentProblem("\(k): \(e)")
            }
        }
        FileManager.default.createFile(atPath: out + "/downup.svg",
                                       contents: Data(DownUpPlot.svg(results.map { ("\($0.name) (\($0.release))", $0.stats) }).utf8))
        let json = jsonReport(results)
        FileManager.default.createFile(atPath: out + "/downup.json", contents: Data(json.utf8))
        FileHandleOutput.stdout(format == .json ? json : textReport(results, out: out))
    }

    private func runKernel(_ k: String, out: String, moduleDir: String, exe: String) throws -> KernelResult {
        let loop = "\"$IAVF_CHECK\" bench downup-guest --pf-control \(EmulatedPFGuest.pfControl) --pf-trace \"$OUT/pf-downup-\(k).jsonl\" --vlans \(vlans) --iterations \(iterations)"
        var guest = EmulatedPFGuest(kernel: k, out: out, moduleDir: moduleDir, exe: exe, timeout: 3600, tag: "downup-\(k)")
        guest.pfArguments = ["--service-us", String(serviceUs)]
        // The loop once without probes (wall time), then under watch with BPF run-time stats on.
        let outcome = try guest.run(job: """
        \(loop) > "$OUT/downup-noprobes-\(k).txt" 2>&1
        echo 1 > /proc/sys/kernel/bpf_stats_enabled
        "$IAVF_CHECK" watch -o "$OUT/downup-\(k).jsonl" --format json --settle-ms 200 \(try model.guestArguments().map(GuestCommand.quote).joined(separator: " ")) -- sh -c '\(loop); "$IAVF_CHECK" doctor --stats --no-attach-test --format json > "$OUT/downup-stats-\(k).json"' > "$OUT/downup-watch-\(k).json" 2> "$OUT/downup-probes-\(k).txt"
        """, note: { FileHandleOutput.stderr("iavf-check: \($0)\n") })
        guard outcome.jobExit != nil else {
            throw VMError.environment("the down/up loop did not finish in the \(k) guest; see \(out)/downup-probes-\(k).txt")
        }
        return try analyse(k, out: out, release: outcome.release)
    }

    private func analyse(_ k: String, out: String, release: String?) throws -> KernelResult {
        let trace = "\(out)/downup-\(k).jsonl"
        let cycles: [DownUpCycle]
        do {
            cycles = try DownUpAnalysis.cycles(trace: trace)
        } catch let e as DownUpAnalysisError {
            // No figure rather than a wrong one.
            FileHandleOutput.stderr("iavf-check bench downup: \(k): cannot cut the trace into cycles: \(e)\n")
            throw CommandOutcome(ExitStatus.inconclusive)
        }
        var checker = "?"
        if let d = FileManager.default.contents(atPath: "\(out)/downup-watch-\(k).json"),
           let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
            checker = "\(obj["verdict"] as? String ?? "?") (\((obj["counts"] as? [String: Int] ?? [:]).map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")))"
        }
        let rel = try release ?? TraceReader(path: trace).header.kernel ?? "?"
        var progs: [(String, UInt64, Double)] = []
        if let d = FileManager.default.contents(atPath: "\(out)/downup-stats-\(k).json"),
           let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
            for p in obj["program_stats"] as? [[String: Any]] ?? [] {
                guard let name = p["name"] as? String, let runs = (p["runs"] as? NSNumber)?.uint64Value, runs > 0,
                      let ns = (p["ns_per_run"] as? NSNumber)?.doubleValue else { continue }
                progs.append((name, runs, ns))
            }
        }
        return KernelResult(name: k, release: rel, stats: DownUpAnalysis.stats(cycles),
                            wallWith: Self.meanUpMs("\(out)/downup-probes-\(k).txt"),
                            wallWithout: Self.meanUpMs("\(out)/downup-noprobes-\(k).txt"), checker: checker,
                            programStats: progs.sorted { $0.0 < $1.0 })
    }

    /// Mean of the `up_ms` wall-clock figures the guest loop printed.
    static func meanUpMs(_ path: String) -> Double {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let vals = text.split(separator: "\n").compactMap { line -> Double? in
            guard line.hasPrefix("# wall"), let r = line.range(of: "up_ms=") else { return nil }
            return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        return vals.isEmpty ? .nan : vals.reduce(0, +) / Double(vals.count)
    }

    private func f(_ x: Double) -> String { x.isNaN ? "-" : String(format: "%.1f", x) }

    private func textReport(_ rs: [KernelResult], out: String) -> String {
        var s = "down/up latency, emulated PF with \(serviceUs) us admin-queue service time, \(iterations) cycles per count\n\n"
        s += "kernel      VLANs  up p50 ms  p90    p99    max    down p50  VLAN msgs/cycle\n"
        for r in rs {
            for st in r.stats {
                s += "\(r.name.padded(11)) \(String(st.vlans).padded(6)) \(f(st.p50Ms).padded(10)) \(f(st.p90Ms).padded(6)) \(f(st.p99Ms).padded(6)) \(f(st.maxMs).padded(6)) \(f(st.downP50Ms).padded(9)) \(f(st.vlanMessagesPerCycle))\n"
            }
        }
        if let u = rs.first(where: { $0.name == "unpatched" }), let p = rs.first(where: { $0.name == "patched" }) {
            s += "\nunpatched/patched, up p50:"
            for st in u.stats {
                if let q = p.stats.first(where: { $0.vlans == st.vlans }) { s += "  \(st.vlans) VLANs \(String(format: "%.2f", st.p50Ms / q.p50Ms))x" }
            }
            s += "\n"
        }
        for r in rs {
            s += "\n\(r.name): probes' overhead on the wall-clock up time: \(f(r.wallWith)) ms with, \(f(r.wallWithout)) ms without (\(r.wallWithout > 0 ? String(format: "%.2f", r.wallWith / r.wallWithout) : "-")x); checker: \(r.checker)"
        }
        for r in rs where !r.programStats.isEmpty {
            s += "\n\n\(r.name): bpf_stats over the loop (ns per program run):"
            for (n, runs, ns) in r.programStats { s += "\n  \(n.padded(28)) \(String(runs).padded(8)) runs  \(f(ns)) ns" }
        }
        return s + "\n\nplot: \(out)/downup.svg\n"
    }

    private func jsonReport(_ rs: [KernelResult]) -> String {
        func num(_ x: Double) -> Any { x.isNaN ? NSNull() : (x * 1000).rounded() / 1000 }
        let obj: [String: Any] = [
            "service_us": serviceUs, "iterations": iterations,
            "kernels": rs.map { r -> [String: Any] in [
                "kernel": r.name, "release": r.release, "checker": r.checker,
                "program_stats": r.programStats.map { ["program": $0.0, "runs": $0.1, "ns_per_run": num($0.2)] as [String: Any] },
                "wall_up_ms_with_probes": num(r.wallWith), "wall_up_ms_without_probes": num(r.wallWithout),
                "counts": r.stats.map { st -> [String: Any] in [
                    "vlans": st.vlans, "cycles": st.cycles, "p50_ms": num(st.p50Ms), "p90_ms": num(st.p90Ms),
                    "p99_ms": num(st.p99Ms), "max_ms": num(st.maxMs), "down_p50_ms": num(st.downP50Ms),
                    "vlan_messages_per_cycle": num(st.vlanMessagesPerCycle),
                    "messages_per_cycle": st.messagesPerCycle.mapValues { num($0) },
                ] },
            ] },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The guest half: the loop itself, on VF1 moved into a namespace.
struct DownUpGuestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "downup-guest",
        abstract: "Run the down/up loop here (inside a guest with the emulated PF and iavf); used by `bench downup`.")

    @Option var pfControl: String
    @Option var pfTrace: String
    @Option var vlans: String = "0,1,2,4,8"
    @Option var iterations: Int = 10

    func run() throws {
        let bed = Testbed(pfControl: pfControl, pfTrace: pfTrace) { FileHandleOutput.stdout("# " + $0 + "\n") }
        do { try bed.setUp(count: 1) } catch {
            throw EnvironmentProblem("bench downup-guest: set-up failed: \(error)")
        }
        defer { bed.tearDown() }
        let counts = vlans.split(separator: ",").compactMap { Int($0) }
        do {
            try DownUpLoop(vlanCounts: counts, iterations: iterations, bed: bed) { FileHandleOutput.stdout($0 + "\n") }.run()
        } catch {
            throw EnvironmentProblem("bench downup-guest: \(error)")
        }
    }
}
