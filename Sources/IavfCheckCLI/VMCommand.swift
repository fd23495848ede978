import ArgumentParser
import Foundation
import IavfVM

/// `iavf-check vm`: run commands in a Debian kernel under QEMU (TCG).
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run a command in a Debian 6.1 guest kernel under QEMU (TCG).",
        discussion: """
        The guest sees the host's / read-only (9p) under a tmpfs overlay (writes stay in the guest \
        unless a directory is shared with --writable), with bpffs, \
        tracefs and debugfs mounted and the kernel's modules loadable with modprobe (iavf, 8021q). \
        QEMU has no Intel VF model, so iavf loads without a device. Needs qemu-system-x86 and \
        busybox-static (scripts/install-deps.sh installs them).
        """,
        subcommands: [VMRunCommand.self, VMKernelsCommand.self]
    )
}

struct VMRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot a kernel, run COMMAND in it, print its output and exit with its status.",
        discussion: """
        KERNEL is one of:
          unpatched        Debian 6.1.170-3 (6.1.0-47), iavf before the VLAN fixes
          patched          Debian 6.1.192-2 (6.1.0-56), iavf with the VLAN fixes
          linux-image-...  a Debian kernel package, optionally NAME=VERSION
          FILE.deb         a kernel package file
          DIR              an extracted package (boot/vmlinuz-R, lib/modules/R/)

        Packages come from $IAVF_CHECK_KERNEL_DIR or ../shared/kernels when there, else from \
        `apt-get download`; their SHA256 is checked against a pinned list or the apt index. \
        Extracted kernels are cached in $XDG_CACHE_HOME/iavf-check (~/.cache/iavf-check).

        COMMAND runs with the host's /bin/sh in the guest, from the current directory, in a clean \
        environment (PATH, HOME=/root, KVER, IAVF_CHECK_GUEST=1, plus --env). Its stdout and stderr \
        arrive on the host's as it runs; progress goes to stderr (--quiet silences it).

        Exit status: COMMAND's own; 2 bad input (--kernel, --env, no COMMAND); 3 environment problem (no qemu, busybox-static, \
        kernel, or a SHA256 mismatch); 124 the hard timeout hit; 125 the guest panicked, oopsed or \
        could not start the command (the console tail is printed); 130/143 interrupted by \
        SIGINT/SIGTERM (the guest is killed with iavf-check).

        --kernel-arg adds words to the guest kernel's command line (the IAVF_CHECK_VM_KERNEL_ARGS \
        variable still adds more, for debugging). --insmod loads a module built on the host, e.g. \
        pf-module/avfpf.ko, before COMMAND.

        Examples:
          iavf-check vm run --kernel patched -- uname -r
          iavf-check vm run -k patched --kernel-arg 'memmap=2M$0x7e000000' --insmod /tmp/avfpf.ko -- iavf-check pf
          iavf-check vm run -k unpatched --load iavf -- ls /sys/kernel/btf/iavf
        """
    )

    @Option(name: .shortAndLong, help: "Kernel: unpatched, patched, a Debian kernel package, a .deb or a tree.")
    var kernel: String

    @Option(help: "Hard limit on the whole VM run, in seconds.")
    var timeout: Double = 300

    @Option(help: "Guest memory in MB.")
    var memory: Int = 2048

    @Option(help: "Guest vCPUs.")
    var cpus: Int = 2

    @Option(name: .customLong("load"), parsing: .singleValue,
            help: ArgumentHelp("Load MODULE before COMMAND (repeat, or comma-separate); a failure is an error.",
                               valueName: "module"))
    var load: [String] = []

    @Option(name: .customLong("kernel-arg"), parsing: .singleValue,
            help: ArgumentHelp("Append WORD to the guest kernel's command line (repeatable), e.g. " +
                               "'memmap=2M$0x7e000000' for the emulated PF (quote the $ in a shell).", valueName: "word"))
    var kernelArg: [String] = []

    @Option(name: .customLong("insmod"), parsing: .singleValue,
            help: ArgumentHelp("insmod the module FILE (a host path; the guest sees the host's /) before COMMAND, " +
                               "with optional parameters: --insmod '/path/avfpf.ko nvfs=2' (repeatable); a failure exits 125.",
                               valueName: "file"))
    var insmod: [String] = []

    @Option(name: .customLong("env"), parsing: .singleValue,
            help: ArgumentHelp("Set NAME=VALUE in the guest command's environment (repeatable).", valueName: "name=value"))
    var env: [String] = []

    @Option(name: .customLong("writable"), parsing: .singleValue,
            help: ArgumentHelp("Mount the host directory DIR read-write at the same path in the guest (repeatable); " +
                               "elsewhere guest writes vanish with the VM.", valueName: "dir"))
    var writable: [String] = []

    @Option(name: .customLong("keep-console"), help: ArgumentHelp("Write the timestamped serial console log to FILE.", valueName: "file"))
    var keepConsole: String?

    @Flag(name: .shortAndLong, help: "No progress lines on stderr.")
    var quiet = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run in the guest, after --.", valueName: "command"))
    var command: [String] = []

    /// Bad input exits 2 (the CLI's convention), with one line saying what to fix.
    func inputProblem() -> String? {
        if command.isEmpty { return "give the guest command after --, e.g. -- uname -r" }
        if timeout <= 0 { return "--timeout must be positive" }
        if memory < 256 { return "--memory must be at least 256 (MB)" }
        if cpus < 1 { return "--cpus must be at least 1" }
        if let bad = env.first(where: { !$0.contains("=") }) { return "--env \(bad): use NAME=VALUE" }
        if let bad = kernelArg.first(where: { $0.isEmpty || $0.contains(" ") || $0.contains("\n") }) {
            return "--kernel-arg '\(bad)': one word per option"
        }
        for spec in insmod {
            let file = String(spec.split(separator: " ").first ?? "")
            if !file.hasPrefix("/") { return "--insmod '\(spec)': give an absolute path to a .ko file" }
            if !FileManager.default.fileExists(atPath: file) { return "--insmod \(file): no such file" }
        }
        return nil
    }

    func run() throws {
        if let problem = inputProblem() {
            throw BadInput("vm: error: \(problem)")
        }
        Interruption.install()
        let progress = VMProgress(enabled: !quiet)
        var options = VirtualMachine.Options(kernel: kernel, command: command)
        options.timeout = timeout
        options.memoryMB = memory
        options.cpus = cpus
        options.preloadModules = load.flatMap { $0.split(separator: ",").map(String.init) }
        options.kernelArguments = kernelArg
        options.insmodFiles = insmod
        options.environment = env.map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        options.writableDirectories = writable
        options.consoleLogPath = keepConsole
        options.onStdout = { FileHandle.standardOutput.write($0) }
        options.onStderr = { FileHandle.standardError.write($0) }
        do {
            let outcome = try VirtualMachine(progress: progress).run(options)
            throw CommandOutcome(outcome.result.exitStatus)
        } catch let error as VMError {
            throw VMCommandError(error: error)
        }
    }
}

struct VMKernelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "List kernel aliases, local .deb files and cached kernels."
    )

    func run() throws {
        let store = KernelStore()
        print("Aliases:")
        for alias in KernelSpec.aliases {
            print("  \(alias.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(alias.deb.package) \(alias.deb.version)  \(alias.summary)")
        }
        let debs = store.localDebs()
        print("Local packages (used before apt-get download):")
        if debs.isEmpty { print("  (none)") }
        for deb in debs { print("  \(deb)") }
        let cached = store.cachedKernels()
        print("Cached kernels in \(store.cacheDirectory)/kernels:")
        if cached.isEmpty { print("  (none)") }
        for kernel in cached { print("  \(kernel.name)  (\(kernel.release))") }
    }
}

/// `vm run`'s errors keep their "vm: error:" prefix and VMError's exit status.
struct VMCommandError: ToolError {
    var error: VMError
    var description: String { "vm: error: \(error.description)" }
    var exitStatus: Int32 { error.exitCode }
}
