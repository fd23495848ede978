import ArgumentParser
import IavfCampaign
import IavfSystem

/// `--kernel` of the commands that boot guests (suite run, stress, bench downup).
struct KernelOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "unpatched (6.1.170), patched (6.1.192), both, a Debian kernel package (NAME[=VERSION]), a .deb or an extracted tree; several comma-separated, in the order the table shows them.",
        valueName: "kernels"))
    var kernel: String = "both"

    /// The kernels in order, or bad input (exit 2) before anything boots.
    func kernels() throws -> [String] { try KernelList.parse(kernel) }
}

/// `--pf-module DIR` of the commands that build the emulated PF's module.
struct PFModuleOption: ParsableArguments {
    @Option(help: "The emulated PF's module sources (default: pf-module/ of this checkout).")
    var pfModule: String?

    /// The sources, or exit 3 with what to do.
    func directory() throws -> String {
        guard let dir = pfModule ?? EmulatedPFGuest.findModuleSources() else {
            throw EnvironmentProblem("pf-module/ not found: run from the iavf-check checkout or pass --pf-module DIR")
        }
        return dir
    }
}
