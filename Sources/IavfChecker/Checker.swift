import IavfModel
import IavfTrace

/// Replays a trace through the spec rules and, when the generation is known, the
/// reference model; collects findings per device and gives the contract's verdict.
/// Feed it events in order (from a file or live); read `findings` as they grow.
public final class Checker {
    public let header: TraceHeader
    /// Findings kept in full; past `maxStoredFindings` only `countsByRule` grows.
    public private(set) var findings: [Finding] = []
    public private(set) var countsByRule: [Rule: Int] = [:]
    public private(set) var events = 0
    public let maxStoredFindings: Int
    /// Called for every finding as it is made (for `watch`).
    public var onFinding: ((Finding) -> Void)?

    private var devices: [DeviceState] = []
    private var deviceIndex: [String: Int] = [:]
    private var lastDev = ""
    private var lastDevIndex = -1
    private var marks: [(seq: Int64, text: String, result: TraceEvent.MarkResult?)] = []
    private var findingSeqs: [(seq: Int64, severity: Severity)] = []
    private let contextDepth: Int

    public init(header: TraceHeader, contextDepth: Int = 6, maxStoredFindings: Int = 10_000) {
        self.header = header
        self.contextDepth = contextDepth
        self.maxStoredFindings = maxStoredFindings
    }

    public var deviceNames: [String] { devices.map(\.dev) }

    // MARK: feeding

    public func feed(_ e: TraceEvent) {
        events += 1
        let i = index(for: e.dev)
        devices[i].remember(e)
        trackCalls(e, &devices[i])
        if case .mark(let text, let result) = e.body {
            marks.append((e.seq, text, result))
            return
        }
        if case .lost(let n) = e.body {
            devices[i].suspended = true
            devices[i].lostEvents += n
            return
        }
        if devices[i].suspended || devices[i].awaitingBaseline {
            if case .snapshot(let fs, _, _) = e.body {
                devices[i].awaitingBaseline = false
                rebuild(&devices[i], from: fs)
            }
            return
        }
        if let held = devices[i].heldSnapshot {
            devices[i].heldSnapshot = nil
            if case .send(let op, _, _) = e.body, op == held.op {
                // The send explains the snapshot; it is judged again after the send below.
                apply(e, &devices[i])
                judgeHeld(held, &devices[i])
                if !devices[i].pendingDel.isEmpty { checkPendingDeletes(e, &devices[i]) }
                return
            }
            divergeAndAdopt(held.event, held.filters, &devices[i])
        }
        apply(e, &devices[i])
        if !devices[i].pendingDel.isEmpty { checkPendingDeletes(e, &devices[i]) }
    }

    private func index(for dev: String) -> Int {
        if dev == lastDev, lastDevIndex >= 0 { return lastDevIndex }
        let i: Int
        if let known = deviceIndex[dev] {
            i = known
        } else {
            i = devices.count
            devices.append(DeviceState(dev: dev, header: header, recentDepth: contextDepth))
            deviceIndex[dev] = i
        }
        lastDev = dev
        lastDevIndex = i
        return i
    }

    private func trackCalls(_ e: TraceEvent, _ d: inout DeviceState) {
        let slot: Int, p: TraceEvent.Phase
        switch e.body {
        case .addVid(_, let ph, _): slot = 0; p = ph
        case .killVid(_, let ph, _): slot = 1; p = ph
        case .down(let ph): slot = 2; p = ph
        case .upComplete(let ph): slot = 3; p = ph
        case .open(let ph, _): slot = 4; p = ph
        case .close(let ph, _): slot = 5; p = ph
        case .reset(let ph): slot = 6; p = ph
        default: return
        }
        if p == .enter { d.openCalls[slot] += 1 } else if d.openCalls[slot] > 0 { d.openCalls[slot] -= 1 }
    }

    // MARK: the events

    private func apply(_ e: TraceEvent, _ d: inout DeviceState) {
        switch e.body {
        case .addVid(let key, let phase, let ret):
            guard key.vid != 0 else { return }
            if phase == .enter { d.ndoInFlight[key] = (true, false); return }
            guard let ret else { return }
            let early = d.ndoInFlight.removeValue(forKey: key)?.applied == true
            if ret == 0 {
                d.intent.insert(key)
                if d.inCycle { d.cycleUserKeys.insert(key) }
                d.rejectedAdd[key] = nil
            } else if ret == -5 {
                checkLimitReject(e, key, &d)
            }
            if !early { d.model?.userAdd(key, ret: ret, seq: e.seq) }

        case .killVid(let key, let phase, _):
            guard key.vid != 0 else { return }
            if phase == .enter {
                d.intent.remove(key)
                if d.inCycle { d.cycleUserKeys.insert(key) }
                d.lostReported.remove(key)
                d.stuckReported.remove(key)
                d.ndoInFlight[key] = (false, false)
            } else {
                if d.ndoInFlight.removeValue(forKey: key)?.applied != true { d.model?.userKill(key, seq: e.seq) }
            }

        case .send(let op, let vids, _):
            if op.isVlanFilterOp {
                if !d.ndoInFlight.isEmpty { applyNdoEarly(vids, e, &d) }
                if let m = d.model {
                    let predicted = m.predictedMessage(op)
                    if predicted != vids { sendDivergence(e, op, predicted: predicted, actual: vids, &d) }
                }
                if op.isVlanDel { for k in vids where d.pendingDel[k] == nil { d.pendingDel[k] = e.seq } }
                else { d.addInFlight = vids }
                if d.inCycle { checkChurn(e, op, vids, &d) }
            }
            d.model?.send(op, vids: vids, seq: e.seq)

        case .reply(let op, let retval):
            let rejectedAdd = op == .addVlanV2 && retval != 0
            let before = rejectedAdd ? d.currentList : nil
            d.model?.reply(op, retval: retval, seq: e.seq)
            if op.isVlanDel {
                if retval != 0 { checkRejectedDelete(e, op, retval, &d) }
                d.pendingDel.removeAll()
                d.prematureReported.removeAll()
            } else if rejectedAdd {
                let after = Set((d.currentList ?? []).map(\.key))
                let wasInFlight = Set((before ?? []).filter { $0.state.isAddInFlight }.map(\.key))
                for k in wasInFlight.union(d.addInFlight) where !after.contains(k) { d.rejectedAdd[k] = e.seq }
            }

        case .down(let phase):
            if phase == .enter {
                if !d.inCycle {
                    d.inCycle = true
                    d.cycleOpened = false
                    d.cycleResetSeen = false
                    d.cycleUserKeys.removeAll()
                    d.churnReported.removeAll()
                    d.cyclePendingAdds = VlanKeySet((d.currentList ?? []).filter { $0.state == .ADD || $0.state.isAddInFlight }.map(\.key))
                }
            } else {
                d.model?.down(seq: e.seq)
                d.isUp = false
            }

        case .close(let phase, _):
            if phase == .enter { d.model?.closeEnter(seq: e.seq) } else { d.model?.closeExit() }

        case .open(let phase, let ret):
            guard phase == .exit, let ret else { return }
            d.model?.open(ret: ret, seq: e.seq)
            if ret == 0 {
                d.isUp = true
                if d.inCycle { d.cycleOpened = true }
            }

        case .reset(let phase):
            guard phase == .enter else { return }
            d.model?.reset(seq: e.seq)
            // The reset swallows the outstanding reply; the PF drops a reset VF's VLANs.
            d.pendingDel.removeAll()
            d.prematureReported.removeAll()
            if d.inCycle { d.cycleResetSeen = true }

        case .snapshot(let filters, let count, _):
            if count != filters.count {
                report(.countMismatch, e, &d, key: nil,
                       "num_vlan_filters is \(count) but the list holds \(filters.count) entries \(EventText.list(filters))")
            }
            if !d.ndoInFlight.isEmpty, let m = d.model, !m.matches(filters) {
                // A snapshot from the workqueue can show an ndo's list edit before its exit.
                let differing = d.ndoInFlight.keys.filter { k in
                    filters.first { $0.key == k }?.state != m.entry(k)?.state
                }
                applyNdoEarly(differing, e, &d)
            }
            if let m = d.model, !m.matches(filters) {
                if let op = explainingMessage(m, filters) {
                    d.heldSnapshot = (e, filters, op)
                } else {
                    divergeAndAdopt(e, filters, &d)
                }
            }
            d.observed = filters
            checkLostFilters(e, filters, &d)

        case .settled:
            if let list = d.currentList {
                checkGhosts(e, list, &d)
                if d.isUp { checkStuck(e, list, &d) }
            }
            if d.inCycle && d.cycleOpened { d.inCycle = false }

        case .caps(let m):
            d.maxFilters = m
            d.model?.maxFilters = m

        case .upComplete, .pf, .unknown, .lost, .mark:
            break
        }
    }

    /// The VLAN message whose sending would turn the model's list into the snapshot's, if any.
    private func explainingMessage(_ m: ReferenceModel, _ filters: [Filter]) -> VirtchnlOp? {
        let ops: [VirtchnlOp] = m.vlanMode == .v2 ? [.addVlanV2, .delVlanV2] : [.addVlan, .delVlan]
        for op in ops {
            let vids = m.predictedMessage(op)
            guard !vids.isEmpty else { continue }
            var ahead = m
            ahead.send(op, vids: vids, seq: 0)
            if ahead.matches(filters) { return op }
        }
        return nil
    }

    private func judgeHeld(_ held: (event: TraceEvent, filters: [Filter], op: VirtchnlOp), _ d: inout DeviceState) {
        if let m = d.model, !m.matches(held.filters) { divergeAndAdopt(held.event, held.filters, &d) }
    }

    private func divergeAndAdopt(_ e: TraceEvent, _ filters: [Filter], _ d: inout DeviceState) {
        guard let m = d.model else { return }
        snapshotDivergence(e, expected: m.filters, observed: filters, &d)
        d.model!.adopt(filters)
    }

    /// Applies in-flight ndo calls for these keys now (their exit will not apply them again).
    private func applyNdoEarly(_ keys: [VlanKey], _ e: TraceEvent, _ d: inout DeviceState) {
        for k in keys {
            guard let call = d.ndoInFlight[k], !call.applied else { continue }
            if call.add { d.model?.userAdd(k, ret: 0, seq: e.seq) } else { d.model?.userKill(k, seq: e.seq) }
            d.ndoInFlight[k] = (call.add, true)
        }
    }

    private func rebuild(_ d: inout DeviceState, from filters: [Filter]) {
        d.suspended = false
        d.observed = filters
        d.model?.adopt(filters)
        // The adds and kills lost with the events are unknown: take the list's live
        // entries as the user's intent rather than accuse the driver.
        d.intent = VlanKeySet(filters.filter { !$0.state.isPendingDeletion }.map(\.key))
        d.pendingDel.removeAll()
        d.prematureReported.removeAll()
        d.ndoInFlight.removeAll()
        d.lostReported.removeAll()
        d.ghostReported.removeAll()
        d.stuckReported.removeAll()
        d.inCycle = false
    }

    // MARK: rules

    private func checkLostFilters(_ e: TraceEvent, _ filters: [Filter], _ d: inout DeviceState) {
        guard !d.intent.isEmpty || !d.lostReported.isEmpty else { return }
        // Fast path: every member of the intent set is in the list.
        var inIntent = 0
        for f in filters where d.intent.contains(f.key) { inIntent += 1 }
        if inIntent >= d.intent.count && d.lostReported.isEmpty { return }
        // Lists are short: a scan beats building a set on every snapshot.
        func present(_ k: VlanKey) -> Bool {
            for f in filters where f.key == k { return true }
            return false
        }
        if !d.lostReported.isEmpty { d.lostReported.removeAll { !d.intent.contains($0) || present($0) } }
        for k in d.intent where !present(k) && !d.lostReported.contains(k) {
            d.lostReported.insert(k)
            var cause: Cause?, origin: Int64?
            if let s = d.rejectedAdd[k] { cause = .pfRejectedAdd; origin = s }
            report(.lostFilter, e, &d, key: k,
                   "VLAN \(k) is in use (its add_vid succeeded and no kill followed) but the filter list lacks it: \(EventText.list(filters))",
                   cause: cause, origin: origin)
        }
    }

    private func checkPendingDeletes(_ e: TraceEvent, _ d: inout DeviceState) {
        guard d.hasList else { return }
        for (k, sentAt) in d.pendingDel where d.prematureReported[k] == nil && !d.listContains(k) {
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
    }

    private func checkRejectedDelete(_ e: TraceEvent, _ op: VirtchnlOp, _ retval: Int32, _ d: inout DeviceState) {
        let list = d.currentList
        for (k, sentAt) in d.pendingDel.sorted(by: { $0.key < $1.key }) {
            guard let list else { break }
            if let f = list.first(where: { $0.key == k }) {
                d.refusedDel.insert(k)
                if f.state == .ACTIVE {
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
        var present = VlanKeySet()
        for f in list {
            present.insert(f.key)
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
        d.ghostReported.removeAll { !present.contains($0) }
        d.refusedDel.removeAll { !present.contains($0) }
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
        for f in list where d.intent.contains(f.key) {
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

    private func snapshotDivergence(_ e: TraceEvent, expected: [Filter], observed: [Filter], _ d: inout DeviceState) {
        var diffs: [String] = []
        var firstKey: VlanKey?
        let exp = Dictionary(expected.map { ($0.key, $0.state) }, uniquingKeysWith: { a, _ in a })
        let obs = Dictionary(observed.map { ($0.key, $0.state) }, uniquingKeysWith: { a, _ in a })
        for f in observed {
            if let s = exp[f.key] {
                if s != f.state && !(f.state == .INVALID && s == .ADD) {
                    diffs.append("VLAN \(f.key) is \(f.state.rawValue), model says \(s.rawValue)")
                    firstKey = firstKey ?? f.key
                }
            } else {
                diffs.append("VLAN \(f.key) (\(f.state.rawValue)) should not be in the list")
                firstKey = firstKey ?? f.key
            }
        }
        for f in expected where obs[f.key] == nil {
            diffs.append("VLAN \(f.key) (\(f.state.rawValue)) is missing")
            firstKey = firstKey ?? f.key
        }
        if diffs.isEmpty { diffs.append("same entries in another order") }
        let g = d.model!.generation
        let foreign = observed.filter { !$0.state.generations.contains(g) && $0.state != .INVALID }
        let note = foreign.isEmpty ? "" : " (state \(foreign[0].state.rawValue) does not exist in the \(g.rawValue) driver: is the trace's generation right?)"
        report(.stateDivergence, e, &d, key: firstKey,
               "the snapshot differs from the \(g.rawValue) model: \(diffs.joined(separator: "; "))\(note); model \(EventText.list(expected)), snapshot \(EventText.list(observed))")
    }

    private func report(_ rule: Rule, _ e: TraceEvent, _ d: inout DeviceState, key: VlanKey?, _ message: String,
                        cause: Cause? = nil, origin: Int64? = nil) {
        countsByRule[rule, default: 0] += 1
        findingSeqs.append((e.seq, rule.severity))
        guard findings.count < maxStoredFindings else { return }
        let context = d.recentEvents.map { ContextLine(seq: $0.seq, text: EventText.describe($0)) }
        let originLine = origin.flatMap { d.event(seq: $0) }.map { ContextLine(seq: $0.seq, text: EventText.describe($0)) }
        let f = Finding(rule: rule, seq: e.seq, dev: d.dev, key: key, message: message, event: e.kind,
                        cause: cause, originSeq: origin, origin: originLine, context: context)
        findings.append(f)
        onFinding?(f)
    }

    // MARK: the verdict

    public func finish() -> CheckReport {
        for i in devices.indices {
            if let held = devices[i].heldSnapshot {
                devices[i].heldSnapshot = nil
                divergeAndAdopt(held.event, held.filters, &devices[i])
            }
        }
        var reasons: [String] = []
        for d in devices {
            if d.lostEvents > 0 { reasons.append("\(d.dev): \(d.lostEvents) events lost") }
            let open = zip(DeviceState.callNames, d.openCalls).filter { $0.1 > 0 }.map(\.0)
            if !open.isEmpty { reasons.append("\(d.dev): the trace ends inside \(open.joined(separator: ", "))") }
        }
        let violations = countsByRule.filter { $0.key.severity == .violation }.values.reduce(0, +)
        let verdict: Verdict = violations > 0 ? .fail : (reasons.isEmpty ? .pass : .inconclusive)
        return CheckReport(verdict: verdict, header: header, events: events, devices: deviceNames,
                           findings: findings, countsByRule: countsByRule, cases: cases(),
                           inconclusiveReasons: reasons)
    }

    private func cases() -> [CaseResult] {
        var out: [CaseResult] = []
        var prev: Int64 = .min
        var fi = 0
        let sorted = findingSeqs.sorted { $0.seq < $1.seq }
        for m in marks {
            guard let result = m.result else { continue }
            var n = 0, v = 0
            while fi < sorted.count, sorted[fi].seq <= m.seq {
                if sorted[fi].seq > prev { n += 1; if sorted[fi].severity == .violation { v += 1 } }
                fi += 1
            }
            out.append(CaseResult(name: m.text, result: result.rawValue, findings: n, violations: v,
                                  firstSeq: prev == .min ? nil : prev + 1, lastSeq: m.seq))
            prev = m.seq
        }
        return out
    }
}
