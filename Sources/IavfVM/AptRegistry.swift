import Foundation

/// What the apt index (signed by Debian) says about a package version.
public struct RegistryEntry: Sendable, Equatable {
    public var package: String
    public var version: String
    public var sha256: String?
    public var size: Int64?
}

/// Queries the local apt index and downloads packages with apt-get.
public enum AptRegistry {
    /// `apt-cache show --no-all-versions NAME[=VERSION]`; nil when apt does not know it.
    public static func lookup(package: String, version: String?) -> RegistryEntry? {
        guard let aptCache = HostTools.find("apt-cache") else { return nil }
        let spec = version.map { "\(package)=\($0)" } ?? package
        guard let out = try? Subprocess.run(aptCache, ["show", "--no-all-versions", spec]), out.status == 0 else {
            return nil
        }
        return parseStanza(out.stdout, package: package)
    }

    /// Parses the first stanza of `apt-cache show` output.
    static func parseStanza(_ text: String, package: String) -> RegistryEntry? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { if !fields.isEmpty { break } else { continue } }
            guard !line.hasPrefix(" "), let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            if fields[key] == nil {
                fields[key] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        guard let version = fields["Version"] else { return nil }
        return RegistryEntry(package: fields["Package"] ?? package, version: version,
                             sha256: fields["SHA256"]?.lowercased(), size: fields["Size"].flatMap { Int64($0) })
    }

    /// `apt-get download NAME=VERSION` into `directory`; returns the .deb's path.
    static func download(package: String, version: String, into directory: String) throws -> String {
        let aptGet = try HostTools.require("apt-get", purpose: "to fetch the kernel package")
        let out = try Subprocess.run(aptGet, ["download", "-q", "\(package)=\(version)"], directory: directory)
        let debs = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }
        guard out.status == 0, let deb = debs.first else {
            throw VMError.environment("""
            apt-get download \(package)=\(version) failed (exit \(out.status)): \
            \(out.combined.trimmingCharacters(in: .whitespacesAndNewlines))
            Run apt-get update; if Debian rotated the package out of the archive, put the .deb in \
            $IAVF_CHECK_KERNEL_DIR (or ../shared/kernels) or fetch it from snapshot.debian.org.
            """)
        }
        return (directory as NSString).appendingPathComponent(deb)
    }
}
