import Foundation
import Testing
@testable import IavfVM

/// What the real VM tests need, and why they cannot run when something is missing.
/// Under CI=true a missing prerequisite fails the tests instead of skipping them.
enum VMTestEnvironment {
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static let missing: [String] = {
        var missing: [String] = []
        if geteuid() != 0 { missing.append("not running as root") }
        if HostTools.find("qemu-system-x86_64") == nil { missing.append("qemu-system-x86_64 not found (apt-get install qemu-system-x86)") }
        if (try? HostTools.staticBusybox()) == nil { missing.append("no static busybox (apt-get install busybox-static)") }
        if HostTools.find("bpftool") == nil { missing.append("bpftool not found (apt-get install bpftool)") }
        if HostTools.find("dpkg-deb") == nil { missing.append("dpkg-deb not found") }
        for alias in KernelSpec.aliases where !kernelAvailable(alias) {
            missing.append("kernel '\(alias.name)' (\(alias.deb.fileName)) is not cached, not in a local kernel " +
                           "directory and not in the apt index (apt-get update, or set IAVF_CHECK_KERNEL_DIR)")
        }
        return missing
    }()

    static func kernelAvailable(_ alias: KernelAlias) -> Bool {
        let store = KernelStore()
        let key = KernelStore.cacheKey(package: alias.deb.package, version: alias.deb.version)
        if store.readyKernel(at: store.kernelsDirectory + "/" + key, label: key) != nil { return true }
        if store.findLocalDeb(alias.deb.fileName) != nil { return true }
        return AptRegistry.lookup(package: alias.deb.package, version: alias.deb.version) != nil
    }

    static var ready: Bool { missing.isEmpty }
    static var reason: Comment { Comment(rawValue: "VM tests skipped: " + missing.joined(separator: "; ")) }
}

/// Boots both Debian kernels under QEMU TCG and checks what later tests build on: iavf and 8021q
/// load, the iavf module BTF is there, its enum tells the generation, and the guest command's
/// status and output reach the host. One boot per kernel, serialized (parallel VMs gain nothing on 2 cores).
@Suite("Real VM boots", .serialized,
       .enabled(if: VMTestEnvironment.ready || VMTestEnvironment.isCI, VMTestEnvironment.reason))
struct RealVMTests {
    /// Runs in the guest; every fact is a KEY=VALUE line, then `exit 7` to prove the status travels.
    static let probeScript = #"""
    set -e
    modprobe iavf
    modprobe 8021q
    for m in iavf 8021q; do grep -q "^$m " /proc/modules && echo "MODULE=$m"; done
    test -e /sys/kernel/btf/iavf && echo "IAVF_BTF=present"
    bpftool btf dump file /sys/kernel/btf/iavf > /tmp/iavf.btf.txt
    if grep -q "'IAVF_VLAN_REMOVING'" /tmp/iavf.btf.txt; then echo "GENERATION=patched"
    elif grep -q "'IAVF_VLAN_DISABLE'" /tmp/iavf.btf.txt; then echo "GENERATION=unpatched"
    else echo "GENERATION=unknown"; fi
    echo "KERNEL=$(uname -r)"
    for d in /sys/fs/bpf /sys/kernel/tracing /sys/kernel/debug; do
      grep -q " $d " /proc/mounts && echo "MOUNT=$d"
    done
    touch /tmp/writable && echo "TMP=writable"
    echo "written by $(uname -r)" > "$SHARED_DIR/from-guest"
    "$IAVF_CHECK" doctor --format json > "$SHARED_DIR/doctor.json" || echo "DOCTOR_EXIT=$?"
    "$IAVF_CHECK" watch -o "$SHARED_DIR/watch.jsonl" --format json --settle-ms 50 -- \
        sh -c 'echo "PASS: guest case one"; echo "not ok 2 guest case two"' > "$SHARED_DIR/watch.json" 2> "$SHARED_DIR/watch.err" \
        || echo "WATCH_EXIT=$?"
    echo "to stderr" >&2
    exit 7
    """#

    @Test("boots, loads iavf and 8021q, finds the iavf BTF and detects the generation",
          arguments: ["unpatched", "patched"])
    func bootAndDetect(kernelName: String) throws {
        try #require(VMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(VMTestEnvironment.missing.joined(separator: "; "))")
        let alias = try #require(KernelSpec.alias(named: kernelName))
        let shared = try TempDir("iavfvm-shared")
        defer { shared.cleanup() }
        var options = VirtualMachine.Options(kernel: kernelName, command: ["sh", "-c", Self.probeScript])
        options.timeout = 180
        options.writableDirectories = [shared.path]
        options.environment = [("SHARED_DIR", shared.path), ("IAVF_CHECK", try iavfCheckBinary())]
        let progress = VMProgress(enabled: true)
        // A failed boot is an error of the test (thrown), never an early return.
        let outcome = try VirtualMachine(progress: progress).run(options)
        let result = outcome.result
        let out = result.stdoutText
        let facts = Set(out.split(separator: "\n").map(String.init))
        let commandStart = outcome.commandStartSeconds ?? .nan
        print(String(format: "VM boot time [%@ %@]: command start -> guest command start %.1f s " +
                     "(qemu boot %.1f s, prepare %.1f s, kernel %@), total %.1f s",
                     kernelName, outcome.kernel.release, commandStart, result.bootSeconds ?? .nan,
                     outcome.prepareSeconds, outcome.kernel.wasCached ? "cached" : "fetched/extracted now",
                     outcome.totalSeconds))

        #expect(result.exitStatus == 7, "guest stdout:\n\(out)\nstderr:\n\(result.stderrText)")
        #expect(facts.contains("MODULE=iavf"))
        #expect(facts.contains("MODULE=8021q"))
        #expect(facts.contains("IAVF_BTF=present"))
        #expect(facts.contains("GENERATION=\(alias.generation.rawValue)"), "guest stdout:\n\(out)")
        #expect(facts.contains("KERNEL=\(outcome.kernel.release)"))
        for mount in ["/sys/fs/bpf", "/sys/kernel/tracing", "/sys/kernel/debug"] {
            #expect(facts.contains("MOUNT=\(mount)"))
        }
        #expect(facts.contains("TMP=writable"))
        #expect(result.stderrText == "to stderr\n")
        #expect((try? String(contentsOfFile: shared.file("from-guest"), encoding: .utf8)) ==
                "written by \(outcome.kernel.release)\n", "--writable directory did not reach the host")
        if outcome.kernel.wasCached {
            #expect(commandStart < 15, "issue 4 budget: under 15 s from the command to the guest command")
        }

        // The live-probe layer in the guest: every probe of spec 5.3 loads (CO-RE against the
        // iavf module BTF), attaches, and the generation comes from the BTF enum.
        #expect(!out.contains("DOCTOR_EXIT="), "doctor failed in the guest:\n\(out)\n\(result.stderrText)")
        let doctorData = try #require(FileManager.default.contents(atPath: shared.file("doctor.json")), "no doctor.json")
        let doctor = try #require(try JSONSerialization.jsonObject(with: doctorData) as? [String: Any])
        #expect(doctor["generation"] as? String == alias.generation.rawValue)
        #expect(doctor["kernel"] as? String == outcome.kernel.release)
        #expect(doctor["attach_tested"] as? Bool == true)
        let probes = try #require(doctor["probes"] as? [[String: Any]])
        for function in Self.spec53 {
            let rows = probes.filter { $0["function"] as? String == function }
            #expect(!rows.isEmpty, "doctor does not list \(function)")
            for row in rows {
                #expect(row["status"] as? String == "attachable", "\(function) \(row["kind"] ?? ""): \(row)")
            }
        }
        #expect(!probes.contains { ["failed", "missing"].contains($0["status"] as? String) }, "\(probes)")
        // record/watch in the guest: probes attached, the command's results became marks, the
        // trace has the generation from BTF. (No iavf device exists yet, so no driver events.)
        #expect(!out.contains("WATCH_EXIT="), "watch failed in the guest:\n\(out)\n\(result.stderrText)")
        let watchData = try #require(FileManager.default.contents(atPath: shared.file("watch.json")), "no watch.json")
        let watch = try #require(try JSONSerialization.jsonObject(with: watchData) as? [String: Any])
        #expect(watch["verdict"] as? String == "pass")
        let cases = (watch["cases"] as? [[String: Any]]) ?? []
        #expect(cases.map { $0["name"] as? String } == ["guest case one", "guest case two"])
        #expect(cases.map { $0["result"] as? String } == ["PASS", "FAIL"])
        let traceText = (try? String(contentsOfFile: shared.file("watch.jsonl"), encoding: .utf8)) ?? ""
        #expect(traceText.hasPrefix(#"{"format":"iavf-trace","version":1,"generation":"\#(alias.generation.rawValue)""#),
                "trace: \(traceText.prefix(300))")
        print("doctor in the guest [\(kernelName)]: generation \(doctor["generation"] ?? "?"), " +
              "\(probes.filter { $0["status"] as? String == "attachable" }.count) attachable, " +
              "\(probes.filter { $0["status"] as? String == "inlined" }.count) inlined")
    }

    /// The functions issue 3 probes, present in both generations (spec 5.3).
    static let spec53 = ["iavf_vlan_rx_add_vid", "iavf_vlan_rx_kill_vid", "iavf_add_vlans", "iavf_del_vlans",
                         "iavf_send_pf_msg", "iavf_virtchnl_completion", "iavf_down", "iavf_open", "iavf_close",
                         "iavf_up_complete", "iavf_reset_task"]

    /// The `iavf-check` built beside this test bundle.
    func iavfCheckBinary() throws -> String {
        let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let bin = dir.appendingPathComponent("iavf-check").path
        try #require(FileManager.default.isExecutableFile(atPath: bin), "iavf-check not built at \(bin)")
        return bin
    }
}
