/// What `iavf-check explain RULE` prints: what the rule means, which race usually trips
/// it, and which generation is expected to (iavf-vlan-state-machine.md sections 3, 4, 8).
public struct RuleExplanation: Sendable {
    public var rule: Rule
    public var meaning: String
    public var races: String
    public var expected: String
    public var example: String
}

extension RuleExplanation {
    public static func of(_ rule: Rule) -> RuleExplanation {
        switch rule {
        case .countMismatch:
            return .init(rule: rule,
                meaning: "num_vlan_filters must equal the length of vlan_filter_list whenever the list is unlocked. The VLAN limit check compares the raw count with max_filters, so a count that drifts from the list makes VLANs fail (or pass) for no visible reason.",
                races: "None known in either generation: every unlink decrements the count. A mismatch means a new bug, or a recorder that walked the list while it was being changed.",
                expected: "Neither generation.",
                example: "snapshot {100:ACTIVE} count 2")
        case .lostFilter:
            return .init(rule: rule,
                meaning: "Every VLAN the user has (add_vid succeeded, no kill since) has an entry in the list. A missing entry means the VLAN device exists but the VF no longer tracks, and usually no longer filters, its VLAN.",
                races: "The PF rejecting a V2 ADD (over its own limit, or while the VF resets): iavf_vlan_add_reject frees the filter while the VLAN device stays (both generations). A reset that fails (iavf_disable_vf) frees everything.",
                expected: "Both generations when the PF rejects an ADD; neither on a healthy run.",
                example: "add_vid exit 100 ret 0 ... reply ADD_VLAN_V2 retval -5 ... snapshot {}")
        case .prematureFree:
            return .init(rule: rule,
                meaning: "A filter named in a DEL message stays in the list until the PF confirms the DEL. Freeing it earlier means that if the PF refuses the DEL, the VF has forgotten a VLAN the PF still holds and counts against the VF's limit.",
                races: "Unpatched design: iavf_del_vlans frees REMOVE filters at send time (fixed by patch 3, the REMOVING state). In the patched driver: a re-add while REMOVING (-> ADD) followed by a kill (ADD -> freed, no message) before the DEL reply.",
                expected: "Unpatched: every user delete that reaches the PF. Patched: only the re-add/kill interleaving.",
                example: "kill_vid 107 -> send DEL_VLAN_V2 [107] -> snapshot {} (before any reply)")
        case .untrackedHwFilter:
            return .init(rule: rule,
                meaning: "When the PF refuses a DEL it still has the VLAN programmed, so the VF must still have the filter. If the list lacks it, the PF holds a VLAN nobody tracks; later ADDs can be rejected by the PF's own limit.",
                races: "R4: DEL rejected by the PF after the unpatched driver freed the filter at send.",
                expected: "Unpatched, whenever the PF refuses a DEL. The patched driver puts the filter back to ACTIVE (see pf-refused-delete).",
                example: "send DEL_VLAN_V2 [100] -> reply DEL_VLAN_V2 retval -5 -> snapshot {}")
        case .ghostFilter:
            return .init(rule: rule,
                meaning: "When the driver has settled, every filter in the list is wanted by a VLAN device, on its way out (REMOVE/REMOVING), or one whose DEL the PF refused. Anything else is a ghost: counted against max_filters and programmed in the PF with no VLAN device. It is what makes the 8th VLAN fail with -EIO (7 of 8).",
                races: "R1/R2 (unpatched): a down or namespace move overwrote a queued delete with DISABLE; the DEL and the re-ADD on open brought the filter back. S3 (both): a reset's config reply turned deleted filters back into ADD. S2 (patched, V1): an ADD error left ADDING and a refused DEL turned it ACTIVE.",
                expected: "Unpatched after delete-then-down (the selftest's 7-of-8 failures). Both after a reset with a delete pending (S3).",
                example: "kill_vid 107 -> down (107 DISABLE) -> send DEL [107] -> open (107 ADD) -> send ADD [107] -> settled: 107 ACTIVE, not in use")
        case .stuckFilter:
            return .init(rule: rule,
                meaning: "When the device is up and the driver has settled, every VLAN in use is ACTIVE: confirmed by the PF and in hardware. Any other state means traffic for that VLAN is filtered out, or the driver's bookkeeping is wrong.",
                races: "R3 (unpatched): a fast down/up left filters INACTIVE while running. R5 (unpatched, V1): no V1 ADD success handler, IS_NEW for ever. S1 (patched): a close stripped the ADD bit, the filter stays ADD unsent. S2: a V1 ADD error leaves IS_NEW/ADDING. S4: a down or reset cancelled current_op with the reply outstanding.",
                expected: "Unpatched: R3 and (under V1) R5. Patched: only S1, S2, S4.",
                example: "down -> open within 40 ms -> send DEL [100] after open -> settled: 100 INACTIVE while up")
        case .spuriousLimitReject:
            return .init(rule: rule,
                meaning: "Under V2 with a known max_filters, adding a VLAN fails with -EIO (\"Max allowed VLAN filters N\") only when N VLANs are really in use, or a filter is still on its way out. Otherwise the count includes entries nobody wants.",
                races: "The consequence of a ghost (R1/R2 unpatched, S3 both): the seed's \"only 7 of 8 VLANs created\", VLAN 107 refused.",
                expected: "Unpatched in the selftest's 8-VLAN cases after a delete-then-down; neither generation otherwise.",
                example: "7 VLANs in use, 1 ghost -> add_vid exit 107 ret -5")
        case .stateDivergence:
            return .init(rule: rule,
                meaning: "The recorded driver did something its generation's reference model (the transition tables of spec 2.2/2.3) does not predict: a snapshot's list, order or states, or the VIDs of a message. It measures the model's fidelity, or flags a kernel that is not the generation the trace claims.",
                races: "None by design. A divergence is either a model error (report it) or a driver change (a backport, a new patch).",
                expected: "Neither generation, when the trace's generation is right.",
                example: "patched trace whose snapshot shows DISABLE (a state only the unpatched driver has)")
        case .downUpChurn:
            return .init(rule: rule,
                meaning: "A down/up cycle sends no VLAN ADD/DEL for VLANs the user did not touch during it. Each such message costs a watchdog tick (>= 20 ms) and a PF round trip.",
                races: "Unpatched design: iavf_down marks every filter DISABLE and open re-adds them (removed by patch 2). S3: a reset inside the cycle re-adds every filter.",
                expected: "Unpatched on every down/up with VLANs. Patched only when a reset falls inside the cycle.",
                example: "down -> send DEL_VLAN_V2 [100] -> open -> send ADD_VLAN_V2 [100]")
        case .pfRefusedDelete:
            return .init(rule: rule,
                meaning: "A note, not a violation: the PF refused a DEL and the patched driver kept the filter ACTIVE, as designed. The VLAN stays programmed and counted although the user deleted it; the checker does not call it a ghost.",
                races: "R4 handled the patched way (patch 3).",
                expected: "Patched, whenever the PF refuses a DEL.",
                example: "send DEL_VLAN_V2 [100] -> reply DEL_VLAN_V2 retval -5 -> snapshot {100:ACTIVE}")
        }
    }

    public var text: String {
        """
        \(rule.rawValue) (\(rule.severity.rawValue))

        Holds when: \(rule.holdsWhen).

        \(meaning)

        Usually signals: \(races)

        Expected to trip: \(expected)

        Typical trace: \(example)

        """
    }
}
