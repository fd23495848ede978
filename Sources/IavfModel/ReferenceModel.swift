/// The reference model of one adapter: the filter list, the two VLAN request bits and
/// `current_op`, driven by the trace's events at the points trace-format.md names.
/// Per-filter changes come only from `TransitionTable`; this file holds the adapter-wide
/// effects (sections 1.5, 2.5, 7) and the bookkeeping.
public struct ReferenceModel: Sendable {
    /// One filter of the list with what happened to it (`entry(_:)`).
    public struct Entry: Sendable, Equatable {
        public var key: VlanKey
        public var state: FilterState
        /// The latest `seq` at which each race-relevant transition happened, by kind.
        let marks: ProvenanceMarks?

        public init(key: VlanKey, state: FilterState) {
            self.init(key: key, state: state, marks: nil)
        }

        init(key: VlanKey, state: FilterState, marks: ProvenanceMarks?) {
            self.key = key
            self.state = state
            self.marks = marks
        }

        public var filter: Filter { Filter(key: key, state: state) }

        public func last(_ kind: Provenance) -> ProvenanceMark? {
            marks?.seqs[kind.index].map { ProvenanceMark(kind: kind, seq: $0) }
        }

        /// The most recent of `kinds` that happened to this filter.
        public func latest(of kinds: [Provenance]) -> ProvenanceMark? {
            kinds.compactMap(last).max { $0.seq < $1.seq }
        }
    }

    /// A filter's race-relevant transitions, by kind.
    struct ProvenanceMarks: Sendable, Equatable {
        var seqs = [Int64?](repeating: nil, count: Provenance.count)
    }

    /// V1 message capacity: 2 bytes a VID after a 6-byte header in a 4096-byte buffer.
    public static let v1Capacity = 2045
    /// V2: up to 127 elements fit one message; larger batches go out in chunks of 126.
    public static let v2SingleMessage = 127
    public static let v2Chunk = 126

    public let generation: Generation
    /// The generation's rows (the built-in table, or a test's: `TransitionTable.withRows`).
    let table: CompiledTable
    public var vlanMode: VlanMode
    /// `vlan_v2_caps.filtering.max_filters`; nil when unknown or under V1.
    public var maxFilters: Int?
    /// `vlan_filter_list` in list order: plain values, so a copy of the model (the checker
    /// keeps forks of it) is one block of memory, not a reference per filter.
    public private(set) var filters: [Filter] = []
    /// The provenance of the filters that have any, by key (most have none): read only when
    /// a finding names its cause. A key leaves it when its filter leaves the list.
    private var marks: [VlanKey: ProvenanceMarks] = [:]
    public private(set) var addBit = false
    public private(set) var delBit = false
    public private(set) var currentOp: VirtchnlOp?
    /// The adapter is past DOWN_PENDING (devices start up).
    public private(set) var isUp = true
    private var bitsSavedByClose: (add: Bool, del: Bool)?
    /// Keys that left the list since the last `takeFreed()` (freed by a row or by `adopt`):
    /// lets a checker see a filter leave without rescanning what it waits for on every event.
    public private(set) var freed: [VlanKey] = []
    /// Whether `freed` is kept at all (the simulator does not need it).
    public var logsFreed = false
    /// Coverage: how often each (From state, Event) cell of the table was applied, indexed
    /// by the table's cell (`coverageRows()` names them). Counted where a row is applied;
    /// a copy of the model (a fork the checker keeps, a replay) counts its own history.
    public private(set) var rowHits: [UInt64]

    public init(generation: Generation, vlanMode: VlanMode = .v2, maxFilters: Int? = nil) {
        self.generation = generation
        self.table = TransitionTable.compiled(generation)
        self.vlanMode = vlanMode
        self.maxFilters = maxFilters
        self.rowHits = Array(repeating: 0, count: table.cells.count)
    }

    /// A model that follows a given table (a reviewer's, from `--model`).
    public init(table: ModelTable, vlanMode: VlanMode = .v2, maxFilters: Int? = nil) {
        self.generation = table.generation
        self.table = table.compiled
        self.vlanMode = vlanMode
        self.maxFilters = maxFilters
        self.rowHits = Array(repeating: 0, count: table.compiled.cells.count)
    }

    // Inlinable: the checker asks after every event.
    @inlinable public var count: Int { filters.count }
    /// Whether a key left the list since the last `takeFreed()`.
    @inlinable public var hasFreed: Bool { !freed.isEmpty }

    /// The list's keys in list order.
    public var keys: [VlanKey] { filters.map(\.key) }

    public func entry(_ key: VlanKey) -> Entry? {
        guard let f = filters.first(where: { $0.key == key }) else { return nil }
        return Entry(key: f.key, state: f.state, marks: marks.isEmpty ? nil : marks[key])
    }

    /// The state of `key`'s filter (the first, if a snapshot listed it twice), nil if absent.
    @inline(__always)
    public func state(of key: VlanKey) -> FilterState? {
        filters.withUnsafeBufferPointer { fs in
            for f in fs where f.key == key { return f.state }
            return nil
        }
    }

    private mutating func note(_ i: Int, _ kind: Provenance, _ seq: Int64) {
        marks[filters[i].key, default: ProvenanceMarks()].seqs[kind.index] = seq
    }

    /// No VLAN work pending: no request outstanding and neither VLAN bit set.
    public var isQuiescent: Bool { currentOp == nil && !addBit && !delBit }

    // MARK: ndo callbacks (applied at exit)

    /// What `iavf_vlan_rx_add_vid` returns: the limit check comes before the lookup.
    public func predictedAddResult(_ key: VlanKey) -> Int32 {
        if key.vid == 0 { return 0 }
        if let m = maxFilters, vlanMode == .v2, count >= m { return Errno.EIO }
        return 0
    }

    public mutating func userAdd(_ key: VlanKey, ret: Int32, seq: Int64) {
        guard ret == 0, key.vid != 0 else { return }
        if let i = index(of: key) {
            let before = filters[i].state
            apply(.userAdd, at: i, seq: seq)
            // Looked up again: a test's table (TransitionTable.withRows) may have freed it.
            if generation == .patched, before == .REMOVING, let j = index(of: key) { note(j, .readdedWhileRemoving, seq) }
        } else if let step = table.step(from: .absent, on: .userAdd),
                  case .state(let s) = step.to {
            rowHits[step.cell] &+= 1
            filters.append(Filter(key: key, state: s))
            sideEffects(step)
        }
    }

    public mutating func userKill(_ key: VlanKey, seq: Int64) {
        guard key.vid != 0, let i = index(of: key) else { return }
        apply(.userKill, at: i, seq: seq)
    }

    // MARK: watchdog messages

    /// The VIDs the driver puts into the next message of this opcode (selection order,
    /// capacity and, for V2 ADD, the clamp of section 2.5 / erratum 8).
    public func predictedMessage(_ op: VirtchnlOp) -> [VlanKey] {
        guard op.isVlanFilterOp else { return [] }
        let mask = table.selectableMask(add: op.isVlanAdd)
        var c = 0
        for e in filters where mask & (1 << e.state.ordinal) != 0 { c += 1 }
        var k = c
        if op.isV2 {
            if k > Self.v2SingleMessage { k = Self.v2Chunk }
            if op.isVlanAdd, let m = maxFilters {
                let n = count
                if c + n > m && n < m { k = min(k, m - n) }
            }
        } else {
            k = min(k, Self.v1Capacity)
        }
        var out: [VlanKey] = []
        out.reserveCapacity(k)
        for e in filters where out.count < k && mask & (1 << e.state.ordinal) != 0 { out.append(e.key) }
        return out
    }

    /// The message the watchdog would send on its next run, for simulations: the ADD bit
    /// has priority over the DEL bit, one message a run, only with no request outstanding.
    /// Returns nil (and clears the bit, as the driver does) when the bit's list is empty.
    public mutating func watchdogTick() -> (op: VirtchnlOp, vids: [VlanKey])? {
        guard currentOp == nil else { return nil }
        let v2 = vlanMode == .v2
        if addBit {
            let op: VirtchnlOp = v2 ? .addVlanV2 : .addVlan
            let vids = predictedMessage(op)
            if vids.isEmpty { addBit = false; return nil }
            return (op, vids)
        }
        if delBit {
            let op: VirtchnlOp = v2 ? .delVlanV2 : .delVlan
            let vids = predictedMessage(op)
            if vids.isEmpty { delBit = false; return nil }
            return (op, vids)
        }
        return nil
    }

    /// A message seen at `iavf_send_pf_msg`: the driver changed the named filters' states
    /// before sending it. `vids` are the message's own (under V1 every tpid is 0x8100).
    public mutating func send(_ op: VirtchnlOp, vids: [VlanKey], seq: Int64) {
        currentOp = op
        guard op.isVlanFilterOp else { return }
        let stimulus: Stimulus = op.isVlanAdd ? .wdAddChosen : .wdDelChosen
        // One pass over the list, not a look-up per VID: a message can name thousands
        // (a short one is searched as it is: a set costs two allocations).
        let named: VlanKeySet? = vids.count > 16 ? VlanKeySet(vids) : nil
        if !vids.isEmpty {
            var i = 0
            while i < filters.count {
                let before = filters.count
                let k = filters[i].key
                if named?.contains(k) ?? vids.contains(k) { apply(stimulus, at: i, seq: seq) }
                if filters.count == before { i += 1 }
            }
        }
        // The bit stays set when the batch did not fit (capacity or clamp).
        let mask = table.selectableMask(add: op.isVlanAdd)
        let left = filters.contains { mask & (1 << $0.state.ordinal) != 0 }
        if op.isVlanAdd { addBit = left } else { delBit = left }
    }

    // MARK: completions

    public mutating func reply(_ op: VirtchnlOp, retval: Int32, seq: Int64) {
        if let waiting = currentOp, waiting != op, waiting.isVlanFilterOp {
            // The reply answers a request a down or reset cancelled; the driver still
            // clears current_op, so the outstanding message loses its gate (S4).
            for i in filters.indices where filters[i].state.isAddInFlight || filters[i].state == .REMOVING {
                note(i, .lateReplyClearedCurrentOp, seq)
            }
        }
        currentOp = nil
        let ok = retval == 0
        switch op {
        case .addVlanV2: applyToAll(ok ? .addV2Success : .addV2Error, seq: seq)
        case .addVlan: applyToAll(ok ? .addV1Success : .addV1Error, seq: seq)
        case .delVlan, .delVlanV2: applyToAll(ok ? .delSuccess : .delError, seq: seq)
        case .getVFResources where vlanMode == .v1, .getOffloadVlanV2Caps:
            // Erratum 1: whatever the reply's retval.
            applyToAll(.configReply, seq: seq)
        default: break
        }
    }

    // MARK: down, close, open, reset

    /// `iavf_down` exit. A no-op when the adapter is already down.
    public mutating func down(seq: Int64) {
        guard isUp else { return }
        isUp = false
        if currentOp?.isVlanFilterOp == true {
            for i in filters.indices where filters[i].state.isAddInFlight || filters[i].state == .REMOVING {
                note(i, .inFlightCancelledByDown, seq)
            }
        }
        currentOp = nil
        applyToAll(.down, seq: seq)
    }

    /// `iavf_close` entry: `aq_required` is saved and cleared around `iavf_down`.
    public mutating func closeEnter(seq: Int64) {
        guard isUp else { return }
        bitsSavedByClose = (addBit, delBit)
        if addBit {
            for i in filters.indices where filters[i].state == .ADD { note(i, .addStrippedByClose, seq) }
        }
        addBit = false
        delBit = false
    }

    /// `iavf_close` exit: the saved bits come back, except the ADD bit.
    public mutating func closeExit() {
        guard let saved = bitsSavedByClose else { return }
        bitsSavedByClose = nil
        delBit = delBit || saved.del
    }

    /// `iavf_open` exit.
    public mutating func open(ret: Int32, seq: Int64) {
        guard ret == 0 else { return }
        isUp = true
        applyToAll(.open, seq: seq)
        // U: iavf_restore_filters sets the ADD bit whether or not anything was INACTIVE.
        if generation == .unpatched { addBit = true }
    }

    /// `iavf_reset_task`: request bits and `current_op` are cleared; the in-flight reply is lost.
    public mutating func reset(seq: Int64) {
        if currentOp?.isVlanFilterOp == true {
            for i in filters.indices where filters[i].state.isAddInFlight || filters[i].state == .REMOVING {
                note(i, .replyLostInReset, seq)
            }
        }
        addBit = false
        delBit = false
        currentOp = nil
    }

    /// `iavf_disable_vf`: the reset never completed; everything is freed.
    public mutating func disableVF(seq: Int64) {
        applyToAll(.disableVF, seq: seq)
    }

    /// The keys freed since the last call, oldest first.
    public mutating func takeFreed() -> [VlanKey] {
        defer { freed.removeAll(keepingCapacity: true) }
        return freed
    }

    /// Sets `current_op` as a recording that starts mid-flight shows it: the request whose
    /// reply is still to come, or nil.
    public mutating func assumeOutstanding(_ op: VirtchnlOp?) { currentOp = op }

    // MARK: resynchronisation

    /// Adopt what a snapshot shows (after a divergence or lost events), keeping the
    /// provenance of filters that are still there.
    public mutating func adopt(_ snapshot: [Filter]) {
        let old = VlanKeySet(filters.map(\.key))
        let kept = VlanKeySet(snapshot.map(\.key))
        filters = snapshot.map { Filter(key: $0.key, state: $0.state == .INVALID ? .ADD : $0.state) }
        for k in old where !kept.contains(k) {
            if logsFreed { freed.append(k) }
            if !marks.isEmpty { marks[k] = nil }
        }
    }

    /// Replaces the list with a model list (from `filters` of this model or a fork of it),
    /// for a what-if order the checker only compares with snapshots; provenance and
    /// coverage are left as they are.
    public mutating func setList(_ list: [Filter]) {
        filters = list
    }

    /// Whether a snapshot shows exactly the model's list (order, keys, states). INVALID
    /// in a snapshot is a filter being created, which the model already holds as ADD.
    public func matches(_ snapshot: [Filter]) -> Bool { Self.list(filters, matches: snapshot) }

    /// Whether a snapshot shows exactly this model list (as `matches`).
    public static func list(_ list: [Filter], matches snapshot: [Filter]) -> Bool {
        guard snapshot.count == list.count else { return false }
        return snapshot.withUnsafeBufferPointer { fs in
            list.withUnsafeBufferPointer { es in
                for i in 0..<fs.count {
                    let f = fs[i], e = es[i]
                    if f.key != e.key { return false }
                    if f.state != e.state && !(f.state == .INVALID && e.state == .ADD) { return false }
                }
                return true
            }
        }
    }

    // MARK: engine

    private func index(of key: VlanKey) -> Int? { filters.firstIndex { $0.key == key } }

    private mutating func applyToAll(_ s: Stimulus, seq: Int64) {
        var setAdd = false, setDel = false
        var i = 0
        while i < filters.count {
            let before = filters.count
            if let step = apply(s, at: i, seq: seq, bits: false) {
                setAdd = setAdd || step.addBit
                setDel = setDel || step.delBit
            }
            if filters.count == before { i += 1 }
        }
        if setAdd { addBit = true }
        if setDel { delBit = true }
    }

    /// Applies the row for entry `i`; returns it (nil: the table has none).
    @discardableResult
    private mutating func apply(_ s: Stimulus, at i: Int, seq: Int64, bits: Bool = true) -> CompiledTable.Step? {
        let before = filters[i].state
        guard let row = table.step(from: .state(before), on: s) else { return nil }
        rowHits[row.cell] &+= 1
        switch row.to {
        case .unchanged: break
        case .freed:
            let k = filters[i].key
            if logsFreed { freed.append(k) }
            filters.remove(at: i)
            if !marks.isEmpty { marks[k] = nil }
        case .state(let after):
            filters[i].state = after
            noteProvenance(at: i, before: before, after: after, on: s, seq: seq)
        }
        if case .unchanged = row.to { noteUnchanged(at: i, on: s, seq: seq) }
        if bits { sideEffects(row) }
        return row
    }

    private mutating func sideEffects(_ row: CompiledTable.Step) {
        if row.addBit { addBit = true }
        if row.delBit { delBit = true }
    }

    private mutating func noteProvenance(at i: Int, before: FilterState, after: FilterState,
                                         on s: Stimulus, seq: Int64) {
        switch (s, before, after) {
        case (.down, .REMOVE, .DISABLE): note(i, .removeOverwrittenByDown, seq)
        case (.down, _, .DISABLE): note(i, .disabledByDown, seq)
        case (.open, .INACTIVE, .ADD): note(i, .restoredAtOpen, seq)
        case (.configReply, .REMOVE, _), (.configReply, .REMOVING, _): note(i, .resurrectedByConfigReply, seq)
        case (.delError, _, _): note(i, .pfRefusedDelete, seq)
        default: break
        }
    }

    private mutating func noteUnchanged(at i: Int, on s: Stimulus, seq: Int64) {
        switch s {
        case .addV1Success where filters[i].state.isAddInFlight: note(i, .v1AddSuccessIgnored, seq)
        case .addV1Error where filters[i].state.isAddInFlight: note(i, .v1AddErrorIgnored, seq)
        default: break
        }
    }
}
