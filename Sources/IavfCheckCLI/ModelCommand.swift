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
        iavf-vlan-state-machine.md (section 2.2 for unpatched, 2.3 for patched) it implements. \
        The table is also the format `--model FILE` reads (on check, watch, suite, stress, \
        bench downup): save it, edit rows, pass it back. A delta keeps only the rows that \
        change: `generation: patched`, `delta: why`, then the table header and the new rows \
        (To `(no row)` removes one). `model --model FILE` prints the table that results.

        A fix for S3 as a delta (a filter being removed is dropped at the caps reply):
          generation: patched
          delta: drop filters being removed when a reset's caps reply re-queues the list
          | From | Event | To | Side effects | Spec
          | REMOVE, REMOVING | CfgResp | freed | | S3 fix

        Graphviz:  iavf-check model --generation unpatched --format dot | dot -Tsvg > u.svg
        """
    )

    @Option(help: "unpatched (6.1.170) or patched (6.1.176 and later); not needed with --model.")
    var generation: Generation?

    @OptionGroup var model: ModelOption

    @Option(help: "table (for reading against the spec) or dot (graphviz).")
    var format: Format = .table

    func run() throws {
        let table: ModelTable
        if let t = try model.load() {
            table = t
        } else if let g = generation {
            table = .builtIn(g)
        } else {
            throw ValidationError("say --generation unpatched|patched, or --model FILE")
        }
        switch format {
        case .table: FileHandleOutput.stdout(ModelText.render(table))
        case .dot: FileHandleOutput.stdout(ModelRendering.dot(table))
        }
    }
}
