import IavfSystem
import Foundation

/// What can go wrong while fetching the iavf sources, patching, building or checking an
/// `iavf.ko` for a guest kernel. Each message says what to do.
///
/// Exit codes follow the CLI's convention: 2 for bad input (a module or source directory the
/// user named is not usable as given), 3 for the environment and for patch, build and load
/// failures (something the tool ran did not work).
public enum IavfModuleError: Error, Equatable, CustomStringConvertible {
    /// A prebuilt module the user named is unusable (not a module, wrong kernel, no BTF).
    case badModule(path: String, reason: String)
    /// A source directory the user named is unusable (no Makefile or Kbuild, missing).
    case badSourceDirectory(path: String, reason: String)
    /// A patch file the user named does not exist or cannot be read.
    case badPatch(path: String, reason: String)
    /// Patch `step` of `total` (file `patch`) did not apply; `output` is git apply's.
    case patchFailed(step: Int, total: Int, patch: String, output: String)
    /// `make` failed, or what it produced is not a usable module.
    case buildFailed(step: String, output: String)
    /// A missing tool, package, headers, source package or vmlinux BTF.
    case environment(String)

    public var description: String {
        switch self {
        case .badModule(let path, let reason):
            return "\(path) cannot be used as the guest's iavf module: \(reason)"
        case .badSourceDirectory(let path, let reason):
            return "\(path) is not an iavf source directory: \(reason) " +
                "(pass the directory that holds the driver's Makefile or Kbuild, e.g. drivers/net/ethernet/intel/iavf)"
        case .badPatch(let path, let reason):
            return "patch \(path): \(reason)"
        case .patchFailed(let step, let total, let patch, let output):
            return """
            patch step \(step) of \(total) (\(patch)) does not apply to the iavf sources (git apply -p1):
            \(output.trimmingCharacters(in: .whitespacesAndNewlines))
            The patch must be relative to the kernel tree's root (a/drivers/net/ethernet/intel/iavf/...) \
            and made against this kernel version's sources, after the patches before it.
            """
        case .buildFailed(let step, let output):
            return "building iavf.ko failed at \(step):\n\(output.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .environment(let message):
            return message
        }
    }

    /// Process exit code the CLI uses for this error.
    public var exitCode: Int32 {
        switch self {
        case .badModule, .badSourceDirectory, .badPatch: return 2
        case .patchFailed, .buildFailed, .environment: return 3
        }
    }

    /// A VMError raised by a shared helper (download, checksum, tools), in this vocabulary.
    static func from(_ error: VMError) -> IavfModuleError {
        .environment(error.description)
    }
}

extension IavfModuleError: ToolError {
    public var exitStatus: Int32 { exitCode }
}

/// What the source fetch and the module build need from the machine, as IavfModuleErrors.
enum BuildEnvironment {
    static func tool(_ name: String, _ package: String) throws -> String {
        guard let path = HostTools.find(name) else {
            throw IavfModuleError.environment("\(name) not found: apt-get install -y --no-install-recommends \(package)")
        }
        return path
    }

    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw IavfModuleError.environment("cannot create \(path): \(error.localizedDescription) " +
                                              "(set XDG_CACHE_HOME to a writable directory)")
        }
    }
}
