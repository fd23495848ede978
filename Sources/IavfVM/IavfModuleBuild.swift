import Foundation

/// Builds the guest kernel's iavf driver out of tree, optionally patched, with module BTF generated
/// against the *guest* kernel's vmlinux BTF, so the probes' fentry/fexit programs attach to it as
/// they do to the stock module.
///
///     sources   Debian's linux-source-X.Y of the kernel's exact version (`SourceStore`), or a directory
///     patches   applied in order with `git apply -p1` in a scratch kernel-root tree
///     build     make -C HEADERS-OVERLAY M=TREE/drivers/net/ethernet/intel/iavf modules
///
/// The headers overlay is a symlink farm over Debian's linux-headers-RELEASE plus two things the
/// package lacks: `vmlinux` (taken out of the guest's vmlinuz: scripts/Makefile.modfinal runs
/// `pahole -J --btf_base vmlinux` only when it exists) and `tools/bpf/resolve_btfids/resolve_btfids`
/// (a stand-in that succeeds when the module has no `.BTF_ids` section to patch, as iavf has none,
/// and fails otherwise). Built modules are cached by (release, kernel image, sources, patches):
///
///     CACHE/iavf-modules/RELEASE/headers-KIMG/                   the overlay (vmlinux, stand-in)
///     CACHE/iavf-modules/RELEASE/KIMG-SOURCES-PATCHES/iavf.ko    plus build.log
public struct IavfModuleBuilder: Sendable {
    public enum Source: Sendable, Equatable {
        /// The iavf directory of Debian's linux-source package of this version.
        case debian(KernelSourcePackage)
        /// A directory holding the driver's Makefile or Kbuild and sources.
        case directory(String)
    }

    public struct Built: Sendable, Equatable {
        public var path: String
        public var release: String
        public var wasCached: Bool
        /// The key parts: kernel image, sources and patches digests.
        public var kernelHash: String
        public var sourceHash: String
        public var patchesHash: String
        public var btfBytes: Int
        /// The guest's vmlinux the module BTF was generated against (in the headers overlay).
        public var vmlinux: String
        public var seconds: Double
    }

    public var cacheDirectory: String
    /// Where `linux-headers-RELEASE` lives.
    public var headersRoot: String
    public var progress: VMProgress

    public init(cacheDirectory: String? = nil, headersRoot: String = "/usr/src", progress: VMProgress = .silent,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.cacheDirectory = cacheDirectory ?? KernelStore.defaultCacheDirectory(environment: environment)
        self.headersRoot = headersRoot
        self.progress = progress
    }

    var modulesDirectory: String { (cacheDirectory as NSString).appendingPathComponent("iavf-modules") }

    // MARK: - Validation (exit 2)

    /// Checks a prebuilt module for the guest: an iavf kernel module whose vermagic names `release`
    /// and that carries a `.BTF` section. Returns what it read.
    @discardableResult
    public static func validateModule(path: String, release: String) throws -> ModuleFacts {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw IavfModuleError.badModule(path: path, reason: "no such file")
        }
        guard let facts = ModuleFacts.read(path: path) else {
            throw IavfModuleError.badModule(path: path, reason: "not a kernel module (no 64-bit ELF with a .modinfo section; " +
                                            "a compressed .ko.xz must be decompressed first)")
        }
        if let name = facts.name, name != "iavf" {
            throw IavfModuleError.badModule(path: path, reason: "it is the module '\(name)', not iavf")
        }
        guard let built = facts.release else {
            throw IavfModuleError.badModule(path: path, reason: "its .modinfo has no vermagic")
        }
        guard built == release else {
            throw IavfModuleError.badModule(path: path, reason: """
            it was built for kernel \(built) (vermagic "\(facts.vermagic ?? "")"), the guest runs \(release): \
            build it against linux-headers-\(release), or let iavf-check build it
            """)
        }
        guard facts.btfBytes > 0 else {
            throw IavfModuleError.badModule(path: path, reason: """
            it has no .BTF section, so the fentry/fexit probes cannot attach to it: build it with pahole \
            (apt-get install dwarves) and the guest's vmlinux in the headers tree, or let iavf-check build it
            """)
        }
        return facts
    }

    /// Checks a source directory the user named: a directory with a Makefile or Kbuild and C files.
    public static func validateSourceDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw IavfModuleError.badSourceDirectory(path: path, reason: "no such directory")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard names.contains("Makefile") || names.contains("Kbuild") else {
            throw IavfModuleError.badSourceDirectory(path: path, reason: "it has no Makefile or Kbuild")
        }
        guard names.contains(where: { $0.hasSuffix(".c") }) else {
            throw IavfModuleError.badSourceDirectory(path: path, reason: "it has no C sources (*.c)")
        }
    }

    /// Checks that every patch exists and is readable, before anything is fetched or built.
    public static func validatePatches(_ patches: [String]) throws {
        for p in patches {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue else {
                throw IavfModuleError.badPatch(path: p, reason: "no such file")
            }
            guard FileManager.default.isReadableFile(atPath: p) else {
                throw IavfModuleError.badPatch(path: p, reason: "not readable")
            }
        }
    }

    // MARK: - Build

    /// Builds (or reuses) iavf.ko for the kernel `release` whose image is `vmlinuz`.
    public func build(source: Source, patches: [String] = [], release: String, vmlinuz: String) throws -> Built {
        let start = Date()
        try Self.validatePatches(patches)
        let sourceDir: String
        switch source {
        case .directory(let dir):
            try Self.validateSourceDirectory(dir)
            sourceDir = dir
        case .debian(let package):
            sourceDir = try SourceStore(cacheDirectory: cacheDirectory, progress: progress).iavfSources(for: package).directory
        }
        let files = try Self.sourceFiles(in: sourceDir)
        let sourceHash = try Self.digest(files.map { ($0, (sourceDir as NSString).appendingPathComponent($0)) })
        let patchesHash = try Self.digest(patches.map { (($0 as NSString).lastPathComponent, $0) })
        let kernelHash = String(try checksum(vmlinuz).prefix(16))
        let releaseDir = (modulesDirectory as NSString).appendingPathComponent(release)
        let dir = (releaseDir as NSString).appendingPathComponent("\(kernelHash)-\(sourceHash)-\(patchesHash)")
        let ko = (dir as NSString).appendingPathComponent("iavf.ko")
        let vmlinux = ((releaseDir as NSString).appendingPathComponent("headers-\(kernelHash)") as NSString)
            .appendingPathComponent("vmlinux")
        if let facts = try? Self.validateModule(path: ko, release: release) {
            return Built(path: ko, release: release, wasCached: true, kernelHash: kernelHash, sourceHash: sourceHash,
                         patchesHash: patchesHash, btfBytes: facts.btfBytes, vmlinux: vmlinux, seconds: Date().timeIntervalSince(start))
        }
        let headers = try headersOverlay(release: release, vmlinuz: vmlinuz, kernelHash: kernelHash)

        let fm = FileManager.default
        try BuildEnvironment.makeDirectory(releaseDir)
        KernelStore.removeAbandoned(in: releaseDir, prefix: ".build-")
        let scratch = (releaseDir as NSString).appendingPathComponent(".build-\(getpid())")
        try? fm.removeItem(atPath: scratch)
        defer { try? fm.removeItem(atPath: scratch) }
        let driver = (scratch as NSString).appendingPathComponent(SourceStore.driverPath)
        try BuildEnvironment.makeDirectory(driver)
        do {
            for f in files {
                try fm.copyItem(atPath: (sourceDir as NSString).appendingPathComponent(f),
                                toPath: (driver as NSString).appendingPathComponent(f))
            }
        } catch {
            throw IavfModuleError.environment("cannot copy the iavf sources to \(driver): \(error.localizedDescription)")
        }
        try applyPatches(patches, inTree: scratch)

        guard HostTools.find("pahole") != nil else {
            throw IavfModuleError.environment("pahole not found (it generates the module's BTF): " +
                                              "apt-get install -y --no-install-recommends dwarves (scripts/install-deps.sh installs it)")
        }
        let make = try BuildEnvironment.tool("make", "make")
        progress.stage("building", message: "building iavf.ko for \(release) (make M=..., with BTF against the guest's vmlinux)")
        let out = try Subprocess.run(make, ["-C", headers, "M=\(driver)", "modules"])
        let log = out.combined
        let builtKo = (driver as NSString).appendingPathComponent("iavf.ko")
        guard out.status == 0, fm.fileExists(atPath: builtKo) else {
            throw IavfModuleError.buildFailed(step: "make -C \(headers) M=\(driver) modules (exit \(out.status))",
                                              output: Self.tail(log))
        }
        if log.contains("Skipping BTF generation") {
            throw IavfModuleError.buildFailed(step: "BTF generation", output: Self.tail(log))
        }
        // As INSTALL_MOD_STRIP=1 does: drop DWARF (4.8 MB -> 0.4 MB); .BTF is not a debug section.
        if let strip = HostTools.find("strip") {
            let s = try Subprocess.run(strip, ["--strip-debug", builtKo])
            guard s.status == 0 else { throw IavfModuleError.buildFailed(step: "strip --strip-debug", output: s.combined) }
        }
        let facts: ModuleFacts
        do {
            facts = try Self.validateModule(path: builtKo, release: release)
        } catch let e as IavfModuleError {
            throw IavfModuleError.buildFailed(step: "checking the built module", output: e.description)
        }
        do {
            try? fm.removeItem(atPath: dir)
            try BuildEnvironment.makeDirectory(dir)
            try Data(log.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent("build.log")))
            try fm.moveItem(atPath: builtKo, toPath: ko)
        } catch {
            throw IavfModuleError.environment("cannot store the module in \(dir): \(error.localizedDescription)")
        }
        progress.endStage()
        return Built(path: ko, release: release, wasCached: false, kernelHash: kernelHash, sourceHash: sourceHash,
                     patchesHash: patchesHash, btfBytes: facts.btfBytes, vmlinux: vmlinux, seconds: Date().timeIntervalSince(start))
    }

    /// `git apply -p1` of each patch in order, from the root of `tree` (a kernel-root layout).
    /// The first that does not apply stops the build, named by its step and file.
    public func applyPatches(_ patches: [String], inTree tree: String) throws {
        guard !patches.isEmpty else { return }
        let git = try BuildEnvironment.tool("git", "git")
        // Its own repository, so git apply takes paths from this root and not from an enclosing checkout.
        let initOut = try Subprocess.run(git, ["init", "-q", tree])
        guard initOut.status == 0 else {
            throw IavfModuleError.environment("git init \(tree) failed: \(initOut.combined)")
        }
        for (i, patch) in patches.enumerated() {
            let absolute = URL(fileURLWithPath: patch).standardizedFileURL.path
            progress.stage("patching", message: "patch \(i + 1) of \(patches.count): \((patch as NSString).lastPathComponent)")
            let out = try Subprocess.run(git, ["apply", "-p1", "--whitespace=nowarn", absolute], directory: tree)
            guard out.status == 0 else {
                throw IavfModuleError.patchFailed(step: i + 1, total: patches.count, patch: patch,
                                                  output: out.combined.isEmpty ? "git apply exited \(out.status)" : out.combined)
            }
        }
    }

    // MARK: - Headers overlay and vmlinux

    /// A directory that acts as linux-headers-RELEASE with `vmlinux` and a resolve_btfids in it.
    func headersOverlay(release: String, vmlinuz: String, kernelHash: String) throws -> String {
        let fm = FileManager.default
        let real = (headersRoot as NSString).appendingPathComponent("linux-headers-\(release)")
        guard fm.fileExists(atPath: (real as NSString).appendingPathComponent("Makefile")) else {
            throw IavfModuleError.environment("""
            no kernel headers for \(release) in \(real): apt-get install -y --no-install-recommends \
            linux-headers-\(release) (scripts/install-deps.sh installs those of both guest kernels)
            """)
        }
        let releaseDir = (modulesDirectory as NSString).appendingPathComponent(release)
        let overlay = (releaseDir as NSString).appendingPathComponent("headers-\(kernelHash)")
        let stamp = (overlay as NSString).appendingPathComponent(KernelStore.readyStamp)
        if fm.fileExists(atPath: stamp) { return overlay }
        try BuildEnvironment.makeDirectory(releaseDir)
        KernelStore.removeAbandoned(in: releaseDir, prefix: ".headers-")
        let temp = (releaseDir as NSString).appendingPathComponent(".headers-\(getpid())")
        try? fm.removeItem(atPath: temp)
        defer { try? fm.removeItem(atPath: temp) }
        func resolved(_ p: String) -> String { URL(fileURLWithPath: p).resolvingSymlinksInPath().path }
        do {
            try BuildEnvironment.makeDirectory(temp)
            for name in try fm.contentsOfDirectory(atPath: real) where name != "tools" && name != "vmlinux" {
                try fm.createSymbolicLink(atPath: (temp as NSString).appendingPathComponent(name),
                                          withDestinationPath: resolved((real as NSString).appendingPathComponent(name)))
            }
            let realTools = (real as NSString).appendingPathComponent("tools")
            let tools = (temp as NSString).appendingPathComponent("tools")
            try BuildEnvironment.makeDirectory(tools)
            for name in (try? fm.contentsOfDirectory(atPath: realTools)) ?? [] where name != "bpf" {
                try fm.createSymbolicLink(atPath: (tools as NSString).appendingPathComponent(name),
                                          withDestinationPath: resolved((realTools as NSString).appendingPathComponent(name)))
            }
            let rbDir = (tools as NSString).appendingPathComponent("bpf/resolve_btfids")
            try BuildEnvironment.makeDirectory(rbDir)
            let rb = (rbDir as NSString).appendingPathComponent("resolve_btfids")
            let shipped = (realTools as NSString).appendingPathComponent("bpf/resolve_btfids/resolve_btfids")
            if fm.isExecutableFile(atPath: shipped) {
                try fm.createSymbolicLink(atPath: rb, withDestinationPath: resolved(shipped))
            } else {
                try Data(Self.resolveBTFIdsStandIn.utf8).write(to: URL(fileURLWithPath: rb))
                try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: rb)
            }
        } catch let e as IavfModuleError {
            throw e
        } catch {
            throw IavfModuleError.environment("cannot build the headers overlay in \(temp): \(error.localizedDescription)")
        }
        progress.stage("extracting", message: "taking vmlinux (with its BTF) out of \((vmlinuz as NSString).lastPathComponent)")
        try KernelImage.extractVmlinux(from: vmlinuz, to: (temp as NSString).appendingPathComponent("vmlinux"))
        do {
            try Data("\(release) \(kernelHash)\n".utf8).write(to: URL(fileURLWithPath: (temp as NSString).appendingPathComponent(KernelStore.readyStamp)))
            if fm.fileExists(atPath: overlay) {
                if fm.fileExists(atPath: stamp) { return overlay } // another run won
                try fm.removeItem(atPath: overlay)
            }
            try fm.moveItem(atPath: temp, toPath: overlay)
        } catch {
            if fm.fileExists(atPath: stamp) { return overlay }
            throw IavfModuleError.environment("cannot move the headers overlay to \(overlay): \(error.localizedDescription)")
        }
        return overlay
    }

    /// Debian's kbuild package has no resolve_btfids. It only patches `.BTF_ids` sections
    /// (BTF_ID lists); a module without one is left as it is, so this stand-in does the same
    /// and refuses a module that has one.
    static let resolveBTFIdsStandIn = """
    #!/bin/sh
    # iavf-check: stand-in for resolve_btfids (not shipped by Debian's linux-kbuild package).
    # Usage as in scripts/Makefile.modfinal: resolve_btfids -b vmlinux MODULE.ko
    for a; do m="$a"; done
    if LC_ALL=C readelf -S "$m" 2>/dev/null | grep -q '[.]BTF_ids'; then
      echo "iavf-check: $m has a .BTF_ids section; building it needs the kernel's real resolve_btfids" >&2
      exit 1
    fi
    exit 0

    """

    // MARK: - Helpers

    /// The driver's source files (relative names, sorted): *.c, *.h, Makefile, Kbuild, Kconfig.
    static func sourceFiles(in dir: String) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let files = names.filter {
            $0.hasSuffix(".c") || $0.hasSuffix(".h") || ["Makefile", "Kbuild", "Kconfig"].contains($0)
        }.sorted()
        guard files.contains(where: { $0.hasSuffix(".c") }) else {
            throw IavfModuleError.badSourceDirectory(path: dir, reason: "it has no C sources (*.c)")
        }
        return files
    }

    /// FNV-1a 64 over (name, contents) pairs in order: a cache key, not a security check.
    static func digest(_ items: [(name: String, path: String)]) throws -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for (name, path) in items {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw IavfModuleError.environment("cannot read \(path)")
            }
            for b in Array(name.utf8) + [0] { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h = (h ^ 0) &* 0x100_0000_01b3
        }
        return String(format: "%016llx", h)
    }

    func checksum(_ path: String) throws -> String {
        do { return try Checksum.sha256(ofFile: path) } catch let e as VMError { throw IavfModuleError.from(e) }
    }

    static func tail(_ text: String, lines: Int = 40) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

}
