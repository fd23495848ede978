/// The probe points of iavf-vlan-state-machine.md 5.3 that iavf.bpf.c implements,
/// and the inlined functions of 5.2 that are reached through their callers.
public struct ProbePoint: Sendable, Hashable {
    /// Kernel function.
    public var function: String
    /// Program-name suffix in iavf.bpf.c: fe_<tag>, fx_<tag>, kp_<tag>, kr_<tag>.
    public var tag: String
    /// Whether an exit program exists (send has entry only).
    public var hasExit: Bool
    public var role: String

    public var entryPrograms: (fentry: String, kprobe: String) { ("fe_\(tag)", "kp_\(tag)") }
    public var exitPrograms: (fexit: String, kretprobe: String)? { hasExit ? ("fx_\(tag)", "kr_\(tag)") : nil }
}

public enum ProbeTable {
    public static let points: [ProbePoint] = [
        .init(function: "iavf_vlan_rx_add_vid", tag: "add_vid", hasExit: true, role: "user add (vid, tpid, ret); snapshot"),
        .init(function: "iavf_vlan_rx_kill_vid", tag: "kill_vid", hasExit: true, role: "user kill (vid, tpid, ret); snapshot"),
        .init(function: "iavf_add_vlans", tag: "add_vlans", hasExit: true, role: "watchdog ADD; snapshot"),
        .init(function: "iavf_del_vlans", tag: "del_vlans", hasExit: true, role: "watchdog DEL; snapshot"),
        .init(function: "iavf_send_pf_msg", tag: "send", hasExit: false, role: "virtchnl message sent; VIDs of ADD/DEL (V1, V2)"),
        .init(function: "iavf_virtchnl_completion", tag: "reply", hasExit: true, role: "PF reply (op, retval); snapshot"),
        .init(function: "iavf_down", tag: "down", hasExit: true, role: "down; snapshot"),
        .init(function: "iavf_open", tag: "open", hasExit: true, role: "open (ret); snapshot"),
        .init(function: "iavf_close", tag: "close", hasExit: true, role: "close (ret); snapshot"),
        .init(function: "iavf_up_complete", tag: "up_complete", hasExit: true, role: "up complete; snapshot"),
        .init(function: "iavf_reset_task", tag: "reset", hasExit: true, role: "reset; snapshot"),
    ]

    /// Inlined in both generations (spec 5.2): no symbol, no BTF FUNC; the caller is probed instead.
    public static let inlined: [(function: String, reachedThrough: String)] = [
        ("iavf_add_vlan", "iavf_vlan_rx_add_vid"),
        ("iavf_del_vlan", "iavf_vlan_rx_kill_vid"),
        ("iavf_find_vlan", "iavf_vlan_rx_add_vid / iavf_vlan_rx_kill_vid"),
        ("iavf_restore_filters", "iavf_open (unpatched only)"),
        ("iavf_vlan_add_reject", "iavf_virtchnl_completion"),
        ("iavf_process_aq_command", "iavf_add_vlans / iavf_del_vlans"),
        ("iavf_get_max_vlans_allowed", "iavf_vlan_rx_add_vid"),
    ]

    public static func point(forProgram name: String) -> ProbePoint? {
        points.first { p in
            [p.entryPrograms.fentry, p.entryPrograms.kprobe, p.exitPrograms?.fexit, p.exitPrograms?.kretprobe]
                .contains(name)
        }
    }
}

/// How a probe point is reached on this kernel.
public enum ProbeMechanism: String, Sendable, Codable {
    /// fentry at entry, fexit at exit (BTF-typed args; needs BPF_PROG_TYPE_TRACING).
    case fentry
    /// kprobe at entry, kretprobe at exit (needs the kprobe PMU).
    case kprobe
}
