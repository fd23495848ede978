import IavfModel
import CIavfShim
import Testing
@testable import IavfProbes
#if canImport(Glibc)
import Glibc
#endif

/// No root needed: opening an object only parses the ELF; faults are injected in the shim.
@Suite("shim and embedded objects", .serialized)
struct ShimTests {
    @Test("the embedded iavf object has fentry, fexit, kprobe and kretprobe programs for every probe point")
    func iavfObjectMatchesProbeTable() throws {
        let obj = try BPFObject(elf: EmbeddedBPF.iavf, name: "iavf_t")
        let bySection = Dictionary(uniqueKeysWithValues: obj.programs.map { ($0.name, $0.section) })
        for p in ProbeTable.points {
            #expect(p.fentry.section == "fentry/\(p.function)")
            #expect(p.kprobe.section == "kprobe/\(p.function)")
            if let x = p.exitPrograms {
                #expect(x.fexit.section == "fexit/\(p.function)")
                #expect(x.kretprobe.section == "kretprobe/\(p.function)")
            }
        }
        #expect(BPFNames.iavf.Program.core_report.section == "syscall")
        // The generated names are what libbpf finds in the object, section for section.
        #expect(bySection == Dictionary(uniqueKeysWithValues: BPFNames.iavf.Program.allCases.map { ($0.rawValue, $0.section) }))
        #expect(Set(ProbeTable.points.flatMap(\.programs)).union([.core_report]) == Set(BPFNames.iavf.Program.allCases))
    }

    @Test("the selftest object is one raw_tp program on sys_enter")
    func selftestObject() throws {
        let obj = try BPFObject(elf: EmbeddedBPF.selftest, name: "st_t")
        #expect(obj.programs.map(\.section) == ["raw_tp/sys_enter"])
        #expect(BPFNames.selftest.Program.allCases.map(\.section) == ["raw_tp/sys_enter"])
        #expect(Set(BPFNames.selftest.Map.allCases.map(\.rawValue)) == ["events", "drops", "fake_msg"])
    }

    @Test("plan: fentry/fexit when the kernel loads tracing programs, else kprobes, else a reason")
    func planChoosesMechanism() {
        let opts = IavfProbeSession.Options()
        let f = IavfProbeSession.plan(options: opts, features: .init(tracing: true, kprobes: true, vmlinuxBTF: true), btf: nil)
        #expect(f.allSatisfy { $0.mechanism == .fentry })
        #expect(f.first { $0.point.function == "iavf_send_pf_msg" }?.programs == [.fe_send])
        let k = IavfProbeSession.plan(options: opts, features: .init(tracing: false, kprobes: true, vmlinuxBTF: true), btf: nil)
        #expect(k.allSatisfy { $0.mechanism == .kprobe })
        #expect(k.first { $0.point.function == "iavf_open" }?.programs == [.kp_open, .kr_open])
        let none = IavfProbeSession.plan(options: opts, features: .init(tracing: false, kprobes: false, vmlinuxBTF: true), btf: nil)
        #expect(none.allSatisfy { $0.mechanism == nil && $0.reason != nil })
    }

    @Test("an injected open failure throws with the errno and the shim's message")
    func openFault() throws {
        ShimFaults.reset()
        defer { ShimFaults.reset() }
        ShimFaults.inject(.open, errno: ENOMEM)
        do {
            _ = try BPFObject(elf: EmbeddedBPF.selftest, name: "st_f")
            Issue.record("open succeeded despite the injected fault")
        } catch let e as ProbeError {
            #expect(e.errno == ENOMEM)
            #expect(e.libbpfLog.contains("injected fault: open"))
        }
        // The fault fires once: the next open works.
        _ = try BPFObject(elf: EmbeddedBPF.selftest, name: "st_f2")
        #expect(ShimFaults.calls(.open) == 2)
    }

    @Test("an injected load failure (EPERM) says how to get privileges")
    func loadFault() throws {
        ShimFaults.reset()
        defer { ShimFaults.reset() }
        let obj = try BPFObject(elf: EmbeddedBPF.selftest, name: "st_l")
        ShimFaults.inject(.load, errno: EPERM)
        do {
            try obj.load()
            Issue.record("load succeeded despite the injected fault")
        } catch let e as ProbeError {
            #expect(e.errno == EPERM)
            #expect(e.description.contains("CAP_BPF"))
        }
        #expect(!obj.isLoaded)
    }

    @Test("skip counts successful calls before the fault fires")
    func faultSkip() throws {
        ShimFaults.reset()
        defer { ShimFaults.reset() }
        ShimFaults.inject(.open, errno: EIO, skip: 1)
        _ = try BPFObject(elf: EmbeddedBPF.selftest, name: "a")
        #expect(throws: ProbeError.self) { _ = try BPFObject(elf: EmbeddedBPF.selftest, name: "b") }
    }

    @Test("knobs are set by name before load and refused for another object's variables or a wrong size")
    func knobs() throws {
        let obj = try BPFObject(elf: EmbeddedBPF.selftest, name: "st_k")
        try obj.setGlobal(BPFNames.selftest.Global.target_tgid, UInt32(1234))
        #expect(throws: ProbeError.self) { try obj.setGlobal(BPFNames.iavf.Global.snapshot_mask, UInt32(1)) }
        #expect(throws: ProbeError.self) { try obj.setGlobal(BPFNames.selftest.Global.target_tgid, UInt64(1)) } // wrong size
        #expect(BPFNames.iavf.Global.snapshot_mask.section == ".rodata")
        #expect(BPFNames.iavf.Global.core_info.section == ".bss")
    }

    @Test("generation comes from the state enumerators' names, not their values")
    func generationFromNames() {
        #expect(Generation(stateEnumerators: ["IAVF_VLAN_INVALID", "IAVF_VLAN_ADDING", "IAVF_VLAN_REMOVING"]) == .patched)
        #expect(Generation(stateEnumerators: ["IAVF_VLAN_IS_NEW", "IAVF_VLAN_DISABLE", "IAVF_VLAN_INACTIVE"]) == .unpatched)
        #expect(Generation(stateEnumerators: []) == nil)
    }

    @Test("virtchnl V2 message builder lays VIDs at byte 8 + 32*i with the tpid at +12 (outer)")
    func messageBuilder() {
        let m = VirtchnlMessage.vlanV2([VlanKey(vid: 300, tpid: 0x88a8)])
        #expect(m.count == 8 + 32)
        #expect(m[2] == 1 && m[3] == 0)
        #expect(UInt16(m[16]) | UInt16(m[17]) << 8 == 300)
        #expect(UInt16(m[20]) | UInt16(m[21]) << 8 == 0x88a8)
    }
}
