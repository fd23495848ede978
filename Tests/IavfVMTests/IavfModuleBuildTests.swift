import Foundation
import Testing
@testable import IavfVM

/// A minimal 64-bit little-endian ELF file with the named sections (what ELFSections reads).
func makeELF(_ sections: [(String, [UInt8])]) -> Data {
    var shstr: [UInt8] = [0]
    var nameOffsets: [Int] = []
    for (name, _) in sections { nameOffsets.append(shstr.count); shstr += Array(name.utf8) + [0] }
    nameOffsets.append(shstr.count); shstr += Array(".shstrtab".utf8) + [0]
    var body: [UInt8] = []
    var offsets: [Int] = []
    for (_, bytes) in sections { offsets.append(64 + body.count); body += bytes }
    let strOffset = 64 + body.count
    body += shstr
    while (64 + body.count) % 8 != 0 { body.append(0) }
    let shoff = 64 + body.count
    var out = [UInt8](repeating: 0, count: 64)
    out[0...5] = [0x7f, 0x45, 0x4c, 0x46, 2, 1]
    out[6] = 1
    func put16(_ a: inout [UInt8], _ o: Int, _ v: Int) { a[o] = UInt8(v & 0xff); a[o + 1] = UInt8(v >> 8 & 0xff) }
    func put32(_ a: inout [UInt8], _ o: Int, _ v: Int) { for i in 0..<4 { a[o + i] = UInt8(v >> (8 * i) & 0xff) } }
    func put64(_ a: inout [UInt8], _ o: Int, _ v: Int) { for i in 0..<8 { a[o + i] = UInt8(v >> (8 * i) & 0xff) } }
    put16(&out, 0x10, 1)          // ET_REL
    put16(&out, 0x12, 0x3e)       // x86-64
    put32(&out, 0x14, 1)
    put64(&out, 0x28, shoff)
    put16(&out, 0x34, 64)
    put16(&out, 0x3a, 64)
    put16(&out, 0x3c, sections.count + 2)
    put16(&out, 0x3e, sections.count + 1)
    out += body
    out += [UInt8](repeating: 0, count: 64) // the null section
    let all = sections.map(\.1) + [shstr]
    for (i, bytes) in all.enumerated() {
        var h = [UInt8](repeating: 0, count: 64)
        put32(&h, 0, nameOffsets[i])
        put32(&h, 4, i == sections.count ? 3 : 1)
        put64(&h, 0x18, i == sections.count ? strOffset : offsets[i])
        put64(&h, 0x20, bytes.count)
        out += h
    }
    return Data(out)
}

func modinfo(_ fields: [String]) -> [UInt8] { fields.flatMap { Array($0.utf8) + [0] } }

@Suite("iavf module build: validation, patch steps, vmlinux extraction (no VM)")
struct IavfModuleBuildTests {
    static let release = "6.1.0-56-amd64"
    static let vermagic = "vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions "

    func expectError(_ expected: Int32, _ body: () throws -> Void) -> IavfModuleError? {
        do {
            try body()
            Issue.record("expected an IavfModuleError with exit \(expected)")
            return nil
        } catch let e as IavfModuleError {
            #expect(e.exitCode == expected, "\(e)")
            return e
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("a missing or non-ELF module is bad input (exit 2)")
    func missingAndNotELF() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let e1 = expectError(2) { try IavfModuleBuilder.validateModule(path: dir.file("nope.ko"), release: Self.release) }
        #expect(e1?.description.contains("no such file") == true)
        let text = try dir.write("iavf.ko", "not an ELF")
        let e2 = expectError(2) { try IavfModuleBuilder.validateModule(path: text, release: Self.release) }
        #expect(e2?.description.contains("not a kernel module") == true)
        _ = expectError(2) { try IavfModuleBuilder.validateModule(path: dir.path, release: Self.release) }
    }

    @Test("a module for another kernel is refused, naming both releases (exit 2)")
    func vermagicMismatch() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let ko = dir.file("iavf.ko")
        try makeELF([(".modinfo", modinfo(["name=iavf", "vermagic=6.1.0-47-amd64 SMP preempt mod_unload modversions "])),
                     (".BTF", [0x9f, 0xeb, 1, 0])]).write(to: URL(fileURLWithPath: ko))
        let e = expectError(2) { try IavfModuleBuilder.validateModule(path: ko, release: Self.release) }
        #expect(e?.description.contains("built for kernel 6.1.0-47-amd64") == true)
        #expect(e?.description.contains("the guest runs 6.1.0-56-amd64") == true)
    }

    @Test("a module without .BTF is refused: the fentry probes could not attach (exit 2)")
    func noBTF() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let ko = dir.file("iavf.ko")
        try makeELF([(".modinfo", modinfo(["name=iavf", Self.vermagic]))]).write(to: URL(fileURLWithPath: ko))
        let e = expectError(2) { try IavfModuleBuilder.validateModule(path: ko, release: Self.release) }
        #expect(e?.description.contains(".BTF") == true)
        #expect(e?.description.contains("dwarves") == true)
    }

    @Test("another module than iavf is refused (exit 2)")
    func wrongModule() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let ko = dir.file("avfpf.ko")
        try makeELF([(".modinfo", modinfo(["name=avfpf", Self.vermagic])), (".BTF", [1, 2, 3, 4])])
            .write(to: URL(fileURLWithPath: ko))
        let e = expectError(2) { try IavfModuleBuilder.validateModule(path: ko, release: Self.release) }
        #expect(e?.description.contains("'avfpf'") == true)
    }

    @Test("a matching module with .BTF passes and its facts are read")
    func goodModule() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let ko = dir.file("iavf.ko")
        try makeELF([(".text", [0xc3]), (".modinfo", modinfo(["license=GPL v2", "name=iavf", Self.vermagic])),
                     (".BTF", [UInt8](repeating: 7, count: 24))]).write(to: URL(fileURLWithPath: ko))
        let facts = try IavfModuleBuilder.validateModule(path: ko, release: Self.release)
        #expect(facts.release == Self.release)
        #expect(facts.btfBytes == 24)
        #expect(facts.hasBTFIds == false)
    }

    @Test("a source directory needs a Makefile or Kbuild and C files (exit 2)")
    func sourceDirectory() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let e1 = expectError(2) { try IavfModuleBuilder.validateSourceDirectory(dir.file("missing")) }
        #expect(e1?.description.contains("no such directory") == true)
        try dir.write("src/iavf_main.c", "int x;\n")
        let e2 = expectError(2) { try IavfModuleBuilder.validateSourceDirectory(dir.file("src")) }
        #expect(e2?.description.contains("no Makefile or Kbuild") == true)
        try dir.write("src/Kbuild", "obj-m += iavf.o\n")
        try IavfModuleBuilder.validateSourceDirectory(dir.file("src"))
        try dir.write("hdr/Makefile", "obj-m += x.o\n")
        let e3 = expectError(2) { try IavfModuleBuilder.validateSourceDirectory(dir.file("hdr")) }
        #expect(e3?.description.contains("no C sources") == true)
    }

    @Test("a missing patch file is bad input (exit 2), before anything is built")
    func missingPatch() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let e = expectError(2) { try IavfModuleBuilder.validatePatches([dir.file("0001-x.patch")]) }
        #expect(e?.description.contains("0001-x.patch") == true)
    }

    static func patch(_ file: String, from old: String, to new: String) -> String {
        """
        From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
        Subject: [PATCH] test

        ---
        diff --git a/drivers/net/ethernet/intel/iavf/\(file) b/drivers/net/ethernet/intel/iavf/\(file)
        --- a/drivers/net/ethernet/intel/iavf/\(file)
        +++ b/drivers/net/ethernet/intel/iavf/\(file)
        @@ -1,3 +1,3 @@
         /* first */
        -\(old)
        +\(new)
         /* last */

        """
    }

    @Test("patches apply in order; the one that does not apply is named by step and file (exit 3)",
          .enabled(if: HostTools.find("git") != nil, "git not installed"))
    func patchStepNaming() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let c = "tree/drivers/net/ethernet/intel/iavf/iavf_main.c"
        try dir.write(c, "/* first */\nint a = 1;\n/* last */\n")
        let p1 = try dir.write("0001-one.patch", Self.patch("iavf_main.c", from: "int a = 1;", to: "int a = 2;"))
        let p2 = try dir.write("0002-two.patch", Self.patch("iavf_main.c", from: "int a = 1;", to: "int a = 3;"))
        let builder = IavfModuleBuilder(cacheDirectory: dir.file("cache"))
        let e = expectError(3) { try builder.applyPatches([p1, p2], inTree: dir.file("tree")) }
        guard case .patchFailed(let step, let total, let name, let output)? = e else {
            Issue.record("expected patchFailed, got \(String(describing: e))")
            return
        }
        #expect(step == 2 && total == 2 && name == p2)
        #expect(output.contains("iavf_main.c"))
        #expect(e!.description.contains("patch step 2 of 2 (\(p2))"))
        // Step 1 went in.
        #expect(try String(contentsOfFile: dir.file(c), encoding: .utf8).contains("int a = 2;"))
    }

    @Test("the linux-source package of a kernel version")
    func sourcePackage() throws {
        let s = try KernelSourcePackage.matching(kernelVersion: "6.1.192-2")
        #expect(s == KernelSourcePackage(package: "linux-source-6.1", version: "6.1.192-2"))
        #expect(s.fileName == "linux-source-6.1_6.1.192-2_all.deb")
        #expect(try KernelSourcePackage.matching(kernelVersion: "6.12.57-1~bpo12+1").package == "linux-source-6.12")
        let alias = try #require(KernelSpec.alias(named: "patched"))
        #expect(try KernelSourcePackage.matching(kernel: alias).version == "6.1.192-2")
        _ = expectError(3) { _ = try KernelSourcePackage.matching(kernelVersion: "banana") }
    }

    /// A bzImage-shaped file: setup header with "HdrS", protocol 2.15, the payload after the setup sectors.
    static func makeBzImage(payload: Data, setupSects: UInt8 = 1) -> Data {
        var b = [UInt8](repeating: 0, count: (Int(setupSects) + 1) * 512)
        b[0x1f1] = setupSects
        b[0x202...0x205] = [0x48, 0x64, 0x72, 0x53]
        b[0x206] = 0x0f; b[0x207] = 0x02
        let off = 16, len = payload.count
        for i in 0..<4 { b[0x248 + i] = UInt8(off >> (8 * i) & 0xff); b[0x24c + i] = UInt8(len >> (8 * i) & 0xff) }
        return Data(b) + Data(count: off) + payload + Data([1, 2, 3, 4]) // + the appended size
    }

    @Test("vmlinux comes out of a bzImage's compressed payload with its .BTF",
          .enabled(if: HostTools.find("gzip") != nil, "gzip not installed"))
    func vmlinuxFromBzImage() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let elf = dir.file("vmlinux.elf")
        try makeELF([(".text", [0x90, 0xc3]), (".BTF", [0x9f, 0xeb, 1, 0, 24, 0, 0, 0])]).write(to: URL(fileURLWithPath: elf))
        let gz = try Subprocess.run(HostTools.find("gzip")!, ["-kn9", elf])
        #expect(gz.status == 0)
        let payload = try Data(contentsOf: URL(fileURLWithPath: elf + ".gz"))
        let image = Self.makeBzImage(payload: payload)
        #expect(KernelImage.payloadRange(of: image) == 1024 + 16 ..< 1024 + 16 + payload.count)
        #expect(KernelImage.compression(of: payload) == .gzip)
        let vmlinuz = dir.file("vmlinuz")
        try image.write(to: URL(fileURLWithPath: vmlinuz))
        try KernelImage.extractVmlinux(from: vmlinuz, to: dir.file("vmlinux"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("vmlinux"))) == Data(contentsOf: URL(fileURLWithPath: elf)))

        // No .BTF in the kernel: no module BTF can be made against it.
        let bare = dir.file("bare.elf")
        try makeELF([(".text", [0xc3])]).write(to: URL(fileURLWithPath: bare))
        _ = try Subprocess.run(HostTools.find("gzip")!, ["-kn9", bare])
        try Self.makeBzImage(payload: try Data(contentsOf: URL(fileURLWithPath: bare + ".gz")))
            .write(to: URL(fileURLWithPath: dir.file("bare.vmlinuz")))
        let e = expectError(3) { try KernelImage.extractVmlinux(from: dir.file("bare.vmlinuz"), to: dir.file("v2")) }
        #expect(e?.description.contains("CONFIG_DEBUG_INFO_BTF") == true)

        // Not a bzImage at all.
        let junk = try dir.write("junk", String(repeating: "x", count: 4096))
        let e2 = expectError(3) { try KernelImage.extractVmlinux(from: junk, to: dir.file("v3")) }
        #expect(e2?.description.contains("not an x86 bzImage") == true)
    }
}
