import Foundation
import IavfModel

/// A Debian package pinned by name, version and SHA256 (the registry may rotate it away).
public struct PinnedDeb: Sendable, Equatable {
    public var package: String
    public var version: String
    public var sha256: String
    /// Bytes, for download progress.
    public var size: Int64? = nil
    public var fileName: String { "\(package)_\(version)_amd64.deb" }
}

/// A short name for a kernel the project tests against.
public struct KernelAlias: Sendable, Equatable {
    public var name: String
    public var deb: PinnedDeb
    public var generation: Generation
    public var summary: String
}

/// Where a kernel comes from, after `--kernel` has been parsed.
public enum KernelSource: Sendable, Equatable {
    /// A Debian package fetched with apt-get download (version nil: the registry's candidate).
    case package(name: String, version: String?)
    /// A `.deb` file given by path.
    case debFile(String)
    /// An extracted tree (`dpkg-deb -x` output: boot/vmlinuz-*, lib/modules/KVER/).
    case tree(String)
}

public enum KernelSpec {
    /// `unpatched` and `patched`: the two generations of issue 4.
    public static let aliases: [KernelAlias] = [
        KernelAlias(name: "unpatched",
                    deb: PinnedDeb(package: "linux-image-6.1.0-47-amd64-unsigned", version: "6.1.170-3",
                                   sha256: "cb9a263a6d0d2debe8ac20eadc1065ffb8b22d27f4a6471ac1c0314db341dfb0",
                                   size: 70_226_932),
                    generation: .unpatched,
                    summary: "Debian 6.1.170-3 (6.1.0-47-amd64), iavf before the VLAN fixes"),
        KernelAlias(name: "patched",
                    deb: PinnedDeb(package: "linux-image-6.1.0-56-amd64", version: "6.1.192-2",
                                   sha256: "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1",
                                   size: 70_550_672),
                    generation: .patched,
                    summary: "Debian 6.1.192-2 (6.1.0-56-amd64), iavf with the VLAN fixes"),
    ]

    /// Packages whose SHA256 we know without asking the registry.
    public static let pinned: [PinnedDeb] = aliases.map(\.deb) + [
        PinnedDeb(package: "linux-image-6.1.0-56-amd64-unsigned", version: "6.1.192-2",
                  sha256: "530631662c9ad84758eca2d7609cf40623309afd4bccbeb563f33e9c7f220bdf",
                  size: 70_560_688),
    ]

    public static func alias(named name: String) -> KernelAlias? {
        aliases.first { $0.name == name.lowercased() }
    }

    public static func pin(package: String, version: String) -> PinnedDeb? {
        pinned.first { $0.package == package && $0.version == version }
    }

    /// Parses `--kernel`: an alias, a Debian kernel package name (optionally `NAME=VERSION`),
    /// a `.deb` path or an extracted tree.
    public static func parse(_ text: String, fileManager: FileManager = .default) throws -> KernelSource {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw VMError.badKernel("--kernel is empty; \(hint)") }
        if let alias = alias(named: trimmed) {
            return .package(name: alias.deb.package, version: alias.deb.version)
        }
        var isDir: ObjCBool = false
        let looksLikePath = trimmed.contains("/") || trimmed.hasSuffix(".deb") || trimmed.hasPrefix(".")
        if fileManager.fileExists(atPath: trimmed, isDirectory: &isDir) {
            let absolute = URL(fileURLWithPath: trimmed).standardizedFileURL.path
            if isDir.boolValue { return .tree(absolute) }
            if trimmed.hasSuffix(".deb") { return .debFile(absolute) }
            throw VMError.badKernel("\(trimmed) is a file but not a .deb; \(hint)")
        }
        if looksLikePath {
            throw VMError.badKernel("kernel \(trimmed) not found (no such file or directory); \(hint)")
        }
        let parts = trimmed.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts[0]
        let version = parts.count == 2 ? parts[1] : nil
        guard isDebianKernelPackage(name), version.map(isDebianVersion) ?? true else {
            throw VMError.badKernel("unknown kernel '\(trimmed)'; \(hint)")
        }
        return .package(name: name, version: version)
    }

    static let hint = "use unpatched, patched, a Debian kernel package (linux-image-6.1.0-56-amd64, " +
        "optionally =VERSION), a .deb file or an extracted tree (see iavf-check vm kernels)"

    /// `linux-image-...`: the Debian policy's package-name characters after the prefix.
    static func isDebianKernelPackage(_ name: String) -> Bool {
        guard name.hasPrefix("linux-image-"), name.count > "linux-image-".count else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "+-.".contains($0) }
    }

    static func isDebianVersion(_ version: String) -> Bool {
        !version.isEmpty && version.first!.isNumber &&
            version.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "+-.~:".contains($0) }
    }
}
