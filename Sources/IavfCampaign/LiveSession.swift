import Foundation
import IavfChecker
import IavfModel
import IavfProbes
import IavfRecorder
import IavfScenarios
import IavfSystem
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

/// What `record` and `watch` (and the guest side of `suite`) ask of a live session.
public struct LiveOptions: Sendable {
    /// Record only this interface's adapter (nil: every iavf adapter).
    public var iface: String?
    /// Milliseconds without VLAN work before a `settled` event.
    public var settleMs = 500
    /// Stop after this many seconds (nil: when the command ends, or at SIGINT/SIGTERM).
    public var duration: Double?
    /// Keep each device's quiet state here for the command to wait on.
    public var quietFile: String?
    /// Also snapshot at function entries.
    public var snapshotAtEnter = false
    /// The command to run while recording (empty: none).
    public var command: [String] = []
    /// Where the command's standard output goes (watch sends it to standard error, so its
    /// own report on standard output stays clean).
    public var commandStdout: Int32 = 1
    public init() {}
}

/// Attaches the probes, runs the optional command, and feeds every contract event to
/// `emit` until the command ends, the duration passes, or SIGINT/SIGTERM arrives. Probes
/// are detached and the ring buffer drained before it returns.
public enum LiveSession {
    public struct Outcome {
        public var header: TraceHeader
        public var events: Int
        public var lost: UInt64
        public var commandStatus: Int32?
        public var signal: Int32?
    }

    /// `warn`: non-fatal notes (unknown state names).
    public static func run(_ o: LiveOptions, start: @escaping (TraceHeader) throws -> Void,
                           emit: @escaping (TraceEvent) throws -> Void,
                           warn: (String) -> Void = { _ in }) throws -> Outcome {
        var opts = IavfProbeSession.Options()
        opts.snapshotAtEnter = o.snapshotAtEnter
        if let iface = o.iface {
            let idx = if_nametoindex(iface)
            guard idx != 0 else { throw EnvironmentProblem("no interface named \(iface) (ip -br link lists them)") }
            opts.ifindex = Int32(idx)
        }
        guard geteuid() == 0 else {
            throw EnvironmentProblem("recording needs root (CAP_BPF and CAP_PERFMON): run with sudo; `iavf-check doctor` tells what else is missing")
        }
        guard FileManager.default.fileExists(atPath: "/sys/kernel/btf/iavf") else {
            throw EnvironmentProblem("iavf module BTF not found (/sys/kernel/btf/iavf): load the driver first (modprobe iavf); `iavf-check doctor` checks the rest")
        }
        let session: IavfProbeSession
        do {
            session = try IavfProbeSession(options: opts)
        } catch {
            throw EnvironmentProblem("could not load and attach the iavf probes: \(error)\n`iavf-check doctor` shows which probe fails and why")
        }
        defer { session.close() }
        let generation = session.generation
        // The quiet state COMMAND may wait on, per device: fed from the same events the
        // trace gets, written at each tick.
        var quiet: [String: DriverQuiet] = [:]
        var written: [String: DriverQuiet]?
        let recorder = TraceRecorder(generation: generation, kernel: Self.kernelRelease(),
                                     settlePeriodNs: UInt64(o.settleMs) * 1_000_000, start: start, emit: { e in
            if o.quietFile != nil {
                quiet[e.dev, default: DriverQuiet()].note(e.body, nowNs: MonotonicClock.ns())
            }
            try emit(e)
        })
        func publish() {
            guard let path = o.quietFile, written != quiet else { return }
            DriverQuiet.write(quiet, path: path)
            written = quiet
        }
        publish()
        let marks = MarkQueue()
        var child: ChildCommand?
        if !o.command.isEmpty {
            child = try ChildCommand(o.command, marks: marks, stdout: o.commandStdout)
        }
        var failure: Error?
        try session.pipeline.setHandler { item in
            do { try recorder.handle(item) } catch { failure = error; return false }
            return true
        }
        let deadline = o.duration.map { MonotonicClock.ns() + UInt64($0 * 1e9) }
        try session.pipeline.run(stopOnSignals: true, pollTimeoutMs: 50) {
            do {
                let now = MonotonicClock.ns()
                for m in marks.drain() { try recorder.mark(m.text, result: m.result, nowNs: m.t) }
                try recorder.tick(nowNs: now)
                publish()
                if let deadline, now >= deadline { return true }
                if let c = child, c.isDone { return true }
            } catch {
                failure = error
                return true
            }
            return failure != nil
        }
        let signal = StopSignal.received
        if let signal, let c = child { c.forward(signal) }
        let status = child?.wait()
        for m in marks.drain() { try recorder.mark(m.text, result: m.result, nowNs: m.t) }
        try recorder.tick(nowNs: MonotonicClock.ns())
        try recorder.finish()
        if let failure { throw failure }
        if !recorder.unknownStates.isEmpty {
            warn("unknown filter state names \(recorder.unknownStates.sorted()) recorded as INVALID")
        }
        return Outcome(header: recorder.header!, events: recorder.events, lost: recorder.lost,
                       commandStatus: status, signal: signal)
    }

    public static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// Test-case results from the command's output, handed from its reader threads to the loop.
public final class MarkQueue: @unchecked Sendable {
    public init() {}
    private let lock = NSLock()
    private var items: [(text: String, result: TraceEvent.MarkResult?, t: UInt64)] = []

    public func add(_ text: String, _ result: TraceEvent.MarkResult?) {
        let t = MonotonicClock.ns()
        lock.lock(); items.append((text, result, t)); lock.unlock()
    }

    public func drain() -> [(text: String, result: TraceEvent.MarkResult?, t: UInt64)] {
        lock.lock(); defer { lock.unlock() }
        let out = items
        items.removeAll()
        return out
    }
}

/// The command run under `record`/`watch`: its output is passed through unchanged and
/// scanned for PASS/FAIL/SKIP lines.
final class ChildCommand: @unchecked Sendable {
    private var pid: pid_t = 0
    private var status: Int32?
    private let group = DispatchGroup()

    init(_ argv: [String], marks: MarkQueue, stdout: Int32 = 1) throws {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw EnvironmentProblem("cannot create pipes: \(String(cString: strerror(errno)))")
        }
        var o = Spawn.Options()
        o.stdin = 0
        o.stdout = outPipe[1]
        o.stderr = errPipe[1]
        o.close = outPipe + errPipe
        defer { close(outPipe[1]); close(errPipe[1]) }
        do { pid = try Spawn.start(argv, o) } catch {
            close(outPipe[0]); close(errPipe[0])
            throw error
        }
        for (fd, to) in [(outPipe[0], stdout), (errPipe[0], Int32(2))] {
            group.enter()
            Thread.detachNewThread { [group] in
                Self.pump(fd, to: to, marks: marks)
                close(fd)
                group.leave()
            }
        }
    }

    /// The command has exited and its output is read to the end.
    var isDone: Bool {
        if status == nil, let st = Spawn.wait(pid, noHang: true) { status = Spawn.shellStatus(st) }
        return status != nil && group.wait(timeout: .now()) == .success
    }

    func forward(_ signal: Int32) {
        if status == nil { kill(pid, signal) }
    }

    func wait() -> Int32 {
        if status == nil { status = Spawn.shellStatus(Spawn.wait(pid) ?? 0) }
        group.wait()
        return status!
    }

    private static func pump(_ fd: Int32, to: Int32, marks: MarkQueue) {
        var partial = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buf.withUnsafeBytes { b in _ = write(to, b.baseAddress, n) }
            partial.append(contentsOf: buf[..<n])
            while let nl = partial.firstIndex(of: 0x0a) {
                let line = String(decoding: partial[..<nl], as: UTF8.self)
                partial.removeSubrange(...nl)
                if let m = MarkParser.parse(line) { marks.add(m.text, m.result) }
            }
        }
        if !partial.isEmpty, let m = MarkParser.parse(String(decoding: partial, as: UTF8.self)) { marks.add(m.text, m.result) }
    }
}
