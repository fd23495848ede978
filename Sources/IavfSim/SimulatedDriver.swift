import IavfModel
import IavfTrace

/// The reference model driven the way the real driver is driven: ndo calls, watchdog
/// ticks that send at most one message, a PF that answers in order, down/up, resets.
/// It writes the trace a perfect recorder would write of such a driver (events, a
/// snapshot after each, `settled` when no VLAN work is pending), so the checker can be
/// exercised on any interleaving, and the bench can replay millions of coherent events.
public struct SimulatedDriver {
    public private(set) var model: ReferenceModel
    public let dev: String
    public private(set) var seq: Int64 = 0
    public private(set) var tNs: Int64 = 1_000_000
    /// Requests the PF has not answered, oldest first. A down or reset clears
    /// `current_op` but the PF may still answer (S4); a reset loses them.
    public private(set) var outstanding: [VirtchnlOp] = []
    /// Take a snapshot after every event (as the recorder does at function exits).
    public var snapshots = true
    private let sink: (TraceEvent) -> Void

    public init(generation: Generation, vlanMode: VlanMode = .v2, maxFilters: Int? = 8,
                dev: String = "0000:00:05.0", sink: @escaping (TraceEvent) -> Void) {
        model = ReferenceModel(generation: generation, vlanMode: vlanMode,
                               maxFilters: vlanMode == .v2 ? maxFilters : nil)
        self.dev = dev
        self.sink = sink
    }

    public var header: TraceHeader {
        TraceHeader(generation: model.generation, kernel: model.generation == .patched ? "6.1.192" : "6.1.170",
                    vlanMode: model.vlanMode, maxFilters: model.maxFilters, source: .sim)
    }

    private mutating func emit(_ body: TraceEvent.Body, dt: Int64 = 1_000) {
        seq += 1
        tNs += dt
        sink(TraceEvent(seq: seq, tNs: tNs, dev: dev, body))
    }

    private mutating func snapshot(after kind: String) {
        guard snapshots else { return }
        emit(.snapshot(filters: model.filters,
                       count: model.count, at: kind), dt: 100)
    }

    // MARK: user

    /// `ip link add ... type vlan id VID`: returns what the ndo returned.
    @discardableResult
    public mutating func userAdd(_ vid: UInt16, tpid: UInt16 = VlanKey.ctag) -> Int32 {
        let key = VlanKey(vid: vid, tpid: tpid)
        emit(.addVid(key: key, phase: .enter, ret: nil))
        let ret = model.predictedAddResult(key)
        model.userAdd(key, ret: ret, seq: seq + 1)
        emit(.addVid(key: key, phase: .exit, ret: ret))
        snapshot(after: "add_vid")
        return ret
    }

    /// `ip link del VLANDEV`.
    public mutating func userKill(_ vid: UInt16, tpid: UInt16 = VlanKey.ctag) {
        let key = VlanKey(vid: vid, tpid: tpid)
        emit(.killVid(key: key, phase: .enter, ret: nil))
        model.userKill(key, seq: seq + 1)
        emit(.killVid(key: key, phase: .exit, ret: 0))
        snapshot(after: "kill_vid")
    }

    // MARK: watchdog and PF

    /// One watchdog run: sends the highest-priority VLAN message, if any. Returns whether
    /// a message went out.
    @discardableResult
    public mutating func tick() -> Bool {
        guard let (op, vids) = model.watchdogTick() else { return false }
        model.send(op, vids: vids, seq: seq + 1)
        emit(.send(op: op, vids: vids, ret: 0), dt: 20_000_000)
        outstanding.append(op)
        snapshot(after: "send")
        return true
    }

    /// The PF answers the oldest outstanding request.
    @discardableResult
    public mutating func pfReply(retval: Int32 = 0) -> Bool {
        guard !outstanding.isEmpty else { return false }
        let op = outstanding.removeFirst()
        model.reply(op, retval: retval, seq: seq + 1)
        emit(.reply(op: op, retval: retval), dt: 50_000)
        snapshot(after: "reply")
        return true
    }

    /// Ticks and answers until nothing is pending (bounded), then `settled`.
    public mutating func runUntilSettled(maxSteps: Int = 64) {
        var steps = 0
        while steps < maxSteps {
            steps += 1
            if !outstanding.isEmpty { pfReply(); continue }
            if model.isQuiescent { break }
            if !tick() && model.isQuiescent { break }
        }
        settle()
    }

    /// `settled` if the driver has no VLAN work pending (no current_op, no VLAN bits).
    @discardableResult
    public mutating func settle() -> Bool {
        guard model.isQuiescent else { return false }
        emit(.settled(reason: "sim"), dt: 100_000_000)
        return true
    }

    // MARK: interface

    /// `ip link set down`: iavf_close around iavf_down.
    public mutating func down() {
        emit(.close(phase: .enter, ret: nil))
        model.closeEnter(seq: seq)
        emit(.down(phase: .enter))
        model.down(seq: seq + 1)
        emit(.down(phase: .exit))
        snapshot(after: "down")
        model.closeExit()
        emit(.close(phase: .exit, ret: 0))
    }

    /// `ip link set up`: iavf_open (U: the restore happens inside it) and iavf_up_complete.
    public mutating func up() {
        emit(.open(phase: .enter, ret: nil))
        emit(.upComplete(phase: .enter))
        emit(.upComplete(phase: .exit))
        model.open(ret: 0, seq: seq + 1)
        emit(.open(phase: .exit, ret: 0))
        snapshot(after: "open")
    }

    /// A VF reset: the in-flight replies are lost; the config replies convert every filter.
    public mutating func reset() {
        emit(.reset(phase: .enter))
        model.reset(seq: seq)
        outstanding.removeAll()
        for op in model.vlanMode == .v2 ? [VirtchnlOp.getVFResources, .getOffloadVlanV2Caps] : [.getVFResources] {
            emit(.send(op: op, vids: [], ret: 0))
            model.send(op, vids: [], seq: seq)
            model.reply(op, retval: 0, seq: seq + 1)
            emit(.reply(op: op, retval: 0))
        }
        emit(.reset(phase: .exit))
        snapshot(after: "reset")
    }

    public mutating func mark(_ text: String, result: TraceEvent.MarkResult? = nil) {
        emit(.mark(text: text, result: result))
    }
}
