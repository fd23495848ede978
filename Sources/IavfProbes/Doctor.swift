import IavfModel
import CIavfShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Everything `iavf-check doctor` reports, as data.
public struct DoctorReport: Codable, Sendable {
    public struct Probe: Codable, Sendable {
        public var function: String
        /// fentry, fexit, kprobe, kretprobe.
        public var kind: String
        /// attachable, inlined, missing, failed.
        public var status: String
        public var error: String?
    }
    public struct Problem: Codable, Sendable {
        public var problem: String
        public var fix: String
        public init(problem: String, fix: String) { self.problem = problem; self.fix = fix }
    }
    public struct Privileges: Codable, Sendable {
        public var root: Bool
        public var cap_bpf: Bool
        public var cap_perfmon: Bool
        public var cap_sys_admin: Bool
    }
    public struct Features: Codable, Sendable {
        public var fentry: Bool
        public var kprobe: Bool
    }
    public struct ProgramStat: Codable, Sendable {
        public var id: UInt32
        public var name: String
        public var runs: UInt64
        public var ns_per_run: Double?
    }

    public var kernel: String
    public var vmlinux_btf: Bool
    public var iavf_loaded: Bool
    public var iavf_btf: Bool
    public var generation: String
    public var state_names: [String: String]?
    public var features: Features
    public var mechanism: String?
    public var privileges: Privileges
    public var probes: [Probe]
    public var attach_tested: Bool
    public var problems: [Problem]
    public var program_stats: [ProgramStat]?
}

public enum Doctor {
    /// Collect the report. `attachTest`: when privileged and iavf is present, really load
    /// and attach the chosen programs (then release them) to turn "attachable" into a fact.
    public static func run(attachTest: Bool = true) -> DoctorReport {
        var problems: [DoctorReport.Problem] = []
        let kernel = kernelRelease()
        let fm = FileManager.default
        let vmlinuxBTF = fm.fileExists(atPath: "/sys/kernel/btf/vmlinux")
        let iavfLoaded = fm.fileExists(atPath: "/sys/module/iavf")
        let iavfBTFPresent = fm.fileExists(atPath: "/sys/kernel/btf/iavf")
        let priv = privileges()
        let privileged = priv.root || (priv.cap_bpf && priv.cap_perfmon) || priv.cap_sys_admin
        let features = privileged ? KernelFeatures.probe() : KernelFeatures(tracing: false, kprobes: false, vmlinuxBTF: vmlinuxBTF)

        if !vmlinuxBTF {
            problems.append(.init(problem: "no vmlinux BTF (/sys/kernel/btf/vmlinux)",
                                  fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian's is)"))
        }
        if !iavfLoaded {
            problems.append(.init(problem: "the iavf module is not loaded", fix: "modprobe iavf (and create a VF), or run in a VM: iavf-check vm"))
        } else if !iavfBTFPresent {
            problems.append(.init(problem: "iavf is loaded but has no BTF (/sys/kernel/btf/iavf)",
                                  fix: "use a kernel with CONFIG_DEBUG_INFO_BTF_MODULES=y and a module built with it"))
        }
        if !privileged {
            problems.append(.init(problem: "not privileged for BPF (need CAP_BPF and CAP_PERFMON, or root)",
                                  fix: "run as root, or: setcap cap_bpf,cap_perfmon+ep $(command -v iavf-check)"))
        } else if !features.tracing && !features.kprobes {
            problems.append(.init(problem: "this kernel loads neither fentry/fexit programs nor kprobes",
                                  fix: "use a kernel with CONFIG_FUNCTION_TRACER/CONFIG_BPF_JIT (fentry) or CONFIG_KPROBE_EVENTS"))
        }

        var btf: KernelBTF?
        var generation: Generation?
        var stateNames: [String: String]?
        if iavfBTFPresent, let b = try? KernelBTF(module: "iavf") {
            btf = b
            let (names, gen) = KernelNames.from(btf: b)
            generation = gen
            stateNames = Dictionary(uniqueKeysWithValues: names.states.map { (String($0.key), $0.value) })
            if gen == nil {
                problems.append(.init(problem: "enum iavf_vlan_state_t has neither REMOVING nor DISABLE: unknown driver generation",
                                      fix: "the checker will apply only the spec rules; report the kernel version"))
            }
        }

        var mechanism: ProbeMechanism?
        if features.tracing { mechanism = .fentry } else if features.kprobes { mechanism = .kprobe }
        let (entryKind, exitKind) = mechanism == .kprobe ? ("kprobe", "kretprobe") : ("fentry", "fexit")
        let kallsyms = iavfLoaded ? moduleSymbols("iavf") : []

        var probes: [DoctorReport.Probe] = []
        for point in ProbeTable.points {
            var kinds = [entryKind]
            if point.hasExit { kinds.append(exitKind) }
            for kind in kinds {
                var status = "attachable"
                var error: String?
                if !iavfLoaded {
                    status = "missing"; error = "iavf not loaded"
                } else if let btf, !btf.hasFunction(point.function), !kallsyms.contains(point.function) {
                    status = "missing"; error = "not in iavf's BTF or kallsyms"
                } else if btf == nil && !kallsyms.contains(point.function) {
                    status = "missing"; error = "no iavf BTF and no kallsyms entry"
                } else if mechanism == nil {
                    status = "failed"; error = privileged ? "kernel supports neither fentry nor kprobes" : "not privileged"
                }
                probes.append(.init(function: point.function, kind: kind, status: status, error: error))
            }
        }
        for (fn, via) in ProbeTable.inlined {
            let present = (btf?.hasFunction(fn) ?? false) || kallsyms.contains(fn)
            probes.append(.init(function: fn, kind: entryKind, status: present ? "attachable" : (iavfLoaded ? "inlined" : "missing"),
                                error: present ? nil : "inlined: observed through \(via)"))
        }

        var tested = false
        if attachTest && privileged && iavfLoaded && btf != nil && mechanism != nil {
            tested = true
            let results = attachEach(mechanism: mechanism!)
            for i in probes.indices {
                let key = "\(probes[i].function)/\(probes[i].kind)"
                if let r = results[key] {
                    probes[i].status = r == nil ? "attachable" : "failed"
                    probes[i].error = r ?? nil
                }
            }
            for p in probes where p.status == "failed" {
                problems.append(.init(problem: "\(p.kind) \(p.function) failed: \(p.error ?? "")",
                                      fix: "see the libbpf message; check that the iavf module matches the running kernel"))
            }
        }

        return DoctorReport(
            kernel: kernel, vmlinux_btf: vmlinuxBTF, iavf_loaded: iavfLoaded, iavf_btf: iavfBTFPresent,
            generation: generation?.rawValue ?? "unknown", state_names: stateNames,
            features: .init(fentry: features.tracing, kprobe: features.kprobes),
            mechanism: mechanism?.rawValue,
            privileges: priv, probes: probes, attach_tested: tested, problems: problems, program_stats: nil)
    }

    /// Load the iavf object with one mechanism and attach program by program.
    /// Key "function/kind" -> nil (attached) or the error text.
    static func attachEach(mechanism: ProbeMechanism) -> [String: String?] {
        var results: [String: String?] = [:]
        var options = IavfProbeSession.Options()
        options.mechanism = mechanism
        do {
            let btf = try KernelBTF(module: "iavf")
            let object = try BPFObject(elf: EmbeddedBPF.iavf, name: "iavf_doctor")
            let plan = IavfProbeSession.plan(options: options, features: .probe(), btf: btf)
            let wanted = Set(plan.flatMap(\.programs).map(\.rawValue))
            for p in object.programs where p.attachKind != "syscall" { try object.setAutoload(p, wanted.contains(p.name)) }
            try object.setMaxEntries(map: BPFNames.iavf.Map.events, 1 << 16)
            try object.load()
            var links: [BPFLink] = []
            for p in object.programs where wanted.contains(p.name) {
                guard let fn = p.target else { continue }
                let key = "\(fn)/\(p.attachKind)"
                do { links.append(try object.attach(p)); results[key] = .some(nil) } catch { results[key] = "\(error)" }
            }
            links.forEach { $0.detach() }
        } catch {
            for point in ProbeTable.points {
                let kinds = mechanism == .kprobe ? ["kprobe", "kretprobe"] : ["fentry", "fexit"]
                for k in kinds { results["\(point.function)/\(k)"] = "\(error)" }
            }
        }
        return results
    }

    public static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    public static func privileges() -> DoctorReport.Privileges {
        var capEff: UInt64 = 0
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("CapEff:") {
                capEff = UInt64(line.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
            }
        }
        func has(_ bit: UInt64) -> Bool { capEff & (1 << bit) != 0 }
        return .init(root: geteuid() == 0, cap_bpf: has(39), cap_perfmon: has(38), cap_sys_admin: has(21))
    }

    /// Function names of `module` in /proc/kallsyms.
    static func moduleSymbols(_ module: String) -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/kallsyms", encoding: .utf8) else { return [] }
        var out = Set<String>()
        let tag = "[\(module)]"
        for line in text.split(separator: "\n") where line.hasSuffix(tag) {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count >= 3 { out.insert(String(f[2].split(separator: "\t").first ?? f[2])) }
        }
        return out
    }

    /// Run-time stats of every loaded program whose name is one of ours (any process).
    /// Needs kernel.bpf_stats_enabled=1 (or an open BPF_ENABLE_STATS fd) to be non-zero.
    public static func programStats() -> [DoctorReport.ProgramStat] {
        let ours = Set(BPFNames.iavf.Program.allCases.filter { $0.attachKind != "syscall" }.map(\.rawValue)
                       + BPFNames.selftest.Program.allCases.map(\.rawValue))
        var out: [DoctorReport.ProgramStat] = []
        var id: UInt32 = 0
        while true {
            let next = iavfshim_prog_next_id(id)
            if next <= 0 { break }
            id = UInt32(next)
            var name = [CChar](repeating: 0, count: 16)
            var type: UInt32 = 0, runs: UInt64 = 0, ns: UInt64 = 0
            guard iavfshim_prog_info_by_id(id, &name, &type, &runs, &ns) == 0 else { continue }
            let n = String(cString: name)
            guard ours.contains(n) else { continue }
            out.append(.init(id: id, name: n, runs: runs, ns_per_run: runs > 0 ? Double(ns) / Double(runs) : nil))
        }
        return out
    }
}
