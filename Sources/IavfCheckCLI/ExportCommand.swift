import ArgumentParser
import Foundation
import IavfReport
import IavfTrace

struct ExportCommand: ParsableCommand {
    enum Format: String, CaseIterable, ExpressibleByArgument { case perfetto }

    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a trace for a trace viewer (Perfetto, chrome://tracing).",
        discussion: """
        --format perfetto writes Chrome trace-event JSON ({"traceEvents":[...]}): one process \
        per device; in it one track per VLAN with its states over time as the snapshots show \
        them (a state lasts until a snapshot shows another or the filter is gone), a VF track \
        with each message the VF sent (a slice from send to reply) and a PF track with the \
        replies, joined by flow arrows, the driver calls, the reset task, down periods, and \
        marks, settled, lost and the checker's findings as instant events (click one for its \
        rule, VLAN, message and cause). Time is in microseconds from the trace's first event.

        Open it at https://ui.perfetto.dev ("Open trace file"), or in Chrome at \
        chrome://tracing ("Load"). Nothing leaves the machine: the UI runs in the browser.

        Example:  iavf-check export --format perfetto samples/unpatched-7-of-8.jsonl -o 7-of-8.json

        Exit codes: 0 written (whatever the verdict; `check` judges), 2 bad input or usage.
        """
    )

    @Option(help: "Output format: perfetto (Chrome trace-event JSON).")
    var format: Format = .perfetto

    @Argument(help: "The trace (.jsonl, .jsonl.gz, or - for standard input).")
    var trace: String

    @Option(name: .shortAndLong, help: "Write here instead of standard output.")
    var output: String?

    func run() throws {
        let t = try ReportCommand.load(trace)
        let data: Data
        do { data = try PerfettoExport.render(t) } catch {
            throw BadInput("cannot encode the export: \(error)")
        }
        try ReportCommand.write(data, to: output)
    }
}
