import Foundation

/// A kernel built from source (`make` done in the tree): `arch/x86/boot/bzImage` boots, the
/// modules are installed from the tree into the cache (`make modules_install
/// INSTALL_MOD_PATH=...`) unless the tree already has `lib/modules/RELEASE`, and the tree
/// itself serves as the headers out-of-tree modules build against.
public enum SourceTreeKernel {
    /// A built source tree: a top-level Makefile, .config and the x86 boot image.
    public static func isBuiltTree(_ path: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: path + "/Makefile") && fm.fileExists(atPath: path + "/Kconfig")
    }

    /// The release the tree was built as (`include/config/kernel.release`, what `make
    /// kernelrelease` prints).
    public static func release(of tree: String) throws -> String {
        guard FileManager.default.fileExists(atPath: tree + "/arch/x86/boot/bzImage") else {
            throw VMError.badKernel("\(tree) is a kernel source tree without arch/x86/boot/bzImage: build it first (make -j$(nproc) bzImage modules)")
        }
        guard let text = try? String(contentsOfFile: tree + "/include/config/kernel.release", encoding: .utf8),
              let release = text.split(separator: "\n").first.map(String.init), !release.isEmpty else {
            throw VMError.badKernel("\(tree) has a bzImage but no include/config/kernel.release: run make in the tree to finish the build")
        }
        return release
    }

    /// Boot image, release, and a modules directory (installed into `cacheRoot` when the tree
    /// has none of its own).
    static func prepare(_ tree: String, cacheRoot: String, depmod: (String, String) throws -> Void) throws -> PreparedKernel {
        let release = try release(of: tree)
        let fm = FileManager.default
        var root = tree
        if !fm.fileExists(atPath: "\(tree)/lib/modules/\(release)/kernel") {
            // Keyed by the tree and its build: a rebuilt tree installs again.
            let stamp = (try? fm.attributesOfItem(atPath: tree + "/arch/x86/boot/bzImage")[.modificationDate] as? Date)?
                .timeIntervalSince1970 ?? 0
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in Array("\(tree)|\(release)|\(stamp)".utf8) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            root = "\(cacheRoot)/srctree/\(String(h, radix: 16))"
            if !fm.fileExists(atPath: "\(root)/lib/modules/\(release)/modules.dep") {
                try? fm.removeItem(atPath: root)
                try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
                let make = try HostTools.require("make", purpose: "to install the tree's modules")
                let out = try Subprocess.run(make, ["-C", tree, "modules_install", "INSTALL_MOD_PATH=\(root)", "INSTALL_MOD_STRIP=1", "DEPMOD=/bin/true"])
                guard out.status == 0, fm.fileExists(atPath: "\(root)/lib/modules/\(release)/kernel") else {
                    try? fm.removeItem(atPath: root)
                    throw VMError.environment("make modules_install in \(tree) failed (exit \(out.status)):\n"
                                              + out.combined.split(separator: "\n").suffix(15).joined(separator: "\n"))
                }
                try depmod(root, release)
            }
        } else if !fm.fileExists(atPath: "\(tree)/lib/modules/\(release)/modules.dep") {
            try depmod(tree, release)
        }
        var k = PreparedKernel(tree: root, release: release, vmlinuz: tree + "/arch/x86/boot/bzImage",
                               modulesDirectory: "\(root)/lib/modules/\(release)", label: tree, wasCached: true)
        k.headers = tree
        return k
    }
}
