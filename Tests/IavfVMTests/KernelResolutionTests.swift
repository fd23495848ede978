import Foundation
import Testing
@testable import IavfVM

@Suite("Kernel resolution")
struct KernelResolutionTests {
    @Test("unpatched is Debian's 6.1.0-47 unsigned package, 6.1.170-3")
    func unpatchedAlias() throws {
        #expect(try KernelSpec.parse("unpatched") ==
                .package(name: "linux-image-6.1.0-47-amd64-unsigned", version: "6.1.170-3"))
        #expect(KernelSpec.alias(named: "unpatched")?.generation == .unpatched)
    }

    @Test("patched is Debian's 6.1.0-56 package, 6.1.192-2, case-insensitively")
    func patchedAlias() throws {
        #expect(try KernelSpec.parse("Patched") == .package(name: "linux-image-6.1.0-56-amd64", version: "6.1.192-2"))
        #expect(KernelSpec.alias(named: "patched")?.generation == .patched)
    }

    @Test("every alias is pinned by SHA256")
    func aliasesArePinned() {
        for alias in KernelSpec.aliases {
            let pin = KernelSpec.pin(package: alias.deb.package, version: alias.deb.version)
            #expect(pin?.sha256.count == 64)
        }
    }

    @Test("a Debian kernel package name resolves to apt, with or without =VERSION")
    func packageNames() throws {
        #expect(try KernelSpec.parse("linux-image-6.1.0-55-amd64") == .package(name: "linux-image-6.1.0-55-amd64", version: nil))
        #expect(try KernelSpec.parse("linux-image-6.1.0-55-amd64=6.1.190-1") ==
                .package(name: "linux-image-6.1.0-55-amd64", version: "6.1.190-1"))
    }

    @Test("a .deb path and a directory resolve to a file and a tree")
    func paths() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let deb = try dir.write("k.deb", "x")
        #expect(try KernelSpec.parse(deb) == .debFile(deb))
        #expect(try KernelSpec.parse(dir.path) == .tree(dir.path))
    }

    @Test("unknown names, missing paths and non-.deb files are rejected with a hint")
    func rejects() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let other = try dir.write("notes.txt", "x")
        for bad in ["bash", "", "/nonexistent/k.deb", "./missing", other, "linux-image-X Y"] {
            #expect(throws: VMError.self) { try KernelSpec.parse(bad) }
        }
        do {
            _ = try KernelSpec.parse("bash")
            Issue.record("bash was accepted")
        } catch let error as VMError {
            #expect(error.exitCode == 2)
            #expect(error.description.contains("unpatched"))
        }
    }

    @Test("the cache lives in $XDG_CACHE_HOME/iavf-check, else ~/.cache/iavf-check")
    func cacheDirectory() {
        #expect(KernelStore.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "/x/cache", "HOME": "/h"]) == "/x/cache/iavf-check")
        #expect(KernelStore.defaultCacheDirectory(environment: ["HOME": "/h"]) == "/h/.cache/iavf-check")
        #expect(KernelStore.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "relative", "HOME": "/h"]) == "/h/.cache/iavf-check")
    }

    @Test("$IAVF_CHECK_KERNEL_DIR comes before ../shared/kernels")
    func localDirectories() throws {
        let root = try TempDir()
        defer { root.cleanup() }
        try root.write("env/x", "")
        try root.write("shared/kernels/x", "")
        try root.write("main/x", "")
        let dirs = KernelStore.defaultLocalDebDirectories(environment: ["IAVF_CHECK_KERNEL_DIR": root.file("env")],
                                                          currentDirectory: root.file("main"), executable: "/usr/bin/true")
        #expect(dirs == [root.file("env"), root.file("shared/kernels")])
    }

    @Test("an extracted tree is found by its layout; one without a kernel is refused")
    func treeLayout() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let kernel = try makeFakeKernelTree(in: dir)
        let store = KernelStore(cacheDirectory: dir.file("cache"), localDebDirectories: [])
        let prepared = try store.prepare(.tree(dir.path))
        #expect(prepared.release == kernel.release)
        #expect(prepared.vmlinuz == kernel.vmlinuz)
        let empty = try TempDir()
        defer { empty.cleanup() }
        #expect(throws: VMError.self) { try store.prepare(.tree(empty.path)) }
    }

    @Test("scratch left by a dead process is swept; a live one's is kept")
    func abandonedScratch() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try dir.write(".tmp-k-2147483646/x", "")
        try dir.write(".tmp-k-\(getpid())/x", "")
        try dir.write(".tmp-k-\(getppid())/x", "")
        KernelStore.removeAbandoned(in: dir.path, prefix: ".tmp-k-")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        #expect(left == [".tmp-k-\(getpid())", ".tmp-k-\(getppid())"])
    }
}

@Suite("a kernel built from source")
struct SourceTreeKernelTests {
    func tree() throws -> String {
        let t = FileManager.default.temporaryDirectory.appendingPathComponent("srctree-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: t + "/arch/x86/boot", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: t + "/include/config", withIntermediateDirectories: true)
        for f in ["Makefile", "Kconfig"] { FileManager.default.createFile(atPath: "\(t)/\(f)", contents: Data()) }
        return t
    }

    @Test("a source tree without bzImage, or not fully built, is bad input naming the make step")
    func unbuilt() throws {
        let t = try tree()
        #expect(SourceTreeKernel.isBuiltTree(t))
        #expect(throws: VMError.self) { try SourceTreeKernel.release(of: t) }
        do { _ = try SourceTreeKernel.release(of: t) } catch let e as VMError {
            #expect(e.exitCode == 2 && "\(e)".contains("without arch/x86/boot/bzImage"))
        }
        FileManager.default.createFile(atPath: t + "/arch/x86/boot/bzImage", contents: Data([1]))
        do { _ = try SourceTreeKernel.release(of: t); Issue.record("no error") } catch let e as VMError {
            #expect("\(e)".contains("kernel.release"))
        }
        try Data("6.12.0-rc1-review+\n".utf8).write(to: URL(fileURLWithPath: t + "/include/config/kernel.release"))
        #expect(try SourceTreeKernel.release(of: t) == "6.12.0-rc1-review+")
    }

    @Test("a built tree with its modules installed in it boots from bzImage and is its own headers")
    func installedModules() throws {
        let t = try tree()
        FileManager.default.createFile(atPath: t + "/arch/x86/boot/bzImage", contents: Data([1]))
        try Data("6.12.0-test\n".utf8).write(to: URL(fileURLWithPath: t + "/include/config/kernel.release"))
        try FileManager.default.createDirectory(atPath: t + "/lib/modules/6.12.0-test/kernel", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: t + "/lib/modules/6.12.0-test/modules.dep", contents: Data())
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        let k = try KernelStore(cacheDirectory: cache).prepare(.tree(t))
        #expect(k.release == "6.12.0-test" && k.vmlinuz == t + "/arch/x86/boot/bzImage")
        #expect(k.headers == t && k.modulesDirectory == t + "/lib/modules/6.12.0-test")
    }
}
