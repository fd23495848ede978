import IavfSystem
import Foundation

/// Everything that can go wrong around a VM run, each with a message that says what to do.
///
/// The CLI maps the kinds to exit codes: environment problems exit 3, a bad `--kernel` 2,
/// a timeout 124 and a crashed guest 125 (the conventions of timeout(1)).
public enum VMError: Error, Equatable, CustomStringConvertible {
    /// A missing tool, package, kernel or directory; the message names the fix.
    case environment(String)
    /// `--kernel` names nothing we can resolve.
    case badKernel(String)
    /// Other bad input (no command, a bad `--env`).
    case usage(String)
    /// A downloaded or cached `.deb` does not match its expected SHA256.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// The guest did not power off within the hard timeout.
    case timeout(seconds: Double, consoleTail: String)
    /// The guest panicked, oopsed or qemu died before the command finished.
    case guestCrashed(reason: String, consoleTail: String)
    /// The guest's /init could not prepare the command (a mount or a module failed).
    case guestInitFailed(reason: String, consoleTail: String)

    public var description: String {
        switch self {
        case .environment(let message):
            return message
        case .badKernel(let message), .usage(let message):
            return message
        case .checksumMismatch(let file, let expected, let actual):
            return """
            SHA256 mismatch for \(file): expected \(expected), got \(actual). \
            The file is corrupt or not the pinned package; delete it and run again to fetch a fresh copy.
            """
        case .timeout(let seconds, let tail):
            return "the VM did not finish within the hard timeout of \(Self.format(seconds)) s " +
                "(a hung guest or a slow command: raise --timeout); console tail:\n\(tail)"
        case .guestCrashed(let reason, let tail):
            return "the guest crashed: \(reason); console tail:\n\(tail)"
        case .guestInitFailed(let reason, let tail):
            return "the guest could not start the command: \(reason); console tail:\n\(tail)"
        }
    }

    /// Process exit code the CLI uses for this error.
    public var exitCode: Int32 {
        switch self {
        case .environment, .checksumMismatch: return 3
        case .badKernel, .usage: return 2
        case .timeout: return 124
        case .guestCrashed, .guestInitFailed: return 125
        }
    }

    static func format(_ seconds: Double) -> String { String(format: "%.1f", seconds) }
}

extension VMError: ToolError {
    public var exitStatus: Int32 { exitCode }
}
