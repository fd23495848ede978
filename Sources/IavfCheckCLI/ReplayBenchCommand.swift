import ArgumentParser
import IavfChecker
import IavfModel
import IavfSim
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

/// `iavf-check bench replay`: how fast the checker consumes a trace, against the decoder
/// alone as the baseline measured in the same process.
struct ReplayBenchCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument { case text, json }

    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Check a synthetic trace of N events; print events/s and peak memory.",
        discussion: """
        Writes a synthetic trace (a simulated driver of the chosen generation cycling through \
        VLAN adds, watchdog messages, PF replies, down/up and deletes, with a snapshot after \
        every event), then measures in this process:
          decode   reading and decoding the file alone (the baseline),
          check    reading, decoding and checking it (what `iavf-check check` does), on one \
                   thread and on two (decode and check apart), --passes times each; the \
                   figures are the medians and every pass is listed,
          checker  the checker alone on events already in memory.
        Ratios are against the baseline. events_per_s (json) is the check figure of the \
        threads `check` uses here. The checker should never be the bottleneck: libbpf's \
        ring buffer delivers about 11 million events/s from one producer.
        """
    )

    @Option(help: "Number of events in the synthetic trace.")
    var events: Int = 10_000_000

    @Option(help: "Generation of the simulated driver (patched is the clean, common path).")
    var generation: Generation = .patched

    @Option(help: "Keep the synthetic trace at this path (default: a temporary file, removed).")
    var keep: String?

    @Flag(help: "Write the synthetic trace gzip-compressed.")
    var gzip = false

    @Option(help: "text or json (json has events_per_s and peak_rss_bytes).")
    var format: Format = .text

    @Option(help: "Times each decode-and-check pass runs; the figures are their medians (a shared machine's speed moves by a third from one second to the next; every pass is listed).")
    var passes: Int = 3

    func validate() throws {
        guard events >= 1000 else { throw ValidationError("--events must be at least 1000") }
        guard (1...20).contains(passes) else { throw ValidationError("--passes must be 1 to 20") }
    }

    func run() throws {
        let path = keep ?? "/tmp/iavf-check-replay-\(getpid()).jsonl\(gzip ? ".gz" : "")"
        defer { if keep == nil { unlink(path) } }

        progress("writing a \(events)-event \(generation.rawValue) trace to \(path)")
        var t0 = now()
        var written = 0
        do {
            var writeError: Error?
            var writer: TraceWriter!
            var sim = SimulatedDriver(generation: generation) { e in
                guard writeError == nil else { return }
                do { try writer.write(e) } catch { writeError = error }
                written += 1
            }
            writer = try TraceWriter(path: path, header: sim.header)
            while written < events, writeError == nil { ReplayWorkload.cycle(&sim, limit: events - written) }
            try writer.close()
            if let writeError { throw writeError }
        }
        let tWrite = now() - t0
        var st = stat()
        stat(path, &st)

        progress("decode only")
        t0 = now()
        var decoded = 0
        do {
            let reader = try TraceReader(path: path)
            while try reader.next() != nil { decoded += 1 }
        }
        let tDecode = now() - t0

        // `check` decodes on one thread and checks on another when there are two processors;
        // both ways are measured, and `events_per_s` is the one `check` takes.
        var times1: [Double] = [], times2: [Double] = []
        var report: CheckReport!, report2: CheckReport!
        for pass in 1...passes {
            progress("decode and check, one thread (pass \(pass) of \(passes))")
            t0 = now()
            report = try CheckRun.check(path: path, context: 6, threads: 1, warn: { pass == 1 ? FileHandleOutput.stderr($0 + "\n") : () })
            times1.append(now() - t0)
            progress("decode and check, two threads (pass \(pass) of \(passes))")
            t0 = now()
            report2 = try CheckRun.check(path: path, context: 6, threads: 2, warn: { _ in })
            times2.append(now() - t0)
        }
        let tCheck1 = median(times1), tCheck2 = median(times2)
        let tCheck = CheckRun.defaultThreads >= 2 ? tCheck2 : tCheck1

        progress("checker alone, on events in memory")
        var cycle: [TraceEvent] = []
        var sim = SimulatedDriver(generation: generation) { cycle.append($0) }
        ReplayWorkload.cycle(&sim, limit: .max)
        let checker = Checker(header: sim.header)
        let period = Int64(cycle.count)
        var fed = 0
        t0 = now()
        var round: Int64 = 0
        // Whole periods only, so the run ends where a trace would: outside every call.
        while fed < events {
            for var e in cycle {
                e.seq += round * period
                checker.feed(e)
                fed += 1
            }
            round += 1
        }
        let inMemory = checker.finish()
        let tChecker = now() - t0

        var ru = rusage()
        getrusage(RUSAGE_SELF.rawValue, &ru)
        let peak = Int(ru.ru_maxrss) * 1024

        let decodeRate = Double(decoded) / tDecode
        let checkRate = Double(report.events) / tCheck
        let checkRate1 = Double(report.events) / tCheck1
        let checkRate2 = Double(report2.events) / tCheck2
        let checkerRate = Double(fed) / tChecker
        let ok = report.verdict == inMemory.verdict && report2.verdict == report.verdict && report2.events == report.events
        switch format {
        case .json:
            FileHandleOutput.stdout("""
            {"events":\(report.events),"generation":"\(generation.rawValue)","trace_bytes":\(st.st_size),\
            "events_per_s":\(Int(checkRate)),"threads":\(CheckRun.defaultThreads),\
            "events_per_s_1_thread":\(Int(checkRate1)),"events_per_s_2_threads":\(Int(checkRate2)),\
            "passes":\(passes),"passes_1_thread":[\(perPass(times1, report.events))],\
            "passes_2_threads":[\(perPass(times2, report2.events))],\
            "gzip":\(gzip),"decode_events_per_s":\(Int(decodeRate)),\
            "checker_only_events_per_s":\(Int(checkerRate)),"check_vs_decode":\(fmt(checkRate / decodeRate)),\
            "write_events_per_s":\(Int(Double(written) / tWrite)),"peak_rss_bytes":\(peak),\
            "verdict":"\(report.verdict.rawValue)","findings":\(report.totalFindings)}

            """)
        case .text:
            FileHandleOutput.stdout("""
            replay bench: \(report.events) events, \(generation.rawValue), trace \(st.st_size / 1_000_000) MB\(gzip ? " (gzip)" : "")
              write             \(rate(Double(written) / tWrite))  (\(fmt(tWrite)) s)
              decode (baseline) \(rate(decodeRate))  (\(fmt(tDecode)) s)
              decode + check    \(rate(checkRate1))  (\(fmt(tCheck1)) s)  \(fmt(checkRate1 / decodeRate))x the baseline, one thread
              decode + check    \(rate(checkRate2))  (\(fmt(tCheck2)) s)  \(fmt(checkRate2 / decodeRate))x the baseline, two threads\(CheckRun.defaultThreads >= 2 ? " (what check does here)" : "")
              passes (M/s)      one thread \(perPassText(times1, report.events)); two threads \(perPassText(times2, report2.events))\(passes > 1 ? " (medians above)" : "")
              checker alone     \(rate(checkerRate))  (\(fmt(tChecker)) s)  \(fmt(checkerRate / decodeRate))x the baseline
              peak memory       \(peak / 1_000_000) MB
              verdict           \(report.verdict.rawValue), \(report.totalFindings) findings\(ok ? "" : " (the runs disagree: in memory \(inMemory.verdict.rawValue), two threads \(report2.verdict.rawValue))")

            """)
        }
    }

    private func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    private func perPass(_ times: [Double], _ events: Int) -> String {
        times.map { String(Int(Double(events) / $0)) }.joined(separator: ",")
    }

    private func perPassText(_ times: [Double], _ events: Int) -> String {
        times.map { fmt(Double(events) / $0 / 1e6) }.joined(separator: ", ")
    }

    private func rate(_ r: Double) -> String {
        let s = fmt(r / 1e6)
        return String(repeating: " ", count: max(0, 6 - s.count)) + s + " M events/s"
    }

    private func fmt(_ x: Double) -> String {
        let v = (x * 100).rounded() / 100
        return String(v)
    }

    private func now() -> Double { MonotonicClock.seconds() }

    private func progress(_ s: String) {
        if format == .text { FileHandleOutput.stderr("bench: \(s)...\n") }
    }
}

/// One period of the synthetic workload: five VLANs in, a down/up, a re-add, all out.
