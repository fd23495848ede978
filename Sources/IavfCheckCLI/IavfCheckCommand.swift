import ArgumentParser
@_exported import IavfSystem
#if canImport(Glibc)
import Glibc
#endif

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

        Start with:  iavf-check check samples/unpatched-7-of-8.jsonl
                     iavf-check explain ghost-filter
                     iavf-check model --generation patched

        Exit codes: 0 pass, 1 fail (a violation), 2 bad input or usage, 3 environment problem \
        (missing privileges, BTF, module or tool), 4 inconclusive (events were lost or the \
        trace ends inside a call); the commands that boot guests (vm run, suite run, stress, \
        bench downup) exit 130 on SIGINT and 143 on SIGTERM, with their guest stopped.
        """,
        subcommands: [
            CheckCommand.self, CoverageCommand.self, ExportCommand.self, ReportCommand.self, MergeCommand.self,
            ModelCommand.self,
            ExplainCommand.self,
            BenchCommand.self,
            DoctorCommand.self,
            RecordCommand.self,
            WatchCommand.self,
            VMCommand.self,
            SuiteCommand.self,
            StressCommand.self,
            PFCommand.self,
        ]
    )

    public init() {}

    /// Like `main()`, but usage errors exit 2 (the contract's "bad input or usage"),
    /// not swift-argument-parser's 64.
    public static func runMain() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Glibc.exit(0)
        } catch let e as ToolError {
            // The one place an error becomes an exit status (README "Exit codes").
            let message = e.description
            if !message.isEmpty { FileHandleOutput.stderr("iavf-check: \(message)\n") }
            Glibc.exit(e.exitStatus)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let message = fullMessage(for: error)
                if !message.isEmpty { FileHandleOutput.stderr(message + "\n") }
                Glibc.exit(ExitStatus.badInput)
            }
            exit(withError: error)
        }
    }
}
