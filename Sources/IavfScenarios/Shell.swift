import Foundation
import IavfSystem
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion and returns its status and merged output. Used for `ip`,
/// sysfs writes and the like inside the guest.
public enum Shell {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var ok: Bool { status == 0 }
    }

    public static func run(_ argv: [String]) -> Result {
        let r = Spawn.output(argv)
        return Result(status: r.status, output: r.output)
    }

    /// `sh -c SCRIPT`
    public static func sh(_ script: String) -> Result { run(["sh", "-c", script]) }

    /// Several commands at once (for the concurrent cases); results in argument order.
    public static func parallel(_ commands: [[String]]) -> [Result] {
        var results = [Result?](repeating: nil, count: commands.count)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: commands.count) { i in
            let r = run(commands[i])
            lock.lock(); results[i] = r; lock.unlock()
        }
        return results.map { $0! }
    }

    /// Writes `text` to a sysfs or procfs file.
    @discardableResult
    public static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc.write(fd, $0, strlen($0)) } >= 0
    }
}
