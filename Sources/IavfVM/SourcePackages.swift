import Foundation

/// Debian's kernel source package that matches a kernel image package: `linux-source-X.Y` of the
/// same version (linux-image-6.1.0-56-amd64 6.1.192-2 -> linux-source-6.1 6.1.192-2).
public struct KernelSourcePackage: Sendable, Equatable {
    public var package: String
    public var version: String

    public init(package: String, version: String) {
        self.package = package
        self.version = version
    }

    /// The source package for a Debian kernel version such as "6.1.192-2" (an epoch is kept).
    public static func matching(kernelVersion version: String) throws -> KernelSourcePackage {
        let upstream = version.split(separator: ":").last.map(String.init) ?? version
        let parts = upstream.split(whereSeparator: { $0 == "." || $0 == "-" || $0 == "~" || $0 == "+" })
        guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else {
            throw IavfModuleError.environment("cannot tell the linux-source package of kernel version '\(version)' " +
                                              "(expected MAJOR.MINOR.PATCH-REVISION, e.g. 6.1.192-2)")
        }
        return KernelSourcePackage(package: "linux-source-\(major).\(minor)", version: version)
    }

    /// For an alias or a pinned kernel package.
    public static func matching(kernel alias: KernelAlias) throws -> KernelSourcePackage {
        try matching(kernelVersion: alias.deb.version)
    }

    public var fileName: String { "\(package)_\(version.replacingOccurrences(of: ":", with: "%3a"))_all.deb" }
    public var label: String { "\(package) \(version)" }
    /// Inside the package: the tarball of the whole tree.
    public var tarballPath: String { "usr/src/\(package).tar.xz" }
}

/// Where the iavf sources of a Debian kernel version were extracted.
public struct IavfSources: Sendable, Equatable {
    /// The driver directory (Makefile, iavf_*.c): `.../drivers/net/ethernet/intel/iavf`.
    public var directory: String
    public var package: KernelSourcePackage
    /// SHA256 of the source .deb (as checked against the apt index when it was fetched).
    public var sha256: String
    public var wasCached: Bool
}

/// Fetches `linux-source-X.Y` with apt-get download and keeps only the iavf driver directory:
///
///     CACHE/sources/debs/linux-source-6.1_6.1.192-2_all.deb     (SHA256 from the apt index)
///     CACHE/sources/linux-source-6.1_6.1.192-2/drivers/net/ethernet/intel/iavf/
///     CACHE/sources/linux-source-6.1_6.1.192-2/.iavf-check-ready  (label, SHA256 of the .deb)
///
/// Nothing of the kernel's sources goes into the repository; they are fetched at run time.
public struct SourceStore: Sendable {
    public var cacheDirectory: String
    public var progress: VMProgress

    public static let driverPath = "drivers/net/ethernet/intel/iavf"

    public init(cacheDirectory: String? = nil, progress: VMProgress = .silent,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.cacheDirectory = cacheDirectory ?? KernelStore.defaultCacheDirectory(environment: environment)
        self.progress = progress
    }

    var sourcesDirectory: String { (cacheDirectory as NSString).appendingPathComponent("sources") }
    var debsDirectory: String { (sourcesDirectory as NSString).appendingPathComponent("debs") }

    func tree(for source: KernelSourcePackage) -> String {
        (sourcesDirectory as NSString).appendingPathComponent(KernelStore.cacheKey(package: source.package, version: source.version))
    }

    /// The extracted iavf directory, from the cache when it is there.
    public func iavfSources(for source: KernelSourcePackage) throws -> IavfSources {
        let tree = tree(for: source)
        if let ready = ready(tree, source) { return ready }
        let deb = try fetch(source)
        return try extract(deb: deb.path, sha256: deb.sha256, source: source, into: tree)
    }

    func ready(_ tree: String, _ source: KernelSourcePackage) -> IavfSources? {
        let stampPath = (tree as NSString).appendingPathComponent(KernelStore.readyStamp)
        let dir = (tree as NSString).appendingPathComponent(Self.driverPath)
        guard let data = FileManager.default.contents(atPath: stampPath),
              let stamp = try? JSONDecoder().decode(KernelStore.Stamp.self, from: data),
              FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("Makefile")) else { return nil }
        return IavfSources(directory: dir, package: source, sha256: stamp.sha256, wasCached: true)
    }

    /// The source .deb, verified: a cached copy against the apt index (or, offline, the SHA256 a
    /// previous fetch recorded next to it), else apt-get download.
    func fetch(_ source: KernelSourcePackage) throws -> (path: String, sha256: String) {
        let final = (debsDirectory as NSString).appendingPathComponent(source.fileName)
        let recorded = final + ".sha256"
        let registry = AptRegistry.lookup(package: source.package, version: source.version)
        let known = registry?.sha256 ?? (try? String(contentsOfFile: recorded, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            if FileManager.default.fileExists(atPath: final), let known {
                progress.stage("verifying", message: "using \(final); checking SHA256")
                do {
                    try Checksum.verify(file: final, expected: known)
                    return (final, known)
                } catch {
                    try? FileManager.default.removeItem(atPath: final)
                }
            }
            guard let sum = registry?.sha256 else {
                throw IavfModuleError.environment("""
                \(source.label) is not in the apt index and not cached: run apt-get update (it is in \
                bookworm-security while Debian carries it), or put \(source.fileName) and its .sha256 in \(debsDirectory)
                """)
            }
            try BuildEnvironment.makeDirectory(debsDirectory)
            KernelStore.removeAbandoned(in: debsDirectory, prefix: ".download-")
            let partial = (debsDirectory as NSString).appendingPathComponent(".download-\(getpid())")
            try BuildEnvironment.makeDirectory(partial)
            defer { try? FileManager.default.removeItem(atPath: partial) }
            let size = registry?.size.map { String(format: " (%.0f MB)", Double($0) / 1e6) } ?? ""
            progress.stage("downloading", message: "apt-get download \(source.package)=\(source.version)\(size)")
            let fetched = try AptRegistry.download(package: source.package, version: source.version, into: partial)
            progress.stage("verifying", message: "downloaded; checking SHA256")
            try Checksum.verify(file: fetched, expected: sum)
            try? FileManager.default.removeItem(atPath: final)
            try FileManager.default.moveItem(atPath: fetched, toPath: final)
            try Data((sum + "\n").utf8).write(to: URL(fileURLWithPath: recorded))
            return (final, sum)
        } catch let e as VMError {
            throw IavfModuleError.from(e)
        } catch let e as IavfModuleError {
            throw e
        } catch {
            throw IavfModuleError.environment("cannot store \(source.fileName) in \(debsDirectory): \(error.localizedDescription)")
        }
    }

    /// `dpkg-deb -x` into a scratch directory, then only the iavf directory out of the tarball.
    func extract(deb: String, sha256: String, source: KernelSourcePackage, into tree: String) throws -> IavfSources {
        let fm = FileManager.default
        let dpkgDeb = try BuildEnvironment.tool("dpkg-deb", "dpkg")
        let tar = try BuildEnvironment.tool("tar", "tar")
        _ = try BuildEnvironment.tool("xz", "xz-utils")
        try BuildEnvironment.makeDirectory(sourcesDirectory)
        let prefix = ".tmp-\((tree as NSString).lastPathComponent)-"
        KernelStore.removeAbandoned(in: sourcesDirectory, prefix: prefix)
        let temp = (sourcesDirectory as NSString).appendingPathComponent(prefix + "\(getpid())")
        try? fm.removeItem(atPath: temp)
        defer { try? fm.removeItem(atPath: temp) }
        let unpacked = (temp as NSString).appendingPathComponent("deb")
        let out = (temp as NSString).appendingPathComponent("tree")
        try BuildEnvironment.makeDirectory(out)
        progress.stage("extracting", message: "extracting \(source.label) (dpkg-deb -x)")
        let x = try Subprocess.run(dpkgDeb, ["-x", deb, unpacked])
        guard x.status == 0 else {
            throw IavfModuleError.environment("dpkg-deb -x \(deb) failed: \(x.combined) (disk full? a broken .deb?)")
        }
        let tarball = (unpacked as NSString).appendingPathComponent(source.tarballPath)
        guard fm.fileExists(atPath: tarball) else {
            throw IavfModuleError.environment("\(deb) holds no \(source.tarballPath); is it a linux-source package?")
        }
        progress.stage("extracting", message: "extracting \(Self.driverPath) from \((tarball as NSString).lastPathComponent) (tar -xJ, ~15 s)")
        let t = try Subprocess.run(tar, ["-xJf", tarball, "-C", out, "--wildcards", "*/\(Self.driverPath)/*"])
        guard t.status == 0 else {
            throw IavfModuleError.environment("tar -xJf \(tarball) failed: \(t.combined)")
        }
        // The tarball's top directory is linux-source-X.Y/.
        let tops = ((try? fm.contentsOfDirectory(atPath: out)) ?? []).filter { !$0.hasPrefix(".") }
        guard let top = tops.first(where: { fm.fileExists(atPath: "\(out)/\($0)/\(Self.driverPath)/Makefile") }) else {
            throw IavfModuleError.environment("\(tarball) has no \(Self.driverPath)/Makefile")
        }
        let root = "\(out)/\(top)"
        let stamp = KernelStore.Stamp(label: source.label, sha256: sha256, release: source.version)
        do {
            try JSONEncoder().encode(stamp).write(to: URL(fileURLWithPath: (root as NSString).appendingPathComponent(KernelStore.readyStamp)))
            if fm.fileExists(atPath: tree) {
                if let ready = ready(tree, source) { return ready } // another run won
                try fm.removeItem(atPath: tree)
            }
            try fm.moveItem(atPath: root, toPath: tree)
        } catch {
            if let ready = ready(tree, source) { return ready }
            throw IavfModuleError.environment("cannot move the extracted sources to \(tree): \(error.localizedDescription)")
        }
        progress.endStage()
        guard var ready = ready(tree, source) else {
            throw IavfModuleError.environment("the extracted sources at \(tree) are incomplete")
        }
        ready.wasCached = false
        return ready
    }

}
