import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM as a graceful stop for commands that finish their work first (`pf`,
/// `record`, `watch`): the signal is taken by a dispatch source (no C handler), remembered,
/// and a pipe becomes readable so a loop blocked in poll/epoll wakes at once. The commands
/// that boot guests use `Interruption` instead (kill the guest, write what there is, exit).
public final class StopSignal: @unchecked Sendable {
    public static let shared = StopSignal()

    private let lock = NSLock()
    private var sources: [DispatchSourceSignal] = []
    private var signal: Int32?
    private var pipeFds: [Int32] = [-1, -1]

    private init() {}

    /// Starts listening (once); later calls do nothing.
    public func install() {
        lock.lock(); defer { lock.unlock() }
        guard sources.isEmpty else { return }
        if pipe(&pipeFds) == 0 {
            for fd in pipeFds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        for sig in [SIGINT, SIGTERM] {
            Glibc.signal(sig, SIG_IGN)   // delivered to the dispatch source instead
            let s = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue(label: "iavf-check.stop"))
            s.setEventHandler { [unowned self] in self.note(sig) }
            s.resume()
            sources.append(s)
        }
    }

    /// Records `sig` as if it had arrived (tests; a loop that wants to stop itself).
    public func note(_ sig: Int32) {
        lock.lock()
        if signal == nil { signal = sig }
        let fd = pipeFds[1]
        lock.unlock()
        if fd >= 0 { var b: UInt8 = 1; _ = write(fd, &b, 1) }
    }

    /// The first signal received, if any.
    public var received: Int32? { lock.lock(); defer { lock.unlock() }; return signal }

    /// A descriptor that becomes readable when a stop arrives (add it to a poll/epoll set);
    /// -1 before `install()`.
    public var wakeFD: Int32 { lock.lock(); defer { lock.unlock() }; return pipeFds[0] }
}
