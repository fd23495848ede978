import ArgumentParser
import Foundation
import IavfCampaign
import IavfReport

/// `iavf-check merge`: results of several machines or CI jobs as one.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine suite.json, stress-summary.json and stress.json files from several machines or shards into one result.",
        discussion: """
        Each FILE is read as whichever document it is. Suite runs of the same kernel become \
        repeated runs, so the table shows failure rates (FAIL 2/5); stress runs are ordered by \
        kernel and seed, with each minimal sequence's replay command. A seed given twice (shards \
        that overlap) is kept once and named. With -o, the merged document is written as JSON.

        Example (three CI jobs, then one merge job):
          iavf-check stress --kernel patched --seeds 1-300 --shard 1/3 -o shard1   (and 2/3, 3/3)
          iavf-check merge shard*/stress-summary.json suite-*/suite.json -o merged.json

        Exit codes: 0 nothing failed, 1 a suite case or a stress run failed, 2 a file that is \
        none of these documents.
        """
    )

    enum Format: String, ExpressibleByArgument { case text, json, junit }

    @Argument(help: "suite.json, stress-summary.json or stress.json files.")
    var files: [String]

    @Option(name: .shortAndLong, help: "Also write the merged document (JSON) here.")
    var output: String?

    @Option(help: "text, json or junit.")
    var format: Format = .text

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one FILE") }
    }

    func run() throws {
        let m = try MergedResults.load(files)
        if let output { try m.encoded().write(to: URL(fileURLWithPath: output)) }
        switch format {
        case .json: FileHandleOutput.stdout(String(decoding: try m.encoded(), as: UTF8.self) + "\n")
        case .junit:
            FileHandleOutput.stdout(JUnit.render((m.suite.map { JUnit.suites(for: $0) } ?? []) + JUnit.suites(for: m.stress)))
        case .text:
            var s = "merged \(m.sources.count) file\(m.sources.count == 1 ? "" : "s")\n\n"
            if let suite = m.suite { s += SuiteRunCommand.text(suite) + "\n" }
            s += m.stressText
            let cov = m.coverage
            if !cov.tables.isEmpty { s += "\nmodel coverage, suite and stress together:\n" + cov.text(indent: "  ") }
            FileHandleOutput.stdout(s)
        }
        if m.failed { throw CommandOutcome(ExitStatus.fail) }
    }
}
