import Foundation

/// A kernel ready to boot: an extracted tree with modules.dep.
public struct PreparedKernel: Sendable, Equatable {
    /// Root of the extracted package (`boot/`, `lib/modules/`).
    public var tree: String
    /// `uname -r` of the guest, e.g. 6.1.0-47-amd64.
    public var release: String
    public var vmlinuz: String
    /// `lib/modules/RELEASE` inside the tree; shared with the guest over 9p.
    public var modulesDirectory: String
    /// What was asked for, for messages: "linux-image-6.1.0-47-amd64-unsigned 6.1.170-3".
    public var label: String
    /// False when this run downloaded or extracted something.
    public var wasCached: Bool
    /// Headers to build modules against when not Debian's linux-headers-RELEASE (a built
    /// source tree is its own).
    public var headers: String? = nil

    /// The Debian package version of a packaged kernel ("6.1.192-2"); nil for a tree.
    public var debianVersion: String? {
        let w = label.split(separator: " ")
        return w.count == 2 && w[1].first?.isNumber == true ? String(w[1]) : nil
    }
}

/// One entry of `iavf-check vm kernels`.
public struct CachedKernel: Sendable, Equatable {
    public var name: String
    public var path: String
    public var release: String
}

/// Fetches kernel packages, verifies them, and keeps extracted trees in the cache:
///
///     $XDG_CACHE_HOME/iavf-check/debs/NAME_VERSION_amd64.deb   (apt-get download)
///     $XDG_CACHE_HOME/iavf-check/kernels/NAME_VERSION/         (dpkg-deb -x + busybox depmod)
///
/// `.deb` files in `$IAVF_CHECK_KERNEL_DIR` or `../shared/kernels` are used in place, before apt.
public struct KernelStore: Sendable {
    public var cacheDirectory: String
    public var localDebDirectories: [String]
    public var progress: VMProgress

    static let readyStamp = ".iavf-check-ready"

    public init(cacheDirectory: String? = nil, localDebDirectories: [String]? = nil,
                progress: VMProgress = .silent,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.cacheDirectory = cacheDirectory ?? Self.defaultCacheDirectory(environment: environment)
        self.localDebDirectories = localDebDirectories ?? Self.defaultLocalDebDirectories(environment: environment)
        self.progress = progress
    }

    /// `$XDG_CACHE_HOME/iavf-check`, else `~/.cache/iavf-check`.
    public static func defaultCacheDirectory(environment: [String: String]) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return (xdg as NSString).appendingPathComponent("iavf-check")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".cache/iavf-check")
    }

    /// `$IAVF_CHECK_KERNEL_DIR`, then `../shared/kernels` next to the working directory and next to
    /// the package that holds the running executable (`.build*/…/iavf-check`); existing ones only.
    public static func defaultLocalDebDirectories(
        environment: [String: String],
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        executable: String = CommandLine.arguments.first ?? ""
    ) -> [String] {
        var dirs: [String] = []
        if let dir = environment["IAVF_CHECK_KERNEL_DIR"], !dir.isEmpty { dirs.append(dir) }
        dirs.append((currentDirectory as NSString).appendingPathComponent("../shared/kernels"))
        let exe = URL(fileURLWithPath: executable, relativeTo: URL(fileURLWithPath: currentDirectory))
            .standardizedFileURL.resolvingSymlinksInPath().path
        if let range = exe.range(of: "/.build") {
            let package = String(exe[..<range.lowerBound])
            dirs.append((package as NSString).appendingPathComponent("../shared/kernels"))
        }
        var seen = Set<String>()
        return dirs.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            .filter { seen.insert($0).inserted }
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && d.boolValue }
    }

    var debsDirectory: String { (cacheDirectory as NSString).appendingPathComponent("debs") }
    var kernelsDirectory: String { (cacheDirectory as NSString).appendingPathComponent("kernels") }

    // MARK: - Prepare

    /// Resolves, fetches, verifies and extracts as needed; cheap when the tree is cached.
    public func prepare(_ source: KernelSource) throws -> PreparedKernel {
        switch source {
        case .tree(let path):
            return try prepareTree(path)
        case .debFile(let path):
            return try prepareDebFile(path)
        case .package(let name, let version):
            return try preparePackage(name, version: version)
        }
    }

    func preparePackage(_ name: String, version requested: String?) throws -> PreparedKernel {
        var registry: RegistryEntry?
        var version = requested
        if version == nil {
            registry = AptRegistry.lookup(package: name, version: nil)
            version = registry?.version ?? newestLocalVersion(of: name)
        }
        guard let version else {
            throw VMError.environment("""
            kernel package \(name) is neither in the apt index nor cached: check the name \
            (apt-cache search --names-only '^linux-image-6.1'), or run apt-get update
            """)
        }
        let key = Self.cacheKey(package: name, version: version)
        let label = "\(name) \(version)"
        let tree = (kernelsDirectory as NSString).appendingPathComponent(key)
        if let ready = readyKernel(at: tree, label: label) { return ready }

        let fileName = "\(name)_\(version.replacingOccurrences(of: ":", with: "%3a"))_amd64.deb"
        var expected = KernelSpec.pin(package: name, version: version)?.sha256
        func registrySum() -> String? {
            if registry == nil || registry?.version != version {
                registry = AptRegistry.lookup(package: name, version: version)
            }
            return registry?.sha256
        }
        var deb: String
        if let found = findLocalDeb(fileName) {
            deb = found
            expected = expected ?? registrySum() ?? sumsEntry(forDeb: found)
            guard let expected else {
                throw VMError.environment("""
                cannot verify \(found): \(name) \(version) is not pinned, not in the apt index and not in a \
                SHA256SUMS file next to it; add its line to that SHA256SUMS or pass the .deb path instead
                """)
            }
            progress.stage("verifying", message: "using \(found); checking SHA256")
            try verifyOrDiscard(found, expected: expected)
        } else {
            guard let sum = expected ?? registrySum() else {
                throw VMError.environment("""
                \(name) \(version) is not in the apt index and no local copy exists: run apt-get update, \
                or put \(fileName) in $IAVF_CHECK_KERNEL_DIR
                """)
            }
            expected = sum
            deb = try download(package: name, version: version, fileName: fileName,
                               expected: sum, size: KernelSpec.pin(package: name, version: version)?.size
                                   ?? (registry?.version == version ? registry?.size : nil))
        }
        return try extract(deb: deb, sha256: expected!, into: tree, label: label)
    }

    func prepareDebFile(_ path: String) throws -> PreparedKernel {
        let dpkgDeb = try HostTools.require("dpkg-deb")
        let info = try Subprocess.run(dpkgDeb, ["-f", path, "Package", "Version"])
        var fields: [String: String] = [:]
        for line in info.stdout.split(separator: "\n") {
            let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        guard info.status == 0, let name = fields["Package"], let version = fields["Version"] else {
            throw VMError.badKernel("\(path) is not a readable Debian package: \(info.combined)")
        }
        progress.stage("verifying", message: "using \(path); checking SHA256")
        let actual = try Checksum.sha256(ofFile: path)
        let expected = KernelSpec.pin(package: name, version: version)?.sha256 ?? sumsEntry(forDeb: path)
            ?? AptRegistry.lookup(package: name, version: version)?.sha256
        if let expected, expected != actual {
            throw VMError.checksumMismatch(file: path, expected: expected, actual: actual)
        }
        if expected == nil {
            progress.note("note: \(path) is not pinned or in the apt index; using it unverified")
        }
        let key = Self.cacheKey(package: name, version: version)
        let tree = (kernelsDirectory as NSString).appendingPathComponent(key)
        if let ready = readyKernel(at: tree, label: "\(name) \(version)", sha256: actual) { return ready }
        return try extract(deb: path, sha256: actual, into: tree, label: "\(name) \(version)")
    }

    func prepareTree(_ path: String) throws -> PreparedKernel {
        if SourceTreeKernel.isBuiltTree(path) {
            return try SourceTreeKernel.prepare(path, cacheRoot: cacheDirectory) { try self.depmod(tree: $0, release: $1) }
        }
        let (release, modules, vmlinuz) = try Self.layout(ofTree: path)
        let dep = (modules as NSString).appendingPathComponent("modules.dep")
        if !FileManager.default.fileExists(atPath: dep) {
            guard FileManager.default.isWritableFile(atPath: modules) else {
                throw VMError.environment("\(modules) has no modules.dep and is read-only: " +
                                          "run busybox depmod -b \(path) \(release) as its owner")
            }
            try depmod(tree: path, release: release)
        }
        return PreparedKernel(tree: path, release: release, vmlinuz: vmlinuz, modulesDirectory: modules,
                              label: path, wasCached: true)
    }

    // MARK: - Steps

    /// `NAME_VERSION`, safe as a directory name and in qemu/kernel arguments.
    static func cacheKey(package: String, version: String) -> String {
        "\(package)_\(version.replacingOccurrences(of: ":", with: "%3a"))"
    }

    func readyKernel(at tree: String, label: String, sha256: String? = nil) -> PreparedKernel? {
        let stampPath = (tree as NSString).appendingPathComponent(Self.readyStamp)
        guard let data = FileManager.default.contents(atPath: stampPath),
              let stamp = try? JSONDecoder().decode(Stamp.self, from: data),
              sha256 == nil || stamp.sha256 == sha256,
              let (release, modules, vmlinuz) = try? Self.layout(ofTree: tree) else { return nil }
        return PreparedKernel(tree: tree, release: release, vmlinuz: vmlinuz, modulesDirectory: modules,
                              label: label, wasCached: true)
    }

    struct Stamp: Codable {
        var label: String
        var sha256: String
        var release: String
    }

    func findLocalDeb(_ fileName: String) -> String? {
        for dir in localDebDirectories + [debsDirectory] {
            let path = (dir as NSString).appendingPathComponent(fileName)
            if FileManager.default.isReadableFile(atPath: path) { return path }
        }
        return nil
    }

    func sumsEntry(forDeb path: String) -> String? {
        let dir = (path as NSString).deletingLastPathComponent
        return Checksum.listed(fileName: (path as NSString).lastPathComponent,
                               inSumsFile: (dir as NSString).appendingPathComponent("SHA256SUMS"))
    }

    /// The newest version of `package` among cached trees and local debs (when apt does not know it).
    func newestLocalVersion(of package: String) -> String? {
        var versions: [String] = []
        for dir in localDebDirectories + [debsDirectory] {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            where f.hasPrefix(package + "_") && f.hasSuffix("_amd64.deb") {
                versions.append(String(f.dropFirst(package.count + 1).dropLast("_amd64.deb".count)))
            }
        }
        for f in (try? FileManager.default.contentsOfDirectory(atPath: kernelsDirectory)) ?? []
        where f.hasPrefix(package + "_") {
            versions.append(String(f.dropFirst(package.count + 1)))
        }
        return versions.map { $0.replacingOccurrences(of: "%3a", with: ":") }
            .max { $0.compare($1, options: .numeric) == .orderedAscending }
    }

    /// Verifies a file; a corrupt copy in our own cache is deleted so the next run fetches it again.
    func verifyOrDiscard(_ path: String, expected: String) throws {
        do {
            try Checksum.verify(file: path, expected: expected)
        } catch let error as VMError {
            if path.hasPrefix(debsDirectory + "/") { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
    }

    func download(package: String, version: String, fileName: String, expected: String,
                  size: Int64?) throws -> String {
        try makeDirectory(debsDirectory)
        Self.removeAbandoned(in: debsDirectory, prefix: ".download-")
        let partial = (debsDirectory as NSString).appendingPathComponent(".download-\(getpid())")
        try makeDirectory(partial)
        defer { try? FileManager.default.removeItem(atPath: partial) }
        let sizeText = size.map { String(format: " (%.0f MB)", Double($0) / 1e6) } ?? ""
        progress.stage("downloading", message: "apt-get download \(package)=\(version)\(sizeText)") {
            let bytes = Self.directoryBytes(partial)
            if let size, size > 0 {
                return String(format: "%.0f of %.0f MB", Double(bytes) / 1e6, Double(size) / 1e6)
            }
            return String(format: "%.0f MB", Double(bytes) / 1e6)
        }
        let fetched = try AptRegistry.download(package: package, version: version, into: partial)
        progress.stage("verifying", message: "downloaded; checking SHA256")
        try Checksum.verify(file: fetched, expected: expected)
        let final = (debsDirectory as NSString).appendingPathComponent(fileName)
        try? FileManager.default.removeItem(atPath: final)
        try FileManager.default.moveItem(atPath: fetched, toPath: final)
        return final
    }

    func extract(deb: String, sha256: String, into tree: String, label: String) throws -> PreparedKernel {
        let dpkgDeb = try HostTools.require("dpkg-deb", purpose: "to unpack the kernel package")
        try makeDirectory(kernelsDirectory)
        let prefix = ".tmp-\((tree as NSString).lastPathComponent)-"
        Self.removeAbandoned(in: kernelsDirectory, prefix: prefix)
        let temp = (kernelsDirectory as NSString).appendingPathComponent(prefix + "\(getpid())")
        try? FileManager.default.removeItem(atPath: temp)
        defer { try? FileManager.default.removeItem(atPath: temp) }
        progress.stage("extracting", message: "extracting \(label) (dpkg-deb -x, a few seconds)")
        let out = try Subprocess.run(dpkgDeb, ["-x", deb, temp])
        guard out.status == 0 else {
            throw VMError.environment("dpkg-deb -x \(deb) failed: \(out.combined) (disk full? a broken .deb?)")
        }
        let (release, _, _) = try Self.layout(ofTree: temp)
        try depmod(tree: temp, release: release)
        let stamp = Stamp(label: label, sha256: sha256, release: release)
        try JSONEncoder().encode(stamp).write(to: URL(fileURLWithPath: (temp as NSString).appendingPathComponent(Self.readyStamp)))
        if FileManager.default.fileExists(atPath: tree) {
            if let ready = readyKernel(at: tree, label: label, sha256: sha256) { return ready } // another run won
            try FileManager.default.removeItem(atPath: tree)
        }
        do {
            try FileManager.default.moveItem(atPath: temp, toPath: tree)
        } catch {
            if let ready = readyKernel(at: tree, label: label, sha256: sha256) { return ready }
            throw VMError.environment("cannot move the extracted kernel to \(tree): \(error.localizedDescription)")
        }
        progress.endStage()
        guard var ready = readyKernel(at: tree, label: label, sha256: sha256) else {
            throw VMError.environment("the extracted kernel at \(tree) is incomplete")
        }
        ready.wasCached = false
        return ready
    }

    /// modules.dep and modules.alias for the guest's busybox modprobe (the host may lack kmod):
    /// our own reader of `.modinfo` sections, or `busybox depmod` for compressed modules.
    func depmod(tree: String, release: String) throws {
        let modules = ((tree as NSString).appendingPathComponent("lib/modules") as NSString).appendingPathComponent(release)
        let dir = FileManager.default.fileExists(atPath: modules) ? modules
            : ((tree as NSString).appendingPathComponent("usr/lib/modules") as NSString).appendingPathComponent(release)
        progress.stage("indexing modules", message: "indexing modules of \(release)")
        if try ModuleIndex.write(modulesDirectory: dir) != nil { return }
        let busybox = try HostTools.staticBusybox()
        progress.stage("indexing modules", message: "indexing compressed modules of \(release) (busybox depmod)")
        let out = try Subprocess.run(busybox, ["depmod", "-b", tree, release])
        guard out.status == 0 else {
            throw VMError.environment("busybox depmod -b \(tree) \(release) failed: \(out.combined)")
        }
    }

    /// (release, modules dir, vmlinuz) of an extracted kernel package.
    static func layout(ofTree tree: String) throws -> (String, String, String) {
        let fm = FileManager.default
        for base in ["lib/modules", "usr/lib/modules"] {
            let dir = (tree as NSString).appendingPathComponent(base)
            let releases = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            for release in releases {
                let modules = (dir as NSString).appendingPathComponent(release)
                guard fm.fileExists(atPath: (modules as NSString).appendingPathComponent("kernel")) else { continue }
                for boot in ["boot", "usr/lib/linux"] {
                    let vmlinuz = ((tree as NSString).appendingPathComponent(boot) as NSString)
                        .appendingPathComponent("vmlinuz-\(release)")
                    if fm.fileExists(atPath: vmlinuz) { return (release, modules, vmlinuz) }
                }
            }
        }
        throw VMError.badKernel("""
        \(tree) holds no kernel (expected boot/vmlinuz-RELEASE and lib/modules/RELEASE/kernel); \
        is it a metapackage such as linux-image-amd64? Name a versioned package, e.g. linux-image-6.1.0-56-amd64
        """)
    }

    /// Removes `PREFIX<pid>` scratch directories whose process is gone (an interrupted extraction
    /// leaves 400 MB behind otherwise).
    static func removeAbandoned(in dir: String, prefix: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: (dir as NSString).appendingPathComponent(name))
            }
        }
    }

    static func directoryBytes(_ dir: String) -> Int64 {
        var total: Int64 = 0
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            let attrs = try? FileManager.default.attributesOfItem(atPath: (dir as NSString).appendingPathComponent(f))
            total += (attrs?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return total
    }

    func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw VMError.environment("cannot create \(path): \(error.localizedDescription) " +
                                      "(set XDG_CACHE_HOME to a writable directory)")
        }
    }

    // MARK: - Listing

    /// Extracted kernels in the cache (ready ones only).
    public func cachedKernels() -> [CachedKernel] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: kernelsDirectory)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
        return names.compactMap { name in
            let path = (kernelsDirectory as NSString).appendingPathComponent(name)
            guard let ready = readyKernel(at: path, label: name) else { return nil }
            return CachedKernel(name: name, path: path, release: ready.release)
        }
    }

    /// `.deb` files available without the network (local directories and the cache).
    public func localDebs() -> [String] {
        (localDebDirectories + [debsDirectory]).flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
                .filter { $0.hasSuffix(".deb") }.sorted()
                .map { (dir as NSString).appendingPathComponent($0) }
        }
    }
}
