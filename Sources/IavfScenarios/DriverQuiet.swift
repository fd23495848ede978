import Foundation
import IavfModel
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

/// Whether the driver is quiet, as the probes see it: how many `settled` events the recorder
/// wrote (outside a reset), when the last probe record came, whether a reset is in flight,
/// whether the last snapshot's filter list was empty. The one notion of "quiet" that `stress`
/// (between attempts, in-process) and the suite's `expect` (in the command `watch` runs,
/// through `watch --quiet-file`) share.
public struct DriverQuiet: Sendable, Equatable {
    public var settled = 0
    public var lastActivityNs: UInt64 = 0
    public var resetOpen = false
    public var listEmpty: Bool?
    /// The last snapshot's list: one that repeats it changed nothing.
    private var lastFilters: [Filter]?

    public init() {}

    /// Feeds one trace event. Driver activity is what can still change the filters: VLAN
    /// calls, resets, opens and closes, any request but the watchdog's GET_STATS (sent every
    /// 2 s whatever the filters do; counting it kept every wait on a stuck driver alive to
    /// its budget), and snapshots that differ from the one before.
    public mutating func note(_ body: TraceEvent.Body, nowNs: UInt64) {
        switch body {
        case .settled: noteSettled()
        case .mark, .lost: break
        case .send(let op, _, _), .reply(let op, _):
            if op != .getStats { noteActivity(nowNs: nowNs) }
        case .reset(let phase):
            noteReset(entering: phase == .enter)
            noteActivity(nowNs: nowNs)
        case .snapshot(let filters, _, _):
            noteSnapshot(empty: filters.isEmpty)
            if filters != lastFilters { noteActivity(nowNs: nowNs) }
            lastFilters = filters
        default: noteActivity(nowNs: nowNs)
        }
    }

    /// Any probe record is driver activity.
    public mutating func noteActivity(nowNs: UInt64) { lastActivityNs = max(lastActivityNs, nowNs) }
    /// A `settled` inside a reset says nothing about after it.
    public mutating func noteSettled() { if !resetOpen { settled += 1 } }
    public mutating func noteReset(entering: Bool) { resetOpen = entering }
    public mutating func noteSnapshot(empty: Bool) { listEmpty = empty }

    /// What a reader of the quiet file sees; the last snapshot is the writer's own memory.
    public static func == (a: DriverQuiet, b: DriverQuiet) -> Bool {
        a.settled == b.settled && a.lastActivityNs == b.lastActivityNs && a.resetOpen == b.resetOpen && a.listEmpty == b.listEmpty
    }

    /// Quiet since `start` (this state as it was when waiting began, at `startNs`): a
    /// `settled` came after it, or no probe record at all for `idleNs` after it (an idle
    /// driver gives no `settled`); and no reset in flight.
    public func isQuiet(since start: DriverQuiet, startNs: UInt64, nowNs: UInt64, idleNs: UInt64) -> Bool {
        guard !resetOpen else { return false }
        return settled > start.settled || nowNs >= max(lastActivityNs, startNs) &+ idleNs
    }

    /// The line `watch --quiet-file` keeps: "settled=3 last=123456 reset=0 empty=1".
    public var line: String {
        "settled=\(settled) last=\(lastActivityNs) reset=\(resetOpen ? 1 : 0) empty=\(listEmpty.map { $0 ? "1" : "0" } ?? "-")\n"
    }

    public init?(line: String) {
        var fields: [String: String] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = word.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard let s = fields["settled"].flatMap(Int.init), let l = fields["last"].flatMap(UInt64.init),
              let r = fields["reset"], let e = fields["empty"] else { return nil }
        settled = s
        lastActivityNs = l
        resetOpen = r == "1"
        listEmpty = e == "-" ? nil : e == "1"
    }

    /// The state `watch --quiet-file PATH` last wrote for `device` (a trace `dev`: the PCI
    /// address; after an unbind/bind the recorder calls the new adapter "ADDR#2", and the
    /// latest instance is the one that counts), or nil when there is none. Another VF's
    /// `settled` says nothing about this one.
    public static func read(path: String, device: String) -> DriverQuiet? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var best: (instance: Int, state: DriverQuiet)?
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), line.hasPrefix("dev=") else { continue }
            let dev = String(line[line.index(line.startIndex, offsetBy: 4)..<space])
            let instance: Int
            if dev == device { instance = 1 }
            else if dev.hasPrefix(device + "#"), let n = Int(dev.dropFirst(device.count + 1)) { instance = n }
            else { continue }
            if let q = DriverQuiet(line: String(line[space...])), instance > (best?.instance ?? 0) { best = (instance, q) }
        }
        return best?.state
    }

    /// Writes every device's state, one line each, replacing the file in one step (rename)
    /// so a reader never sees half of it.
    public static func write(_ devices: [String: DriverQuiet], path: String) {
        let text = devices.keys.sorted().map { "dev=\($0) " + devices[$0]!.line }.joined()
        let tmp = path + ".tmp"
        if FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8)) { rename(tmp, path) }
    }
}

/// `expect`'s wait, without a testbed: polls `observe` until it gives `want`, then waits
/// until the driver is quiet and looks again. A case must not pass on a match that a late
/// message undoes (race R3: a DEL that goes out after a fast down/up); such a change sends it
/// back to waiting.
public struct SettledWait {
    public enum Outcome<T: Equatable>: Equatable {
        /// `want` held after the driver was quiet.
        case matched
        /// `want` did not hold at the deadline; the last observation.
        case mismatch(T)
        /// `want` held, but the driver never went quiet to confirm it.
        case notQuiet(T)
    }

    /// Source of the driver's state (nil: nothing known yet).
    public var quiet: () -> DriverQuiet?
    public var now: () -> UInt64
    public var sleep: (Double) -> Void
    public var poll: Double = 0.02
    /// No probe record for this long also counts as quiet (as between stress attempts).
    public var idleNs: UInt64 = 1_000_000_000
    /// Time allowed for the quiet check after a match, even past the deadline.
    public var quietBudget: Double = 5
    /// A mismatch with no driver activity for this long (`note`: the watchdog's GET_STATS and
    /// unchanged snapshots are not activity) and no reset in flight is final: the PF's set
    /// changes only by the driver's messages, which the probes see, and twice the watchdog's
    /// 2 s period covers a reset the watchdog has yet to notice. Without it a failing case
    /// waited out the whole settle budget (most of an unpatched suite's time).
    public var mismatchIdleNs: UInt64 = 4_000_000_000

    public init(quiet: @escaping () -> DriverQuiet?, now: @escaping () -> UInt64, sleep: @escaping (Double) -> Void) {
        self.quiet = quiet
        self.now = now
        self.sleep = sleep
    }

    public func wait<T: Equatable>(for want: T, within seconds: Double, observe: () throws -> T) rethrows -> Outcome<T> {
        let waitStart = now()
        let deadline = waitStart &+ UInt64(seconds * 1e9)
        var last = try observe()
        while true {
            if last == want {
                let start = quiet()
                let startNs = now()
                let quietDeadline = max(deadline, startNs &+ UInt64(quietBudget * 1e9))
                var isQuiet = false
                while true {
                    if let start, let q = quiet(), q.isQuiet(since: start, startNs: startNs, nowNs: now(), idleNs: idleNs) {
                        isQuiet = true
                        break
                    }
                    if now() >= quietDeadline { break }
                    sleep(poll)
                }
                last = try observe()
                if isQuiet && last == want { return .matched }
                if !isQuiet { return last == want ? .notQuiet(last) : .mismatch(last) }
                // Quiet, but something changed after the match: wait for `want` again.
            }
            if now() >= deadline { return .mismatch(last) }
            if let q = quiet(), !q.resetOpen, now() >= max(q.lastActivityNs, waitStart) &+ mismatchIdleNs { return .mismatch(last) }
            sleep(poll)
            last = try observe()
        }
    }
}

extension SettledWait {
    /// Against the state `watch --quiet-file PATH` keeps for `device` (asked each time: a
    /// rebind changes nothing but the instance), on the monotonic clock the probes use.
    public static func following(quietFile path: String, device: @escaping () -> String) -> SettledWait {
        SettledWait(quiet: { DriverQuiet.read(path: path, device: device()) }, now: { MonotonicClock.ns() },
                    sleep: { usleep(UInt32($0 * 1e6)) })
    }
}
