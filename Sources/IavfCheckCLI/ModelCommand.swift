import ArgumentParser
import IavfModel

extension Generation: ExpressibleByArgument {}

struct ModelCommand: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, dot }

    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Print a generation's reference state machine (the transition table the checker uses).",
        discussion: """
        The rows are the model itself, not a description of it: each names the row of \
        iavf-vlan-state-machine.md (section 2.2 for unpatched, 2.3 for patched) it implements.

        Graphviz:  iavf-check model --generation unpatched --format dot | dot -Tsvg > u.svg
        """
    )

    @Option(help: "unpatched (6.1.170) or patched (6.1.176 and later).")
    var generation: Generation

    @Option(help: "table (for reading against the spec) or dot (graphviz).")
    var format: Format = .table

    func run() throws {
        switch format {
        case .table: FileHandleOutput.stdout(ModelRendering.table(generation))
        case .dot: FileHandleOutput.stdout(ModelRendering.dot(generation))
        }
    }
}
