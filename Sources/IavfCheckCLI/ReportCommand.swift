import ArgumentParser
import Foundation
import IavfReport
import IavfTrace

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report of one or more checked traces.",
        discussion: """
        Checks each TRACE and writes one HTML file: a summary table (verdict and findings by \
        rule per trace), the cases side by side (one column per trace: the same suite on two \
        kernels reads across), and per finding its message, likely cause, leading events and \
        a timeline (inline SVG): one lane per VLAN with its states as colored bands, the VF's \
        messages and the PF's replies as arrows, down and reset periods as shaded bands, and \
        the finding as a red diamond, over a window of events around it.

        A TRACE that is a directory stands for the *.jsonl and *.jsonl.gz files in it, sorted \
        (a `suite run` output directory: trace-unpatched.jsonl, trace-patched.jsonl); the \
        emulated PF's pf-*.jsonl logs in it are skipped.

        The file has no scripts and no external assets: open it in any browser, from disk, \
        offline (xdg-open report.html), or attach it to a review.

        Example:  iavf-check report samples/unpatched-7-of-8.jsonl samples/patched-7-of-8.jsonl -o report.html

        Exit codes: 0 written (whatever the verdicts; `check` judges), 2 bad input or usage.
        """
    )

    @Argument(help: "Traces (.jsonl, .jsonl.gz) or directories of them.")
    var traces: [String]

    @Option(name: .shortAndLong, help: "The HTML file to write (- for standard output).")
    var output: String = "report.html"

    @Option(help: "Draw timelines for at most this many findings per trace (the rest are listed).")
    var maxTimelines: Int = 100

    @Option(help: "Title of the page.")
    var title: String = "iavf-check report"

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("give at least one trace or directory") }
        guard maxTimelines >= 0 else { throw ValidationError("--max-timelines must not be negative") }
    }

    func run() throws {
        var paths: [String] = []
        for p in traces { paths += try TraceFiles.expand(p) }
        let analyzed = try paths.map { try Self.load($0, pfLog: Self.pfLog(for: $0)) }
        var options = HTMLReport.Options()
        options.maxTimelines = maxTimelines
        options.title = title
        try Self.write(Data(HTMLReport.render(analyzed, options: options).utf8), to: output == "-" ? nil : output)
        if output != "-" {
            FileHandleOutput.stderr("iavf-check: wrote \(output) (\(analyzed.count) trace\(analyzed.count == 1 ? "" : "s"))\n")
        }
    }

    /// `suite run` writes the emulated PF's log pf-K.jsonl beside trace-K.jsonl.
    static func pfLog(for trace: String) -> String? {
        let url = URL(fileURLWithPath: trace)
        let name = url.lastPathComponent
        guard name.hasPrefix("trace-") else { return nil }
        let pf = url.deletingLastPathComponent().appendingPathComponent("pf-" + name.dropFirst("trace-".count)).path
        return FileManager.default.fileExists(atPath: pf) ? pf : nil
    }

    /// Reads and checks a trace; bad input exits 2 with file, line and field, as `check` does.
    static func load(_ path: String, pfLog: String? = nil) throws -> AnalyzedTrace {
        do {
            return try AnalyzedTrace.load(path: path, pfLog: pfLog, warn: { FileHandleOutput.stderr($0 + "\n") })
        } catch let e as TraceReadError {
            throw BadInput("bad input: \(e)")
        }
    }

    static func write(_ data: Data, to path: String?) throws {
        guard let path else {
            FileHandleOutput.stdout(String(decoding: data, as: UTF8.self))
            return
        }
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw BadInput("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
