/// The probe points of iavf-vlan-state-machine.md 5.3 that iavf.bpf.c implements,
/// and the inlined functions of 5.2 that are reached through their callers.
public struct ProbePoint: Sendable, Hashable {
    public typealias Program = BPFNames.iavf.Program
    /// Kernel function.
    public var function: String
    /// The programs in iavf.bpf.c (fe_TAG, kp_TAG, fx_TAG, kr_TAG): names generated from
    /// the object, so a renamed program fails the build.
    public var fentry: Program
    public var kprobe: Program
    /// nil when there is no exit program (send has entry only).
    public var fexit: Program?
    public var kretprobe: Program?
    public var role: String

    public init(function: String, fentry: Program, kprobe: Program, fexit: Program? = nil, kretprobe: Program? = nil,
                role: String) {
        self.function = function
        self.fentry = fentry
        self.kprobe = kprobe
        self.fexit = fexit
        self.kretprobe = kretprobe
        self.role = role
    }

    /// Whether an exit program exists.
    public var hasExit: Bool { fexit != nil }
    public var entryPrograms: (fentry: Program, kprobe: Program) { (fentry, kprobe) }
    public var exitPrograms: (fexit: Program, kretprobe: Program)? {
        guard let fexit, let kretprobe else { return nil }
        return (fexit, kretprobe)
    }
    public var programs: [Program] { [fentry, kprobe] + [fexit, kretprobe].compactMap { $0 } }
}

public enum ProbeTable {
    public static let points: [ProbePoint] = [
        .init(function: "iavf_vlan_rx_add_vid", fentry: .fe_add_vid, kprobe: .kp_add_vid, fexit: .fx_add_vid, kretprobe: .kr_add_vid,
              role: "user add (vid, tpid, ret); snapshot"),
        .init(function: "iavf_vlan_rx_kill_vid", fentry: .fe_kill_vid, kprobe: .kp_kill_vid, fexit: .fx_kill_vid, kretprobe: .kr_kill_vid,
              role: "user kill (vid, tpid, ret); snapshot"),
        .init(function: "iavf_add_vlans", fentry: .fe_add_vlans, kprobe: .kp_add_vlans, fexit: .fx_add_vlans, kretprobe: .kr_add_vlans,
              role: "watchdog ADD; snapshot"),
        .init(function: "iavf_del_vlans", fentry: .fe_del_vlans, kprobe: .kp_del_vlans, fexit: .fx_del_vlans, kretprobe: .kr_del_vlans,
              role: "watchdog DEL; snapshot"),
        .init(function: "iavf_send_pf_msg", fentry: .fe_send, kprobe: .kp_send,
              role: "virtchnl message sent; VIDs of ADD/DEL (V1, V2)"),
        .init(function: "iavf_virtchnl_completion", fentry: .fe_reply, kprobe: .kp_reply, fexit: .fx_reply, kretprobe: .kr_reply,
              role: "PF reply (op, retval); snapshot"),
        .init(function: "iavf_down", fentry: .fe_down, kprobe: .kp_down, fexit: .fx_down, kretprobe: .kr_down,
              role: "down; snapshot"),
        .init(function: "iavf_open", fentry: .fe_open, kprobe: .kp_open, fexit: .fx_open, kretprobe: .kr_open,
              role: "open (ret); snapshot"),
        .init(function: "iavf_close", fentry: .fe_close, kprobe: .kp_close, fexit: .fx_close, kretprobe: .kr_close,
              role: "close (ret); snapshot"),
        .init(function: "iavf_up_complete", fentry: .fe_up_complete, kprobe: .kp_up_complete, fexit: .fx_up_complete,
              kretprobe: .kr_up_complete, role: "up complete; snapshot"),
        .init(function: "iavf_reset_task", fentry: .fe_reset, kprobe: .kp_reset, fexit: .fx_reset, kretprobe: .kr_reset,
              role: "reset; snapshot"),
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
        points.first { p in p.programs.contains { $0.rawValue == name } }
    }
}

/// How a probe point is reached on this kernel.
public enum ProbeMechanism: String, Sendable, Codable {
    /// fentry at entry, fexit at exit (BTF-typed args; needs BPF_PROG_TYPE_TRACING).
    case fentry
    /// kprobe at entry, kretprobe at exit (needs the kprobe PMU).
    case kprobe
}
