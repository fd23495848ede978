import CIavfShim
import IavfModel
#if canImport(Glibc)
import Glibc
#endif

/// The running kernel's BTF (vmlinux, or a module's split BTF on top of it).
public final class KernelBTF {
    private let raw: OpaquePointer
    public let module: String?

    /// `module` nil: vmlinux. Otherwise /sys/kernel/btf/<module>.
    public init(module: String? = nil) throws {
        LibbpfLog.install()
        var out: OpaquePointer?
        let rc: Int32
        if let module {
            rc = iavfshim_btf_load(module, &out)
        } else {
            rc = iavfshim_btf_load(nil, &out)
        }
        try shimCheck(rc, "load BTF of \(module ?? "vmlinux")",
                      hint: module.map { "is the \($0) module loaded (modprobe \($0))? /sys/kernel/btf/\($0) must exist" })
        raw = out!
        self.module = module
    }

    deinit { iavfshim_btf_free(raw) }

    /// Enumerators of `enum name` in this BTF (a module's own types only), or nil.
    public func enumerators(of name: String) -> [(name: String, value: Int64)]? {
        final class Box { var items: [(String, Int64)] = [] }
        let box = Box()
        let rc = iavfshim_btf_enum(raw, name, { ctx, n, v in
            let b = Unmanaged<Box>.fromOpaque(ctx!).takeUnretainedValue()
            b.items.append((n.map { String(cString: $0) } ?? "", v))
        }, Unmanaged.passUnretained(box).toOpaque())
        return rc < 0 ? nil : box.items.map { (name: $0.0, value: $0.1) }
    }

    public func hasFunction(_ name: String) -> Bool { iavfshim_btf_has_func(raw, name) == 1 }

    public func structSize(_ name: String) -> Int? {
        let s = iavfshim_btf_struct_size(raw, name)
        return s >= 0 ? Int(s) : nil
    }
}

extension Generation {
    /// Which design the running iavf has, from the enumerators of `enum iavf_vlan_state_t`
    /// (spec 5.5): REMOVING exists only in the patched design, DISABLE/INACTIVE only in the
    /// unpatched one; nil when neither (the checker then applies only the spec rules).
    public init?(stateEnumerators names: [String]) {
        if names.contains("IAVF_VLAN_REMOVING") {
            self = .patched
        } else if names.contains("IAVF_VLAN_DISABLE") || names.contains("IAVF_VLAN_INACTIVE") {
            self = .unpatched
        } else {
            return nil
        }
    }
}

extension KernelNames {
    /// Names from the iavf module's BTF; falls back to the virtchnl protocol's op names for
    /// ops absent from BTF. States are never guessed: no BTF, no state names.
    public static func fromRunningKernel(module: String = "iavf") -> (names: KernelNames, generation: Generation?)? {
        guard let btf = try? KernelBTF(module: module) else { return nil }
        return from(btf: btf)
    }

    public static func from(btf: KernelBTF) -> (names: KernelNames, generation: Generation?) {
        var names = KernelNames(states: [:], ops: VirtchnlOps.protocolNames)
        let states = btf.enumerators(of: "iavf_vlan_state_t") ?? []
        for s in states where s.value >= 0 {
            names.states[UInt32(s.value)] = s.name.hasPrefix("IAVF_VLAN_") ? String(s.name.dropFirst(10)) : s.name
        }
        for o in btf.enumerators(of: "virtchnl_ops") ?? [] where o.value >= 0 {
            names.ops[UInt32(o.value)] = o.name.hasPrefix("VIRTCHNL_OP_") ? String(o.name.dropFirst(12)) : o.name
        }
        return (names, Generation(stateEnumerators: states.map(\.name)))
    }
}

/// virtchnl opcode names by wire number (IavfModel's `VirtchnlOp` table). Used only to name
/// ops when the kernel's BTF lacks `enum virtchnl_ops` (and by the host selftest).
public enum VirtchnlOps {
    public static let protocolNames: [UInt32: String] =
        Dictionary(uniqueKeysWithValues: VirtchnlOp.known.map { (UInt32($0.code), $0.name) })
    public static func value(of name: String, in names: [UInt32: String] = protocolNames) -> UInt32? {
        names.first { $0.value == name }?.key
    }
}
