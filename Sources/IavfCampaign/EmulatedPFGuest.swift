import Foundation
import IavfSystem
import IavfVM

/// A guest with the emulated PF running and the stock iavf bound to its VFs: builds
/// avfpf.ko against the kernel's headers (cached), boots the kernel under QEMU with the
/// PF's DMA window reserved, starts `iavf-check pf`, loads 8021q and iavf, runs `job`
/// (shell), stops the PF and saves dmesg. What `suite`, `stress` and `bench downup` share.
public struct EmulatedPFGuest: Sendable {
    /// What `--kernel` gave for this guest (an alias, a package, a .deb, a tree).
    public var kernel: String
    /// The host directory shared with the guest (read-write), where results land.
    public var out: String
    /// pf-module/ sources.
    public var moduleDir: String
    /// The iavf-check binary the guest runs (the host's own).
    public var exe: String
    public var timeout: Double
    /// Names the PF's log, trace and dmesg files: pf-TAG.log, pf-TAG.jsonl, dmesg-TAG.txt.
    public var tag: String
    /// Extra arguments for `iavf-check pf`.
    public var pfArguments: [String] = []
    /// Progress lines on the host (kernel fetch, module build, boot).
    public var progress = true
    /// An iavf.ko to load instead of the kernel's own (`--iavf`), already checked against the
    /// guest kernel; `iavfDepends`: the modules it needs first (its modinfo `depends`).
    public var iavfModule: String?
    public var iavfDepends: [String] = []
    /// What `run` makes `iavfModule` from once it knows the guest kernel.
    public var iavf: IavfChoice = .stock
    /// The target's name in messages.
    public var label: String?

    public static let pfControl = "/tmp/pf.ctl"
    public static let pfReady = "/tmp/pf.ready"

    public init(kernel: String, out: String, moduleDir: String, exe: String, timeout: Double, tag: String) {
        self.kernel = kernel
        self.out = out
        self.moduleDir = moduleDir
        self.exe = exe
        self.timeout = timeout
        self.tag = tag
    }

    public var pfTrace: String { "\(out)/pf-\(tag).jsonl" }

    /// Where a guest's time went, in seconds from the command's start on the host.
    public struct Timing: Sendable, Codable, Equatable {
        /// Kernel fetch and extraction, headers, avfpf.ko (cached after the first run).
        public var prepare: Double
        /// qemu start to the guest command.
        public var boot: Double?
        /// The guest command to the PF attached and the drivers loaded.
        public var pfAndDrivers: Double?
        /// The job itself.
        public var job: Double?
        /// Everything: with shutdown and the host's bookkeeping.
        public var total: Double
    }

    public struct Outcome: Sendable {
        public var timing: Timing
        public var release: String
        /// The job's exit status, or nil when the guest never reached its end.
        public var jobExit: Int32?
        public var stdout: String
        public var stderr: String
    }

    /// 8021q, then the kernel's iavf or the one given; a module that does not load ends the
    /// guest with 125 and the reason (nothing falls back to the stock driver).
    var loadDrivers: String {
        guard let m = iavfModule else { return "modprobe 8021q; modprobe iavf" }
        let deps = (["8021q"] + iavfDepends).map(GuestCommand.quote).joined(separator: " ")
        return "modprobe -a \(deps); insmod \(GuestCommand.quote(m)) || { echo \(GuestCommand.quote("iavf-check: insmod \(m) failed: see dmesg-\(tag).txt")) >&2; dmesg > \"$OUT/dmesg-\(tag).txt\"; exit 125; }"
    }

    /// The guest's shell script around `job`: PF up and ready, drivers loaded, the job, its
    /// status on a line of its own, the PF stopped, dmesg saved.
    public func script(job: String) -> String {
        let pf = (["\"$IAVF_CHECK\"", "pf", "-q"] + pfArguments.map(GuestCommand.quote)
                  + ["--trace", GuestCommand.quote(pfTrace), "--ready", Self.pfReady, "--control", Self.pfControl])
            .joined(separator: " ")
        return """
        set -u
        \(pf) 2>"$OUT/pf-\(tag).log" &
        PF=$!
        T0=$(cut -d' ' -f1 /proc/uptime)
        n=0; while [ ! -e \(Self.pfReady) ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done
        \(loadDrivers)
        T1=$(cut -d' ' -f1 /proc/uptime)
        \(job)
        echo "JOB_EXIT=$?"
        echo "GUEST_TIMES=$T0 $T1 $(cut -d' ' -f1 /proc/uptime)"
        kill -TERM $PF; wait $PF
        dmesg > "$OUT/dmesg-\(tag).txt"
        """
    }

    /// The guest's uptime at its command's start, once the PF and drivers were up, and
    /// after the job (the `GUEST_TIMES=` line).
    public static func guestTimes(stdout: String) -> (Double, Double, Double)? {
        guard let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix("GUEST_TIMES=") }) else { return nil }
        let v = line.dropFirst(12).split(separator: " ").compactMap { Double($0) }
        return v.count == 3 ? (v[0], v[1], v[2]) : nil
    }

    /// The job's status from the guest's standard output (nil: it never got there).
    public static func jobExit(stdout: String) -> Int32? {
        stdout.split(separator: "\n").last { $0.hasPrefix("JOB_EXIT=") }.flatMap { Int32($0.dropFirst(9)) }
    }

    public func run(job: String, note: (String) -> Void = { _ in }) throws -> Outcome {
        let vmProgress = VMProgress(enabled: progress)
        let prepared = try KernelStore(progress: vmProgress).prepare(try KernelSpec.parse(kernel))
        let headers = try prepared.headers ?? KernelHeaders.ensure(release: prepared.release, note: note)
        var me = self
        if let (path, depends) = try Self.resolve(iavf, kernel: prepared, label: label ?? kernel, note: note) {
            me.iavfModule = path
            me.iavfDepends = depends
        }
        let module = try KernelModuleBuilder(sourceDirectory: moduleDir, moduleName: "avfpf").build(release: prepared.release, headers: headers)
        note("\(kernel) (\(prepared.release)): avfpf.ko \(module.wasCached ? "cached" : "built")")
        var options = VirtualMachine.Options(kernel: kernel, command: ["sh", "-c", me.script(job: job)])
        options.timeout = timeout
        options.kernelArguments = ["memmap=2M$0x7e000000"]
        options.insmodFiles = [module.path]
        options.writableDirectories = [out]
        options.environment = [("OUT", out), ("IAVF_CHECK", exe)]
        let outcome = try VirtualMachine(progress: vmProgress).run(options)
        let stdout = outcome.result.stdoutText
        if let m = me.iavfModule, outcome.result.stderrText.contains("iavf-check: insmod") {
            let dmesg = (try? String(contentsOfFile: "\(out)/dmesg-\(tag).txt", encoding: .utf8)) ?? ""
            throw EnvironmentProblem("step '\(label ?? kernel)': \(m) did not load in the guest (nothing ran; the stock iavf is not used instead); dmesg:\n"
                                     + dmesg.split(separator: "\n").suffix(8).joined(separator: "\n"))
        }
        var timing = Timing(prepare: outcome.prepareSeconds, boot: nil, pfAndDrivers: nil, job: nil, total: outcome.totalSeconds)
        if let start = outcome.commandStartSeconds {
            timing.boot = start - outcome.prepareSeconds
            if let t = Self.guestTimes(stdout: stdout) { timing.pfAndDrivers = t.1 - t.0; timing.job = t.2 - t.1 }
        }
        return Outcome(timing: timing, release: outcome.kernel.release, jobExit: Self.jobExit(stdout: stdout), stdout: stdout,
                       stderr: outcome.result.stderrText)
    }

    /// pf-module/ of this checkout, found from the working directory or the executable.
    public static func findModuleSources() -> String? {
        var candidates = [FileManager.default.currentDirectoryPath + "/pf-module"]
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir.path + "/pf-module"); dir = dir.deletingLastPathComponent() }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/avfpf.c") }
    }

    public static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }
}

/// `--kernel` of the commands that boot guests: `both` (unpatched then patched), or a
/// comma-separated list of anything `vm run --kernel` takes, in the order given.
public enum KernelList {
    public static func parse(_ text: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !items.isEmpty, !items.contains(where: \.isEmpty) else {
            throw BadInput("--kernel '\(text)': empty entry; give unpatched, patched, both or a comma-separated list of kernels")
        }
        var out: [String] = []
        for i in items {
            for k in i.lowercased() == "both" ? ["unpatched", "patched"] : [i] {
                do { _ = try KernelSpec.parse(k) } catch let e as VMError { throw BadInput("--kernel: \(e)") }
                guard !out.contains(k) else { throw BadInput("--kernel '\(text)': \(k) is named twice") }
                out.append(k)
            }
        }
        return out
    }

    /// A short name for files and columns: the alias, or the last path or package component.
    public static func tag(_ kernel: String) -> String {
        if KernelSpec.alias(named: kernel) != nil { return kernel.lowercased() }
        var t = URL(fileURLWithPath: kernel).lastPathComponent
        if t.hasSuffix(".deb") { t.removeLast(4) }
        t = t.replacingOccurrences(of: "linux-image-", with: "")
        return String(t.map { $0.isLetter || $0.isNumber || "._+-".contains($0) ? $0 : "_" })
    }
}
