import ArgumentParser
import IavfCampaign
import IavfChecker
import IavfTrace

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Check the iavf driver live: print each finding as it happens, then the verdict.",
        discussion: """
        Records like `record` (optionally also to -o TRACE) and runs the checker on every \
        event as it arrives; findings print the moment they are found, with the rule, the \
        VLAN, the event and the events that led to it (on standard error, with the \
        command's own output). At the end prints the report on standard output and \
        exits with `check`'s codes: 0 pass, 1 fail, 4 inconclusive (events lost); 3 for an \
        environment problem.

        Example:  iavf-check watch --iface ens1f0v0 -- ./iavf_vlan_state.sh
        """
    )

    @Option(name: .shortAndLong, help: "Also write the trace here.")
    var output: String?

    @Option(help: "Report format at the end: text, json or ktap.")
    var format: ReportFormat = .text

    @OptionGroup var live: LiveArguments

    @OptionGroup var model: ModelOption

    @Flag(help: "With the report, the model coverage (as `check --coverage`; json: a `coverage` object).")
    var coverage = false

    func run() throws {
        let table = try model.load()
        var writer: TraceWriter?
        var checker: Checker?
        _ = try LiveSession.run(live.options(commandStdout: 2), start: { h in
                if let output { writer = try TraceWriter(path: output, header: h) }
                if let t = table, h.generation != t.generation {
                    throw EnvironmentProblem("this driver is \(h.generation?.rawValue ?? "of an unknown generation") but --model is a \(t.generation.rawValue) table (\(t.source))")
                }
                let c = Checker(header: h, table: table)
                c.onFinding = { f in FileHandleOutput.stderr("iavf-check: " + ReportRenderer.text(f)) }
                checker = c
                FileHandleOutput.stderr("iavf-check: watching (\(ReportRenderer.headerLine(h)))\n")
            }, emit: { e in
                try writer?.write(e)
                checker?.feed(e)
            }, warn: { FileHandleOutput.stderr("iavf-check: warning: \($0)\n") })
        try writer?.close()
        let report = checker!.finish()
        FileHandleOutput.stdout(ReportRenderer.render(report, format: format, traceName: output ?? "live", coverage: coverage))
        throw CommandOutcome(report.verdict.exitCode)
    }
}
