#if canImport(Glibc)
import Glibc
#endif

/// The vocabulary of iavf-vlan-state-machine.md section 1: driver generations,
/// VLAN modes, filter keys and the filter state enum by name.

/// Which VLAN filter design the driver implements.
public enum Generation: String, Sendable, CaseIterable, Codable {
    /// 6.1.170 (linux-image-6.1.0-47): ADD, IS_NEW, ACTIVE, DISABLE, INACTIVE, REMOVE.
    case unpatched
    /// 6.1.176 and later (linux-image-6.1.0-50+): ADD, ADDING, ACTIVE, REMOVE, REMOVING.
    case patched
}

/// The VLAN capability the PF granted: V1 (`VIRTCHNL_VF_OFFLOAD_VLAN`) or V2.
public enum VlanMode: String, Sendable, CaseIterable, Codable {
    case v1
    case v2
}

/// A filter's identity: the pair (vid, tpid). C-VLAN 100 and S-VLAN 100 are two filters.
public struct VlanKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let ctag: UInt16 = 0x8100
    public static let stag: UInt16 = 0x88a8

    public var vid: UInt16
    public var tpid: UInt16

    public init(vid: UInt16, tpid: UInt16 = VlanKey.ctag) {
        self.vid = vid
        self.tpid = tpid
    }

    public static func < (a: VlanKey, b: VlanKey) -> Bool {
        (a.vid, a.tpid) < (b.vid, b.tpid)
    }

    /// "100" for a C-tag, "100/0x88a8" otherwise.
    public var description: String {
        tpid == VlanKey.ctag ? "\(vid)" : "\(vid)/0x\(String(tpid, radix: 16))"
    }
}

/// `enum iavf_vlan_state_t` by name (the numbers differ between generations and are never used).
public enum FilterState: String, Sendable, CaseIterable, Codable {
    case INVALID, ADD, IS_NEW, ADDING, ACTIVE, DISABLE, INACTIVE, REMOVE, REMOVING

    /// The generations whose enum has this name.
    public var generations: Set<Generation> {
        switch self {
        case .INVALID, .ADD, .ACTIVE, .REMOVE: return [.unpatched, .patched]
        case .IS_NEW, .DISABLE, .INACTIVE: return [.unpatched]
        case .ADDING, .REMOVING: return [.patched]
        }
    }

    /// A filter the user asked to delete whose deletion is not yet confirmed.
    public var isPendingDeletion: Bool { self == .REMOVE || self == .REMOVING }

    /// A filter whose ADD is with the PF and unanswered (IS_NEW in U, ADDING in P).
    public var isAddInFlight: Bool { self == .IS_NEW || self == .ADDING }
}

/// One entry of `adapter->vlan_filter_list`.
public struct Filter: Hashable, Sendable {
    public var key: VlanKey
    public var state: FilterState

    public init(key: VlanKey, state: FilterState) {
        self.key = key
        self.state = state
    }

    public init(vid: UInt16, tpid: UInt16 = VlanKey.ctag, state: FilterState) {
        self.init(key: VlanKey(vid: vid, tpid: tpid), state: state)
    }
}

/// The errno values the driver's VLAN calls return, as the trace records them (negative).
public enum Errno {
    /// `iavf_vlan_rx_add_vid` at the VLAN limit: "Max allowed VLAN filters".
    public static let EIO: Int32 = -5
    public static let ENOMEM: Int32 = -12
    public static let EBUSY: Int32 = -16
    public static let EINVAL: Int32 = -22

    /// The name of a (negative) errno, when it is one of these.
    public static func name(_ r: Int32) -> String? {
        switch r {
        case EIO: return "EIO"
        case ENOMEM: return "ENOMEM"
        case EBUSY: return "EBUSY"
        case EINVAL: return "EINVAL"
        default: return nil
        }
    }
}

/// CLOCK_MONOTONIC, the clock of the trace's `t_ns` (bpf_ktime_get_ns).
public enum MonotonicClock {
    public static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public static func seconds() -> Double { Double(nanoseconds()) / 1e9 }

    /// The same, unsigned, as the probes' timestamps and `watch`'s ticks are.
    public static func ns() -> UInt64 { UInt64(nanoseconds()) }
}
