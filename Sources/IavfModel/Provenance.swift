/// Why a filter is in its state: the model notes the transitions that the races of
/// iavf-vlan-state-machine.md sections 4 (R1 to R7, S1 to S4) run through, so the
/// checker can say which race a finding most likely comes from and which event began it.
public enum Provenance: String, Sendable, CaseIterable {
    /// U: a queued delete (REMOVE) was overwritten by DISABLE at a down (R1/R2).
    case removeOverwrittenByDown
    /// U: a live filter was turned DISABLE at a down (R3 when it is not re-added on open).
    case disabledByDown
    /// U: INACTIVE turned back to ADD inside a successful open.
    case restoredAtOpen
    /// A reset's config reply turned a filter the user had deleted back into ADD (S3).
    case resurrectedByConfigReply
    /// P: the ADD bit was stripped by a close while this filter waited in ADD (S1).
    case addStrippedByClose
    /// An ADD_VLAN (V1) error left the filter in flight for ever (S2 in P).
    case v1AddErrorIgnored
    /// U: Cpl(ADD_VLAN, 0) left the filter IS_NEW: no V1 success handler (R5).
    case v1AddSuccessIgnored
    /// A down cleared `current_op` while this filter's message was unanswered (S4).
    case inFlightCancelledByDown
    /// A late reply to a cancelled request cleared `current_op` while this filter's own
    /// message was still unanswered (S4).
    case lateReplyClearedCurrentOp
    /// A reset dropped the reply this filter's message was waiting for.
    case replyLostInReset
    /// The PF refused to delete this filter (P: back to ACTIVE; U: R4).
    case pfRefusedDelete
    /// P: re-added while its DEL was with the PF (REMOVING to ADD, erratum 6).
    case readdedWhileRemoving
    /// The PF rejected the V2 ADD of this filter and the driver freed it.
    case addRejectedByPF
}

extension Provenance {
    /// The case's place in `allCases` (a switch: this runs on the model's hot path).
    var index: Int {
        switch self {
        case .removeOverwrittenByDown: return 0
        case .disabledByDown: return 1
        case .restoredAtOpen: return 2
        case .resurrectedByConfigReply: return 3
        case .addStrippedByClose: return 4
        case .v1AddErrorIgnored: return 5
        case .v1AddSuccessIgnored: return 6
        case .inFlightCancelledByDown: return 7
        case .lateReplyClearedCurrentOp: return 8
        case .replyLostInReset: return 9
        case .pfRefusedDelete: return 10
        case .readdedWhileRemoving: return 11
        case .addRejectedByPF: return 12
        }
    }
    static let count = allCases.count
}

public struct ProvenanceMark: Sendable, Equatable {
    public var kind: Provenance
    /// `seq` of the trace event at which it happened.
    public var seq: Int64
}
