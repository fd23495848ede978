import Foundation
import IavfSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What to run in the guest and how.
public struct VMRunRequest: Sendable {
    public var kernel: PreparedKernel
    /// argv of the guest command (run with `exec`, after `cd` to `workingDirectory`).
    public var command: [String]
    /// The host's working directory; the guest starts there when it is visible (else in /).
    public var workingDirectory: String? = FileManager.default.currentDirectoryPath
    /// Extra variables for the guest command (the guest starts from a clean environment).
    public var environment: [(String, String)] = []
    /// Modules /init loads before the command (`modprobe`); a failure is an error.
    public var preloadModules: [String] = []
    /// Host directories the guest may write to, mounted read-write at the same paths (the rest of
    /// the host is read-only, and guest writes elsewhere vanish with the VM).
    public var writableDirectories: [String] = []
    /// Extra kernel command-line words, e.g. `memmap=2M$0x7e000000` for the emulated PF's BARs.
    public var kernelArguments: [String] = []
    /// Kernel module files (host paths, visible in the guest over 9p) to `insmod` before the
    /// command, each optionally followed by module parameters ("/path/avfpf.ko nvfs=2").
    public var insmodFiles: [String] = []
    /// Hard limit on the whole qemu run, in seconds.
    public var timeout: Double = 300
    public var memoryMB: Int = 2048
    public var cpus: Int = 2
    /// Write the timestamped console log here (also on failure).
    public var consoleLogPath: String?
    /// qemu-system-x86_64 to use (tests put a fake here); nil searches PATH.
    public var qemuPath: String?
    /// The static busybox for the initramfs; nil finds busybox-static's.
    public var busyboxPath: String?
    /// Live copies of the guest's stdout/stderr as they arrive; the result also holds all of it.
    public var onStdout: (@Sendable (Data) -> Void)?
    public var onStderr: (@Sendable (Data) -> Void)?

    public init(kernel: PreparedKernel, command: [String]) {
        self.kernel = kernel
        self.command = command
    }
}

/// What came back from the guest.
public struct VMRunResult: Sendable {
    /// The guest command's exit status (127: not found, 128+N: killed by signal N).
    public var exitStatus: Int32
    public var stdout: Data
    public var stderr: Data
    public var console: ConsoleLog
    /// qemu start to the guest command's start (the boot), in seconds.
    public var bootSeconds: Double?
    /// qemu start to qemu exit.
    public var qemuSeconds: Double

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Boots the kernel under `qemu-system-x86_64 -accel tcg`, runs the command, enforces the hard
/// timeout and turns the outcome into a result or a `VMError` carrying the console tail.
public struct QEMURunner: Sendable {
    public var progress: VMProgress
    /// Directory for per-run scratch (command script, outputs, initramfs); removed afterwards.
    public var scratchParent: String

    public init(progress: VMProgress = .silent, scratchParent: String? = nil) {
        self.progress = progress
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"
        self.scratchParent = scratchParent ?? tmp
    }

    /// The kernel command line (`vmout`/`vmmods` reach /init as variables).
    static func kernelCommandLine(runDirectory: String, modules: [String], writable: [String] = [],
                                  extra: [String] = []) -> String {
        var words = ["console=ttyS0", "panic=-1", "oops=panic", "loglevel=4", "mitigations=off", "edd=off",
                     "vmout=\(runDirectory)"]
        if !modules.isEmpty { words.append("vmmods=\(modules.joined(separator: ","))") }
        if !writable.isEmpty { words.append("vmrw=\(writable.joined(separator: ","))") }
        words += extra
        // Debugging aid: extra kernel parameters, e.g. IAVF_CHECK_VM_KERNEL_ARGS="loglevel=7 initcall_debug".
        if let extra = ProcessInfo.processInfo.environment["IAVF_CHECK_VM_KERNEL_ARGS"], !extra.isEmpty {
            words.append(extra)
        }
        return words.joined(separator: " ")
    }

    /// qemu's option syntax doubles commas inside a value.
    static func qemuValue(_ path: String) -> String { path.replacingOccurrences(of: ",", with: ",,") }

    static func arguments(kernel: PreparedKernel, initrd: String, runDirectory: String, modules: [String],
                          writable: [String] = [], kernelArguments: [String] = [], memoryMB: Int, cpus: Int) -> [String] {
        let shares = writable.enumerated().flatMap { i, dir in
            ["-virtfs", "local,path=\(qemuValue(dir)),mount_tag=rw\(i),security_model=none"]
        }
        return [
            "-accel", "tcg", "-cpu", "max", "-m", "\(memoryMB)", "-smp", "\(cpus)",
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel.vmlinuz, "-initrd", initrd,
            "-append", kernelCommandLine(runDirectory: runDirectory, modules: modules, writable: writable,
                                         extra: kernelArguments),
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", "local,path=\(qemuValue(kernel.modulesDirectory)),mount_tag=kmods,security_model=none,readonly=on",
            "-virtfs", "local,path=\(qemuValue(runDirectory)),mount_tag=vmout,security_model=none",
        ] + shares
    }

    public func run(_ request: VMRunRequest) throws -> VMRunResult {
        let qemu: String
        if let path = request.qemuPath {
            qemu = path
        } else {
            qemu = try HostTools.require("qemu-system-x86_64", purpose: "to boot the guest kernel")
        }
        guard request.timeout > 0 else { throw VMError.usage("--timeout must be positive") }
        for module in request.preloadModules where module.isEmpty || module.contains(where: { " ,=".contains($0) }) {
            throw VMError.usage("bad module name '\(module)'")
        }
        let writable = try request.writableDirectories.map(Self.checkWritable)
        for arg in request.kernelArguments where arg.isEmpty || arg.contains(where: { $0.isNewline || $0 == " " || $0 == "\t" }) {
            throw VMError.usage("bad kernel argument '\(arg)': one word per --kernel-arg, no spaces")
        }
        let busybox = try request.busyboxPath ?? HostTools.staticBusybox()
        let runDirectory = try makeRunDirectory()
        defer { try? FileManager.default.removeItem(atPath: runDirectory) }

        let script = try GuestCommand.script(command: request.command, workingDirectory: request.workingDirectory,
                                             environment: request.environment, insmod: request.insmodFiles)
        try write(script, to: runDirectory + "/cmd")
        let (initrd, _) = try InitramfsBuilder(busyboxPath: busybox)
            .build(modulesDirectory: request.kernel.modulesDirectory, release: request.kernel.release)
        let initrdPath = runDirectory + "/initrd.cpio"
        try initrd.write(to: URL(fileURLWithPath: initrdPath))

        // The console pipe: the read end stays here (close-on-exec), qemu gets the write end.
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw VMError.environment("cannot create a pipe for qemu's console: \(String(cString: strerror(errno)))")
        }
        for f in fds { _ = fcntl(f, F_SETFD, FD_CLOEXEC) }
        let qemuArguments = Self.arguments(kernel: request.kernel, initrd: initrdPath, runDirectory: runDirectory,
                                           modules: request.preloadModules, writable: writable,
                                           kernelArguments: request.kernelArguments,
                                           memoryMB: request.memoryMB,
                                           cpus: request.cpus)
        let start = Date()
        let process: GuardedChild
        do {
            process = try GuardedChild(executable: qemu, arguments: qemuArguments, output: fds[1])
        } catch {
            close(fds[0]); close(fds[1])
            throw VMError.environment("cannot start \(qemu): \(error): " +
                                      "apt-get install -y --no-install-recommends qemu-system-x86")
        }
        close(fds[1])
        progress.stage("booting", message: "booting \(request.kernel.release) with qemu -accel tcg " +
                       "(\(request.cpus) vCPU, \(request.memoryMB) MB, ~7 s to the command)")

        let fd = fds[0]
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var console = ConsoleLog()
        var stdout = OutputFollower(path: runDirectory + "/stdout", sink: request.onStdout)
        var stderr = OutputFollower(path: runDirectory + "/stderr", sink: request.onStderr)
        var consoleOpen = true
        var timedOut = false
        var killDeadline: Date?
        let deadline = start.addingTimeInterval(request.timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)

        func readConsole() {
            while consoleOpen {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let lines = console.append(Array(buffer[0..<n]), at: Date().timeIntervalSince(start))
                    for line in lines { report(line) }
                } else if n == 0 {
                    consoleOpen = false
                } else {
                    if errno != EAGAIN && errno != EINTR { consoleOpen = false }
                    return
                }
            }
        }

        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if consoleOpen { _ = poll(&pfd, 1, 50) } else { usleep(50_000) }
            readConsole()
            stdout.pump()
            stderr.pump()
            if !process.isRunning {
                // Killed by our own SIGINT/SIGTERM handler: it reports and exits, not us.
                Interruption.parkIfInterrupted()
                // qemu is gone; whatever is still in the pipe arrives within a moment.
                let drainUntil = Date().addingTimeInterval(1)
                while consoleOpen && Date() < drainUntil {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&p, 1, 50)
                    readConsole()
                }
                break
            }
            if !timedOut && Date() >= deadline {
                timedOut = true
                progress.note("hard timeout of \(VMError.format(request.timeout)) s reached; stopping qemu")
                process.send(SIGTERM)
                killDeadline = Date().addingTimeInterval(3)
            } else if let kd = killDeadline, Date() >= kd {
                process.send(SIGKILL)
                killDeadline = nil
            }
        }
        process.waitUntilExit()
        let elapsed = Date().timeIntervalSince(start)
        console.finish(at: elapsed)
        stdout.pump()
        stderr.pump()
        progress.endStage()
        if let path = request.consoleLogPath {
            try? console.text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        if timedOut {
            throw VMError.timeout(seconds: request.timeout, consoleTail: console.tail())
        }
        let statusText = try? String(contentsOfFile: runDirectory + "/exit_status", encoding: .utf8)
        let status = statusText.flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            ?? (console.commandStart != nil ? console.exitStatusMarker : nil)
        guard let status else {
            if let reason = console.initFailure {
                throw VMError.guestInitFailed(reason: reason, consoleTail: console.tail())
            }
            if let crash = console.crashLine {
                throw VMError.guestCrashed(reason: crash, consoleTail: console.tail())
            }
            let how = process.terminatingSignal.map { "killed by signal \($0)" } ?? "exited with status \(process.exitStatus)"
            if console.lines.isEmpty || (process.exitStatus != 0 && console.commandStart == nil
                                         && !console.lines.contains { $0.text.contains("vm-init[") }) {
                // qemu itself refused to start (bad option, missing firmware, unreadable kernel).
                throw VMError.environment("qemu-system-x86_64 \(how) before the guest started:\n\(console.tail())")
            }
            throw VMError.guestCrashed(reason: "qemu \(how) before the guest command finished",
                                       consoleTail: console.tail())
        }
        let boot = console.commandStart
        progress.note("guest command exited with status \(status); VM finished in \(VMError.format(elapsed)) s")
        return VMRunResult(exitStatus: status, stdout: stdout.data, stderr: stderr.data, console: console,
                           bootSeconds: boot, qemuSeconds: elapsed)
    }

    /// Milestones of the boot, as progress lines.
    private func report(_ line: ConsoleLog.Line) {
        let text = line.text
        if text.contains("vm-init[") && text.contains("]: kernel ") {
            progress.note("guest kernel up, /init running")
        } else if text.contains("vm-init[") && text.hasSuffix("mounts done") {
            progress.note("guest root mounted (host / over 9p, tmpfs overlay)")
        } else if text.contains("vm-init[") && text.hasSuffix(" ok") && text.contains("modprobe ") {
            progress.note("guest: \(text.components(separatedBy: "]: ").last ?? text)")
        } else if text.hasSuffix("VM_CMD_BEGIN") {
            progress.endStage()
            progress.note("guest command started (boot took \(VMError.format(line.time)) s)")
        } else if text.contains("VM_INIT_FAILED:") || text.contains("Kernel panic - not syncing") {
            progress.note("guest: \(text)")
        }
    }

    /// An absolute, existing directory whose path the kernel command line can carry.
    static func checkWritable(_ dir: String) throws -> String {
        let path = URL(fileURLWithPath: dir).standardizedFileURL.resolvingSymlinksInPath().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw VMError.usage("--writable \(dir): no such directory (create it first)")
        }
        guard path != "/", !path.contains(where: { " ,\t\n\"'".contains($0) }) else {
            throw VMError.usage("--writable \(dir): the path must not be / or contain spaces, commas or quotes")
        }
        return path
    }

    private func makeRunDirectory() throws -> String {
        var template = Array((scratchParent + "/iavf-check-vm.XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw VMError.environment("cannot create a scratch directory in \(scratchParent) " +
                                      "(\(String(cString: strerror(errno)))); set TMPDIR to a writable directory")
        }
        let path = String(cString: made)
        if path.contains(where: { " ,\t\n\"'".contains($0) }) {
            try? FileManager.default.removeItem(atPath: path)
            throw VMError.environment("the scratch directory \(path) contains a space, comma or quote, which the " +
                                      "kernel command line cannot carry; set TMPDIR to a plain path such as /tmp")
        }
        return path
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } catch {
            throw VMError.environment("cannot write \(path): \(error.localizedDescription)")
        }
    }
}

/// Follows a file the guest writes over 9p and hands new bytes to a sink as they appear.
struct OutputFollower {
    let path: String
    let sink: (@Sendable (Data) -> Void)?
    private var handle: FileHandle?
    private(set) var data = Data()

    init(path: String, sink: (@Sendable (Data) -> Void)?) {
        self.path = path
        self.sink = sink
    }

    mutating func pump() {
        if handle == nil { handle = FileHandle(forReadingAtPath: path) }
        guard let handle, let chunk = try? handle.readToEnd(), !chunk.isEmpty else { return }
        data.append(chunk)
        sink?(chunk)
    }
}
