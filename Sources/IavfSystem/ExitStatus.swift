/// The exit statuses every command documents, and the one way an error carries one.

/// The documented exit codes (README "Exit codes").
public enum ExitStatus {
    public static let pass: Int32 = 0
    public static let fail: Int32 = 1
    public static let badInput: Int32 = 2
    public static let environment: Int32 = 3
    public static let inconclusive: Int32 = 4
}

/// An error that ends the command with its own exit status and a message that says what is
/// wrong and what to do. The entry point maps it once: message to standard error, then exit.
public protocol ToolError: Error, CustomStringConvertible {
    var exitStatus: Int32 { get }
}

/// A problem of the machine (root, BTF, a missing tool or module): exit 3.
public struct EnvironmentProblem: ToolError, Sendable {
    public var description: String
    public var exitStatus: Int32 { ExitStatus.environment }
    public init(_ description: String) { self.description = description }
}

/// Bad input a user can fix (a file, a flag's value): exit 2.
public struct BadInput: ToolError, Sendable {
    public var description: String
    public var exitStatus: Int32 { ExitStatus.badInput }
    public init(_ description: String) { self.description = description }
}

/// An outcome, not a problem: the command already printed its result and exits with this
/// status (1 fail, 4 inconclusive, a child's status), printing nothing more.
public struct CommandOutcome: ToolError, Sendable {
    public var exitStatus: Int32
    public var description: String { "" }
    public init(_ exitStatus: Int32) { self.exitStatus = exitStatus }
}
