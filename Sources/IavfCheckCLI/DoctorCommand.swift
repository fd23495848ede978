import ArgumentParser
import Foundation
import IavfProbes
#if canImport(Glibc)
import Glibc
#endif

/// `iavf-check doctor`: can this machine record a live trace, and if not, why not.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check kernel, BTF, iavf, privileges and every probe point; say how to fix what is missing.",
        discussion: """
        Reports the kernel release, vmlinux and iavf module BTF, whether iavf is loaded, the \
        driver generation (from enum iavf_vlan_state_t in BTF: REMOVING means patched, \
        DISABLE/INACTIVE unpatched), and for every probe point whether it is attachable, \
        inlined, missing or failed. With privileges and iavf present it really loads and \
        attaches each program once, then releases it.

        Exit codes: 0 ready to record, 3 an environment problem was found.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Flag(help: "Do not load or attach anything; report from BTF, kallsyms and features only.")
    var noAttachTest = false

    @Flag(help: "Also print ns per program run of our loaded programs (any process); enables kernel BPF stats while it runs.")
    var stats = false

    @Flag(help: "Run the host pipeline self-test (raw_tp program -> ring buffer -> Swift decoder).")
    var selftest = false

    @Option(help: .hidden)
    var holdSelftest: Double?

    func run() throws {
        if let hold = holdSelftest {
            // Test hook: attach the selftest program, print its ids, then wait (to be killed).
            let st = try SelftestPipeline()
            let ids = st.pipeline.kernelIDs
            print("prog_ids=\(ids.programs.map(String.init).joined(separator: ",")) link_ids=\(ids.links.map(String.init).joined(separator: ","))")
            fflush(stdout)
            Thread.sleep(forTimeInterval: hold)
            st.close()
            return
        }

        var report = Doctor.run(attachTest: !noAttachTest)
        var selftestResult: String?
        if selftest {
            selftestResult = Self.runSelftest()
            if !(selftestResult ?? "").hasPrefix("ok") {
                report.problems.append(.init(problem: "host pipeline self-test: \(selftestResult ?? "")",
                                             fix: "run as root; check the libbpf message above"))
            }
        }
        if stats {
            let fd = Self.enableStats()
            report.program_stats = Doctor.programStats()
            if fd >= 0 { close(fd) }
        }

        switch format {
        case .json:
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try enc.encode(report)
            print(String(decoding: data, as: UTF8.self))
        case .text:
            print(Self.text(report, selftest: selftestResult))
        }
        if !report.problems.isEmpty { throw CommandOutcome(ExitStatus.environment) }
    }

    static func enableStats() -> Int32 {
        // Stats stay enabled while the fd is open; kernel.bpf_stats_enabled=1 does the same globally.
        ProbeStatsSwitch.enable()
    }

    static func runSelftest() -> String {
        do {
            let st = try SelftestPipeline()
            defer { st.close() }
            var n = 0
            try st.pipeline.setHandler { item in
                if case .event = item { n += 1 }
                return true
            }
            for i in 0..<10 { st.trigger(mode: .vid, param: UInt64(100 + i), count: 10) }
            try st.pipeline.finish()
            let drops = try st.pipeline.dropCount()
            return n == 100 && drops == 0 ? "ok (100 of 100 records decoded, 0 dropped)" : "received \(n) of 100, \(drops) dropped"
        } catch {
            return "\(error)"
        }
    }

    static func text(_ r: DoctorReport, selftest: String?) -> String {
        var out: [String] = []
        out.append("kernel         \(r.kernel)")
        out.append("vmlinux BTF    \(r.vmlinux_btf ? "yes" : "NO")")
        out.append("iavf           \(r.iavf_loaded ? "loaded" : "not loaded"), module BTF \(r.iavf_btf ? "yes" : "no")")
        out.append("generation     \(r.generation)")
        if let s = r.state_names {
            out.append("states         " + s.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        out.append("fentry/fexit   \(r.features.fentry ? "yes" : "no");  kprobes \(r.features.kprobe ? "yes" : "no");  using \(r.mechanism ?? "nothing")")
        let p = r.privileges
        out.append("privileges     root \(p.root ? "yes" : "no"), CAP_BPF \(p.cap_bpf ? "yes" : "no"), CAP_PERFMON \(p.cap_perfmon ? "yes" : "no")")
        out.append("")
        out.append("probes\(r.attach_tested ? " (attach tested)" : ""):")
        for pr in r.probes {
            let pad = pr.function.padding(toLength: 28, withPad: " ", startingAt: 0)
            let kind = pr.kind.padding(toLength: 10, withPad: " ", startingAt: 0)
            out.append("  \(pad) \(kind) \(pr.status)\(pr.error.map { "  (\($0))" } ?? "")")
        }
        if let selftest { out.append(""); out.append("host pipeline self-test: \(selftest)") }
        if let stats = r.program_stats {
            out.append("")
            out.append("program stats (ns per run):")
            if stats.isEmpty { out.append("  none of our programs is loaded") }
            for s in stats {
                out.append("  \(s.name) (id \(s.id)): \(s.runs) runs, \(s.ns_per_run.map { String(format: "%.0f ns/run", $0) } ?? "-")")
            }
        }
        out.append("")
        if r.problems.isEmpty {
            out.append("ready: nothing to fix")
        } else {
            out.append("problems:")
            for pb in r.problems { out.append("  - \(pb.problem)\n    fix: \(pb.fix)") }
        }
        return out.joined(separator: "\n")
    }
}
