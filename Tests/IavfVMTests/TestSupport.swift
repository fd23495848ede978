import Foundation
@testable import IavfVM

/// A fresh directory under /tmp, removed by `cleanup()`.
struct TempDir {
    let path: String

    init(_ label: String = "iavfvm-test") throws {
        var template = Array("/tmp/\(label).XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw VMError.environment("mkdtemp failed")
        }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    @discardableResult
    func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let full = file(name)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
        return full
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// A kernel tree shaped like an extracted Debian package, with placeholder files: enough for the
/// initramfs builder and the QEMU runner driven by a fake qemu.
func makeFakeKernelTree(in dir: TempDir, release: String = "6.1.0-99-amd64") throws -> PreparedKernel {
    let modules = "lib/modules/\(release)"
    try dir.write("boot/vmlinuz-\(release)", "not a kernel")
    let files = [
        "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/virtio/virtio_pci_modern_dev.ko", "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/net/9p/9pnet.ko", "kernel/net/9p/9pnet_virtio.ko",
        "kernel/fs/netfs/netfs.ko", "kernel/fs/fscache/fscache.ko", "kernel/fs/9p/9p.ko",
        "kernel/fs/overlayfs/overlay.ko",
    ]
    for f in files { try dir.write("\(modules)/\(f)", "module \(f)") }
    try dir.write("\(modules)/modules.dep", """
    kernel/drivers/virtio/virtio_ring.ko:
    kernel/drivers/virtio/virtio.ko:
    kernel/drivers/virtio/virtio_pci_modern_dev.ko:
    kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
    kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
    kernel/net/9p/9pnet.ko:
    kernel/net/9p/9pnet_virtio.ko: kernel/drivers/virtio/virtio_ring.ko kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko
    kernel/fs/netfs/netfs.ko:
    kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
    kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
    kernel/fs/overlayfs/overlay.ko:

    """)
    try dir.write("\(modules)/modules.builtin", "kernel/drivers/tty/serial/8250/8250.ko\n")
    return PreparedKernel(tree: dir.path, release: release, vmlinuz: dir.file("boot/vmlinuz-\(release)"),
                          modulesDirectory: dir.file(modules), label: "fake", wasCached: true)
}

/// A shell script standing in for qemu-system-x86_64: it finds `vmout=` in `-append`, then runs `body`
/// with `$out` set to the shared run directory.
func makeFakeQEMU(in dir: TempDir, body: String) throws -> String {
    try dir.write("fake-qemu", """
    #!/bin/sh
    while [ $# -gt 0 ]; do
      if [ "$1" = -append ]; then
        for w in $2; do case $w in vmout=*) out=${w#vmout=};; esac; done
      fi
      shift
    done
    \(body)

    """, mode: 0o755)
}

/// A minimal ELF64 little-endian relocatable file with a `.modinfo` section holding `fields`.
func makeELF(modinfo fields: [String]) -> Data {
    let modinfo = Data(fields.flatMap { Array($0.utf8) + [0] })
    let shstrtab = Data("\0.shstrtab\0.modinfo\0".utf8)   // names at 1 and 11
    var file = Data(count: 64)
    let modinfoOffset = 64
    file.append(modinfo)
    let strtabOffset = file.count
    file.append(shstrtab)
    while file.count % 8 != 0 { file.append(0) }
    let shoff = file.count
    func le<T: FixedWidthInteger>(_ v: T) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    func section(name: UInt32, type: UInt32, offset: Int, size: Int) -> Data {
        var h = Data()
        h += le(name) + le(type) + le(UInt64(0)) + le(UInt64(0)) + le(UInt64(offset)) + le(UInt64(size))
        h += le(UInt32(0)) + le(UInt32(0)) + le(UInt64(1)) + le(UInt64(0))
        return h
    }
    file += section(name: 0, type: 0, offset: 0, size: 0)
    file += section(name: 1, type: 3, offset: strtabOffset, size: shstrtab.count)
    file += section(name: 11, type: 1, offset: modinfoOffset, size: modinfo.count)
    var header = Data([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]) + Data(count: 8)
    header += le(UInt16(1)) + le(UInt16(62)) + le(UInt32(1)) + le(UInt64(0)) + le(UInt64(0)) + le(UInt64(shoff))
    header += le(UInt32(0)) + le(UInt16(64)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(64)) + le(UInt16(3)) + le(UInt16(1))
    file.replaceSubrange(0..<64, with: header)
    return file
}
