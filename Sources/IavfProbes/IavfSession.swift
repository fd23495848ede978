import IavfModel
import CIavfEvents
import CIavfShim
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the running kernel offers for attaching to module functions.
public struct KernelFeatures: Sendable {
    /// BPF_PROG_TYPE_TRACING (fentry/fexit) loads.
    public var tracing: Bool
    /// The kprobe PMU exists (kprobe/kretprobe through perf events).
    public var kprobes: Bool
    public var vmlinuxBTF: Bool

    public static func probe() -> KernelFeatures {
        LibbpfLog.install()
        let tracing = iavfshim_probe_tracing() == 1
        let kprobes = FileManager.default.fileExists(atPath: "/sys/bus/event_source/devices/kprobe/type")
        let btf = FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux")
        return KernelFeatures(tracing: tracing, kprobes: kprobes, vmlinuxBTF: btf)
    }
}

/// The plan for one probe point: which mechanism, which programs.
public struct ProbeChoice: Sendable {
    public var point: ProbePoint
    public var mechanism: ProbeMechanism?
    public var programs: [BPFNames.iavf.Program]
    /// Why nothing could be chosen.
    public var reason: String?
}

/// The live iavf recorder's BPF side: the embedded iavf.bpf.c, one mechanism
/// per probe point chosen from what the kernel has, loaded and attached.
///
/// Typical use (record/watch):
///
///     let session = try IavfProbeSession(options: .init())
///     for try await item in session.pipeline.stream() { ... }   // or session.pipeline.run
///
public final class IavfProbeSession {
    public struct Options: Sendable {
        /// Snapshot the filter list at function entries (before the enter record) too.
        public var snapshotAtEnter = false
        /// Snapshot the list at function exits (after the exit record). The default.
        public var snapshotAtExit = true
        /// Record only this netdev's adapter (0: all).
        public var ifindex: Int32 = 0
        /// Ring buffer bytes (power of two, at least a page).
        public var ringBufferBytes: UInt32 = 1 << 22
        /// Force a mechanism instead of choosing (nil: fentry if possible, else kprobe).
        public var mechanism: ProbeMechanism?
        /// Only these functions (nil: every point of ProbeTable).
        public var functions: Set<String>?
        public init() {}
    }

    public let pipeline: ProbePipeline
    public let choices: [ProbeChoice]
    public let generation: Generation?
    public let names: KernelNames
    /// What CO-RE resolved (the core_report program), if it ran.
    public let coreInfo: iavf_core_info?

    public init(options: Options = Options(), features: KernelFeatures = .probe()) throws {
        let btf = try KernelBTF(module: "iavf")
        let (names, generation) = KernelNames.from(btf: btf)
        let object = try BPFObject(elf: EmbeddedBPF.iavf, name: "iavf_check")
        let choices = Self.plan(options: options, features: features, btf: btf)
        let wanted = Set(choices.flatMap(\.programs).map(\.rawValue))
        for p in object.programs where p.attachKind != "syscall" {
            try object.setAutoload(p, wanted.contains(p.name))
        }
        var mask: UInt32 = 0
        if options.snapshotAtEnter { mask |= UInt32(IAVF_SNAP_AT_ENTER) }
        if options.snapshotAtExit { mask |= UInt32(IAVF_SNAP_AT_EXIT) }
        try object.setGlobal(BPFNames.iavf.Global.snapshot_mask, mask)
        try object.setGlobal(BPFNames.iavf.Global.filter_ifindex, options.ifindex)
        try object.setMaxEntries(map: BPFNames.iavf.Map.events, options.ringBufferBytes)
        try object.load()

        var info: iavf_core_info?
        if let report = object.program(BPFNames.iavf.Program.core_report), (try? object.testRun(report)) != nil {
            info = try? object.global(BPFNames.iavf.Global.core_info, as: iavf_core_info.self, initial: iavf_core_info())
        }
        let pipeline = ProbePipeline(object: object, decoder: ProbeEventDecoder(names: names),
                                     events: BPFNames.iavf.Map.events, drops: BPFNames.iavf.Map.drops)
        try pipeline.attachAll()
        self.pipeline = pipeline
        self.choices = choices
        self.names = names
        self.coreInfo = info
        // BTF decides; the BPF side's CO-RE view must agree when it ran.
        if let info, info.ran == 1 {
            let bpfGen: Generation? = info.generation == IAVF_GEN_PATCHED.rawValue ? .patched
                : info.generation == IAVF_GEN_UNPATCHED.rawValue ? .unpatched : nil
            self.generation = bpfGen == generation ? generation : nil
        } else {
            self.generation = generation
        }
    }

    /// One mechanism per point: fentry/fexit when the kernel loads tracing programs,
    /// else kprobe/kretprobe; a point whose function is not in iavf's BTF is skipped.
    public static func plan(options: Options, features: KernelFeatures, btf: KernelBTF?) -> [ProbeChoice] {
        ProbeTable.points.compactMap { point in
            if let only = options.functions, !only.contains(point.function) { return nil }
            if let btf, !btf.hasFunction(point.function) {
                return ProbeChoice(point: point, mechanism: nil, programs: [],
                                   reason: "\(point.function) is not in the iavf module's BTF (inlined or renamed)")
            }
            let mech: ProbeMechanism?
            if let forced = options.mechanism {
                mech = forced
            } else if features.tracing {
                mech = .fentry
            } else if features.kprobes {
                mech = .kprobe
            } else {
                mech = nil
            }
            switch mech {
            case .fentry:
                return ProbeChoice(point: point, mechanism: .fentry,
                                   programs: [point.entryPrograms.fentry] + (point.exitPrograms.map { [$0.fexit] } ?? []))
            case .kprobe:
                return ProbeChoice(point: point, mechanism: .kprobe,
                                   programs: [point.entryPrograms.kprobe] + (point.exitPrograms.map { [$0.kretprobe] } ?? []))
            case nil:
                return ProbeChoice(point: point, mechanism: nil, programs: [],
                                   reason: "this kernel loads neither fentry/fexit programs nor kprobes")
            }
        }
    }

    public func close() { pipeline.close() }
}
