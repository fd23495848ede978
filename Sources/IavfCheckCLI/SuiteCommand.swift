import ArgumentParser
import Foundation
import IavfScenarios

/// `iavf-check suite`: the selftest's state and reset groups against both real drivers.
struct SuiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Run the iavf_vlan_state.sh state and reset cases against real iavf drivers with the checker attached.",
        subcommands: [SuiteRunCommand.self, SuiteCasesCommand.self],
        defaultSubcommand: SuiteRunCommand.self
    )
}

/// The part that runs inside the guest, under `iavf-check watch`: sets up the VFs in their
/// namespaces and runs the cases, printing KTAP lines the recorder turns into marks.
struct SuiteCasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cases",
        abstract: "Run the cases here (inside a guest with the emulated PF running and iavf bound).",
        discussion: "Usually started by `iavf-check suite` under `iavf-check watch --quiet-file FILE` (the same FILE as --quiet-file here); prints KTAP lines."
    )

    @Option(help: "The emulated PF's control FIFO (iavf-check pf --control).")
    var pfControl: String

    @Option(help: "The emulated PF's trace of programmed VLANs (iavf-check pf --trace).")
    var pfTrace: String

    @Option(help: "How many VFs to set up (VF1 runs the cases, the others are bystanders).")
    var vfs: Int = 2

    @Option(help: "Run only cases whose name contains this text.")
    var only: String?

    @Option(help: "Write a JSON list of {name, result, reason, seconds} here.")
    var results: String?

    @Option(help: "The driver-quiet state `iavf-check watch --quiet-file` keeps (a match is believed once the driver is quiet).")
    var quietFile: String

    func run() throws {
        let bed = Testbed(pfControl: pfControl, pfTrace: pfTrace) { FileHandleOutput.stdout("# " + $0 + "\n") }
        do {
            try bed.setUp(count: vfs)
        } catch {
            throw EnvironmentProblem("suite: set-up failed: \(error)")
        }
        defer { bed.tearDown() }
        var cases = ScenarioCatalog.all
        if let only { cases = cases.filter { $0.name.contains(only) } }
        let runner = SuiteRunner(cases: cases, bed: bed, wait: .following(quietFile: quietFile) { [unowned bed] in bed.vfs[0].pci }) { FileHandleOutput.stdout($0 + "\n") }
        let rs = runner.run()
        if let results {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileManager.default.createFile(atPath: results, contents: try enc.encode(rs))
        }
        if rs.contains(where: { !$0.passed }) { throw CommandOutcome(ExitStatus.fail) }
    }
}
