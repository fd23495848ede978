import Foundation

/// Builds the guest's tiny initramfs: a static busybox, the kernel's virtio/9p/overlay modules
/// (with their dependencies, in load order) and `/init` (`GuestInit.script`).
public struct InitramfsBuilder {
    /// What /init needs before the host root is reachable; dependencies are added from modules.dep.
    public static let bootModules = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]

    public var busyboxPath: String
    public var initScript: String

    public init(busyboxPath: String, initScript: String = GuestInit.script) {
        self.busyboxPath = busyboxPath
        self.initScript = initScript
    }

    /// Applets linked in the initramfs's /bin (the chroot gets the module tools too, see GuestInit).
    static let applets = ["sh", "mount", "umount", "mkdir", "insmod", "modprobe", "cat", "echo", "sleep",
                          "poweroff", "chroot", "ln", "cp", "tr", "cut", "uname", "env", "sync", "rm", "ls"]

    /// The archive and the module files it carries, in load order.
    public func build(modulesDirectory: String, release: String) throws -> (archive: Data, modules: [String]) {
        guard let busybox = FileManager.default.contents(atPath: busyboxPath) else {
            throw VMError.environment("cannot read \(busyboxPath): apt-get install -y --no-install-recommends busybox-static")
        }
        let modules = try Self.loadOrder(for: Self.bootModules, modulesDirectory: modulesDirectory, release: release)

        var cpio = CPIOArchive()
        for dir in ["bin", "dev", "proc", "sys", "newroot", "mods", "lower", "upper", "lib", "lib/modules", "run"] {
            cpio.addDirectory(dir)
        }
        cpio.addCharacterDevice("dev/console", major: 5, minor: 1)
        cpio.addCharacterDevice("dev/null", major: 1, minor: 3, mode: 0o666)
        cpio.addFile("bin/busybox", contents: busybox, mode: 0o755)
        for applet in Self.applets { cpio.addSymlink("bin/\(applet)", target: "busybox") }
        var order: [String] = []
        for module in modules {
            let source = (modulesDirectory as NSString).appendingPathComponent(module.path)
            guard let bytes = FileManager.default.contents(atPath: source) else {
                throw VMError.environment("cannot read the module \(source)")
            }
            let file = module.name + ".ko" + ((module.path as NSString).pathExtension == "ko" ? "" :
                                              "." + (module.path as NSString).pathExtension)
            cpio.addFile("mods/\(file)", contents: bytes)
            order.append(file)
        }
        cpio.addFile("mods/order", contents: Data((order.joined(separator: "\n") + "\n").utf8))
        cpio.addFile("kver", contents: Data((release + "\n").utf8))
        cpio.addFile("init", contents: Data(initScript.utf8), mode: 0o755)
        return (cpio.finish(), order)
    }

    public struct Module: Equatable, Sendable {
        public var name: String
        /// Relative to lib/modules/RELEASE, as in modules.dep.
        public var path: String
    }

    /// `wanted` plus their dependencies from modules.dep, dependencies first; built-in ones are skipped.
    public static func loadOrder(for wanted: [String], modulesDirectory: String, release: String) throws -> [Module] {
        let depFile = (modulesDirectory as NSString).appendingPathComponent("modules.dep")
        guard let dep = try? String(contentsOfFile: depFile, encoding: .utf8) else {
            throw VMError.environment("\(depFile) is missing: run busybox depmod -b TREE \(release)")
        }
        let builtinFile = (modulesDirectory as NSString).appendingPathComponent("modules.builtin")
        let builtin = (try? String(contentsOfFile: builtinFile, encoding: .utf8)) ?? ""
        return try loadOrder(for: wanted, modulesDep: dep, modulesBuiltin: builtin, release: release)
    }

    static func moduleName(_ path: Substring) -> String {
        var base = String(path.split(separator: "/").last ?? path)
        for ext in [".xz", ".zst", ".gz"] where base.hasSuffix(ext) { base.removeLast(ext.count) }
        if base.hasSuffix(".ko") { base.removeLast(3) }
        return base.replacingOccurrences(of: "-", with: "_")
    }

    static func loadOrder(for wanted: [String], modulesDep: String, modulesBuiltin: String,
                          release: String) throws -> [Module] {
        var paths: [String: String] = [:]
        var deps: [String: [String]] = [:]
        for line in modulesDep.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let path = line[..<colon]
            let name = moduleName(path)
            paths[name] = String(path)
            deps[name] = line[line.index(after: colon)...].split(separator: " ").map(moduleName)
        }
        let builtin = Set(modulesBuiltin.split(separator: "\n").map(moduleName))
        var done = Set<String>()
        var order: [Module] = []
        func add(_ raw: String, requiredBy: String?) throws {
            let name = raw.replacingOccurrences(of: "-", with: "_")
            guard done.insert(name).inserted else { return }
            if builtin.contains(name) { return }
            guard let path = paths[name] else {
                let what = requiredBy.map { "\(name) (needed by \($0))" } ?? name
                throw VMError.environment("""
                kernel \(release) has no module \(what): the VM needs virtio, 9p and overlayfs \
                (the cloud-amd64 flavour lacks 9p; use the amd64 flavour)
                """)
            }
            for d in deps[name] ?? [] { try add(d, requiredBy: name) }
            order.append(Module(name: name, path: path))
        }
        for name in wanted { try add(name, requiredBy: nil) }
        return order
    }
}
