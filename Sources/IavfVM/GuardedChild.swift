import Foundation
import IavfSystem
#if canImport(Glibc)
import Glibc
#endif

/// A child started so that it cannot outlive iavf-check: its own process group (killed
/// whole on SIGINT/SIGTERM), signal dispositions reset to default (the handlers above set
/// SIGINT/SIGTERM to ignored, which exec would otherwise pass on), and, when util-linux's
/// setpriv is there, PR_SET_PDEATHSIG=SIGKILL (set in the child before it execs the
/// program, which a Swift posix_spawn cannot do), so even a SIGKILL of iavf-check takes it.
final class GuardedChild {
    let pid: pid_t
    private var status: Int32?

    init(executable: String, arguments: [String], output: Int32) throws {
        var argv = [executable] + arguments
        if let setpriv = HostTools.find("setpriv") { argv = [setpriv, "--pdeathsig", "KILL", "--"] + argv }
        var o = Spawn.Options()
        o.stdout = output
        o.stderr = output
        o.processGroup = true
        o.defaultSignals = true
        o.searchPath = false
        let pid: pid_t
        do { pid = try Spawn.start(argv, o) } catch {
            throw VMError.environment("cannot start \(executable): \(error)")
        }
        self.pid = pid
        Interruption.adopt(pid, group: true)
    }

    private func reap(noHang: Bool) {
        guard status == nil, let st = Spawn.wait(pid, noHang: noHang) else { return }
        status = st
        Interruption.release(pid)
    }

    var isRunning: Bool { reap(noHang: true); return status == nil }

    func send(_ signal: Int32) { if isRunning { kill(pid, signal) } }

    func waitUntilExit() { reap(noHang: false) }

    /// Killed by a signal (which), or exited (with what status).
    var terminatingSignal: Int32? { status.flatMap { $0 & 0x7f != 0 ? $0 & 0x7f : nil } }
    var exitStatus: Int32 { status.map { ($0 >> 8) & 0xff } ?? -1 }
}
