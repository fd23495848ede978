import ArgumentParser
import Foundation
import IavfProbes

/// `iavf-check bench pipeline`: events/s from a BPF program into Swift, decoded,
/// next to a minimal C consumer of the same object in the same run.
struct PipelineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Ring buffer throughput into Swift vs a C consumer of the same BPF object (needs root).",
        discussion: """
        A raw_tp program on sys_enter writes records on prctl() calls; the same records are \
        consumed by a C loop that only counts them and by the Swift pipeline that decodes each \
        into a ProbeEvent, as `record` and `watch` do.

        live    a producer thread flat out against the C consumer, then against Swift: \
        records/s each received and what each lost; `ratio` = Swift / C (target >= 0.80). \
        Then the producer paced to the rate C sustained, against Swift: `lost at C rate` must \
        be 0 (target). On a small machine a flat-out producer outruns a consumer that \
        never sleeps, so Swift's flat-out losses are shown but not judged.
        drain   the ring filled with no consumer running, then drained by C and by Swift in \
        turn, --rounds times (medians): each consumer's own cost per record. C only counts; \
        Swift decodes every record into a ProbeEvent. `headroom` = Swift's drain rate over \
        the rate C sustains live.

        Also prints the program's ns per run (BPF run-time stats are on while it runs). \
        Exit 0 when the target is met, 1 when not, 3 when the bench cannot run here.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Records per live run.")
    var events: UInt64 = 2_000_000

    @Option(help: "Drain rounds per consumer (medians are reported).")
    var rounds: Int = 7

    @Option(help: "Records per prctl() in the live runs (1...256).")
    var burst: UInt64 = 64

    @Option(help: "Ring buffer size in MiB (power of two).")
    var ringMib: UInt32 = 16

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    func validate() throws {
        guard ringMib > 0, ringMib & (ringMib - 1) == 0, ringMib <= 1024 else {
            throw ValidationError("--ring-mib must be a power of two between 1 and 1024")
        }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    }

    func run() throws {
        let r: PipelineBenchResult
        do {
            r = try PipelineBench.run(events: events, burst: burst, rounds: rounds, ringBufferBytes: ringMib << 20) { line in
                FileHandle.standardError.write("bench pipeline: \(line)\n".data(using: .utf8)!)
            }
        } catch {
            throw EnvironmentProblem("bench pipeline: \(error)")
        }
        switch format {
        case .json:
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(r), as: UTF8.self))
        case .text:
            print(String(format: "live   c     %11.0f events/s, %llu lost of %llu (producer flat out)", r.c_events_per_s, r.c_lost, r.events))
            print(String(format: "live   swift %11.0f events/s, %llu lost of %llu (producer flat out)", r.swift_events_per_s, r.swift_lost, r.events))
            print(String(format: "ratio  %.2f (target >= %.2f)", r.ratio, PipelineBench.targetRatio))
            print("paced  swift with the producer held to the C rate: \(r.swift_received_at_c_rate) received, \(r.swift_lost_at_c_rate) lost (target 0)")
            print(String(format: "drain  c     %11.0f events/s (%.1f ns/record, counted), median of %d", r.c_drain_events_per_s, 1e9 / max(r.c_drain_events_per_s, 1), r.rounds))
            print(String(format: "drain  swift %11.0f events/s (%.1f ns/record, decoded); headroom %.2fx the live C rate",
                         r.swift_drain_events_per_s, 1e9 / max(r.swift_drain_events_per_s, 1), r.swift_headroom))
            if let ns = r.ns_per_program_run {
                print(String(format: "probe  %.0f ns per program run (%llu runs; one run writes up to %llu records)",
                             ns, r.program_runs ?? 0, r.burst))
            }
            print("target \(r.target_met ? "met" : "NOT met") (ratio >= \(PipelineBench.targetRatio), 0 lost at the C rate)")
        }
        if !r.target_met { throw CommandOutcome(ExitStatus.fail) }
    }
}
