import IavfModel

/// The checker's rules (trace-format.md, "Rules the checker applies").
public enum Rule: String, Sendable, CaseIterable, Codable {
    case countMismatch = "count-mismatch"
    case lostFilter = "lost-filter"
    case prematureFree = "premature-free"
    case untrackedHwFilter = "untracked-hw-filter"
    case ghostFilter = "ghost-filter"
    case stuckFilter = "stuck-filter"
    case spuriousLimitReject = "spurious-limit-reject"
    case stateDivergence = "state-divergence"
    case downUpChurn = "down-up-churn"
    case pfRefusedDelete = "pf-refused-delete"

    /// The rule's place in `allCases` (an index for per-rule counters).
    @inline(__always) var ordinal: Int {
        switch self {
        case .countMismatch: return 0
        case .lostFilter: return 1
        case .prematureFree: return 2
        case .untrackedHwFilter: return 3
        case .ghostFilter: return 4
        case .stuckFilter: return 5
        case .spuriousLimitReject: return 6
        case .stateDivergence: return 7
        case .downUpChurn: return 8
        case .pfRefusedDelete: return 9
        }
    }

    public var severity: Severity {
        switch self {
        case .downUpChurn: return .warning
        case .pfRefusedDelete: return .note
        default: return .violation
        }
    }

    /// What holds when the rule is kept (the contract's wording).
    public var holdsWhen: String {
        switch self {
        case .countMismatch: return "every snapshot's count equals the number of its filters"
        case .lostFilter: return "no snapshot lacks a member of the intent set (a filter being created, state INVALID, counts as present)"
        case .prematureFree: return "a filter named in a DEL message does not leave the list before a successful reply to that DEL"
        case .untrackedHwFilter: return "after a DEL is rejected, the filter is still in the list (the PF still holds it)"
        case .ghostFilter: return "at a settled event, every filter in the list is in the intent set, or pending deletion (REMOVE/REMOVING), or a filter whose DEL the PF refused"
        case .stuckFilter: return "at a settled event while the device is up, every member of the intent set is ACTIVE"
        case .spuriousLimitReject: return "under V2 with a known max_filters: an add_vid that fails with -5 (EIO) happens only when the intent set already holds max_filters entries or the list holds a filter pending deletion"
        case .stateDivergence: return "each snapshot, and the VIDs of each send, match what the generation's reference model predicts after the events so far"
        case .downUpChurn: return "in a down/up cycle no VLAN ADD/DEL message names a VID the user did not add or kill during the cycle"
        case .pfRefusedDelete: return "(a note) a DEL was rejected and the filter kept ACTIVE"
        }
    }
}

public enum Severity: String, Sendable, Codable, Comparable {
    case violation, warning, note

    private var rank: Int { self == .violation ? 0 : self == .warning ? 1 : 2 }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// The races and residual holes of iavf-vlan-state-machine.md section 4, and the two
/// design traits of the unpatched driver that the patch series removed. A finding names
/// the one that explains it when the model's history shows it.
public enum Cause: String, Sendable, CaseIterable, Codable {
    case R1, R3, R4, R5, R7, S1, S2, S3, S4
    /// U design: filters are deleted and re-added on every down/up (patch 2 removed it).
    case downUpResend = "U-downup"
    /// U design: a filter is freed when its DEL is sent, not when the PF confirms (patch 3).
    case freedAtSend = "U-free-at-send"
    /// The PF rejected a V2 ADD and `iavf_vlan_add_reject` freed the filter (both generations).
    case pfRejectedAdd = "pf-rejected-add"
    /// P: a re-add (REMOVING to ADD) and a kill before the DEL reply free the filter with
    /// no message while the PF still has the DEL to answer. Found by this tool's
    /// generator; not among the spec's S1 to S4.
    case readdKillDuringDelete = "P-readd-kill"

    public var title: String {
        switch self {
        case .R1: return "R1: a down overwrote a queued delete (REMOVE -> DISABLE); the DEL and the re-ADD on open resurrect the filter"
        case .R3: return "R3: fast down/up: the DEL for the DISABLE filters went out after open, leaving them INACTIVE while up"
        case .R4: return "R4: the PF rejected a DEL for a filter the VF had already forgotten; the PF still holds the VLAN"
        case .R5: return "R5: no V1 ADD success handler: the filter stays IS_NEW for ever"
        case .R7: return "R7: re-add while a delete is pending"
        case .S1: return "S1: a close stripped the ADD bit while the filter waited in ADD; nothing sends it"
        case .S2: return "S2: a V1 ADD error leaves the filter in flight for ever (no V1 reject handler)"
        case .S3: return "S3: a reset's config reply turned a deleted filter back into ADD and re-sent it"
        case .S4: return "S4: a down or reset cancelled current_op while this filter's message was unanswered"
        case .downUpResend: return "unpatched design: VLAN filters are deleted on down and re-added on up (removed by patch 2)"
        case .freedAtSend: return "unpatched design: the filter is freed when its DEL is sent, before the PF confirms (fixed by patch 3)"
        case .pfRejectedAdd: return "the PF rejected the V2 ADD and the driver freed the filter while its VLAN device still exists"
        case .readdKillDuringDelete: return "patched: re-added while REMOVING (-> ADD) and killed again (ADD -> freed, no message) before the DEL reply"
        }
    }
}

/// One finding: the rule, the VLAN, the event that exposed it and what led to it.
public struct Finding: Sendable {
    public var rule: Rule
    public var severity: Severity { rule.severity }
    /// `seq` of the event that exposed it.
    public var seq: Int64
    public var dev: String
    public var key: VlanKey?
    public var message: String
    /// The `ev` of the exposing event.
    public var event: String
    public var cause: Cause?
    /// `seq` of the event that began it (for example the down that overwrote a delete).
    public var originSeq: Int64?
    /// That event, when the checker still had it.
    public var origin: ContextLine?
    /// The device's events up to and including the exposing one, oldest first.
    public var context: [ContextLine]

    public init(rule: Rule, seq: Int64, dev: String, key: VlanKey?, message: String, event: String, cause: Cause? = nil,
                originSeq: Int64? = nil, origin: ContextLine? = nil, context: [ContextLine] = []) {
        self.rule = rule
        self.seq = seq
        self.dev = dev
        self.key = key
        self.message = message
        self.event = event
        self.cause = cause
        self.originSeq = originSeq
        self.origin = origin
        self.context = context
    }
}

/// An event as the report shows it.
public struct ContextLine: Sendable {
    public var seq: Int64
    public var text: String
}
