import ArgumentParser
import IavfChecker
import IavfModel
import IavfReport
import IavfTrace

extension ReportFormat: ExpressibleByArgument {}

/// `check`'s formats: the checker's own, and JUnit XML, which IavfReport writes.
enum CheckFormat: String, CaseIterable, ExpressibleByArgument {
    case text, json, ktap, junit
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a recorded trace against the design's rules and the reference model.",
        discussion: """
        TRACE is a trace in the iavf-trace JSON Lines format (plain or .jsonl.gz; "-" reads \
        standard input). Every finding names the rule, the device, the VLAN, the event that \
        exposed it, the race that most likely caused it and the events that led to it.

        Rules: \(Rule.allCases.map(\.rawValue).joined(separator: ", ")). \
        `iavf-check explain RULE` says what each one means.

        --format junit writes JUnit XML for CI servers: a test case per case of the trace \
        (or per rule), a failure with the findings, skipped when inconclusive (docs/report.md).

        Exit codes: 0 pass (no violation; warnings and notes are listed), 1 fail, \
        2 bad input (the message names file, line and field), 4 inconclusive (events lost, or \
        the trace ends inside a call; the kselftest skip code).
        """
    )

    @Argument(help: "The trace to check (.jsonl, .jsonl.gz, or - for standard input).")
    var trace: String

    @Option(help: "Output format: text (for people), json (for tools), ktap (for kselftest runners), junit (JUnit XML for CI servers).")
    var format: CheckFormat = .text

    @Option(help: "How many of the device's events to show before each finding.")
    var context: Int = 6

    @Option(help: "Keep at most this many findings in full (counts stay exact).")
    var maxFindings: Int = 10_000

    @OptionGroup var model: ModelOption

    @Flag(help: "After the verdict, the model coverage: table rows hit / total, the rows never hit, each rule's evaluations and findings (json: a `coverage` object; docs/coverage.md).")
    var coverage = false

    func validate() throws {
        guard !(coverage && format == .junit) else { throw ValidationError("--coverage works with --format text, json or ktap") }
        guard context >= 0 && context <= 100 else { throw ValidationError("--context must be 0...100") }
        guard maxFindings >= 0 else { throw ValidationError("--max-findings must not be negative") }
    }

    func run() throws {
        let report: CheckReport
        do {
            report = try CheckRun.check(path: trace, table: try model.load(), context: context, maxFindings: maxFindings,
                                        warn: { FileHandleOutput.stderr($0 + "\n") })
        } catch let e as TraceReadError {
            throw BadInput("bad input: \(e)")
        }
        if let f = ReportFormat(rawValue: format.rawValue) {
            FileHandleOutput.stdout(ReportRenderer.render(report, format: f, traceName: trace, coverage: coverage))
        } else {
            FileHandleOutput.stdout(JUnit.render([JUnit.suite(for: report, traceName: trace)]))
        }
        throw CommandOutcome(report.verdict.exitCode)
    }
}
