import ArgumentParser
import Foundation
import IavfVM

/// A guest with the emulated PF running and the stock iavf bound to its VFs: builds
/// avfpf.ko against the kernel's headers (cached), boots the kernel under QEMU with the
/// PF's DMA window reserved, starts `iavf-check pf`, loads 8021q and iavf, runs `job`
/// (shell), stops the PF and saves dmesg. What `suite`, `stress` and `bench downup` share.
struct EmulatedPFGuest {
    var kernel: String
    var out: String
    var moduleDir: String
    var exe: String
    var timeout: Double
    /// Names the PF's log, trace and dmesg files: pf-TAG.log, pf-TAG.jsonl, dmesg-TAG.txt.
    var tag: String
    /// Extra arguments for `iavf-check pf`.
    var pfArguments = ""
    /// An iavf.ko (host path; the guest sees the host's /) to insmod instead of `modprobe iavf`,
    /// e.g. one IavfModuleBuilder built; checked against the guest kernel first (exit 2).
    var iavfModule: String? = ProcessInfo.processInfo.environment["IAVF_CHECK_IAVF_MODULE"].flatMap { $0.isEmpty ? nil : $0 }

    var pfTrace: String { "\(out)/pf-\(tag).jsonl" }
    static let pfControl = "/tmp/pf.ctl"

    struct Outcome {
        var release: String
        /// The job's exit status, or nil when the guest never reached its end.
        var jobExit: Int32?
        var stdout: String
        var stderr: String
    }

    func run(job: String) throws -> Outcome {
        let progress = VMProgress(enabled: true)
        let prepared = try KernelStore(progress: progress).prepare(try KernelSpec.parse(kernel))
        let module = try KernelModuleBuilder(sourceDirectory: moduleDir, moduleName: "avfpf").build(release: prepared.release)
        FileHandleOutput.stderr("iavf-check: \(kernel) (\(prepared.release)): avfpf.ko \(module.wasCached ? "cached" : "built")\n")
        if let iavfModule {
            do {
                guard !iavfModule.contains("'") else { throw IavfModuleError.badModule(path: iavfModule, reason: "a quote in the path") }
                try IavfModuleBuilder.validateModule(path: iavfModule, release: prepared.release)
            } catch let e as IavfModuleError {
                FileHandleOutput.stderr("iavf-check: \(e)\n")
                throw ExitCode(e.exitCode)
            }
            FileHandleOutput.stderr("iavf-check: \(kernel): iavf from \(iavfModule), not the stock module\n")
        }
        let loadIavf = iavfModule.map { "insmod '\($0)' || { echo \"insmod \($0) failed\" >&2; exit 125; }" } ?? "modprobe iavf"
        let script = """
        set -u
        "$IAVF_CHECK" pf -q \(pfArguments) --trace "\(pfTrace)" --ready /tmp/pf.ready --control \(Self.pfControl) 2>"$OUT/pf-\(tag).log" &
        PF=$!
        n=0; while [ ! -e /tmp/pf.ready ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done
        modprobe 8021q; \(loadIavf)
        \(job)
        echo "JOB_EXIT=$?"
        kill -TERM $PF; wait $PF
        dmesg > "$OUT/dmesg-\(tag).txt"
        """
        var options = VirtualMachine.Options(kernel: kernel, command: ["sh", "-c", script])
        options.timeout = timeout
        options.kernelArguments = ["memmap=2M$0x7e000000"]
        options.insmodFiles = [module.path]
        options.writableDirectories = [out]
        options.environment = [("OUT", out), ("IAVF_CHECK", exe)]
        let outcome = try VirtualMachine(progress: progress).run(options)
        let stdout = outcome.result.stdoutText
        let exit = stdout.split(separator: "\n").last { $0.hasPrefix("JOB_EXIT=") }.flatMap { Int32($0.dropFirst(9)) }
        return Outcome(release: outcome.kernel.release, jobExit: exit, stdout: stdout, stderr: outcome.result.stderrText)
    }

    /// pf-module/ of this checkout, found from the working directory or the executable.
    static func findModuleSources() -> String? {
        var candidates = [FileManager.default.currentDirectoryPath + "/pf-module"]
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir.path + "/pf-module"); dir = dir.deletingLastPathComponent() }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/avfpf.c") }
    }

    static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }
}

/// `--kernel unpatched|patched|both` of the commands that boot both generations.
enum KernelChoice: String, ExpressibleByArgument {
    case unpatched, patched, both
    var names: [String] { self == .both ? ["unpatched", "patched"] : [rawValue] }
}

/// `--pf-module DIR` of the commands that build the emulated PF's module.
struct PFModuleOption: ParsableArguments {
    @Option(help: "The emulated PF's module sources (default: pf-module/ of this checkout).")
    var pfModule: String?

    /// The sources, or exit 3 with what to do.
    func directory() throws -> String {
        guard let dir = pfModule ?? EmulatedPFGuest.findModuleSources() else {
            FileHandleOutput.stderr("iavf-check: pf-module/ not found: run from the iavf-check checkout or pass --pf-module DIR\n")
            throw ExitCode(ExitStatus.environment)
        }
        return dir
    }
}
