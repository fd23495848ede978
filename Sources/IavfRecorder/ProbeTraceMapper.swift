import IavfModel
import IavfProbes
import IavfTrace

/// Turns decoded probe records into the trace contract's events: names from the kernel's
/// BTF become contract names, records the trace has no kind for are dropped (their
/// snapshots kept), and time never goes backwards (records from different CPUs can reach
/// the ring buffer slightly out of timestamp order; the contract wants t_ns non-decreasing).
public struct ProbeTraceMapper {
    private var lastT: Int64 = 0
    /// State names the recorder saw that the contract does not know (reported once each).
    public private(set) var unknownStates: Set<String> = []

    public init() {}

    /// The trace body of one record, or nil when the contract has no event for it.
    public mutating func body(of e: ProbeEvent) -> TraceEvent.Body? {
        let phase: TraceEvent.Phase? = e.phase == .enter ? .enter : e.phase == .exit ? .exit : nil
        switch (e.kind, e.payload) {
        case (.addVid, .vid(let k)):
            guard let phase else { return nil }
            return .addVid(key: k, phase: phase, ret: phase == .exit ? (e.ret ?? 0) : nil)
        case (.killVid, .vid(let k)):
            guard let phase else { return nil }
            return .killVid(key: k, phase: phase, ret: phase == .exit ? (e.ret ?? 0) : nil)
        case (.send, .send(let s)):
            let op = s.opName.map(VirtchnlOp.named) ?? VirtchnlOp.code(Int32(bitPattern: s.op))
            return .send(op: op, vids: op.isVlanFilterOp ? s.vids : [], ret: nil)
        case (.reply, .reply(let op, let name, let retval)):
            return .reply(op: name.map(VirtchnlOp.named) ?? VirtchnlOp.code(Int32(bitPattern: op)), retval: retval)
        case (_, .snapshot(let s)):
            let filters = s.filters.map { f -> Filter in
                let name = f.state ?? "VALUE_\(f.stateValue)"
                guard let st = FilterState(rawValue: name) else {
                    unknownStates.insert(name)
                    return Filter(vid: f.vid, tpid: f.tpid, state: .INVALID)
                }
                return Filter(vid: f.vid, tpid: f.tpid, state: st)
            }
            return .snapshot(filters: filters, count: Int(s.count), at: s.at?.traceName ?? s.at?.function)
        case (.down, _): return phase.map { .down(phase: $0) }
        case (.upComplete, _): return phase.map { .upComplete(phase: $0) }
        case (.reset, _): return phase.map { .reset(phase: $0) }
        case (.open, _): return phase.map { .open(phase: $0, ret: $0 == .exit ? (e.ret ?? 0) : nil) }
        case (.close, _): return phase.map { .close(phase: $0, ret: $0 == .exit ? (e.ret ?? 0) : nil) }
        default: return nil
        }
    }

    /// A monotonic t_ns for the next event.
    public mutating func time(_ ns: UInt64) -> Int64 {
        let t = Int64(clamping: ns)
        if t > lastT { lastT = t }
        return lastT
    }
}
