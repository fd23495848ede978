import ArgumentParser
import Foundation
import IavfChecker
import IavfModel
import IavfProbes
import IavfRecorder
import IavfScenarios
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

/// Options `record` and `watch` share.
struct LiveOptions: ParsableArguments {
    @Option(help: "Record only this interface's adapter (default: every iavf adapter).")
    var iface: String?

    @Option(help: "Milliseconds without VLAN work (no current_op, no VLAN aq_required bits) before a `settled` event.")
    var settleMs: Int = 500

    @Option(help: "Stop after this many seconds (default: when COMMAND ends, or at SIGINT/SIGTERM).")
    var duration: Double?

    @Option(help: ArgumentHelp("Keep each device's quiet state (settled events, last driver event, reset in flight) in FILE, one line per device, for COMMAND to wait on (`suite cases --quiet-file`).", valueName: "file"))
    var quietFile: String?

    @Flag(help: "Also snapshot the filter list at function entries (more events; exits are always snapshotted).")
    var snapshotAtEnter = false

    @Argument(parsing: .postTerminator,
              help: "A command to run while recording, e.g. a selftest. Its PASS/FAIL/SKIP lines become `mark` events.")
    var command: [String] = []

    func validate() throws {
        guard settleMs >= 1 && settleMs <= 600_000 else { throw ValidationError("--settle-ms must be 1...600000") }
        if let d = duration, d <= 0 { throw ValidationError("--duration must be positive") }
    }
}

/// Attaches the probes, runs the optional command, and feeds every contract event to
/// `emit` until the command ends, the duration passes, or SIGINT/SIGTERM arrives. Probes
/// are detached and the ring buffer drained before it returns.
enum LiveRun {
    struct Outcome {
        var header: TraceHeader
        var events: Int
        var lost: UInt64
        var commandStatus: Int32?
        var signal: Int32?
    }

    /// `commandStdout`: where the command's standard output goes (watch sends it to standard
    /// error, so its own report on standard output stays clean).
    static func run(_ o: LiveOptions, commandStdout: Int32 = 1, start: @escaping (TraceHeader) throws -> Void,
                    emit: @escaping (TraceEvent) throws -> Void) throws -> Outcome {
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
        let generation: Generation? = session.generation == .patched ? .patched : session.generation == .unpatched ? .unpatched : nil
        // The quiet state COMMAND may wait on, per device: fed from the same events the
        // trace gets, written at each tick.
        var quiet: [String: DriverQuiet] = [:]
        var written: [String: DriverQuiet]?
        let recorder = TraceRecorder(generation: generation, kernel: Self.kernelRelease(),
                                     settlePeriodNs: UInt64(o.settleMs) * 1_000_000, start: start, emit: { e in
            if o.quietFile != nil {
                var q = quiet[e.dev] ?? DriverQuiet()
                switch e.body {
                case .settled: q.noteSettled()
                case .mark, .lost: break
                case .reset(let phase): q.noteReset(entering: phase == .enter); q.noteActivity(nowNs: monotonicNs())
                case .snapshot(let filters, _, _): q.noteSnapshot(empty: filters.isEmpty); q.noteActivity(nowNs: monotonicNs())
                default: q.noteActivity(nowNs: monotonicNs())
                }
                quiet[e.dev] = q
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
            child = try ChildCommand(o.command, marks: marks, stdout: commandStdout)
        }
        var failure: Error?
        try session.pipeline.setHandler { item in
            do { try recorder.handle(item) } catch { failure = error; return false }
            return true
        }
        let deadline = o.duration.map { monotonicNs() + UInt64($0 * 1e9) }
        try session.pipeline.run(stopOnSignals: true, pollTimeoutMs: 50) {
            do {
                let now = monotonicNs()
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
        try recorder.tick(nowNs: monotonicNs())
        try recorder.finish()
        if let failure { throw failure }
        if !recorder.unknownStates.isEmpty {
            FileHandleOutput.stderr("iavf-check: warning: unknown filter state names \(recorder.unknownStates.sorted()) recorded as INVALID\n")
        }
        return Outcome(header: recorder.header!, events: recorder.events, lost: recorder.lost,
                       commandStatus: status, signal: signal)
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Exit 3 with one message: what is missing and what to do.
struct EnvironmentProblem: Error, CustomStringConvertible {
    var description: String
    init(_ s: String) { description = s }
}

/// Test-case results from the command's output, handed from its reader threads to the loop.
final class MarkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(text: String, result: TraceEvent.MarkResult?, t: UInt64)] = []

    func add(_ text: String, _ result: TraceEvent.MarkResult?) {
        let t = monotonicNs()
        lock.lock(); items.append((text, result, t)); lock.unlock()
    }

    func drain() -> [(text: String, result: TraceEvent.MarkResult?, t: UInt64)] {
        lock.lock(); defer { lock.unlock() }
        let out = items
        items.removeAll()
        return out
    }
}

/// The command run under `record`/`watch`: its output is passed through unchanged and
/// scanned for PASS/FAIL/SKIP lines. Spawned with posix_spawn (Foundation's Process needs
/// a run-loop socket that minimal guests may not give it).
final class ChildCommand: @unchecked Sendable {
    private var pid: pid_t = 0
    private var status: Int32?
    private let group = DispatchGroup()

    init(_ argv: [String], marks: MarkQueue, stdout: Int32 = 1) throws {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw EnvironmentProblem("cannot create pipes: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw EnvironmentProblem("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
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
        if status == nil {
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid { status = Self.decode(st) }
        }
        return status != nil && group.wait(timeout: .now()) == .success
    }

    func forward(_ signal: Int32) {
        if status == nil { kill(pid, signal) }
    }

    func wait() -> Int32 {
        if status == nil {
            var st: Int32 = 0
            while waitpid(pid, &st, 0) == -1 && errno == EINTR {}
            status = Self.decode(st)
        }
        group.wait()
        return status!
    }

    /// Exit status, or 128 + signal as shells report it.
    private static func decode(_ st: Int32) -> Int32 {
        let sig = st & 0x7f
        return sig == 0 ? (st >> 8) & 0xff : 128 + sig
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
