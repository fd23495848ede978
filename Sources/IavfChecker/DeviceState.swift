import IavfModel
import IavfTrace

/// What the checker knows of one adapter.
struct DeviceState {
    let dev: String
    /// nil for generation "unknown": only the spec rules apply, on snapshots.
    var model: ReferenceModel?
    /// The last snapshot's filters.
    var observed: [Filter]?
    /// (vid, tpid) with a successful add_vid exit and no later kill_vid enter.
    var intent = VlanKeySet()
    var vlanMode: VlanMode
    var maxFilters: Int?
    /// Contract: up unless the last down exit has no later successful open exit.
    var isUp = true

    /// Keys named in DEL messages that have had no reply yet, with the send's seq.
    var pendingDel: [VlanKey: Int64] = [:]
    /// Keys already reported as freed early, with the cause named then.
    var prematureReported: [VlanKey: Cause?] = [:]
    /// Filters whose DEL the PF refused: kept by design, not ghosts.
    var refusedDel = VlanKeySet()
    /// Keys in the last ADD message (for attributing a reject).
    var addInFlight: [VlanKey] = []
    /// Keys the PF's ADD reject freed, with the reply's seq.
    var rejectedAdd: [VlanKey: Int64] = [:]

    // Episode bookkeeping: a condition is reported once until it clears.
    var lostReported = VlanKeySet()
    var ghostReported = VlanKeySet()
    var stuckReported = VlanKeySet()

    // down-up-churn: from a down enter to the first settled after a successful open exit.
    var inCycle = false
    var cycleOpened = false
    var cycleResetSeen = false
    var cycleUserKeys = VlanKeySet()
    /// Keys whose user add was still on its way to the PF when the cycle began.
    var cyclePendingAdds = VlanKeySet()
    var churnReported = VlanKeySet()

    /// ndo calls entered and not yet exited, by key: whether it is an add, and whether the
    /// model already applied it because a workqueue event on another CPU showed its effect
    /// before the exit was recorded (spec 5.4: the ndo path holds no crit_lock).
    var ndoInFlight: [VlanKey: (add: Bool, applied: Bool)] = [:]

    /// A snapshot that differs from the model exactly as the watchdog's next message would
    /// make it: the watchdog changed the states on another CPU and its `send` record is
    /// still to come. Judged at the device's next event.
    var heldSnapshot: (event: TraceEvent, filters: [Filter], op: VirtchnlOp)?

    /// After a `lost` event: report nothing until the next snapshot rebuilds the model.
    var suspended = false
    /// A mid-stream recording: nothing is judged before the device's first snapshot.
    var awaitingBaseline = false
    var lostEvents: Int64 = 0
    /// Calls entered and not yet exited, by function (`callNames` order).
    var openCalls = [Int](repeating: 0, count: 7)
    static let callNames = ["add_vid", "kill_vid", "down", "up_complete", "open", "close", "reset"]

    /// The device's recent events: the report shows the last few before a finding, and
    /// the event a race began at when it is still here.
    var recent: [TraceEvent] = []
    var recentNext = 0
    let recentDepth: Int
    let contextDepth: Int
    static let historyDepth = 256

    init(dev: String, header: TraceHeader, recentDepth: Int) {
        self.dev = dev
        self.vlanMode = header.vlanMode
        self.maxFilters = header.maxFilters
        self.contextDepth = recentDepth
        self.awaitingBaseline = header.midStream
        self.recentDepth = recentDepth > 0 ? max(recentDepth, Self.historyDepth) : 0
        if let g = header.generation {
            model = ReferenceModel(generation: g, vlanMode: header.vlanMode, maxFilters: header.maxFilters)
        }
        recent.reserveCapacity(recentDepth)
    }

    /// The list as the checker sees it now: the model's (kept in step with every snapshot),
    /// or without a model the last snapshot.
    var currentList: [Filter]? { model?.filters ?? observed }

    var hasList: Bool { model != nil || observed != nil }

    /// Whether the current list holds `key`, without building the list.
    func listContains(_ key: VlanKey) -> Bool {
        if let m = model { return m.entry(key) != nil }
        return observed?.contains { $0.key == key } ?? false
    }

    mutating func remember(_ e: TraceEvent) {
        guard recentDepth > 0 else { return }
        if recent.count < recentDepth { recent.append(e) } else { recent[recentNext] = e }
        recentNext = (recentNext + 1) % recentDepth
    }

    /// The last `contextDepth` events, oldest first.
    var recentEvents: [TraceEvent] {
        let all = recent.count == recentDepth ? Array(recent[recentNext...] + recent[..<recentNext]) : recent
        return Array(all.suffix(contextDepth))
    }

    /// The event with this seq, if it is still in the history.
    func event(seq: Int64) -> TraceEvent? { recent.first { $0.seq == seq } }
}
