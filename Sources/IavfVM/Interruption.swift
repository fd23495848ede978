import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM (CI's `timeout`) for the commands that boot guests: the guest must die
/// with iavf-check, not run on as an orphan to the end of its workload. Every qemu is
/// started in a process group of its own (and, through `setpriv --pdeathsig`, is killed by
/// the kernel if iavf-check dies without a chance to clean up); on a signal the groups are
/// killed, the registered hooks write what the run has so far, and the process exits with
/// 128 + the signal (130 SIGINT, 143 SIGTERM), as shells report it.
public enum Interruption {
    public static func exitCode(for signal: Int32) -> Int32 { 128 + signal }

    private static let lock = NSLock()
    private static var installed = false
    private static var sources: [DispatchSourceSignal] = []
    /// Children to kill: pid -> whether it leads a process group.
    private static var children: [pid_t: Bool] = [:]
    private static var hooks: [(id: Int, run: (Int32) -> Void)] = []
    private static var nextHook = 0
    private static var signalReceived: Int32?

    /// The signal that interrupted the run, if one did.
    public static var received: Int32? { lock.lock(); defer { lock.unlock() }; return signalReceived }

    /// Installs the handlers (once). Call at the start of a command that boots guests.
    public static func install() {
        lock.lock(); defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)   // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "iavf-check.signal"))
            source.setEventHandler { handle(sig) }
            source.resume()
            sources.append(source)
        }
    }

    /// A child to kill on a signal; `group`: it leads a process group (everything in it dies).
    public static func adopt(_ pid: pid_t, group: Bool) {
        lock.lock()
        children[pid] = group
        let late = signalReceived != nil
        lock.unlock()
        if late { kill(group ? -pid : pid, SIGKILL) }
    }

    public static func release(_ pid: pid_t) {
        lock.lock(); children[pid] = nil; lock.unlock()
    }

    /// `hook(signal)` runs on a signal, after the children are killed and before the exit:
    /// write the partial results there. Returns a token for `removeHook`.
    @discardableResult
    public static func onInterrupt(_ hook: @escaping (Int32) -> Void) -> Int {
        lock.lock(); defer { lock.unlock() }
        nextHook += 1
        hooks.append((nextHook, hook))
        return nextHook
    }

    public static func removeHook(_ id: Int) {
        lock.lock(); hooks.removeAll { $0.id == id }; lock.unlock()
    }

    /// For the thread that notices its child died: when a signal killed it, wait here for
    /// the handler to finish writing and exit, instead of reporting a crashed guest.
    public static func parkIfInterrupted() {
        guard received != nil else { return }
        while true { sleep(60) }
    }

    private static func handle(_ sig: Int32) {
        lock.lock()
        guard signalReceived == nil else { lock.unlock(); return }
        signalReceived = sig
        let kids = children
        let todo = hooks
        lock.unlock()
        for (pid, group) in kids { kill(group ? -pid : pid, SIGKILL) }
        // Reap the guests before exiting: an orphan would be left to an init that may not
        // reap (a zombie qemu still shows in ps). SIGKILL takes effect at once; 3 s at most.
        let until = Date().addingTimeInterval(3)
        var waiting = Set(kids.keys)
        while !waiting.isEmpty && Date() < until {
            for pid in waiting {
                var st: Int32 = 0
                let r = waitpid(pid, &st, WNOHANG)
                if r == pid || (r == -1 && errno == ECHILD) { waiting.remove(pid) }
            }
            if !waiting.isEmpty { usleep(10_000) }
        }
        let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
        let msg = "iavf-check: interrupted by \(name): guest stopped; exit \(exitCode(for: sig))\n"
        _ = msg.withCString { write(2, $0, strlen($0)) }
        for h in todo { h.run(sig) }
        _exit(exitCode(for: sig))
    }
}

/// A child started so that it cannot outlive iavf-check: its own process group (killed
/// whole on SIGINT/SIGTERM), signal dispositions reset to default (the handlers above set
/// SIGINT/SIGTERM to ignored, which exec would otherwise pass on), and, when util-linux's
/// setpriv is there, PR_SET_PDEATHSIG=SIGKILL (set in the child before it execs the
/// program, which a Swift posix_spawn cannot do), so even a SIGKILL of iavf-check takes it.
final class GuardedChild {
    let pid: pid_t
    private var status: Int32?

    init(executable: String, arguments: [String], output: Int32) throws {
        var program = executable
        var argv = [executable] + arguments
        if let setpriv = HostTools.find("setpriv") {
            program = setpriv
            argv = [setpriv, "--pdeathsig", "KILL", "--", executable] + arguments
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attr, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attr, &cargs, environ)
        guard rc == 0 else { throw VMError.environment("cannot start \(executable): \(String(cString: strerror(rc)))") }
        self.pid = pid
        Interruption.adopt(pid, group: true)
    }

    private func reap(_ flags: Int32) {
        guard status == nil else { return }
        var st: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &st, flags) } while r == -1 && errno == EINTR
        if r == pid {
            status = st
            Interruption.release(pid)
        }
    }

    var isRunning: Bool { reap(WNOHANG); return status == nil }

    func send(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    func waitUntilExit() { reap(0) }

    /// Killed by a signal (which), or exited (with what status).
    var terminatingSignal: Int32? { status.flatMap { $0 & 0x7f != 0 ? $0 & 0x7f : nil } }
    var exitStatus: Int32 { status.map { ($0 >> 8) & 0xff } ?? -1 }
}
