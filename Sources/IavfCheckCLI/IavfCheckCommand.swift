import ArgumentParser

/// The `iavf-check` command: thin subcommands over the modules.
public struct IavfCheckCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "iavf-check",
        abstract: "Check the iavf driver's VLAN filter state machine against its design.",
        discussion: """
        iavf-check reads traces of the iavf driver's VLAN filter work (recorded live with eBPF, \
        in a VM against an emulated PF, or written by hand), replays them through a reference \
        model of the driver generation that produced them, and reports every place where the \
        driver broke a rule of the fixed design.

        Exit codes: 0 pass, 1 fail (a violation), 2 bad input or usage, 4 inconclusive \
        (events were lost or the trace ends inside a call), 3 environment problem \
        (missing privileges, BTF, module or tool).
        """,
        subcommands: [
            CheckCommand.self,
            ModelCommand.self,
            ExplainCommand.self,
            BenchCommand.self,
            // Subcommands of other modules register here.
        ]
    )

    public init() {}
}
