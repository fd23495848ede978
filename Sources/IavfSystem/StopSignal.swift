import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM as a request to stop, for the loops that run until signalled: the probe
/// pipeline (`record`, `watch`) and the emulated PF (`pf`). One mechanism for both.
///
/// The handler (installed with sigaction, no SA_RESTART, so a blocked poll(2) or epoll_wait(2)
/// returns EINTR on the thread that took the signal) records the signal number and writes a
/// byte into a self-pipe. The pipe's read end, `wakeFD`, joins every ring buffer's epoll set
/// (`RingBuffer` registers it), so a poll blocked on another thread wakes too, and a signal
/// that arrives between a loop's check and its poll is not lost.
///
/// The commands that boot guests use `Interruption` instead: they kill their guests
/// and exit at once rather than finish a loop.
public enum StopSignal {
    /// The signal that asked to stop, 0 for none. Written by the handler.
    private static let signo = Atomic<Int32>(0)
    /// The self-pipe: [read end, write end], made once.
    private static let pipeFDs: (read: Int32, write: Int32) = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return (-1, -1) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }()
    /// The dispositions `install` replaced, restored by `restore`.
    private static let saved = Mutex<(int: sigaction, term: sigaction)?>(nil)

    /// Readable (edge-triggered in a ring buffer's epoll set) after a stop request; -1 if the
    /// pipe could not be made.
    public static var wakeFD: Int32 { pipeFDs.read }

    /// The signal that asked to stop (SIGINT/SIGTERM, or what `request` passed), or nil.
    public static var received: Int32? {
        let s = signo.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// Route SIGINT and SIGTERM here (idempotent; the first call keeps the old dispositions).
    public static func install() throws {
        _ = pipeFDs      // initialise what the handler touches before it can run
        _ = signo.load(ordering: .relaxed)
        try saved.withLock { saved in
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = stopSignalHandler
            sigemptyset(&sa.sa_mask)
            sa.sa_flags = 0 // no SA_RESTART: a blocked poll returns EINTR
            var oldInt = sigaction(), oldTerm = sigaction()
            guard sigaction(SIGINT, &sa, &oldInt) == 0, sigaction(SIGTERM, &sa, &oldTerm) == 0 else {
                throw EnvironmentProblem("cannot install SIGINT/SIGTERM handlers: \(String(cString: strerror(errno)))")
            }
            if saved == nil { saved = (oldInt, oldTerm) }
        }
    }

    /// Put back the dispositions `install` replaced.
    public static func restore() {
        saved.withLock { saved in
            guard var old = saved else { return }
            sigaction(SIGINT, &old.int, nil)
            sigaction(SIGTERM, &old.term, nil)
            saved = nil
        }
    }

    /// Forget a stop request and empty the pipe (a new loop starts).
    public static func reset() {
        signo.store(0, ordering: .releasing)
        var buf = [UInt8](repeating: 0, count: 64)
        while buf.withUnsafeMutableBytes({ read(pipeFDs.read, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// The same as a signal, from code (tests, timers).
    public static func request(_ signal: Int32 = SIGTERM) {
        deliver(signal == 0 ? SIGTERM : signal)
    }

    /// Async-signal-safe: an atomic store and write(2).
    fileprivate static func deliver(_ signal: Int32) {
        signo.store(signal, ordering: .releasing)
        var one: UInt8 = 1
        _ = write(pipeFDs.write, &one, 1)
    }
}

private let stopSignalHandler: @convention(c) (Int32) -> Void = { StopSignal.deliver($0) }
