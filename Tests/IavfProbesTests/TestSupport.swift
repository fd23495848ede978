import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Kernel tests need root (CAP_BPF+CAP_PERFMON would do; root is what CI has).
enum Privilege {
    static var isRoot: Bool { geteuid() == 0 }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// Run when root; also run (and fail in `requireRoot`) when CI=true without root,
    /// so CI can never report a skipped kernel test as passed.
    static var shouldRun: Bool { isRoot || isCI }
    static let reason: Comment = "needs root to load BPF programs (skipped; with CI=true it fails instead)"

    static func requireRoot() throws {
        try #require(isRoot, "CI=true but not running as root: the host BPF pipeline tests must run as root in CI")
    }
}

/// Build raw bytes for a C struct value.
func bytes<T>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

/// Set a fixed-size C char array (imported as a tuple) from a string.
func setCString<T>(_ tuple: inout T, _ s: String) {
    withUnsafeMutableBytes(of: &tuple) { raw in
        for i in raw.indices { raw[i] = 0 }
        for (i, b) in s.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
    }
}
