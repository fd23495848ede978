import ArgumentParser
import IavfCampaign
import IavfTrace

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a live trace of the iavf driver's VLAN filter work (needs root and the iavf module).",
        discussion: """
        Attaches read-only eBPF probes (fentry/fexit, or kprobes where the kernel has no \
        fentry) to the iavf functions that add, delete, send and complete VLAN work, and \
        writes the trace contract's JSON Lines (gzip when TRACE ends in .gz). With a COMMAND, \
        runs it, passes its output through, turns its PASS/FAIL/SKIP lines into `mark` events \
        and stops when it ends. SIGINT/SIGTERM detach the probes and flush the trace.

        Example:  iavf-check record -o vlan.jsonl.gz -- ./iavf_vlan_state.sh
                  iavf-check check vlan.jsonl.gz

        Exit codes: the COMMAND's exit status when one was given, else 0; 3 environment \
        problem (root, BTF, iavf); 2 usage.
        """
    )

    @Option(name: .shortAndLong, help: "Where to write the trace (.jsonl or .jsonl.gz; - for standard output).")
    var output: String

    @OptionGroup var live: LiveArguments

    func run() throws {
        var writer: TraceWriter?
        let outcome = try LiveSession.run(live.options(commandStdout: output == "-" ? 2 : 1),
                                          start: { h in writer = try TraceWriter(path: output, header: h) },
                                          emit: { e in try writer?.write(e) },
                                          warn: { FileHandleOutput.stderr("iavf-check: warning: \($0)\n") })
        try writer?.close()
        FileHandleOutput.stderr("iavf-check: recorded \(outcome.events) events (\(outcome.lost) lost, generation \(outcome.header.generation?.rawValue ?? "unknown")) to \(output)\n")
        if let s = outcome.commandStatus, s != 0 { throw CommandOutcome(s) }
    }
}
