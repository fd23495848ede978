import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The headers an out-of-tree module (the emulated PF's avfpf.ko, a reviewer's iavf) is built
/// against: Debian's `linux-headers-RELEASE` for a packaged kernel, fetched by package name
/// when missing (apt-get, as root: the package manager is the cache), or a built kernel
/// source tree, which is its own headers.
public enum KernelHeaders {
    /// The headers directory for `release`, installing `linux-headers-RELEASE` when it is not
    /// there. Environment problem (exit 3) when it cannot be had, with the command to run.
    public static func ensure(release: String, root: String = "/usr/src", note: (String) -> Void = { _ in }) throws -> String {
        let dir = "\(root)/linux-headers-\(release)"
        if FileManager.default.fileExists(atPath: dir + "/Makefile") { return dir }
        let package = "linux-headers-\(release)"
        let hint = "apt-get install -y --no-install-recommends \(package)"
        guard geteuid() == 0 else {
            throw VMError.environment("no kernel headers for \(release) in \(dir): run `\(hint)` as root (or run iavf-check as root)")
        }
        guard let apt = HostTools.find("apt-get") else {
            throw VMError.environment("no kernel headers for \(release) in \(dir) and no apt-get to fetch \(package)")
        }
        note("fetching \(package) (apt-get install)")
        var out = try Subprocess.run(apt, ["install", "-y", "--no-install-recommends", package])
        if out.status != 0 {
            // A stale package list is the usual reason: refresh once and try again.
            _ = try Subprocess.run(apt, ["update"])
            out = try Subprocess.run(apt, ["install", "-y", "--no-install-recommends", package])
        }
        guard out.status == 0, FileManager.default.fileExists(atPath: dir + "/Makefile") else {
            throw VMError.environment("""
            cannot install \(package) (apt-get exit \(out.status)); the kernel's headers package must be \
            in the apt sources (Debian's bookworm, bookworm-security or bookworm-backports):
            \(out.combined.split(separator: "\n").suffix(8).joined(separator: "\n"))
            """)
        }
        return dir
    }
}
