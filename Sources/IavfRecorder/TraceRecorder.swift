import IavfModel
import IavfProbes
import IavfTrace

/// The live recorder's core: probe records, command output marks and clock ticks in;
/// contract events out, in order, through `emit`. The header waits for the first
/// snapshot, which tells the VLAN mode and limit (or for `headerDeadline` records).
public final class TraceRecorder {
    public let generation: Generation?
    public let kernel: String
    public private(set) var header: TraceHeader?
    public private(set) var events = 0
    public private(set) var lost: UInt64 = 0
    public private(set) var devices: [String] = []

    private var mapper = ProbeTraceMapper()
    private var settle: SettleDetector
    private var seq: Int64 = 0
    private var pending: [(dev: String, t: UInt64, body: TraceEvent.Body)] = []
    private let headerDeadline: Int
    private let start: (TraceHeader) throws -> Void
    private let emit: (TraceEvent) throws -> Void
    private var lastMaxFilters: [String: Int?] = [:]
    /// Devices inside iavf_open: the contract takes no snapshot between its enter and exit
    /// (the unpatched restore happens inside it), so up_complete's are dropped there.
    private var inOpen = Set<String>()
    public private(set) var snapshotsDroppedInOpen = 0
    public private(set) var snapshotsDroppedInconsistent = 0

    /// The `dev` of marks written before any device has been seen (default "unknown").
    public var markDevice: String?

    public init(generation: Generation?, kernel: String, settlePeriodNs: UInt64, headerDeadline: Int = 4096,
                start: @escaping (TraceHeader) throws -> Void, emit: @escaping (TraceEvent) throws -> Void) {
        self.generation = generation
        self.kernel = kernel
        self.settle = SettleDetector(periodNs: settlePeriodNs)
        self.headerDeadline = headerDeadline
        self.start = start
        self.emit = emit
    }

    /// State names of the kernel the contract does not know (mapped to INVALID).
    public var unknownStates: Set<String> { mapper.unknownStates }

    public func handle(_ item: ProbeStreamItem) throws {
        switch item {
        case .lost(let n):
            lost += n
            // Drops are counted per CPU, not per device: every device is affected.
            for dev in devices.isEmpty ? ["unknown"] : devices { try put(dev, 0, .lost(count: Int64(clamping: n))) }
        case .event(let e):
            guard !e.synthetic else { return }
            let dev = name(of: e)
            if !devices.contains(dev) { devices.append(dev) }
            settle.observe(e, dev: dev)
            if case .snapshot(let s) = e.payload {
                if header == nil { try begin(vlanMode: s.vlanMode, maxFilters: limit(s)) }
                let m = limit(s)
                if let old = lastMaxFilters[dev], old != m { try put(dev, e.timestampNs, .caps(maxFilters: m)) }
                lastMaxFilters[dev] = m
            }
            if e.kind == .open { if e.phase == .enter { inOpen.insert(dev) } else if e.phase == .exit { inOpen.remove(dev) } }
            if case .snapshot = e.payload, inOpen.contains(dev) { snapshotsDroppedInOpen += 1; return }
            // A torn, truncated or unreadable walk is no picture of the list: judging it
            // would blame the driver for the recorder's lockless read.
            if case .snapshot(let s) = e.payload, s.torn || s.truncated || s.readError { snapshotsDroppedInconsistent += 1; return }
            if let body = mapper.body(of: e) { try put(dev, e.timestampNs, body) }
        }
    }

    /// The trace's `dev`: the PCI address (or netdev name). An adapter that is removed and
    /// probed again (unbind/bind) is a new adapter with a new list, so it gets "#2", "#3".
    /// The key is the adapter's address, which the new adapter can be given again; so an
    /// adapter that sent RESET_VF outside iavf_reset_task (iavf_remove does, the only other
    /// caller of iavf_request_reset) and then starts an init with VERSION is new too.
    private var instanceOf: [UInt64: String] = [:]
    private var instances: [String: Int] = [:]
    private var inResetTask = Set<UInt64>()
    private var removed = Set<UInt64>()

    private func name(of e: ProbeEvent) -> String {
        let d = e.device
        if e.kind == .reset { if e.phase == .enter { inResetTask.insert(d.key) } else if e.phase == .exit { inResetTask.remove(d.key) } }
        if case .send(let s) = e.payload {
            if s.op == UInt32(VirtchnlOp.resetVF.code) && !inResetTask.contains(d.key) {
                removed.insert(d.key)
            } else if s.op == UInt32(VirtchnlOp.version.code) && removed.remove(d.key) != nil {
                instanceOf[d.key] = nil
            }
        }
        if let known = instanceOf[d.key] { return known }
        let base = d.traceName
        let n = (instances[base] ?? 0) + 1
        instances[base] = n
        let name = n == 1 ? base : "\(base)#\(n)"
        instanceOf[d.key] = name
        return name
    }

    /// A test-case boundary from the command's output. Cases span every device (the checker
    /// groups marks across devices), so it is written once, on the first device.
    public func mark(_ text: String, result: TraceEvent.MarkResult?, nowNs: UInt64) throws {
        try put(devices.first ?? markDevice ?? "unknown", nowNs, .mark(text: text, result: result))
    }

    /// Call regularly with the monotonic clock: emits `settled` for quiet devices.
    public func tick(nowNs: UInt64) throws {
        for dev in settle.settled(nowNs: nowNs) {
            try put(dev, nowNs, .settled(reason: "no VLAN work for \(settle.periodNs / 1_000_000) ms"))
        }
    }

    /// Writes the header if no snapshot ever came, and everything held back.
    public func finish() throws {
        if header == nil { try begin(vlanMode: nil, maxFilters: nil) }
    }

    private func limit(_ s: ProbeSnapshot) -> Int? {
        s.vlanMode == .v2 && s.maxFilters > 0 ? Int(s.maxFilters) : nil
    }

    private func begin(vlanMode: VlanMode?, maxFilters: Int?) throws {
        let h = TraceHeader(generation: generation, kernel: kernel, vlanMode: vlanMode ?? .v2,
                            maxFilters: maxFilters, source: .live, midStream: true)
        header = h
        try start(h)
        let held = pending
        pending.removeAll()
        for p in held { try write(p.dev, p.t, p.body) }
    }

    private func put(_ dev: String, _ t: UInt64, _ body: TraceEvent.Body) throws {
        if header == nil {
            pending.append((dev, t, body))
            if pending.count >= headerDeadline { try begin(vlanMode: nil, maxFilters: nil) }
            return
        }
        try write(dev, t, body)
    }

    private func write(_ dev: String, _ t: UInt64, _ body: TraceEvent.Body) throws {
        seq += 1
        events += 1
        try emit(TraceEvent(seq: seq, tNs: mapper.time(t), dev: dev, body))
    }
}
