import Foundation
import IavfModel
import IavfTrace
#if canImport(Glibc)
import Glibc
#endif

/// A fault the test asks for (one-shot unless said otherwise).
public enum PFFault: Equatable, Sendable {
    /// Answer the next request with this opcode with `status`, without acting on it.
    case reject(op: UInt32, status: Int32)
    /// Act on the next request with this opcode but never answer it (the VF stalls until a reset).
    case drop(op: UInt32)
    /// Act on the next request with this opcode and answer it `ms` later.
    case delay(op: UInt32, ms: Int)
    /// PF-initiated reset: RESET_IMPENDING, then the reset.
    case reset
    /// Port link change (LINK_CHANGE event).
    case link(up: Bool)
    /// Forget the VF's faults not yet triggered (between stress attempts).
    case clear
    /// `ip link set PF vf N spoofchk on|off`.
    case spoofCheck(Bool)
    /// `ip link set PF vf N vlan PVID` (0 clears the port VLAN); ice resets the VF.
    case portVlan(UInt16)
    /// `ip link set PF vf N trust on|off`; ice resets the VF.
    case trust(Bool)
    /// Write a `pf` event with the port's settings and switch counters (and a log line).
    case stats

    /// Parses "reject ADD_VLAN_V2 [-5]", "drop DEL_VLAN_V2", "delay ADD_VLAN_V2 300", "reset",
    /// "link down", "link up", "clear", and the PF controls "spoofchk on|off", "vlan PVID", "trust on|off",
    /// "stats"; an optional trailing "vf=N" selects one VF (default: all).
    public static func parse(_ line: String) throws -> (PFFault, vf: Int?) {
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var vf: Int?
        if let last = words.last, last.hasPrefix("vf=") {
            guard let n = Int(last.dropFirst(3)), n >= 0 else { throw TransportError("bad vf= in '\(line)'") }
            vf = n
            words.removeLast()
        }
        func op(_ i: Int) throws -> UInt32 {
            guard i < words.count, let o = VC.parse(words[i]) else { throw TransportError("'\(line)': name a virtchnl opcode, e.g. ADD_VLAN_V2") }
            return o
        }
        switch words.first?.lowercased() {
        case "reject":
            let status = words.count > 2 ? Int32(words[2]) : VirtchnlStatus.errParam
            guard let status, status != 0 else { throw TransportError("'\(line)': the status must be a negative virtchnl status") }
            return (.reject(op: try op(1), status: status), vf)
        case "drop": return (.drop(op: try op(1)), vf)
        case "delay":
            guard words.count > 2, let ms = Int(words[2]), ms >= 0 else { throw TransportError("'\(line)': delay OP MILLISECONDS") }
            return (.delay(op: try op(1), ms: ms), vf)
        case "reset": return (.reset, vf)
        case "clear": return (.clear, vf)
        case "link":
            guard words.count > 1, ["up", "down"].contains(words[1]) else { throw TransportError("'\(line)': link up|down") }
            return (.link(up: words[1] == "up"), vf)
        case "spoofchk", "trust":
            guard words.count == 2, ["on", "off"].contains(words[1]) else { throw TransportError("'\(line)': \(words[0]) on|off") }
            return (words[0] == "trust" ? .trust(words[1] == "on") : .spoofCheck(words[1] == "on"), vf)
        case "vlan":
            guard words.count == 2, let pvid = UInt16(words[1]), pvid < 4095 else { throw TransportError("'\(line)': vlan PVID (0...4094, 0 clears)") }
            return (.portVlan(pvid), vf)
        case "stats": return (.stats, vf)
        default:
            throw TransportError("unknown fault '\(line)' (reject OP [STATUS] | drop OP | delay OP MS | reset | link up|down | clear | spoofchk on|off | vlan PVID | trust on|off | stats, then optional vf=N)")
        }
    }
}

/// The emulated PF for every VF of a transport: services the mailboxes, applies ice's policy
/// (`VFState`), runs resets, applies faults, and reports the programmed VLAN sets.
public final class PFEmulator {
    public struct Options {
        public var policy = PFPolicy()
        /// Names for the VFs in `pf` events (the PCI addresses); default "vfN".
        public var deviceNames: [String] = []
        /// One line per message and per notable thing.
        public var log: ((String) -> Void)?
        /// `pf` events (trace-format.md), written after every VLAN message and every reset.
        public var trace: TraceWriter?
        /// Milliseconds from RESET_VF / FLR to VFGEN_RSTAT = VFACTIVE.
        public var resetMs = 20
        public var flrResetMs = 150
        /// Milliseconds from RESET_IMPENDING to the reset itself.
        public var impendingMs = 10
        /// Admin-queue service time: every reply is posted this many microseconds after its
        /// request, so a benchmark models hardware rather than the emulator's speed.
        public var serviceUs = 0
        public init() {}
    }

    final class Unit {
        let state: VFState
        let mailbox: Mailbox
        var resetDoneAt: Double?
        var resetStartAt: Double?
        var delayed: [(due: Double, message: PFMessage)] = []
        var faults: [PFFault] = []
        /// Tx and Rx ring heads (the PF's next descriptor), by queue.
        var txHead: [Int: Int] = [:]
        var rxHead: [Int: Int] = [:]
        /// A tail outside its ring, already counted (by queue).
        var badTail: [Int: Int] = [:]
        var txCompleted = 0
        /// The switch's counters for this VF (kept across resets, like a port's).
        var counters = TraceEvent.PFCounters()
        /// Data-path log lines written (capped).
        var dataNotes = 0
        /// Queue vectors owed an interrupt (raised once the driver re-enables them).
        var pendingVectors = Set<Int>()
        init(state: VFState, mailbox: Mailbox) { self.state = state; self.mailbox = mailbox }
    }

    public let transport: PFTransport
    public var options: Options
    let units: [Unit]
    private var seq: Int64 = 0

    public init(transport: PFTransport, options: Options = Options()) {
        self.transport = transport
        self.options = options
        units = (0..<transport.vfCount).map { i in
            Unit(state: VFState(index: i, policy: options.policy), mailbox: Mailbox(vf: i, transport: transport))
        }
        for u in units {
            let i = u.state.index
            u.mailbox.onProblem = { [weak self] s in self?.log("vf\(i): \(s)") }
        }
    }

    public func state(vf: Int) -> VFState { units[vf].state }
    public func name(vf: Int) -> String { vf < options.deviceNames.count ? options.deviceNames[vf] : "vf\(vf)" }

    func log(_ s: String) { options.log?(s) }

    static func now() -> Double { MonotonicClock.seconds() }

    static func nowNs() -> Int64 { MonotonicClock.nanoseconds() }

    /// Attach: publish VFACTIVE so waiting drivers start (the module keeps RSTAT = 0 until then).
    public func start() {
        for u in units {
            u.mailbox.complete()
            emitPF(u)
        }
        log("attached to \(units.count) VF(s): " + (0..<units.count).map { name(vf: $0) }.joined(separator: ", "))
    }

    public func add(_ fault: PFFault, vf: Int?) {
        let targets = vf.map { $0 < units.count ? [units[$0]] : [] } ?? units
        for u in targets {
            switch fault {
            case .reset: pfInitiatedReset(u)
            case .clear:
                if !u.faults.isEmpty { log("vf\(u.state.index): \(u.faults.count) pending fault(s) cleared") }
                u.faults.removeAll()
            case .link(let up):
                u.state.linkUp = up
                log("vf\(u.state.index): link \(up ? "up" : "down")")
                if u.state.active { u.mailbox.post(u.state.linkEvent()) }
                emitPF(u)
            case .spoofCheck(let on):
                u.state.policy.spoofCheck = on
                log("vf\(u.state.index): spoofchk \(on ? "on" : "off")")
                emitPF(u)
            case .portVlan(let pvid):
                u.state.policy.portVlan = pvid
                log("vf\(u.state.index): port VLAN \(pvid == 0 ? "cleared" : String(pvid)); resetting the VF")
                emitPF(u)
                pfInitiatedReset(u)
            case .trust(let on):
                u.state.policy.trusted = on
                log("vf\(u.state.index): trust \(on ? "on" : "off"); resetting the VF")
                emitPF(u)
                pfInitiatedReset(u)
            case .stats:
                let c = u.counters
                log("vf\(u.state.index): stats tx \(c.tx) rx \(c.rx) drops " + c.drops.map { "\($0.name) \($0.count)" }.joined(separator: " "))
                emitPF(u)
            default: u.faults.append(fault)
            }
        }
    }

    /// One pass over every VF: event bits from the transport, timers, ATQ, ARQ.
    public func step(events: UInt64 = 0) {
        let now = Self.now()
        for u in units {
            let i = u.state.index
            if events & PFEventBits.bit(vf: i, PFEventBits.flr) != 0 {
                log("vf\(i): function-level reset")
                beginReset(u, after: options.flrResetMs, why: "FLR")
            }
            if let at = u.resetStartAt, now >= at {
                u.resetStartAt = nil
                beginReset(u, after: options.resetMs, why: "PF-initiated reset")
            }
            if let at = u.resetDoneAt {
                if now >= at {
                    u.resetDoneAt = nil
                    u.mailbox.complete()
                    log("vf\(i): reset done (VFGEN_RSTAT = VFACTIVE)")
                } else {
                    continue
                }
            }
            while let k = u.delayed.firstIndex(where: { $0.due <= now }) {
                u.mailbox.post(u.delayed.remove(at: k).message)
            }
            for r in u.mailbox.receive() {
                handle(r, in: u)
                if u.resetDoneAt != nil { break }
            }
            u.mailbox.flush()
        }
        serviceDataPath()
    }

    /// Milliseconds until the next timer, capped at `cap`.
    public func nextTimeoutMs(cap: Int = 50) -> Int {
        let now = Self.now()
        var due = Double(cap) / 1000
        for u in units {
            for t in [u.resetDoneAt, u.resetStartAt].compactMap({ $0 }) + u.delayed.map(\.due) { due = min(due, t - now) }
            if !u.mailbox.outbox.isEmpty { due = min(due, 0.002) }
        }
        return max(0, Int((due * 1000).rounded(.up)))
    }

    /// Runs until `shouldStop` says so (checked at least every 50 ms).
    public func run(shouldStop: () -> Bool) {
        start()
        while !shouldStop() {
            let events = transport.wait(timeoutMs: nextTimeoutMs())
            step(events: events)
        }
    }

    func handle(_ r: Mailbox.Request, in u: Unit) {
        let i = u.state.index
        if let k = u.faults.firstIndex(where: { if case .reject(let op, _) = $0 { return op == r.op }; return false }),
           case .reject(_, let status) = u.faults[k] {
            u.faults.remove(at: k)
            log("vf\(i) <- \(VC.name(r.op)) [\(r.message.count) B]\(vidText(r)) -> \(VirtchnlStatus.name(status)) (fault: rejected)")
            u.mailbox.post(PFMessage(op: r.op, status: status))
            if r.op == VC.addVlan || r.op == VC.delVlan || r.op == VC.addVlanV2 || r.op == VC.delVlanV2 { emitPF(u) }
            return
        }
        let out = u.state.handle(op: r.op, message: r.message)
        for n in out.notes { log("vf\(i): \(n)") }
        let status = out.messages.first(where: { $0.op == r.op })?.status
        if status == VirtchnlStatus.success { queuesChanged(u, op: r.op, message: r.message) }
        log("vf\(i) <- \(VC.name(r.op)) [\(r.message.count) B]\(vidText(r)) -> " +
            (status.map(VirtchnlStatus.name) ?? "(no reply)") + (out.vlanMessage ? " pf=\(vlanText(u.state.sortedVlans))" : ""))
        if out.vlanMessage { emitPF(u) }
        if out.resetRequested {
            beginReset(u, after: options.resetMs, why: "RESET_VF")
            return
        }
        var messages = out.messages
        if let k = u.faults.firstIndex(where: { if case .drop(let op) = $0 { return op == r.op }; return false }) {
            u.faults.remove(at: k)
            messages.removeAll { $0.op == r.op }
            log("vf\(i): fault: reply to \(VC.name(r.op)) dropped")
        }
        if let k = u.faults.firstIndex(where: { if case .delay(let op, _) = $0 { return op == r.op }; return false }),
           case .delay(_, let ms) = u.faults[k] {
            u.faults.remove(at: k)
            let due = Self.now() + Double(ms) / 1000
            for m in messages { u.delayed.append((due, m)) }
            log("vf\(i): fault: reply to \(VC.name(r.op)) delayed \(ms) ms")
            return
        }
        if options.serviceUs > 0 {
            let due = Self.now() + Double(options.serviceUs) / 1e6
            for m in messages { u.delayed.append((due, m)) }
            return
        }
        for m in messages { u.mailbox.post(m) }
    }

    func beginReset(_ u: Unit, after ms: Int, why: String) {
        u.txHead.removeAll()
        u.rxHead.removeAll()
        u.pendingVectors.removeAll()
        u.mailbox.beginReset()
        u.delayed.removeAll()
        u.state.reset()
        u.resetDoneAt = Self.now() + Double(ms) / 1000
        log("vf\(u.state.index): \(why): VF state dropped, VFGEN_RSTAT = INPROGRESS")
        emitPF(u)   // the PF forgets the VF's VLANs on every reset
    }

    func pfInitiatedReset(_ u: Unit) {
        log("vf\(u.state.index): PF-initiated reset: RESET_IMPENDING")
        u.mailbox.post(.event(.resetImpending))
        u.resetStartAt = Self.now() + Double(options.impendingMs) / 1000
    }

    func emitPF(_ u: Unit) {
        guard let trace = options.trace else { return }
        seq += 1
        let e = TraceEvent(seq: seq, tNs: Self.nowNs(), dev: name(vf: u.state.index), .pf(vids: u.state.sortedVlans, port: portState(u)))
        do {
            try trace.write(e)
            try trace.flush()
        } catch {
            log("cannot write the trace: \(error)")
        }
    }

    func vlanText(_ keys: [VlanKey]) -> String { "[" + keys.map { String($0.vid) }.joined(separator: ",") + "]" }

    func vidText(_ r: Mailbox.Request) -> String {
        switch r.op {
        case VC.addVlanV2, VC.delVlanV2:
            guard case .valid = VirtchnlValidator.validate(op: r.op, message: r.message, vfMinor: 1) else { return "" }
            return " vids=" + vlanText(VlanFilterListV2(r.message).filters.map { VlanKey(vid: $0.inner.vid, tpid: $0.inner.tpid) })
        case VC.addVlan, VC.delVlan:
            guard case .valid = VirtchnlValidator.validate(op: r.op, message: r.message, vfMinor: 1) else { return "" }
            return " vids=" + vlanText(VlanFilterListV1(r.message).vids.map { VlanKey(vid: $0) })
        default: return ""
        }
    }
}
