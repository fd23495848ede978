import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM (CI's `timeout`) for the commands that boot guests: the guest must die
/// with iavf-check (and a workload with its parent), not run on as an orphan to the end of its workload. Every qemu is
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

    /// Whether `install` ran: SIGINT and SIGTERM belong to this process's guest killer.
    public static var isInstalled: Bool { lock.lock(); defer { lock.unlock() }; return installed }

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
