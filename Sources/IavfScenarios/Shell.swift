import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion and returns its status and merged output. Used for `ip`,
/// sysfs writes and the like inside the guest (posix_spawn: minimal guests give Foundation's
/// Process no run-loop socket).
public enum Shell {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var ok: Bool { status == 0 }
    }

    public static func run(_ argv: [String]) -> Result {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return Result(status: 127, output: "pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return Result(status: 127, output: "\(argv[0]): \(String(cString: strerror(rc)))")
        }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[..<n])
        }
        close(fds[0])
        var st: Int32 = 0
        while waitpid(pid, &st, 0) == -1 && errno == EINTR {}
        let sig = st & 0x7f
        return Result(status: sig == 0 ? (st >> 8) & 0xff : 128 + sig, output: String(decoding: out, as: UTF8.self))
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
