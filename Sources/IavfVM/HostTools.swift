import Foundation

/// Finds the host programs the harness needs and says which apt package provides a missing one.
public enum HostTools {
    /// Debian package that provides each tool (for the "apt-get install" hint).
    public static let packages: [String: String] = [
        "qemu-system-x86_64": "qemu-system-x86",
        "busybox": "busybox-static",
        "dpkg-deb": "dpkg",
        "apt-get": "apt",
        "apt-cache": "apt",
        "sha256sum": "coreutils",
        "bpftool": "bpftool",
    ]

    static let fallbackPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// The absolute path of `name` on PATH (and the usual sbin directories), or nil.
    public static func find(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if name.contains("/") {
            return FileManager.default.isExecutableFile(atPath: name) ? name : nil
        }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + fallbackPath
        for dir in path where !dir.isEmpty {
            let candidate = (dir as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }

    /// Like `find`, but throws an environment error naming the package to install.
    public static func require(_ name: String, purpose: String? = nil) throws -> String {
        if let path = find(name) { return path }
        let package = packages[name] ?? name
        let why = purpose.map { " (\($0))" } ?? ""
        throw VMError.environment("\(name) not found\(why): apt-get install -y --no-install-recommends \(package)")
    }

    /// A statically linked busybox for the initramfs (the guest has no libc before the 9p root is up).
    public static func staticBusybox() throws -> String {
        let candidates = ["/bin/busybox", "/usr/bin/busybox"] + [find("busybox")].compactMap { $0 }
        for path in candidates where FileManager.default.isExecutableFile(atPath: path) {
            if (try? isStaticELF(path)) == true { return path }
            throw VMError.environment(
                "\(path) is dynamically linked and cannot run in the initramfs: " +
                "apt-get install -y --no-install-recommends busybox-static")
        }
        throw VMError.environment("busybox not found (the guest's /init needs it): " +
                                  "apt-get install -y --no-install-recommends busybox-static")
    }

    /// True when the ELF file has no PT_INTERP program header (no dynamic loader).
    static func isStaticELF(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let header = handle.readData(ofLength: 64)
        guard header.count == 64, header.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]), header[4] == 2 else {
            return false
        }
        func u16(_ d: Data, _ o: Int) -> Int { Int(d[d.startIndex + o]) | Int(d[d.startIndex + o + 1]) << 8 }
        func u64(_ d: Data, _ o: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(d[d.startIndex + o + $1]) << (8 * UInt64($1)) }
        }
        let phoff = u64(header, 0x20), phentsize = u16(header, 0x36), phnum = u16(header, 0x38)
        try handle.seek(toOffset: phoff)
        let table = handle.readData(ofLength: phentsize * phnum)
        guard table.count == phentsize * phnum else { return false }
        for i in 0..<phnum where u16(table, i * phentsize) == 3 && u16(table, i * phentsize + 2) == 0 {
            return false // PT_INTERP
        }
        return true
    }
}
