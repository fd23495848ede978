import Foundation
import Testing
@testable import IavfVM

/// What the real module build needs; under CI=true a missing prerequisite fails instead of skipping.
enum ModuleBuildTestEnvironment {
    static let alias = KernelSpec.alias(named: "patched")!
    static let release = "6.1.0-56-amd64"
    static var source: KernelSourcePackage { try! KernelSourcePackage.matching(kernel: alias) }

    static let missing: [String] = {
        var missing: [String] = []
        if geteuid() != 0 { missing.append("not running as root") }
        for (tool, package) in [("make", "make"), ("gcc", "gcc"), ("pahole", "dwarves"), ("git", "git"),
                                ("dpkg-deb", "dpkg"), ("xz", "xz-utils"), ("bpftool", "bpftool")]
        where HostTools.find(tool) == nil {
            missing.append("\(tool) not found (apt-get install \(package))")
        }
        if !FileManager.default.fileExists(atPath: "/usr/src/linux-headers-\(release)/Makefile") {
            missing.append("no linux-headers-\(release) (scripts/install-deps.sh)")
        }
        if !VMTestEnvironment.kernelAvailable(alias) {
            missing.append("kernel 'patched' (\(alias.deb.fileName)) is not available")
        }
        let store = SourceStore()
        let cached = store.ready(store.tree(for: source), source) != nil ||
            FileManager.default.fileExists(atPath: store.debsDirectory + "/" + source.fileName)
        if !cached && AptRegistry.lookup(package: source.package, version: source.version)?.sha256 == nil {
            missing.append("\(source.label) is not cached and not in the apt index (offline? run apt-get update)")
        }
        return missing
    }()

    static var ready: Bool { missing.isEmpty }
    static var reason: Comment { Comment(rawValue: "module build tests skipped: " + missing.joined(separator: "; ")) }
}

/// Fetches linux-source-6.1 6.1.192-2, builds iavf.ko out of tree for 6.1.0-56-amd64 (the
/// `patched` alias) with BTF against the guest's vmlinux, unmodified and with the S3 fix.
@Suite("Real iavf module build", .serialized,
       .enabled(if: ModuleBuildTestEnvironment.ready || VMTestEnvironment.isCI, ModuleBuildTestEnvironment.reason))
struct IavfModuleBuildRealTests {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func prepare() throws -> (PreparedKernel, IavfModuleBuilder) {
        try #require(ModuleBuildTestEnvironment.ready,
                     "CI=true, so the module build tests must run, but: \(ModuleBuildTestEnvironment.missing.joined(separator: "; "))")
        let progress = VMProgress(enabled: true)
        let kernel = try KernelStore(progress: progress).prepare(
            .package(name: ModuleBuildTestEnvironment.alias.deb.package, version: ModuleBuildTestEnvironment.alias.deb.version))
        #expect(kernel.release == ModuleBuildTestEnvironment.release)
        return (kernel, IavfModuleBuilder(progress: progress))
    }

    /// `bpftool -B VMLINUX btf dump file KO`: the module's split BTF loads on the guest's base.
    func dumpBTF(_ ko: String, base vmlinux: String) throws -> String {
        let out = try Subprocess.run(HostTools.find("bpftool")!, ["-B", vmlinux, "btf", "dump", "file", ko])
        #expect(out.status == 0, "bpftool -B \(vmlinux) btf dump file \(ko): \(out.stderr)")
        return out.stdout
    }

    @Test("the unmodified iavf of linux-source-6.1 6.1.192-2 builds for 6.1.0-56 with BTF on the guest's vmlinux")
    func unmodified() throws {
        let (kernel, builder) = try prepare()
        let built = try builder.build(source: .debian(ModuleBuildTestEnvironment.source), release: kernel.release,
                                      vmlinuz: kernel.vmlinuz)
        let facts = try IavfModuleBuilder.validateModule(path: built.path, release: kernel.release)
        #expect(facts.vermagic?.hasPrefix("6.1.0-56-amd64 SMP preempt mod_unload modversions") == true)
        #expect(facts.btfBytes > 10_000)
        let btf = try dumpBTF(built.path, base: built.vmlinux)
        #expect(btf.contains("'IAVF_VLAN_REMOVING' val=5"))
        #expect(btf.contains("FUNC 'iavf_virtchnl_completion'"))
        // Split BTF: its first type id follows the guest vmlinux's last one, as the stock module's does.
        let stock = kernel.modulesDirectory + "/kernel/drivers/net/ethernet/intel/iavf/iavf.ko"
        if FileManager.default.fileExists(atPath: stock) {
            let stockBTF = try dumpBTF(stock, base: built.vmlinux)
            func firstId(_ s: String) -> Substring? { s.split(separator: "]").first }
            #expect(firstId(btf) == firstId(stockBTF))
        }
        // A second build is the cached module.
        let again = try builder.build(source: .debian(ModuleBuildTestEnvironment.source), release: kernel.release,
                                      vmlinuz: kernel.vmlinuz)
        #expect(again.wasCached && again.path == built.path)
    }

    @Test("the S3 fix (fixes/s3-caps-reply) applies and builds; it is a different module")
    func withFix() throws {
        let (kernel, builder) = try prepare()
        let dir = Self.repositoryRoot + "/fixes/s3-caps-reply"
        let patches = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".patch") }.sorted().map { dir + "/" + $0 }
        try #require(!patches.isEmpty, "no patch in \(dir)")
        let plain = try builder.build(source: .debian(ModuleBuildTestEnvironment.source), release: kernel.release,
                                      vmlinuz: kernel.vmlinuz)
        let fixed = try builder.build(source: .debian(ModuleBuildTestEnvironment.source), patches: patches,
                                      release: kernel.release, vmlinuz: kernel.vmlinuz)
        #expect(fixed.path != plain.path && fixed.sourceHash == plain.sourceHash && fixed.patchesHash != plain.patchesHash)
        try IavfModuleBuilder.validateModule(path: fixed.path, release: kernel.release)
        #expect(try dumpBTF(fixed.path, base: fixed.vmlinux).contains("FUNC 'iavf_virtchnl_completion'"))
    }
}
