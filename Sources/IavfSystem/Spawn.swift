import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one posix_spawn of the project (Foundation's Process needs a run-loop socket that
/// minimal guests may not give it, and cannot put a child in its own process group).
public enum Spawn {
    public struct Options: Sendable {
        /// File descriptors for the child's 0, 1, 2 (nil: /dev/null for 0, inherited for 1, 2).
        public var stdin: Int32?
        public var stdout: Int32?
        public var stderr: Int32?
        /// Descriptors the child must not inherit (the parent's ends of pipes).
        public var close: [Int32] = []
        /// Its own process group, so the whole group can be killed at once.
        public var processGroup = false
        /// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE back to default and no signal blocked:
        /// a parent that ignores them would otherwise pass that on through exec.
        public var defaultSignals = false
        /// Look the program up in PATH.
        public var searchPath = true
        public var directory: String?
        public init() {}
    }

    /// Starts `argv` (argv[0] is the program) and returns its pid.
    public static func start(_ argv: [String], _ o: Options = Options()) throws -> pid_t {
        precondition(!argv.isEmpty)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var flags: Int32 = 0
        if o.processGroup { flags |= POSIX_SPAWN_SETPGROUP; posix_spawnattr_setpgroup(&attr, 0) }
        if o.defaultSignals {
            flags |= POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
            posix_spawnattr_setsigdefault(&attr, &defaults)
            var mask = sigset_t()
            sigemptyset(&mask)
            posix_spawnattr_setsigmask(&attr, &mask)
        }
        posix_spawnattr_setflags(&attr, Int16(flags))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let fd = o.stdin { posix_spawn_file_actions_adddup2(&actions, fd, 0) }
        else { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        if let fd = o.stdout { posix_spawn_file_actions_adddup2(&actions, fd, 1) }
        if let fd = o.stderr { posix_spawn_file_actions_adddup2(&actions, fd, 2) }
        for fd in Set(o.close) { posix_spawn_file_actions_addclose(&actions, fd) }
        // glibc's addchdir_np is not in Swift's Glibc module: env(1) changes directory instead.
        let argv = o.directory.map { ["/usr/bin/env", "-C", $0] + argv } ?? argv
        let search = o.directory == nil && o.searchPath
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = search ? posix_spawnp(&pid, argv[0], &actions, &attr, &cargs, environ)
                              : posix_spawn(&pid, argv[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else { throw EnvironmentProblem("cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// waitpid, retried on EINTR: the raw status, or nil when `noHang` and it still runs.
    public static func wait(_ pid: pid_t, noHang: Bool = false) -> Int32? {
        var st: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &st, noHang ? WNOHANG : 0) } while r == -1 && errno == EINTR
        return r == pid ? st : nil
    }

    /// A wait status as shells report it: the exit status, or 128 + the signal.
    public static func shellStatus(_ st: Int32) -> Int32 {
        let sig = st & 0x7f
        return sig == 0 ? (st >> 8) & 0xff : 128 + sig
    }

    /// Runs `argv` to completion with stdout and stderr into one pipe; returns the shell
    /// status and the output (127 and the reason when it cannot start).
    public static func output(_ argv: [String], directory: String? = nil) -> (status: Int32, output: String) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return (127, "pipe: \(String(cString: strerror(errno)))") }
        var o = Options()
        o.stdout = fds[1]; o.stderr = fds[1]; o.close = fds; o.directory = directory
        let pid: pid_t
        do { pid = try start(argv, o) } catch {
            close(fds[0]); close(fds[1])
            return (127, "\(error)")
        }
        close(fds[1])
        let out = readAll(fds[0])
        close(fds[0])
        return (shellStatus(wait(pid) ?? 0), String(decoding: out, as: UTF8.self))
    }

    /// Reads a descriptor to its end.
    public static func readAll(_ fd: Int32) -> [UInt8] {
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[..<n])
        }
        return out
    }
}
