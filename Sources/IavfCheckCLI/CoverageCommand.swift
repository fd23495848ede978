import ArgumentParser
import Foundation
import IavfChecker
import IavfModel
import IavfTrace

/// `iavf-check coverage TRACE...`: checks each trace and merges which transition-table rows
/// they exercised and how often each rule was evaluated and fired (docs/coverage.md).
struct CoverageCommand: ParsableCommand {
    enum Format: String, CaseIterable, ExpressibleByArgument { case text, json }

    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Check traces and report which model rows they exercised and which rules they evaluated.",
        discussion: """
        Checks each TRACE as `check` does and merges the model coverage of all of them: per \
        table (a generation's built-in table, or the --model table) the rows hit out of the \
        rows total, a row being one (From state, Event) pair of the table as `iavf-check model` \
        prints it, the rows never hit in that notation, and for each rule how often it was \
        evaluated with a chance to fire and how often it fired. Traces of different \
        generations are reported per generation. --model applies to the traces of its \
        generation; the others follow their built-in table.

        A TRACE that is a directory stands for the *.jsonl and *.jsonl.gz files in it, sorted \
        (a `suite run` directory's emulated-PF logs, pf-K.jsonl beside trace-K.jsonl, are skipped).

        Example:  iavf-check coverage samples

        Exit codes: 0 reported (whatever the verdicts; `check` judges), 2 bad input or usage.
        """
    )

    @Argument(help: "Traces (.jsonl, .jsonl.gz) or directories of them.")
    var traces: [String]

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @OptionGroup var model: ModelOption

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("give at least one trace or directory") }
    }

    func run() throws {
        let table = try model.load()
        var paths: [String] = []
        for p in traces { paths += try TraceFiles.expand(p) }
        var doc = CoverageDocument()
        for path in paths {
            do {
                doc.add(try CoverageDocument.check(path: path, table: table, warn: { FileHandleOutput.stderr($0 + "\n") }), trace: path)
            } catch let e as TraceReadError {
                throw BadInput("bad input: \(e)")
            }
        }
        FileHandleOutput.stdout(format == .json ? doc.encoded() : doc.text())
    }

}
