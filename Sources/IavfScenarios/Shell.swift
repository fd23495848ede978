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
        let t0 = Date()
        let r = Spawn.output(argv)
        Spawned.shared.add(program: argv.first ?? "?", seconds: Date().timeIntervalSince(t0))
        return Result(status: r.status, output: r.output)
    }

    /// The commands run so far, by program: where a suite's time goes (a process start costs
    /// tens of milliseconds in a TCG guest, and waits poll with `ip`).
    public static var spawned: Spawned.Summary { Spawned.shared.summary }

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

/// Counts and times the commands `Shell` runs (from any thread), and the testbed's rtnetlink
/// changes (as the program "rtnetlink").
public final class Spawned: @unchecked Sendable {
    public struct Summary: Sendable, Equatable {
        public var count = 0
        public var seconds = 0.0
        /// Per program (argv[0]): count and seconds, most time first.
        public var programs: [(name: String, count: Int, seconds: Double)] = []

        public static func == (a: Summary, b: Summary) -> Bool {
            a.count == b.count && a.seconds == b.seconds && a.programs.map(\.name) == b.programs.map(\.name)
        }

        /// `N commands in T s (ip N1 in T1 s, ...)`.
        public var text: String {
            let parts = programs.prefix(4).map { "\($0.name) \($0.count) in \(String(format: "%.1f", $0.seconds)) s" }
            return "\(count) commands in \(String(format: "%.1f", seconds)) s" + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
        }
    }

    static let shared = Spawned()
    private let lock = NSLock()
    private var byProgram: [String: (Int, Double)] = [:]

    func add(program: String, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        let name = (program as NSString).lastPathComponent
        let old = byProgram[name] ?? (0, 0)
        byProgram[name] = (old.0 + 1, old.1 + seconds)
    }

    var summary: Summary {
        lock.lock()
        defer { lock.unlock() }
        var s = Summary()
        for (name, v) in byProgram {
            s.count += v.0
            s.seconds += v.1
            s.programs.append((name, v.0, v.1))
        }
        s.programs.sort { $0.seconds > $1.seconds }
        return s
    }
}
