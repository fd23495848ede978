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

/// `--iavf` and `--iavf-patches` of the commands that boot guests: which iavf the guests run.
struct IavfOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Run this iavf instead of the kernel's own: an iavf.ko built for the guest kernel (with BTF), or the driver's source directory (e.g. a tree's drivers/net/ethernet/intel/iavf), built here against the guest kernel's headers with BTF on its vmlinux.",
        valueName: "path"))
    var iavf: String?

    @Option(help: ArgumentHelp(
        "Patches applied in order to the iavf sources (--iavf DIR, or else Debian's linux-source of each kernel's version, fetched by name): runs the command once per step, base, +A, +A+B, ... with a result column each.",
        valueName: "A.patch,B.patch"))
    var iavfPatches: String?

    var patches: [String] {
        (iavfPatches ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The result columns: each kernel with the iavf it runs; bad input (exit 2) before anything boots.
    func targets(_ kernels: [String]) throws -> [GuestTarget] {
        try GuestTarget.plan(kernels: kernels, iavf: iavf, patches: patches)
    }
}
