import Foundation

/// Builds an out-of-tree kernel module (e.g. pf-module/, the emulated PF's avfpf.ko) on the host
/// against a guest kernel's headers (Debian's linux-headers-RELEASE in /usr/src), in a copy of the
/// sources under the cache: `CACHE/modules/NAME/RELEASE/HASH/`, HASH covering the source files.
/// A later build with the same sources and release reuses the .ko. Nothing is written to the sources.
public struct KernelModuleBuilder: Sendable {
    public var sourceDirectory: String
    public var moduleName: String
    public var cacheDirectory: String
    /// Where `linux-headers-RELEASE` lives (a directory per release).
    public var headersRoot: String

    public init(sourceDirectory: String, moduleName: String, cacheDirectory: String? = nil,
                headersRoot: String = "/usr/src") {
        self.sourceDirectory = sourceDirectory
        self.moduleName = moduleName
        self.cacheDirectory = cacheDirectory ??
            KernelStore.defaultCacheDirectory(environment: ProcessInfo.processInfo.environment)
        self.headersRoot = headersRoot
    }

    public struct Built: Sendable {
        public var path: String
        public var wasCached: Bool
        public var seconds: Double
    }

    /// The files that make up the module's sources: *.c, *.h, Kbuild, Makefile (sorted).
    func sourceFiles() throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sourceDirectory)) ?? []
        let files = names.filter { $0.hasSuffix(".c") || $0.hasSuffix(".h") || $0 == "Kbuild" || $0 == "Makefile" }.sorted()
        guard files.contains(where: { $0.hasSuffix(".c") }) else {
            throw VMError.environment("no module sources (*.c) in \(sourceDirectory)")
        }
        return files
    }

    /// A short digest of the sources' names and contents (FNV-1a 64, enough to key a cache).
    func sourceHash(_ files: [String]) throws -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for name in files {
            guard let data = FileManager.default.contents(atPath: sourceDirectory + "/" + name) else {
                throw VMError.environment("cannot read \(sourceDirectory)/\(name)")
            }
            for b in Array(name.utf8) + [0] + Array(data) + [0] {
                h = (h ^ UInt64(b)) &* 0x100_0000_01b3
            }
        }
        return String(h, radix: 16)
    }

    public func headers(for release: String) -> String { "\(headersRoot)/linux-headers-\(release)" }

    /// Builds (or reuses) MODULE.ko for `release`, against `headers` (default: Debian's
    /// linux-headers-RELEASE under `headersRoot`; a built kernel tree for a source-built kernel).
    public func build(release: String, headers given: String? = nil) throws -> Built {
        let start = Date()
        let kdir = given ?? headers(for: release)
        guard FileManager.default.fileExists(atPath: kdir + "/Makefile") else {
            throw VMError.environment("""
            no kernel headers for \(release) in \(kdir): apt-get install -y --no-install-recommends \
            linux-headers-\(release) (scripts/install-deps.sh installs those of both guest kernels)
            """)
        }
        let files = try sourceFiles()
        // A tree's build is keyed by the tree too: two trees may share a release name.
        var headersKey = ""
        if kdir != headers(for: release) {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in Array(kdir.utf8) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            headersKey = "-" + String(h, radix: 16)
        }
        let dir = "\(cacheDirectory)/modules/\(moduleName)/\(release)\(headersKey)/\(try sourceHash(files))"
        let ko = "\(dir)/\(moduleName).ko"
        if FileManager.default.fileExists(atPath: ko) {
            return Built(path: ko, wasCached: true, seconds: Date().timeIntervalSince(start))
        }
        let fm = FileManager.default
        try? fm.removeItem(atPath: dir)
        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for name in files { try fm.copyItem(atPath: sourceDirectory + "/" + name, toPath: dir + "/" + name) }
        } catch {
            throw VMError.environment("cannot prepare \(dir): \(error.localizedDescription)")
        }
        let make = try HostTools.require("make", purpose: "to build the \(moduleName) kernel module")
        let out = try Subprocess.run(make, ["-C", kdir, "M=\(dir)", "modules"])
        guard out.status == 0, fm.fileExists(atPath: ko) else {
            try? fm.removeItem(atPath: dir)
            throw VMError.environment("building \(moduleName).ko against \(kdir) failed (make exit \(out.status)):\n" +
                                      out.combined.split(separator: "\n").suffix(30).joined(separator: "\n"))
        }
        return Built(path: ko, wasCached: false, seconds: Date().timeIntervalSince(start))
    }
}
