import IavfModel
import IavfTrace

/// Where a snapshot was taken, and so which later records it can be ahead of.
///
/// A snapshot's place in the trace is where its ring-buffer record was reserved; the
/// lockless walk of `vlan_filter_list` runs after that, while the other context goes on.
/// The contexts exclude each other as section 1.6 of the spec says: the ndo calls hold RTNL
/// (not crit_lock), the workqueue items (watchdog, completion, reset) are ordered and hold
/// crit_lock, open and down hold both. So a snapshot can show what the *other* context did
/// before that context's record: an ndo snapshot the watchdog's state change before its
/// `send` (the change is made under the list lock, the send recorded after it) or a
/// completion's change before its `reply` record (a walk slower than the completion's start);
/// a workqueue snapshot an ndo's list edit before its `add_vid`/`kill_vid` record.
enum SnapshotContext {
    /// `add_vid`, `kill_vid`, and `close` (which waits for the watchdog without crit_lock).
    case ndo
    /// `iavf_add_vlans`, `iavf_del_vlans`, `send`, `reply`, `reset`, `up_complete`.
    case workqueue
    /// `open`, `down`: RTNL and crit_lock held; nothing else touches the list.
    case exclusive
    /// A hand-written trace or an unknown probe point: any of the above.
    case unknown

    init(at: String?) {
        switch at {
        case "add_vid", "kill_vid", "close": self = .ndo
        case "iavf_add_vlans", "iavf_del_vlans", "add_vlans", "del_vlans", "send", "reply", "reset", "up_complete":
            self = .workqueue
        case "open", "down": self = .exclusive
        default: self = .unknown
        }
    }

    /// Whether an event of this kind, recorded after the snapshot, can be what it already shows.
    func canBeAheadOf(_ e: TraceEvent.Body) -> Bool {
        switch e {
        case .send(let op, _, _): return (self == .ndo || self == .unknown) && op.isVlanFilterOp
        case .reply: return self == .ndo || self == .unknown
        case .addVid, .killVid: return self == .workqueue || self == .unknown
        default: return false
        }
    }
}

/// A snapshot the model does not match yet, waiting for the records it may be ahead of.
struct PendingSnapshot {
    var event: TraceEvent
    var filters: [Filter]
    var context: SnapshotContext
    /// The model and the intent set as they were at the snapshot.
    var model: ReferenceModel
    var intent: VlanKeySet
    /// Index into `DeviceState.since` of the first event after the snapshot.
    var start: Int
    /// Keys whose state in the snapshot (or absence) the model has not shown at any point
    /// since; a walk can be torn, so each entry may be explained at its own point.
    var unexplained: [VlanKey]
    /// Events of the device since the snapshot.
    var age = 0
}

/// A map from VLAN keys to values that holds a handful of entries at most (the ndo calls
/// under way, the DELs with the PF), in the order they went in: a list, where a Dictionary
/// hashed the key at every add, kill and send, and walked its keys in an order seeded per
/// process (findings at one event came out in a different order from run to run).
struct SmallKeyMap<Value>: Sequence {
    typealias Element = (key: VlanKey, value: Value)
    private var entries: [Element] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var keys: [VlanKey] { entries.map(\.key) }

    @inline(__always)
    private func index(_ k: VlanKey) -> Int? {
        var i = 0
        while i < entries.count {
            if entries[i].key == k { return i }
            i += 1
        }
        return nil
    }

    subscript(_ k: VlanKey) -> Value? {
        get { index(k).map { entries[$0].value } }
        set {
            if let i = index(k) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((k, v))
            }
        }
    }

    @discardableResult
    mutating func removeValue(forKey k: VlanKey) -> Value? {
        guard let i = index(k) else { return nil }
        return entries.remove(at: i).value
    }

    mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    func makeIterator() -> IndexingIterator<[Element]> { entries.makeIterator() }
}

/// The ndo calls under way: add or kill, and whether the list edit has been seen.
typealias NdoCalls = SmallKeyMap<(add: Bool, applied: Bool)>

/// What the checker knows of one adapter.
struct DeviceState {
    let dev: String
    /// The reference model, when `hasModel`; for generation "unknown" (only the spec rules
    /// apply, on snapshots) a placeholder never stepped. Not an Optional: optional chaining
    /// on it copied the model (a retain and a release of each of its arrays) on every event.
    var m: ReferenceModel
    /// Whether the device has a model; never changes after init.
    let hasModel: Bool
    /// The model, for the paths a finding takes (a copy).
    var model: ReferenceModel? { hasModel ? m : nil }
    /// The last snapshot's filters, kept for a device without a model (with one, the model
    /// is the list: `currentList`).
    var observed: [Filter]?
    /// (vid, tpid) with a successful add_vid exit and no later kill_vid enter. Changed only
    /// through `intendAdd`, `intendKill` and `setIntent`, which count the edits.
    private(set) var intent = VlanKeySet()
    /// Edits of `intent` so far.
    private(set) var intentEdits: UInt64 = 0
    /// The last long list (over 16 entries) the lost-filter rule found whole, and
    /// `intentEdits` then: the same list (the decoder hands out one array for a list it has
    /// seen) against the same intent set needs no second look.
    var lostCheckedList: [Filter]?
    var lostCheckedEdits: UInt64 = 0

    mutating func intendAdd(_ k: VlanKey) { intent.insert(k); intentEdits &+= 1 }
    mutating func intendKill(_ k: VlanKey) { intent.remove(k); intentEdits &+= 1 }
    mutating func setIntent(_ keys: VlanKeySet) { intent = keys; intentEdits &+= 1 }
    var vlanMode: VlanMode
    var maxFilters: Int?
    /// Contract: up unless the last down exit has no later successful open exit.
    var isUp = true

    /// Keys named in DEL messages that have had no reply yet, with the send's seq.
    var pendingDel = SmallKeyMap<Int64>()
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
    var ndoInFlight = NdoCalls()

    /// Snapshots not yet matched by the model (oldest first), and the device's events since
    /// the oldest of them (to replay onto the snapshot if it turns out to be a divergence).
    var pending: [PendingSnapshot] = []
    var since: [TraceEvent] = []
    static let maxPending = 8
    /// Device events a snapshot may be ahead of its explanation; `settled` ends it sooner.
    static let aheadWindow = 64

    /// The model was rebuilt from a snapshot taken in a context that can be ahead of the
    /// watchdog's send: the first VLAN message may be the one its in-flight filters went out
    /// in (or they went out before the recording; then a reply comes first).
    var baselineMayPrecedeSend = false

    /// The model as of the last workqueue record (send, reply, reset) and the ndo records
    /// since: the watchdog chooses a message's VLANs under the list lock and its `send`
    /// is recorded after it unlocks, so ndo calls recorded in between may have come after
    /// the choice.
    var beforeNdo: ReferenceModel?
    var ndoSince: [NdoExit] = []

    /// A completion recorded while an ndo call was under way may have run before or after
    /// the ndo's list edit: the model with the edit first, kept until the next snapshot
    /// says which order it was, and the keys it applied early.
    /// The model before the latest VLAN reply, with the ndo calls recorded since: the reply's
    /// record (at the completion's entry) can precede its list edit past a whole ndo call, so the
    /// next snapshot may not show it yet.
    /// Only the list: it is only ever compared with a snapshot, never adopted, so a copy of
    /// the whole model (taken on every VLAN reply) is not needed.
    var replyLag: [Filter]?
    var otherOrder: (model: ReferenceModel, early: [VlanKey])? { didSet { hasOtherOrder = otherOrder != nil } }
    /// `otherOrder != nil`, asked after every event without copying the model to ask it.
    private(set) var hasOtherOrder = false

    /// After a `lost` event: report nothing until the next snapshot rebuilds the model.
    var suspended = false
    /// A mid-stream recording: nothing is judged before the device's first snapshot.
    var awaitingBaseline = false
    var lostEvents: Int64 = 0
    /// `lost` events whose count was 0: the transport knew it dropped records, not how many.
    var lossesUncounted = 0
    /// Whether anything but marks named this device (a recorder may file marks under a
    /// placeholder device before it knows the adapter).
    var hasDriverEvents = false
    /// The device's last event (marks aside) entered a call that had not returned: its name.
    /// The call the last event entered, if it entered one (a StaticString: set on every
    /// event, and a String would cost a release each time).
    var lastEnter: StaticString?

    /// The device's recent events: the report shows the last few before a finding, and
    /// the event a race began at when it is still here.
    let recent: EventHistory?
    let contextDepth: Int
    static let historyDepth = 256

    init(dev: String, header: TraceHeader, recentDepth: Int, table: ModelTable?) {
        self.dev = dev
        self.vlanMode = header.vlanMode
        self.maxFilters = header.maxFilters
        self.contextDepth = recentDepth
        self.awaitingBaseline = header.midStream
        self.recent = recentDepth > 0 ? EventHistory(depth: max(recentDepth, Self.historyDepth)) : nil
        if let t = table, header.generation == t.generation {
            m = ReferenceModel(table: t, vlanMode: header.vlanMode, maxFilters: header.maxFilters)
            hasModel = true
        } else if let g = header.generation {
            m = ReferenceModel(generation: g, vlanMode: header.vlanMode, maxFilters: header.maxFilters)
            hasModel = true
        } else {
            m = ReferenceModel(generation: .patched)
            hasModel = false
        }
        m.logsFreed = true
    }

    /// The list as the checker sees it now: the model's (kept in step with every snapshot),
    /// or without a model the last snapshot.
    var currentList: [Filter]? { hasModel ? m.filters : observed }

    var hasList: Bool { hasModel || observed != nil }

    /// Whether the current list holds `key`, without building the list.
    func listContains(_ key: VlanKey) -> Bool {
        if hasModel { return m.state(of: key) != nil }
        return observed?.contains { $0.key == key } ?? false
    }

    /// The largest list this device has held (snapshot or model): counted against the
    /// checker's budget of filters across devices.
    var peakList = 0

    /// The last `contextDepth` events up to and including `seq`, oldest first.
    func events(upTo seq: Int64) -> [TraceEvent] {
        recent?.events(upTo: seq, last: contextDepth, dev: dev) ?? []
    }

    /// The event with this seq, if it is still in the history.
    func event(seq: Int64) -> TraceEvent? { recent?.event(seq: seq, dev: dev) }
}

/// An ndo call's exit as the model applies it: what `ndoSince` keeps of the event (a copy of
/// the event would cost a retain and a release of its strings and lists on every call).
struct NdoExit {
    var seq: Int64
    var key: VlanKey
    var add: Bool
    /// add_vid's return (an exit without one changes nothing); kill_vid's is not used.
    var ret: Int32?

    func apply(to m: inout ReferenceModel) {
        if add {
            if let ret { m.userAdd(key, ret: ret, seq: seq) }
        } else {
            m.userKill(key, seq: seq)
        }
    }
}
