import Foundation

/// One call from `--kernel K` and a command to the command's result: resolve, fetch, verify,
/// extract (cached), build the initramfs, boot, run, power off.
public struct VirtualMachine: Sendable {
    public struct Options: Sendable {
        /// `unpatched`, `patched`, a Debian kernel package, a .deb path or an extracted tree.
        public var kernel: String
        public var command: [String]
        public var timeout: Double = 300
        public var memoryMB: Int = 2048
        public var cpus: Int = 2
        public var preloadModules: [String] = []
        /// Extra kernel command-line words (e.g. `memmap=2M$0x7e000000`).
        public var kernelArguments: [String] = []
        /// Module files on the host to insmod in the guest before the command ("FILE [PARAM=VALUE ...]").
        public var insmodFiles: [String] = []
        public var writableDirectories: [String] = []
        public var environment: [(String, String)] = []
        public var workingDirectory: String? = FileManager.default.currentDirectoryPath
        public var consoleLogPath: String?
        public var qemuPath: String?
        public var onStdout: (@Sendable (Data) -> Void)?
        public var onStderr: (@Sendable (Data) -> Void)?

        public init(kernel: String, command: [String]) {
            self.kernel = kernel
            self.command = command
        }
    }

    /// The run's result plus the timings issue 4 asks for.
    public struct Outcome: Sendable {
        public var kernel: PreparedKernel
        public var result: VMRunResult
        /// From `run` being called to the kernel being ready to boot (fetch, verify, extract).
        public var prepareSeconds: Double
        /// From `run` being called to the guest command starting (the "< 15 s" budget).
        public var commandStartSeconds: Double?
        /// From `run` being called to qemu's exit.
        public var totalSeconds: Double
    }

    public var store: KernelStore
    public var progress: VMProgress

    public init(store: KernelStore? = nil, progress: VMProgress = .silent) {
        self.progress = progress
        self.store = store ?? KernelStore(progress: progress)
    }

    public func run(_ options: Options) throws -> Outcome {
        let start = Date()
        guard !options.command.isEmpty else { throw VMError.usage("no guest command given (put it after --)") }
        let source = try KernelSpec.parse(options.kernel)
        // Fail fast on missing tools before a long download.
        if options.qemuPath == nil { _ = try HostTools.require("qemu-system-x86_64", purpose: "to boot the guest kernel") }
        _ = try HostTools.staticBusybox()
        if let alias = KernelSpec.alias(named: options.kernel) {
            progress.note("kernel '\(alias.name)': \(alias.deb.package) \(alias.deb.version)")
        }
        let kernel = try store.prepare(source)
        progress.endStage()
        let prepared = Date().timeIntervalSince(start)
        progress.note((kernel.wasCached ? "cached kernel " : "prepared kernel ") + "\(kernel.release) at \(kernel.tree)")

        var request = VMRunRequest(kernel: kernel, command: options.command)
        request.timeout = options.timeout
        request.memoryMB = options.memoryMB
        request.cpus = options.cpus
        request.preloadModules = options.preloadModules
        request.kernelArguments = options.kernelArguments
        request.insmodFiles = options.insmodFiles
        request.writableDirectories = options.writableDirectories
        request.environment = options.environment
        request.workingDirectory = options.workingDirectory
        request.consoleLogPath = options.consoleLogPath
        request.qemuPath = options.qemuPath
        request.onStdout = options.onStdout
        request.onStderr = options.onStderr
        let qemuStart = Date()
        let result = try QEMURunner(progress: progress).run(request)
        let commandStart = result.bootSeconds.map { qemuStart.timeIntervalSince(start) + $0 }
        return Outcome(kernel: kernel, result: result, prepareSeconds: prepared,
                       commandStartSeconds: commandStart, totalSeconds: Date().timeIntervalSince(start))
    }
}
