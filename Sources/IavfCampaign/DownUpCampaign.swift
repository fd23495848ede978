import Foundation
import IavfBench
import IavfChecker
import IavfProbes
import IavfSystem
import IavfTrace
import IavfVM

/// `bench downup` on the host: for each kernel a guest with the emulated PF running the
/// down/up loop once without probes (wall time) and once under `watch` with BPF run-time
/// stats on; then the traces cut into cycles and the figures of downup.json.
public struct DownUpCampaign {
    public var targets: [GuestTarget]
    public var out: String
    public var moduleDir: String
    public var exe: String
    public var vlans: String
    public var iterations: Int
    public var serviceUs: Int
    /// Arguments for the guest's `watch` (`--model FILE`).
    public var watchArguments: [String] = []
    public var note: (String) -> Void = { _ in }
    /// Each kernel's figures as soon as they are in (live progress).
    public var onKernel: ((DownUpReport.Kernel) -> Void)?
    /// Each VLAN count as its cycles complete in the guest (live progress).
    public var onCount: ((String) -> Void)?

    public init(targets: [GuestTarget], out: String, moduleDir: String, exe: String, vlans: String, iterations: Int, serviceUs: Int) {
        self.targets = targets
        self.out = out
        self.moduleDir = moduleDir
        self.exe = exe
        self.vlans = vlans
        self.iterations = iterations
        self.serviceUs = serviceUs
    }

    /// Boots each kernel (or, `reanalyse`, reads what an earlier run left), writes
    /// downup.json and downup.svg.
    public func run(reanalyse: Bool = false) throws -> DownUpReport {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var results: [(DownUpReport.Kernel, [DownUpStats])] = []
        for t in targets {
            let k = t.label
            do {
                let r = reanalyse ? try Self.analyse(k, tag: t.tag, out: out, release: nil) : try runKernel(t)
                onKernel?(r.0)
                results.append(r)
            } catch let e as VMError {
                throw EnvironmentProblem("\(k): \(e)")
            }
        }
        let svg = DownUpPlot.svg(results.map { ("\($0.0.kernel) (\($0.0.release))", $0.1) })
        try Data(svg.utf8).write(to: URL(fileURLWithPath: out + "/downup.svg"))
        let report = DownUpReport(serviceUs: serviceUs, iterations: iterations, kernels: results.map(\.0))
        try report.encoded().write(to: URL(fileURLWithPath: out + "/downup.json"))
        return report
    }

    /// The guest's job: the loop without probes, then under watch with bpf_stats on.
    public func job(tag k: String) -> String {
        let q = GuestCommand.quote
        let loop = "\"$IAVF_CHECK\" bench downup-guest --pf-control \(EmulatedPFGuest.pfControl) --pf-trace \"$OUT/pf-downup-\(k).jsonl\" --vlans \(q(vlans)) --iterations \(iterations)"
        let watch = (["\"$IAVF_CHECK\"", "watch", "-o", "\"$OUT/downup-\(k).jsonl\"", "--format", "json", "--settle-ms", "200"]
                     + watchArguments.map(q)).joined(separator: " ")
        return """
        \(loop) > "$OUT/downup-noprobes-\(k).txt" 2>&1
        echo 1 > /proc/sys/kernel/bpf_stats_enabled
        \(watch) -- sh -c \(q(loop + "; \"$IAVF_CHECK\" doctor --stats --no-attach-test --format json > \"$OUT/downup-stats-\(k).json\"")) > "$OUT/downup-watch-\(k).json" 2> "$OUT/downup-probes-\(k).txt"
        """
    }

    func runKernel(_ target: GuestTarget) throws -> (DownUpReport.Kernel, [DownUpStats]) {
        let k = target.tag
        let kernel = target.label
        var guest = EmulatedPFGuest(kernel: target.kernel, out: out, moduleDir: moduleDir, exe: exe, timeout: 3600, tag: "downup-\(k)")
        guest.iavf = target.iavf
        guest.label = target.label
        guest.pfArguments = ["--service-us", String(serviceUs)]
        var tails: [FileTail] = []
        if let onCount {
            for (file, what) in [("downup-noprobes-\(k).txt", "without probes"), ("downup-probes-\(k).txt", "with probes")] {
                let progress = DownUpProgress(kernel: kernel, pass: what, iterations: iterations)
                tails.append(FileTail(path: "\(out)/\(file)") { if let l = progress.feed($0) { onCount(l) } })
            }
        }
        defer { for t in tails { t.stop() } }
        let outcome = try guest.run(job: job(tag: k), note: note)
        guard outcome.jobExit != nil else {
            throw EnvironmentProblem("the down/up loop did not finish in the \(kernel) guest; see \(out)/downup-probes-\(k).txt")
        }
        return try Self.analyse(kernel, tag: k, out: out, release: outcome.release)
    }

    /// The figures from the files a guest left in `out`. A trace that cannot be cut into
    /// cycles exactly is inconclusive (exit 4): no figure rather than a wrong one.
    public static func analyse(_ kernel: String, tag k: String, out: String, release: String?) throws -> (DownUpReport.Kernel, [DownUpStats]) {
        let trace = "\(out)/downup-\(k).jsonl"
        let cycles: [DownUpCycle]
        do {
            cycles = try DownUpAnalysis.cycles(trace: trace)
        } catch let e as DownUpAnalysisError {
            throw Inconclusive("bench downup: \(kernel): cannot cut the trace into cycles: \(e)")
        }
        var checker = "?"
        if let d = FileManager.default.contents(atPath: "\(out)/downup-watch-\(k).json"), let doc = try? CheckReportDocument.decode(d) {
            checker = "\(doc.verdict.rawValue) (\(doc.counts.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")))"
        }
        let rel = try release ?? TraceReader(path: trace).header.kernel ?? "?"
        var progs: [DownUpReport.ProgramStat] = []
        if let d = FileManager.default.contents(atPath: "\(out)/downup-stats-\(k).json"),
           let doctor = try? JSONDecoder().decode(DoctorReport.self, from: d) {
            for p in doctor.program_stats ?? [] where p.runs > 0 {
                progs.append(.init(program: p.name, runs: p.runs, nsPerRun: p.ns_per_run.map { ($0 * 1000).rounded() / 1000 }))
            }
        }
        let stats = DownUpAnalysis.stats(cycles)
        let r = DownUpReport.Kernel(kernel: kernel, release: rel, checker: checker,
                                    programStats: progs.sorted { $0.program < $1.program },
                                    wallUpMsWithProbes: meanUpMs("\(out)/downup-probes-\(k).txt"),
                                    wallUpMsWithoutProbes: meanUpMs("\(out)/downup-noprobes-\(k).txt"), stats: stats)
        return (r, stats)
    }

    /// Mean of the `up_ms` wall-clock figures the guest loop printed (NaN: none).
    public static func meanUpMs(_ path: String) -> Double {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let vals = text.split(separator: "\n").compactMap { line -> Double? in
            guard line.hasPrefix("# wall"), let r = line.range(of: "up_ms=") else { return nil }
            return Double(line[r.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        return vals.isEmpty ? .nan : vals.reduce(0, +) / Double(vals.count)
    }
}

/// The guest loop's `# wall vlans=K iter=I ... up_ms=X` lines as one line per finished count.
public final class DownUpProgress: @unchecked Sendable {
    let kernel: String, pass: String, iterations: Int
    private var ups: [Double] = []

    public init(kernel: String, pass: String, iterations: Int) {
        self.kernel = kernel
        self.pass = pass
        self.iterations = iterations
    }

    public func feed(_ line: String) -> String? {
        guard line.hasPrefix("# wall vlans=") else { return nil }
        var fields: [String: String] = [:]
        for w in line.dropFirst(7).split(separator: " ") {
            let kv = w.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let k = fields["vlans"], let i = Int(fields["iter"] ?? ""), let up = Double(fields["up_ms"] ?? "") else { return nil }
        if i == 0 { ups = [] }
        ups.append(up)
        guard i == iterations - 1 else { return nil }
        let mean = ups.reduce(0, +) / Double(ups.count)
        return "\(kernel): \(k) VLANs, \(ups.count) cycles \(pass): mean up \(String(format: "%.1f", mean)) ms (wall clock)"
    }
}

/// Events were lost or a measurement cannot be made exactly: exit 4.
public struct Inconclusive: ToolError, Sendable {
    public var description: String
    public var exitStatus: Int32 { ExitStatus.inconclusive }
    public init(_ description: String) { self.description = description }
}
