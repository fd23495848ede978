import IavfSystem
import IavfModel
import IavfTrace

/// Replays a trace through the spec rules and, when the generation is known, the
/// reference model; collects findings per device and gives the contract's verdict.
/// Feed it events in order (from a file or live); read `findings` as they grow.
/// The per-event path keeps its state in this class's arrays: Swift's dynamic exclusivity
/// checks on them cost more than the checking itself, and nothing here overlaps accesses,
/// hence `@exclusivity(unchecked)` on the stored properties.
public final class Checker {
    public let header: TraceHeader
    /// Findings kept in full; past `maxStoredFindings` only `countsByRule` grows.
    @exclusivity(unchecked) public private(set) var findings: [Finding] = []
    @exclusivity(unchecked) public private(set) var countsByRule: [Rule: Int] = [:]
    @exclusivity(unchecked) public private(set) var events = 0
    public let maxStoredFindings: Int
    /// Most distinct `dev` values a trace may name (each costs a few KB of state).
    public let maxDevices: Int
    /// Most filters all devices' lists may hold together (each device counted at its
    /// largest): bounds memory on hostile traces. 256 VFs with 1024 VLANs each fit.
    public let maxListedFilters: Int
    @exclusivity(unchecked) private var listedFilters = 0
    /// Empty between uses (checkLostFilters).
    @exclusivity(unchecked) private var scratchKeys = VlanKeySet()
    /// Called for every finding as it is made (for `watch`).
    public var onFinding: ((Finding) -> Void)?
    /// Set when the trace is refused as bad input (the contract's exit 2); events fed after
    /// it are ignored and nothing is judged.
    @exclusivity(unchecked) public private(set) var refusal: CheckerRefusal?

    @exclusivity(unchecked) private var devices: [DeviceState] = []
    @exclusivity(unchecked) private var deviceIndex: [String: Int] = [:]
    @exclusivity(unchecked) private var lastDev = ""
    @exclusivity(unchecked) private var lastDevIndex = -1
    @exclusivity(unchecked) private var marks: [(seq: Int64, text: String, result: TraceEvent.MarkResult?)] = []
    @exclusivity(unchecked) private var findingSeqs: [(seq: Int64, severity: Severity, label: String)] = []
    /// Rule coverage: how often each rule (by `Rule.ordinal`) was evaluated with a chance to
    /// fire (docs/coverage.md defines it rule by rule). Findings are `countsByRule`.
    @exclusivity(unchecked) public private(set) var ruleEvaluations = [Int](repeating: 0, count: Rule.allCases.count)
    private let contextDepth: Int

    /// The table the model follows (a reviewer's `--model`); nil: the generation's built-in.
    public let table: ModelTable?

    /// `table` must be of the trace's generation (`ModelTable.check(against:)` says so).
    public init(header: TraceHeader, table: ModelTable? = nil, contextDepth: Int = 6, maxStoredFindings: Int = 10_000,
                maxDevices: Int = 1024, maxListedFilters: Int = 262_144) {
        self.header = header
        self.table = table
        self.contextDepth = contextDepth
        self.maxStoredFindings = maxStoredFindings
        self.maxDevices = maxDevices
        self.maxListedFilters = maxListedFilters
    }

    public var deviceNames: [String] { devices.map(\.dev) }

    // MARK: feeding

    public func feed(_ e: TraceEvent) {
        guard refusal == nil, let i = index(for: e) else { return }
        events += 1
        // One access to the device for the whole event (each `devices[i]` is a bounds and a
        // uniqueness check); nothing below touches `devices` itself.
        step(e, &devices[i])
    }

    private func step(_ e: TraceEvent, _ d: inout DeviceState) {
        d.recent?.append(e)
        switch e.body {
        case .mark(let text, let result):
            marks.append((e.seq, text, result))
            return
        case .lost(let n):
            suspend(&d, lost: n)
            return
        default:
            break
        }
        d.lastEnter = Self.enteredCall(e.body)
        d.hasDriverEvents = true
        if d.suspended || d.awaitingBaseline {
            if case .snapshot(let fs, let count, let at) = e.body {
                checkCount(e, fs, count, &d)
                rebuild(&d, from: fs, at: at, e)
            } else {
                track(e, &d)
            }
            return
        }
        if case .snapshot(let fs, _, _) = e.body, fs.count > d.peakList, !budget(fs.count, e, &d) { return }
        let pendingBefore = d.pending.count
        if d.hasOtherOrder { stepOtherOrder(e, &d) }
        apply(e, &d)
        // The guards of both, here: most events need neither, and a call each is not free.
        if !d.pending.isEmpty { afterEvent(e, pushed: d.pending.count > pendingBefore, &d) }
        if d.hasModel && d.m.hasFreed { drainFreed(e, &d) }
        if !d.pendingDel.isEmpty && d.hasList { ruleEvaluations[Rule.prematureFree.ordinal] &+= 1 }
        if d.hasModel, d.m.count > d.peakList { _ = budget(d.m.count, e, &d) }
    }

    /// Counts a device's larger list against the budget; refuses the trace past it.
    private func budget(_ n: Int, _ e: TraceEvent, _ d: inout DeviceState) -> Bool {
        listedFilters += n - d.peakList
        d.peakList = n
        guard listedFilters <= maxListedFilters else {
            refusal = CheckerRefusal(seq: e.seq, field: "filters",
                                     message: "the trace's devices list more than \(maxListedFilters) VLAN filters together (counting each device at its largest list); split the trace per device")
            return false
        }
        return true
    }

    private func index(for e: TraceEvent) -> Int? {
        if e.dev == lastDev, lastDevIndex >= 0 { return lastDevIndex }
        let i: Int
        if let known = deviceIndex[e.dev] {
            i = known
        } else {
            guard devices.count < maxDevices else {
                refusal = CheckerRefusal(seq: e.seq, field: "dev",
                                         message: "the trace names more than \(maxDevices) devices; a VF trace names a handful (split the trace per device)")
                return nil
            }
            i = devices.count
            devices.append(DeviceState(dev: e.dev, header: header, recentDepth: contextDepth, table: table))
            deviceIndex[e.dev] = i
        }
        lastDev = e.dev
        lastDevIndex = i
        return i
    }

    /// The call an event enters, when it is an `enter` of one.
    private static func enteredCall(_ b: TraceEvent.Body) -> StaticString? {
        switch b {
        case .addVid(_, .enter, _): return "add_vid"
        case .killVid(_, .enter, _): return "kill_vid"
        case .down(.enter): return "down"
        case .upComplete(.enter): return "up_complete"
        case .open(.enter, _): return "open"
        case .close(.enter, _): return "close"
        case .reset(.enter): return "reset"
        default: return nil
        }
    }

    // MARK: lost events and baselines

    /// A `lost` event: nothing is judged until the next snapshot. A count of 0 is a loss of
    /// unknown size (the transport knew it dropped records, not how many).
    private func suspend(_ d: inout DeviceState, lost n: Int64) {
        d.suspended = true
        d.lostEvents += n
        if n == 0 { d.lossesUncounted += 1 }
        // Snapshots waiting for their explanation cannot be judged: it may be in the loss.
        d.pending.removeAll()
        d.since.removeAll()
    }

    /// While suspended or before the baseline: keep what later judgements depend on and
    /// that the next snapshot does not show (up/down, the limit, DELs awaiting a reply,
    /// calls in flight, the model's request bits and current_op).
    private func track(_ e: TraceEvent, _ d: inout DeviceState) {
        switch e.body {
        case .addVid(let k, let phase, _):
            if phase == .enter { d.ndoInFlight[k] = (true, false) } else { d.ndoInFlight[k] = nil }
        case .killVid(let k, let phase, _):
            if phase == .enter { d.ndoInFlight[k] = (false, false) } else { d.ndoInFlight[k] = nil }
        case .down(.exit): d.isUp = false
        case .open(.exit, let ret): if ret == 0 { d.isUp = true }
        case .caps(let m): d.maxFilters = m
        case .send(let op, let vids, _) where op.isVlanDel:
            for k in vids where d.pendingDel[k] == nil { d.pendingDel[k] = e.seq }
        case .reply(let op, _) where op.isVlanDel: if !d.pendingDel.isEmpty { d.pendingDel.removeAll() }
        case .reset(.enter): if !d.pendingDel.isEmpty { d.pendingDel.removeAll() }
        default: break
        }
        if d.hasModel {
            Self.modelStep(e, &d.m)
            _ = d.m.takeFreed()
        }
    }

    /// The snapshot after a loss (or the first of a mid-stream recording) becomes the model.
    private func rebuild(_ d: inout DeviceState, from filters: [Filter], at: String?, _ e: TraceEvent) {
        d.suspended = false
        d.awaitingBaseline = false
        d.observed = filters
        if d.hasModel {
            d.m.adopt(filters)
            _ = d.m.takeFreed()
        }
        // The adds and kills lost with the events are unknown: take the list's live
        // entries as the user's intent rather than accuse the driver; a kill already under
        // way is not intent even if the walk came before its list edit.
        var intent = VlanKeySet(filters.filter { !$0.state.isPendingDeletion }.map(\.key))
        for (k, call) in d.ndoInFlight where !call.add { intent.remove(k) }
        d.setIntent(intent)
        // A filter still REMOVING is in a DEL the PF has not answered yet.
        for f in filters where f.state == .REMOVING && d.pendingDel[f.key] == nil { d.pendingDel[f.key] = e.seq }
        if !d.prematureReported.isEmpty { d.prematureReported.removeAll(keepingCapacity: true) }
        d.ndoInFlight.removeAll()
        d.lostReported.removeAll()
        d.ghostReported.removeAll()
        d.stuckReported.removeAll()
        d.inCycle = false
        d.pending.removeAll()
        d.since.removeAll()
        let ctx = SnapshotContext(at: at)
        // (Unpatched frees a deleted filter before its DEL: an empty list may precede one too.)
        d.baselineMayPrecedeSend = ctx == .ndo || ctx == .unknown
    }

    // MARK: the model's part of each event

    /// What an event does to the reference model, at the point trace-format.md names.
    static func modelStep(_ e: TraceEvent, _ m: inout ReferenceModel) {
        switch e.body {
        case .addVid(let key, .exit, let ret): NdoExit(seq: e.seq, key: key, add: true, ret: ret).apply(to: &m)
        case .killVid(let key, .exit, _): NdoExit(seq: e.seq, key: key, add: false, ret: nil).apply(to: &m)
        case .send(let op, let vids, _): m.send(op, vids: vids, seq: e.seq)
        case .reply(let op, let retval): m.reply(op, retval: retval, seq: e.seq)
        case .down(.exit): m.down(seq: e.seq)
        case .close(.enter, _): m.closeEnter(seq: e.seq)
        case .close(.exit, _): m.closeExit()
        case .open(.exit, let ret): if let ret { m.open(ret: ret, seq: e.seq) }
        case .reset(.enter): m.reset(seq: e.seq)
        case .caps(let max): m.maxFilters = max
        default: break
        }
    }

    /// The model step, unless an ndo exit was already applied when another CPU showed it.
    /// Inlined: as a call, the optimizer's copy of it handed back a model to destroy each time.
    @inline(__always)
    private func stepModel(_ e: TraceEvent, _ d: inout DeviceState, appliedEarly: Bool = false) {
        guard d.hasModel, !appliedEarly else { return }
        Self.modelStep(e, &d.m)
    }

    // MARK: the events

    private func apply(_ e: TraceEvent, _ d: inout DeviceState) {
        switch e.body {
        case .addVid(let key, let phase, let ret):
            guard key.vid != 0 else { return }
            if phase == .enter {
                d.ndoInFlight[key] = (true, false)
                // The user's own add: the watchdog may send it before the call's exit record.
                if d.inCycle { d.cycleUserKeys.insert(key) }
                return
            }
            guard let ret else { return }
            let early = d.ndoInFlight.removeValue(forKey: key)?.applied == true
            stepReplyLag(e, &d)
            noteNdo(NdoExit(seq: e.seq, key: key, add: true, ret: ret), &d)
            if ret == 0 {
                d.intendAdd(key)
                if d.inCycle { d.cycleUserKeys.insert(key) }
                if !d.rejectedAdd.isEmpty { d.rejectedAdd[key] = nil }
            } else if ret == Errno.EIO {
                checkLimitReject(e, key, &d)
            }
            stepModel(e, &d, appliedEarly: early)

        case .killVid(let key, let phase, _):
            guard key.vid != 0 else { return }
            if phase == .enter {
                d.intendKill(key)
                if d.inCycle { d.cycleUserKeys.insert(key) }
                d.lostReported.remove(key)
                d.stuckReported.remove(key)
                d.ndoInFlight[key] = (false, false)
            } else {
                stepReplyLag(e, &d)
                noteNdo(NdoExit(seq: e.seq, key: key, add: false, ret: nil), &d)
                stepModel(e, &d, appliedEarly: d.ndoInFlight.removeValue(forKey: key)?.applied == true)
            }

        case .send(let op, let vids, _):
            var reordered = false
            if op.isVlanFilterOp {
                // An ndo call in flight for a VLAN the message names: its list edit and the
                // watchdog's choice of the message ran in either order under the list lock.
                // Try the edit first; if that mispredicts the message, the message was chosen
                // before it, and the edit applies at the call's exit as recorded.
                let beforeEarly = d.ndoInFlight.isEmpty ? nil : (d.model, d.ndoInFlight)
                if !d.ndoInFlight.isEmpty { applyNdoEarly(vids, e, &d) }
                if d.hasModel, case let predicted = d.m.predictedMessage(op) {
                    ruleEvaluations[Rule.stateDivergence.ordinal] &+= 1
                    if predicted != vids && !baselineSendExplained(op, vids, d.m, &d) {
                        if let (m0, inFlight) = beforeEarly, let m0, m0.predictedMessage(op) == vids {
                            d.m = m0
                            d.ndoInFlight = inFlight
                        } else {
                            reordered = sendBeforeNdoCalls(e, op, vids, &d)
                            if !reordered { sendDivergence(e, op, predicted: predicted, actual: vids, &d) }
                        }
                    }
                }
                d.baselineMayPrecedeSend = false
                if op.isVlanDel { for k in vids where d.pendingDel[k] == nil { d.pendingDel[k] = e.seq } }
                else { d.addInFlight = vids }
                if d.inCycle { checkChurn(e, op, vids, &d) }
            }
            if !reordered { stepModel(e, &d) }
            noteWorkqueue(&d)
            // A DEL naming a VLAN the list no longer holds freed it before the reply.
            if op.isVlanDel { for k in vids where !d.listContains(k) { premature(k, e, &d) } }

        case .reply(let op, let retval):
            d.baselineMayPrecedeSend = false
            keepOtherOrder(e, &d)
            let rejectedAdd = op == .addVlanV2 && retval != 0
            let before = rejectedAdd ? d.currentList : nil
            d.replyLag = op.isVlanFilterOp && d.hasModel ? d.m.filters : nil
            stepModel(e, &d)
            noteWorkqueue(&d)
            if op.isVlanDel {
                if retval != 0 { checkRejectedDelete(e, op, retval, &d) }
                if !d.pendingDel.isEmpty { d.pendingDel.removeAll() }
                if !d.prematureReported.isEmpty { d.prematureReported.removeAll(keepingCapacity: true) }
            } else if rejectedAdd {
                let after = VlanKeySet((d.currentList ?? []).map(\.key))
                let wasInFlight = (before ?? []).filter { $0.state.isAddInFlight }.map(\.key)
                for k in wasInFlight + d.addInFlight where !after.contains(k) { d.rejectedAdd[k] = e.seq }
            }

        case .down(let phase):
            if phase == .enter {
                if !d.inCycle {
                    d.inCycle = true
                    d.cycleOpened = false
                    d.cycleResetSeen = false
                    d.cycleUserKeys.removeAll()
                    d.churnReported.removeAll()
                    // Refilled, not made anew: a new set is two 4096-bit maps to allocate and zero.
                    d.cyclePendingAdds.removeAll()
                    for f in d.currentList ?? [] where f.state == .ADD || f.state.isAddInFlight { d.cyclePendingAdds.insert(f.key) }
                }
            } else {
                stepModel(e, &d)
                d.isUp = false
            }

        case .close:
            stepModel(e, &d)

        case .open(let phase, let ret):
            guard phase == .exit, let ret else { return }
            stepModel(e, &d)
            if ret == 0 {
                d.isUp = true
                if d.inCycle { d.cycleOpened = true }
            }

        case .reset(let phase):
            guard phase == .enter else { return }
            stepModel(e, &d)
            noteWorkqueue(&d)
            // The reset swallows the outstanding reply; the PF drops a reset VF's VLANs.
            if !d.pendingDel.isEmpty { d.pendingDel.removeAll() }
            if !d.prematureReported.isEmpty { d.prematureReported.removeAll(keepingCapacity: true) }
            if d.inCycle { d.cycleResetSeen = true }

        case .snapshot(let filters, let count, let at):
            // The list is only lent below (the helpers copy what they keep): a copy here was a
            // retain and a release of an array the decoding thread made, on every snapshot.
            checkCount(e, filters, count, &d)
            if d.hasModel { judgeSnapshot(e, filters, at: at, &d) } else { snapshotWithoutModel(e, filters, &d) }

        case .settled:
            d.replyLag = nil
            // Every record the walks could have been ahead of is in by now.
            expirePending(upTo: d.pending.count, e, &d)
            d.baselineMayPrecedeSend = false
            d.otherOrder = nil
            if let list = d.currentList {
                checkGhosts(e, list, &d)
                if d.isUp { checkStuck(e, list, &d) }
            }
            if d.inCycle && d.cycleOpened { d.inCycle = false }

        case .caps(let m):
            d.maxFilters = m
            stepModel(e, &d)

        case .upComplete, .pf, .unknown, .lost, .mark:
            break
        }
    }

    /// A snapshot of a device without a model: the list is the last snapshot, and what left
    /// it since is freed.
    private func snapshotWithoutModel(_ e: TraceEvent, _ filters: [Filter], _ d: inout DeviceState) {
        if !d.pendingDel.isEmpty, let old = d.observed {
            let now = VlanKeySet(filters.map(\.key))
            for f in old where !now.contains(f.key) { premature(f.key, e, &d) }
        }
        d.observed = filters
        checkLostFilters(e, filters, &d)
    }

    /// A snapshot against the model: held until a later record explains it, or judged.
    private func judgeSnapshot(_ e: TraceEvent, _ filters: [Filter], at: String?, _ d: inout DeviceState) {
        ruleEvaluations[Rule.stateDivergence.ordinal] &+= 1
        // `d.m` and not `d.model!`: that copies the model (a retain and a release of each of
        // its lists) on every snapshot.
        if !d.ndoInFlight.isEmpty, !d.m.matches(filters) {
            // A snapshot from the workqueue can show an ndo's list edit before its exit.
            var differing: [VlanKey] = []
            for k in d.ndoInFlight.keys where filters.first(where: { $0.key == k })?.state != d.m.state(of: k) {
                differing.append(k)
            }
            applyNdoEarly(differing, e, &d)
        }
        if d.hasOtherOrder, let other = d.otherOrder {
            // The first snapshot after the overlap says which order the driver took.
            d.otherOrder = nil
            if !d.m.matches(filters) && other.model.matches(filters) {
                d.m = other.model
                _ = d.m.takeFreed()
            }
        }
        let matches = d.m.matches(filters)
        if let lag = d.replyLag {
            let lagMatches = ReferenceModel.list(lag, matches: filters)
            // The walk ran before the last reply's list edit (the reply's record came
            // first): nothing to judge yet. The completion can stay behind its record
            // across several ndo calls (its CPU slow under TCG), which take their
            // snapshots beside it; the first snapshot from any other context ends the wait.
            if !matches && lagMatches {
                if SnapshotContext(at: at) != .ndo { d.replyLag = nil }
                return
            }
            d.replyLag = nil
        }
        if matches {
            checkLostFilters(e, filters, &d)
        } else {
            hold(e, filters, at: at, &d)
        }
    }

    /// After a rebuild from a snapshot that may have been ahead of the watchdog: the first
    /// VLAN message may carry exactly the filters the snapshot already showed in flight.
    private func baselineSendExplained(_ op: VirtchnlOp, _ vids: [VlanKey], _ m: ReferenceModel,
                                       _ d: inout DeviceState) -> Bool {
        guard d.baselineMayPrecedeSend, m.currentOp == nil, !vids.isEmpty else { return false }
        if op.isVlanAdd {
            let inFlight = m.filters.filter { $0.state.isAddInFlight }.map(\.key)
            return vids == Array(inFlight.prefix(vids.count))
        }
        // P keeps the filters REMOVING; U frees them before sending.
        let removing = m.filters.filter { $0.state == .REMOVING }.map(\.key)
        if !removing.isEmpty { return vids == Array(removing.prefix(vids.count)) }
        return m.generation == .unpatched && vids.allSatisfy { m.state(of: $0) == nil && !d.intent.contains($0) }
    }

    /// A reply recorded between an ndo call's enter and exit: its completion and the ndo's
    /// list edit (under the list lock, each atomic) ran in either order. Keep the order
    /// with the edit first; the recorded order (edit at the exit) stays the model.
    private func keepOtherOrder(_ e: TraceEvent, _ d: inout DeviceState) {
        guard d.hasModel, !d.ndoInFlight.isEmpty else { return }
        let early = d.ndoInFlight.filter { !$0.value.applied }
        guard !early.isEmpty else { return }
        var m = d.m
        for (k, call) in early {
            if call.add { m.userAdd(k, ret: 0, seq: e.seq) } else { m.userKill(k, seq: e.seq) }
        }
        Self.modelStep(e, &m)
        _ = m.takeFreed()
        d.otherOrder = (m, early.map(\.key))
    }

    /// Events after the overlap, applied to the other order too (its early ndo exits aside).
    private func stepOtherOrder(_ e: TraceEvent, _ d: inout DeviceState) {
        guard var other = d.otherOrder else { return }
        switch e.body {
        case .addVid(let k, .exit, _), .killVid(let k, .exit, _):
            if other.early.contains(k) { other.early.removeAll { $0 == k }; d.otherOrder = other; return }
        case .snapshot, .settled:
            return
        case .lost:
            d.otherOrder = nil
            return
        default:
            break
        }
        Self.modelStep(e, &other.model)
        _ = other.model.takeFreed()
        d.otherOrder = other
    }

    /// A workqueue record: later ndo records cannot precede what the watchdog chooses next
    /// by more than the calls recorded from here on.
    private func noteWorkqueue(_ d: inout DeviceState) {
        if d.beforeNdo != nil { d.beforeNdo = nil }
        if !d.ndoSince.isEmpty { d.ndoSince.removeAll(keepingCapacity: true) }
    }

    /// An ndo exit about to be applied: keep the model from before it (once per run of
    /// ndo calls; the copy is shared until the model changes).
    private func noteNdo(_ call: NdoExit, _ d: inout DeviceState) {
        guard d.hasModel, d.ndoSince.count < 64 else { return }
        if case .none = d.beforeNdo { d.beforeNdo = d.m }
        d.ndoSince.append(call)
    }

    /// A VLAN message the model mispredicts because the watchdog chose it before some of
    /// the ndo calls recorded ahead of its `send`: place the send before the latest such
    /// calls that make the prediction right, then apply those calls after it.
    private func sendBeforeNdoCalls(_ e: TraceEvent, _ op: VirtchnlOp, _ vids: [VlanKey], _ d: inout DeviceState) -> Bool {
        guard var m = d.beforeNdo, !d.ndoSince.isEmpty else { return false }
        var prefixes: [ReferenceModel] = [m]
        for call in d.ndoSince.dropLast() { call.apply(to: &m); prefixes.append(m) }
        for (i, candidate) in prefixes.enumerated().reversed() where candidate.predictedMessage(op) == vids {
            var r = candidate
            r.send(op, vids: vids, seq: e.seq)
            for call in d.ndoSince[i...] { call.apply(to: &r) }
            _ = r.takeFreed()
            d.m = r
            return true
        }
        return false
    }

    /// An ndo exit after a VLAN reply: applied to the order in which the reply's edit lags too.
    private func stepReplyLag(_ e: TraceEvent, _ d: inout DeviceState) {
        guard let lag = d.replyLag else { return }
        // The ndo exit on a model holding the lagging list (only the list is compared).
        var m = d.m
        m.setList(lag)
        Self.modelStep(e, &m)
        _ = m.takeFreed()
        d.replyLag = m.filters
    }

    /// Applies in-flight ndo calls for these keys now (their exit will not apply them again).
    private func applyNdoEarly(_ keys: [VlanKey], _ e: TraceEvent, _ d: inout DeviceState) {
        for k in keys {
            guard let call = d.ndoInFlight[k], !call.applied else { continue }
            if d.hasModel { if call.add { d.m.userAdd(k, ret: 0, seq: e.seq) } else { d.m.userKill(k, seq: e.seq) } }
            d.ndoInFlight[k] = (call.add, true)
        }
    }

    // MARK: snapshots ahead of their explanation

    /// Keys whose snapshot state (or absence) differs from the model's.
    private static func differingKeys(_ filters: [Filter], _ m: ReferenceModel) -> [VlanKey] {
        var out: [VlanKey] = []
        var seen = VlanKeySet()
        for f in filters {
            seen.insert(f.key)
            if !same(f.state, m.state(of: f.key)) { out.append(f.key) }
        }
        for f in m.filters where !seen.contains(f.key) { out.append(f.key) }
        return out
    }

    /// INVALID in a snapshot is a filter being created, which the model already holds as ADD.
    private static func same(_ observed: FilterState?, _ model: FilterState?) -> Bool {
        observed == model || (observed == .INVALID && model == .ADD)
    }

    /// A snapshot the model does not match: judged now when nothing recorded later can
    /// explain it, else held until the records it may be ahead of arrive.
    private func hold(_ e: TraceEvent, _ filters: [Filter], at: String?, _ d: inout DeviceState) {
        let m = d.m
        let ctx = SnapshotContext(at: at)
        let differing = Self.differingKeys(filters, m)
        let duplicates = VlanKeySet(filters.map(\.key)).count != filters.count
        // Same entries and states in another order, a key listed twice, or a context nothing
        // can overtake: no later record can explain it.
        if differing.isEmpty || duplicates || ctx == .exclusive {
            diverge(e, expected: m.filters, observed: filters, &d)
            adopt(filters, e, &d)
            checkLostFilters(e, filters, &d)
            return
        }
        if d.pending.isEmpty { d.since.removeAll() }
        if d.pending.count == DeviceState.maxPending { expirePending(upTo: 1, e, &d) }
        d.pending.append(PendingSnapshot(event: e, filters: filters, context: ctx, model: m, intent: d.intent,
                                         start: d.since.count, unexplained: differing))
    }

    /// After each event: pending snapshots that the model has now caught up with were ahead
    /// of it (accepted); those past the window are divergences.
    private func afterEvent(_ e: TraceEvent, pushed: Bool, _ d: inout DeviceState) {
        guard !d.pending.isEmpty else { return }
        if !pushed { d.since.append(e) }
        var j = 0
        while j < d.pending.count {
            if pushed && j == d.pending.count - 1 { break }
            if d.pending[j].context.canBeAheadOf(e.body), d.hasModel {
                let m = d.m
                let snap = d.pending[j].filters
                d.pending[j].unexplained.removeAll { k in
                    Self.same(snap.first { $0.key == k }?.state, m.state(of: k))
                }
                if d.pending[j].unexplained.isEmpty {
                    let p = d.pending.remove(at: j)
                    // Filters the snapshot lacks are lost only if the user still wants them.
                    checkLostFilters(p.event, p.filters, &d, wantedThen: p.intent)
                    trimSince(&d)
                    continue
                }
            }
            d.pending[j].age += 1
            j += 1
        }
        if let oldest = d.pending.first, oldest.age > DeviceState.aheadWindow { expirePending(upTo: 1, e, &d) }
    }

    /// Judges the oldest `n` pending snapshots as divergences: each is reported, and the
    /// model becomes the snapshot plus every event recorded since.
    private func expirePending(upTo n: Int, _ e: TraceEvent, _ d: inout DeviceState) {
        var left = n
        while left > 0, !d.pending.isEmpty {
            left -= 1
            let p = d.pending.removeFirst()
            diverge(p.event, expected: p.model.filters, observed: p.filters, &d)
            var m = p.model
            m.adopt(p.filters)
            var k = 0
            for (i, ev) in d.since[p.start...].enumerated() {
                while k < d.pending.count && d.pending[k].start <= p.start + i {
                    d.pending[k].model = m
                    k += 1
                }
                Self.modelStep(ev, &m)
            }
            while k < d.pending.count { d.pending[k].model = m; k += 1 }
            _ = m.takeFreed()
            d.m = m
            // Later snapshots are now compared with the resynchronised history.
            for j in d.pending.indices { d.pending[j].unexplained = Self.differingKeys(d.pending[j].filters, d.pending[j].model) }
            for q in d.pending where q.unexplained.isEmpty { checkLostFilters(q.event, q.filters, &d, wantedThen: q.intent) }
            d.pending.removeAll { $0.unexplained.isEmpty }
            for k in d.pendingDel.keys where !d.listContains(k) { premature(k, e, &d) }
            checkLostFilters(p.event, p.filters, &d, wantedThen: p.intent)
            trimSince(&d)
        }
    }

    private func trimSince(_ d: inout DeviceState) {
        guard let first = d.pending.first else { d.since.removeAll(); return }
        let cut = first.start
        guard cut > 0 else { return }
        d.since.removeFirst(cut)
        for j in d.pending.indices { d.pending[j].start -= cut }
    }

    private func adopt(_ filters: [Filter], _ e: TraceEvent, _ d: inout DeviceState) {
        if d.hasModel { d.m.adopt(filters) }
    }

    // MARK: rules

    private func checkCount(_ e: TraceEvent, _ filters: [Filter], _ count: Int, _ d: inout DeviceState) {
        ruleEvaluations[Rule.countMismatch.ordinal] &+= 1
        guard count != filters.count else { return }
        report(.countMismatch, e, &d, key: nil,
               "num_vlan_filters is \(count) but the list holds \(filters.count) entries \(EventText.list(filters))")
    }

    /// lost-filter on a snapshot. `wantedThen`: the intent set when a held snapshot was
    /// taken; a VLAN counts as lost only if it was wanted then and still is.
    private func checkLostFilters(_ e: TraceEvent, _ filters: [Filter], _ d: inout DeviceState, wantedThen: VlanKeySet? = nil) {
        guard !d.intent.isEmpty || !d.lostReported.isEmpty else { return }
        if !d.intent.isEmpty { ruleEvaluations[Rule.lostFilter.ordinal] &+= 1 }
        // Fast path: every member of the intent set is in the list (distinct keys: a
        // key listed twice must not stand in for a missing one). The scratch set is
        // emptied again key by key: no set is made per snapshot.
        if d.lostReported.isEmpty {
            // The same long list (the same array) against the same intent set was found whole
            // before. A short list is checked again: cheaper than keeping it (a retain and a
            // release of an array the decoding thread made).
            let short = filters.count <= 16
            if !short, d.lostCheckedEdits == d.intentEdits, let last = d.lostCheckedList, Self.sameStorage(last, filters) { return }
            var distinct = 0
            if short {
                // A short list: a key counts once, at its first place in the list.
                filters.withUnsafeBufferPointer { fs in
                    for i in fs.indices where d.intent.contains(fs[i].key) {
                        var j = 0
                        while j < i && fs[j].key != fs[i].key { j += 1 }
                        if j == i { distinct += 1 }
                    }
                }
            } else {
                for f in filters where d.intent.contains(f.key) { scratchKeys.insert(f.key) }
                distinct = scratchKeys.count
                for f in filters { scratchKeys.remove(f.key) }
            }
            if distinct == d.intent.count {
                if !short {
                    d.lostCheckedList = filters
                    d.lostCheckedEdits = d.intentEdits
                }
                return
            }
        }
        var present = VlanKeySet()
        for f in filters where d.intent.contains(f.key) { present.insert(f.key) }
        var all = present
        if !d.lostReported.isEmpty {
            for f in filters { all.insert(f.key) }
            d.lostReported.removeAll { !d.intent.contains($0) || all.contains($0) }
        }
        for k in d.intent where !present.contains(k) && !d.lostReported.contains(k) {
            if let then = wantedThen, !then.contains(k) { continue }
            d.lostReported.insert(k)
            var cause: Cause?, origin: Int64?
            if let s = d.rejectedAdd[k] { cause = .pfRejectedAdd; origin = s }
            report(.lostFilter, e, &d, key: k,
                   "VLAN \(k) is in use (its add_vid succeeded and no kill followed) but the filter list lacks it: \(EventText.list(filters))",
                   cause: cause, origin: origin)
        }
    }

    /// One array's storage: the same elements, without comparing them.
    @inline(__always)
    private static func sameStorage(_ a: [Filter], _ b: [Filter]) -> Bool {
        a.count == b.count && a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in x.baseAddress == y.baseAddress } }
    }

    /// Filters that left the model's list during the event, checked against the DELs
    /// still waiting for a reply (premature-free) without rescanning those on every event.
    private func drainFreed(_ e: TraceEvent, _ d: inout DeviceState) {
        guard d.hasModel, d.m.hasFreed else { return }
        let freed = d.m.takeFreed()
        guard !d.pendingDel.isEmpty else { return }
        for k in freed { premature(k, e, &d) }
    }

    private func premature(_ k: VlanKey, _ e: TraceEvent, _ d: inout DeviceState) {
        guard let sentAt = d.pendingDel[k], d.prematureReported[k] == nil, d.hasList else { return }
        var cause: Cause?
        if case .send = e.body { cause = .freedAtSend }
        if case .killVid = e.body {
            // Killed while ADD although a DEL naming it is unanswered: P reaches ADD by a
            // re-add while REMOVING, U by the restore on open after a down's DEL.
            cause = d.model?.generation == .patched ? .readdKillDuringDelete : .downUpResend
        }
        d.prematureReported[k] = .some(cause)
        report(.prematureFree, e, &d, key: k,
               "VLAN \(k) left the list before the PF answered the DEL sent at seq \(sentAt); if the PF refuses that DEL, nothing tracks the VLAN it keeps",
               cause: cause, origin: sentAt)
    }

    private func checkRejectedDelete(_ e: TraceEvent, _ op: VirtchnlOp, _ retval: Int32, _ d: inout DeviceState) {
        guard let list = d.currentList else { return }
        // Each VLAN the refused DEL named is a chance for one of the two.
        ruleEvaluations[Rule.untrackedHwFilter.ordinal] &+= d.pendingDel.count
        ruleEvaluations[Rule.pfRefusedDelete.ordinal] &+= d.pendingDel.count
        var states: [VlanKey: FilterState] = [:]
        for f in list where states[f.key] == nil { states[f.key] = f.state }
        for (k, sentAt) in d.pendingDel.sorted(by: { $0.key < $1.key }) {
            if let state = states[k] {
                // Only the patched design keeps a refused filter (ACTIVE) on purpose; an
                // unpatched DEL of a down's DISABLE filters leaves them INACTIVE, and one the
                // user had deleted (R1) is still a ghost after the restore.
                if state == .ACTIVE {
                    d.refusedDel.insert(k)
                    report(.pfRefusedDelete, e, &d, key: k,
                           "the PF refused the \(op.name) sent at seq \(sentAt) (retval \(retval)); VLAN \(k) is kept ACTIVE, as the patched design intends",
                           origin: sentAt)
                }
            } else {
                report(.untrackedHwFilter, e, &d, key: k,
                       "the PF refused the \(op.name) sent at seq \(sentAt) (retval \(retval)), so it still holds VLAN \(k), but the VF's list no longer has it: \(EventText.list(list))",
                       cause: (d.prematureReported[k] ?? nil) == .readdKillDuringDelete ? .readdKillDuringDelete : .R4,
                       origin: sentAt)
            }
        }
    }

    private func checkGhosts(_ e: TraceEvent, _ list: [Filter], _ d: inout DeviceState) {
        if !list.isEmpty { ruleEvaluations[Rule.ghostFilter.ordinal] &+= 1 }
        // Episodes to end only if some were open (those this walk opens are in the list).
        var present: VlanKeySet? = d.ghostReported.isEmpty && d.refusedDel.isEmpty ? nil : VlanKeySet()
        for f in list {
            present?.insert(f.key)
            let ok = d.intent.contains(f.key) || f.state.isPendingDeletion || d.refusedDel.contains(f.key)
            if ok { d.ghostReported.remove(f.key); continue }
            guard !d.ghostReported.contains(f.key) else { continue }
            d.ghostReported.insert(f.key)
            let (cause, origin) = ghostCause(f.key, d)
            report(.ghostFilter, e, &d, key: f.key,
                   "VLAN \(f.key) is in the list (\(f.state.rawValue)) and counted against the limit, but no VLAN device uses it (the user deleted it or never added it)"
                   + (d.maxFilters.map { ": \(list.count) of \($0) filters are taken for \(d.intent.count) in use" } ?? ""),
                   cause: cause, origin: origin)
        }
        if let present {
            d.ghostReported.removeAll { !present.contains($0) }
            d.refusedDel.removeAll { !present.contains($0) }
        }
    }

    private func ghostCause(_ k: VlanKey, _ d: DeviceState) -> (Cause?, Int64?) {
        guard let m = d.model?.entry(k)?.latest(of: [.removeOverwrittenByDown, .resurrectedByConfigReply, .v1AddErrorIgnored])
        else { return (nil, nil) }
        switch m.kind {
        case .removeOverwrittenByDown: return (.R1, m.seq)
        case .resurrectedByConfigReply: return (.S3, m.seq)
        default: return (.S2, m.seq)
        }
    }

    private func checkStuck(_ e: TraceEvent, _ list: [Filter], _ d: inout DeviceState) {
        var evaluated = false
        defer { if evaluated { ruleEvaluations[Rule.stuckFilter.ordinal] &+= 1 } }
        for f in list where d.intent.contains(f.key) {
            evaluated = true
            if f.state == .ACTIVE { d.stuckReported.remove(f.key); continue }
            guard !d.stuckReported.contains(f.key) else { continue }
            d.stuckReported.insert(f.key)
            let (cause, origin) = stuckCause(f, d)
            report(.stuckFilter, e, &d, key: f.key,
                   "the device is up and no VLAN work is pending, but VLAN \(f.key) is \(f.state.rawValue), not ACTIVE",
                   cause: cause, origin: origin)
        }
    }

    private func stuckCause(_ f: Filter, _ d: DeviceState) -> (Cause?, Int64?) {
        let entry = d.model?.entry(f.key)
        func last(_ p: Provenance) -> Int64? { entry?.last(p)?.seq }
        switch f.state {
        case .DISABLE, .INACTIVE: return (.R3, last(.disabledByDown))
        case .IS_NEW, .ADDING:
            if let s = last(.v1AddErrorIgnored) { return (.S2, s) }
            if let s = last(.v1AddSuccessIgnored) { return (.R5, s) }
            if let s = last(.lateReplyClearedCurrentOp) ?? last(.inFlightCancelledByDown) ?? last(.replyLostInReset) { return (.S4, s) }
        case .ADD:
            if let s = last(.addStrippedByClose) { return (.S1, s) }
        default: break
        }
        return (nil, nil)
    }

    private func checkLimitReject(_ e: TraceEvent, _ key: VlanKey, _ d: inout DeviceState) {
        guard d.vlanMode == .v2, let max = d.maxFilters else { return }
        ruleEvaluations[Rule.spuriousLimitReject.ordinal] &+= 1
        if d.intent.count >= max { return }
        let list = d.currentList ?? []
        // A filter whose DEL the PF refused counts like one pending deletion, as in ghost-filter.
        if list.contains(where: { $0.state.isPendingDeletion || d.refusedDel.contains($0.key) }) { return }
        let ghosts = list.filter { !d.intent.contains($0.key) && !d.refusedDel.contains($0.key) }
        var cause: Cause?, origin: Int64?
        for g in ghosts { (cause, origin) = ghostCause(g.key, d); if cause != nil { break } }
        let extra = ghosts.isEmpty ? "" : "; entries no VLAN device uses: \(EventText.list(ghosts))"
        report(.spuriousLimitReject, e, &d, key: key,
               "adding VLAN \(key) failed with -EIO (\"Max allowed VLAN filters \(max)\") although only \(d.intent.count) of \(max) VLANs are in use and no filter is pending deletion; the list holds \(list.count)\(extra)",
               cause: cause, origin: origin)
    }

    /// A message is churn when it goes against or beyond what the user asked: a DEL of a
    /// VLAN still in use, or an ADD of a VLAN the user did not add during the cycle (nor
    /// had queued before it). The user's own deferred work (a delete queued before the
    /// down and sent during it) is not churn.
    private func checkChurn(_ e: TraceEvent, _ op: VirtchnlOp, _ vids: [VlanKey], _ d: inout DeviceState) {
        ruleEvaluations[Rule.downUpChurn.ordinal] &+= 1
        for k in vids where !d.cycleUserKeys.contains(k) && !d.churnReported.contains(k) {
            let churn = op.isVlanDel ? d.intent.contains(k) : !d.cyclePendingAdds.contains(k)
            guard churn else { continue }
            d.churnReported.insert(k)
            let cause: Cause? = d.cycleResetSeen ? .S3 : (d.model?.generation == .unpatched ? .downUpResend : nil)
            let what = op.isVlanDel ? "deletes VLAN \(k), which is still in use," : "adds VLAN \(k), which the user did not add,"
            report(.downUpChurn, e, &d, key: k,
                   "\(op.name) \(what) during a down/up cycle; the patched design sends no VLAN message on down/up",
                   cause: cause)
        }
    }

    private func sendDivergence(_ e: TraceEvent, _ op: VirtchnlOp, predicted: [VlanKey], actual: [VlanKey],
                                _ d: inout DeviceState) {
        let first = zip(predicted, actual).first { $0 != $1 }.map { $0.1 }
            ?? (actual.count > predicted.count ? actual[predicted.count] : predicted[actual.count])
        report(.stateDivergence, e, &d, key: first,
               "\(op.name) carries [\(EventText.keys(actual))] but the \(d.model!.generation.rawValue) model predicts [\(EventText.keys(predicted))] from the list \(EventText.list(d.model!.filters))")
    }

    private func diverge(_ e: TraceEvent, expected: [Filter], observed: [Filter], _ d: inout DeviceState) {
        var diffs: [String] = []
        var firstKey: VlanKey?
        let exp = Dictionary(expected.map { ($0.key, $0.state) }, uniquingKeysWith: { a, _ in a })
        var seen = VlanKeySet()
        for f in observed {
            if seen.contains(f.key) {
                diffs.append("VLAN \(f.key) is listed twice")
                firstKey = firstKey ?? f.key
                continue
            }
            seen.insert(f.key)
            if let s = exp[f.key] {
                if !Self.same(f.state, s) {
                    diffs.append("VLAN \(f.key) is \(f.state.rawValue), model says \(s.rawValue)")
                    firstKey = firstKey ?? f.key
                }
            } else {
                diffs.append("VLAN \(f.key) (\(f.state.rawValue)) should not be in the list")
                firstKey = firstKey ?? f.key
            }
        }
        for f in expected where !seen.contains(f.key) {
            diffs.append("VLAN \(f.key) (\(f.state.rawValue)) is missing")
            firstKey = firstKey ?? f.key
        }
        if diffs.isEmpty { diffs.append("same entries in another order") }
        if diffs.count > 8 { diffs = diffs.prefix(8) + ["... (\(diffs.count - 8) more differences)"] }
        let g = d.model!.generation
        let foreign = observed.filter { !$0.state.generations.contains(g) && $0.state != .INVALID }
        let note = foreign.isEmpty ? "" : " (state \(foreign[0].state.rawValue) does not exist in the \(g.rawValue) driver: is the trace's generation right?)"
        report(.stateDivergence, e, &d, key: firstKey,
               "the snapshot differs from the \(g.rawValue) model: \(diffs.joined(separator: "; "))\(note); model \(EventText.list(expected)), snapshot \(EventText.list(observed))")
    }

    private func report(_ rule: Rule, _ e: TraceEvent, _ d: inout DeviceState, key: VlanKey?, _ message: String,
                        cause: Cause? = nil, origin: Int64? = nil) {
        countsByRule[rule, default: 0] += 1
        findingSeqs.append((e.seq, rule.severity, rule.rawValue + (cause.map { "(\($0.rawValue))" } ?? "")))
        guard findings.count < maxStoredFindings else { return }
        // A held snapshot is judged later: its leading events are those before it.
        let context = d.events(upTo: e.seq).map { ContextLine(seq: $0.seq, text: EventText.describe($0)) }
        let originLine = origin.flatMap { d.event(seq: $0) }.map { ContextLine(seq: $0.seq, text: EventText.describe($0)) }
        let f = Finding(rule: rule, seq: e.seq, dev: d.dev, key: key, message: message, event: e.kind,
                        cause: cause, originSeq: origin, origin: originLine, context: context)
        findings.append(f)
        onFinding?(f)
    }

    // MARK: the verdict

    public func finish() -> CheckReport {
        for i in devices.indices {
            if let last = devices[i].pending.last {
                expirePending(upTo: devices[i].pending.count, last.event, &devices[i])
            }
        }
        var reasons: [String] = []
        for d in devices {
            if d.lostEvents > 0 || d.lossesUncounted > 0 {
                let counted = d.lostEvents > 0 ? "\(d.lostEvents) events lost" : ""
                let uncounted = d.lossesUncounted > 0 ? "\(d.lossesUncounted) loss\(d.lossesUncounted == 1 ? "" : "es") of unknown size" : ""
                reasons.append("\(d.dev): " + [counted, uncounted].filter { !$0.isEmpty }.joined(separator: ", "))
            }
            if let call = d.lastEnter { reasons.append("\(d.dev): the trace ends inside \(call)") }
            if d.awaitingBaseline && d.hasDriverEvents {
                reasons.append("\(d.dev): the recording started mid-stream and has no snapshot of this device: nothing of it was judged")
            }
        }
        let violations = countsByRule.filter { $0.key.severity == .violation }.values.reduce(0, +)
        let verdict: Verdict = violations > 0 ? .fail : (reasons.isEmpty ? .pass : .inconclusive)
        let (cases, outside) = self.cases()
        return CheckReport(verdict: verdict, header: header, events: events, devices: deviceNames,
                           findings: findings, countsByRule: countsByRule, cases: cases,
                           outsideCases: outside, inconclusiveReasons: reasons, model: table?.source,
                           coverage: coverage())
    }

    /// Model and rule coverage so far (docs/coverage.md): the rows the devices' models
    /// applied on the history the checker settled on, and each rule's evaluations and
    /// findings. One table: the trace's generation (or the `--model` table); generation
    /// `unknown` gives rules only. `finish()` puts the final one into the report.
    public func coverage() -> ModelCoverage {
        let models = devices.compactMap(\.model)
        var rows = ReferenceModel.coverageRows(of: models)
        var title = models.first?.tableTitle
        if models.isEmpty, let g = header.generation {
            // No device had events: every row of the table, none hit.
            let m = table.flatMap { $0.generation == g ? ReferenceModel(table: $0) : nil } ?? ReferenceModel(generation: g)
            rows = m.coverageRows()
            title = m.tableTitle
        }
        let rules = Rule.allCases.map {
            ModelCoverage.RuleCount(rule: $0.rawValue, evaluated: ruleEvaluations[$0.ordinal], fired: countsByRule[$0] ?? 0)
        }
        return ModelCoverage(tables: [.init(generation: header.generation?.rawValue ?? "unknown",
                                            title: title ?? "(no model)", traces: 1, rows: rows, rules: rules)])
    }

    /// Cases from the marks: a result-bearing mark closes the case of every event since the
    /// previous one. A mark without result opens a case before its result: when the trace
    /// ends before the result, the events since the last closed case are that unfinished
    /// case's (result `UNFINISHED`), not in no case. Other findings after the last closed
    /// case are counted apart.
    private func cases() -> ([CaseResult], OutsideCases) {
        var out: [CaseResult] = []
        var outside = OutsideCases()
        var prev: Int64 = .min
        var opener: String?
        var fi = 0
        let sorted = findingSeqs.sorted { $0.seq < $1.seq }
        func take(upTo last: Int64) -> (Int, Int, [String]) {
            var n = 0, v = 0
            var labels = Set<String>()
            while fi < sorted.count, sorted[fi].seq <= last {
                n += 1
                if sorted[fi].severity == .violation { v += 1 }
                labels.insert(sorted[fi].label)
                fi += 1
            }
            return (n, v, labels.sorted())
        }
        for m in marks {
            guard let result = m.result else {
                if opener == nil { opener = m.text }
                continue
            }
            let (n, v, labels) = take(upTo: m.seq)
            out.append(CaseResult(name: m.text, result: result.rawValue, findings: n, violations: v, rules: labels,
                                  firstSeq: prev == .min ? nil : prev + 1, lastSeq: m.seq))
            prev = m.seq
            opener = nil
        }
        let (n, v, labels) = take(upTo: .max)
        if let opener {
            out.append(CaseResult(name: opener, result: CaseResult.unfinished, findings: n, violations: v, rules: labels,
                                  firstSeq: prev == .min ? nil : prev + 1, lastSeq: .max))
        } else if !out.isEmpty {
            outside = OutsideCases(findings: n, violations: v)
        }
        return (out, outside)
    }
}

/// Why the checker refused a trace (bad input: the contract's exit 2).
public struct CheckerRefusal: Error, Sendable, CustomStringConvertible {
    public var seq: Int64
    public var field: String
    public var message: String
    public var description: String { "event seq \(seq): \(field): \(message)" }
}

extension CheckerRefusal: ToolError {
    public var exitStatus: Int32 { ExitStatus.badInput }
}
