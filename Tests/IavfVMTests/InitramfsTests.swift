import Foundation
import Testing
@testable import IavfVM

@Suite("cpio and initramfs")
struct InitramfsTests {
    @Test("newc entries round-trip: files, directories, symlinks, device nodes, 4-byte alignment")
    func cpioRoundTrip() throws {
        var cpio = CPIOArchive()
        cpio.addDirectory("/bin")
        cpio.addFile("bin/hello", contents: Data("hi\n".utf8), mode: 0o755)
        cpio.addSymlink("bin/sh", target: "busybox")
        cpio.addCharacterDevice("dev/console", major: 5, minor: 1)
        cpio.addFile("odd", contents: Data([1, 2, 3, 4, 5]))
        let data = cpio.finish()
        #expect(data.count % 4 == 0)
        #expect(data.prefix(6) == Data("070701".utf8))
        let entries = try #require(CPIOArchive.entries(of: data))
        #expect(entries.map(\.name) == ["bin", "bin/hello", "bin/sh", "dev/console", "odd"])
        #expect(entries[0].isDirectory)
        #expect(entries[1].isRegularFile && entries[1].mode & 0o777 == 0o755 && entries[1].contents == Data("hi\n".utf8))
        #expect(entries[2].isSymlink && entries[2].contents == Data("busybox".utf8))
        #expect(entries[3].isCharacterDevice && entries[3].rdevMajor == 5 && entries[3].rdevMinor == 1)
        #expect(entries[4].contents == Data([1, 2, 3, 4, 5]))
    }

    @Test("busybox cpio lists our archive the same way (an independent reader)",
          .enabled(if: HostTools.find("busybox") != nil || VMTestEnvironment.isCI, "busybox is not installed"))
    func busyboxReadsArchive() throws {
        // Skipped (visibly) without busybox, but under CI=true a missing busybox is a failure.
        let busybox = try #require(HostTools.find("busybox"), "CI=true, so this test must run, but busybox is not installed")
        var cpio = CPIOArchive()
        cpio.addDirectory("bin")
        cpio.addFile("bin/a", contents: Data("x".utf8))
        cpio.addSymlink("bin/b", target: "a")
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("a.cpio")
        try cpio.finish().write(to: URL(fileURLWithPath: path))
        let out = try Subprocess.run(busybox, ["sh", "-c", "busybox cpio -t < \(path)"])
        #expect(out.status == 0)
        #expect(out.stdout.split(separator: "\n") == ["bin", "bin/a", "bin/b"])
    }

    @Test("the initramfs holds /init, busybox, its applets, /dev/console and the 9p stack in load order")
    func initramfsContents() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let kernel = try makeFakeKernelTree(in: dir)
        let busybox = try dir.write("busybox", "fake busybox", mode: 0o755)
        let (archive, order) = try InitramfsBuilder(busyboxPath: busybox)
            .build(modulesDirectory: kernel.modulesDirectory, release: kernel.release)
        let entries = try #require(CPIOArchive.entries(of: archive))
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let initEntry = try #require(byName["init"])
        #expect(initEntry.mode & 0o777 == 0o755)
        #expect(String(decoding: initEntry.contents, as: UTF8.self) == GuestInit.script)
        #expect(byName["bin/busybox"]?.contents == Data("fake busybox".utf8))
        for applet in ["sh", "mount", "insmod", "modprobe", "chroot", "poweroff"] {
            #expect(byName["bin/\(applet)"]?.isSymlink == true, "missing applet \(applet)")
        }
        #expect(byName["dev/console"]?.isCharacterDevice == true)
        #expect(byName["kver"]?.contents == Data("6.1.0-99-amd64\n".utf8))
        #expect(String(decoding: byName["mods/order"]!.contents, as: UTF8.self).split(separator: "\n").map(String.init) == order)
        for m in order { #expect(byName["mods/\(m)"] != nil) }
        func index(_ m: String) -> Int { order.firstIndex(of: m + ".ko") ?? -1 }
        #expect(order.count == 11)
        #expect(index("virtio_ring") < index("virtio_pci"))
        #expect(index("virtio") < index("9pnet_virtio"))
        #expect(index("netfs") < index("fscache") && index("fscache") < index("9p"))
        #expect(index("9pnet") < index("9p") && index("overlay") >= 0)
    }

    @Test("/init mounts bpffs, tracefs and debugfs and reports the command's status")
    func initScript() {
        let s = GuestInit.script
        for needle in ["mount -t bpf bpf $R/sys/fs/bpf", "mount -t tracefs", "mount -t debugfs",
                       "VM_CMD_BEGIN", "exit_status", "poweroff -f"] {
            #expect(s.contains(needle), "init lacks \(needle)")
        }
        #expect(s.hasPrefix("#!/bin/sh\n"))
    }

    @Test("a kernel without 9p (the cloud flavour) is refused with the reason")
    func missingNinePee() {
        #expect {
            try InitramfsBuilder.loadOrder(for: ["9p"], modulesDep: "kernel/a.ko:\n", modulesBuiltin: "", release: "r")
        } throws: { error in
            (error as? VMError)?.description.contains("cloud-amd64") == true
        }
    }

    @Test("built-in modules are skipped, dependencies come first")
    func builtinSkipped() throws {
        let order = try InitramfsBuilder.loadOrder(
            for: ["b"], modulesDep: "kernel/b.ko: kernel/a.ko kernel/c.ko\nkernel/a.ko: kernel/c.ko\nkernel/c.ko:\n",
            modulesBuiltin: "kernel/c.ko\n", release: "r")
        #expect(order.map(\.name) == ["a", "b"])
    }

    @Test("modules.dep from .modinfo: transitive, load-first last; aliases listed")
    func moduleIndex() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let mods = dir.file("lib/modules/r")
        func put(_ path: String, _ fields: [String]) throws {
            let full = (mods as NSString).appendingPathComponent(path)
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try makeELF(modinfo: fields).write(to: URL(fileURLWithPath: full))
        }
        try put("kernel/net/llc/llc.ko", ["license=GPL", "depends=", "name=llc"])
        try put("kernel/net/802/stp.ko", ["depends=llc", "name=stp"])
        try put("kernel/net/802/garp.ko", ["depends=stp,llc", "name=garp"])
        try put("kernel/net/802/mrp.ko", ["depends=", "name=mrp"])
        try put("kernel/net/8021q/8021q.ko", ["alias=rtnl-link-vlan", "depends=mrp,garp", "name=8021q"])
        #expect(try ModuleIndex.write(modulesDirectory: mods) == 5)
        let dep = try String(contentsOfFile: mods + "/modules.dep", encoding: .utf8)
        let line = try #require(dep.split(separator: "\n").first { $0.hasPrefix("kernel/net/8021q/8021q.ko:") })
        let deps = line.split(separator: " ").dropFirst().map(String.init)
        #expect(Set(deps) == ["kernel/net/802/mrp.ko", "kernel/net/802/garp.ko", "kernel/net/802/stp.ko", "kernel/net/llc/llc.ko"])
        // Loaded last-to-first: llc before stp before garp.
        let pos = { (m: String) in deps.firstIndex(of: m)! }
        #expect(pos("kernel/net/llc/llc.ko") > pos("kernel/net/802/stp.ko"))
        #expect(pos("kernel/net/802/stp.ko") > pos("kernel/net/802/garp.ko"))
        let alias = try String(contentsOfFile: mods + "/modules.alias", encoding: .utf8)
        #expect(alias == "alias rtnl-link-vlan 8021q\n")
    }
}
