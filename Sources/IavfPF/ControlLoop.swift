import Foundation
import IavfSystem
#if canImport(Glibc)
import Glibc
#endif

/// The PF's run loop: serve the VFs, take fault lines from the control FIFO, until stopped.
/// `iavf-check pf` is this loop plus its options.
public final class PFControlLoop {
    let emulator: PFEmulator
    let transport: PFTransport
    private var controlFD: Int32 = -1
    private let controlPath: String?
    private var pending = ""
    /// A control line that is not a fault.
    public var onBadLine: (String, Error) -> Void = { _, _ in }
    public var log: ((String) -> Void)?

    /// `control`: create a FIFO there and read fault lines from it.
    public init(emulator: PFEmulator, transport: PFTransport, control: String?) throws {
        self.emulator = emulator
        self.transport = transport
        self.controlPath = control
        if let control {
            unlink(control)
            guard mkfifo(control, 0o600) == 0 else {
                throw EnvironmentProblem("pf: cannot create the FIFO \(control): \(String(cString: strerror(errno)))")
            }
            controlFD = open(control, O_RDWR | O_NONBLOCK | O_CLOEXEC)   // RDWR: no EOF when writers come and go
        }
    }

    deinit {
        if controlFD >= 0 { close(controlFD) }
        if let controlPath { unlink(controlPath) }
    }

    /// Fault lines in `text` (possibly partial; the rest waits for the next read).
    public func take(_ text: String) {
        pending += text
        while let nl = pending.firstIndex(of: "\n") {
            let line = pending[..<nl].trimmingCharacters(in: .whitespaces)
            pending = String(pending[pending.index(after: nl)...])
            if line.isEmpty { continue }
            do {
                let (f, vf) = try PFFault.parse(line)
                log?("control: \(line)")
                emulator.add(f, vf: vf)
            } catch {
                onBadLine(line, error)
            }
        }
    }

    /// Serves until `stop()` says so (asked at least every 50 ms); `started` runs once the
    /// PF is attached (a ready file for scripts to wait on).
    public func run(started: () -> Void = {}, stop: () -> Bool) {
        emulator.start()
        started()
        while !stop() {
            let events = transport.wait(timeoutMs: emulator.nextTimeoutMs())
            if controlFD >= 0 {
                var buf = [UInt8](repeating: 0, count: 4096)
                let n = buf.withUnsafeMutableBytes { read(controlFD, $0.baseAddress, $0.count) }
                if n > 0 { take(String(decoding: buf[0..<n], as: UTF8.self)) }
            }
            emulator.step(events: events)
        }
    }
}
