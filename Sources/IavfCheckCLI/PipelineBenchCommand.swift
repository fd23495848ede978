import ArgumentParser
import Foundation
import IavfProbes

/// `iavf-check bench pipeline`: events/s from a BPF program into Swift, decoded,
/// next to a minimal C consumer of the same object in the same run.
/// (Register under `bench`: subcommands: [..., PipelineBenchCommand.self].)
struct PipelineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Ring buffer throughput into Swift vs a C consumer of the same BPF object (needs root).",
        discussion: """
        A raw_tp program on sys_enter writes bursts of records on prctl() calls of a producer \
        thread; the same records are consumed once by a C loop that only counts them and once \
        through the Swift pipeline that decodes each into a ProbeEvent. Also prints the \
        program's ns per run (BPF run-time stats are enabled while it runs).
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Records per consumer.")
    var events: UInt64 = 2_000_000

    @Option(help: "Records per prctl() (1...256).")
    var burst: UInt64 = 64

    @Option(help: "Ring buffer size in MiB (power of two).")
    var ringMib: UInt32 = 16

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    func run() throws {
        let r: PipelineBenchResult
        do {
            r = try PipelineBench.run(events: events, burst: burst, ringBufferBytes: ringMib << 20)
        } catch {
            FileHandle.standardError.write("bench pipeline: \(error)\n".data(using: .utf8)!)
            throw ExitCode(3)
        }
        switch format {
        case .json:
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(r), as: UTF8.self))
        case .text:
            print(String(format: "swift  %12.0f events/s (decoded)", r.swift_events_per_s))
            print(String(format: "c      %12.0f events/s (counted)", r.c_events_per_s))
            print(String(format: "ratio  %12.2f (target >= 0.80)", r.ratio))
            print("lost   \(r.lost) (swift \(r.swift_lost), c \(r.c_lost)); \(r.events) events per consumer, burst \(r.burst), \(r.record_bytes) B records")
            print("paced  swift with the producer held to the C rate: \(r.swift_received_at_c_rate) received, \(r.swift_lost_at_c_rate) lost")
            if let ns = r.ns_per_program_run {
                print(String(format: "probe  %12.0f ns per program run (%llu runs)", ns, r.program_runs ?? 0))
            }
        }
    }
}
