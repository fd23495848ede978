import Foundation
import Testing
@testable import IavfVM

extension RealVMTests {
/// `iavf-check suite run --kernel both` as a user runs it: both real drivers against the
/// emulated PF, the 51 state/reset/ping cases plus dmesg, the checker attached.
@Suite("Scenario suite in real VMs", .serialized,
       .enabled(if: PFVMTestEnvironment.ready || VMTestEnvironment.isCI, PFVMTestEnvironment.reason))
struct ScenarioSuiteVMTests {
    static let seedFailures = [
        "state: 8 VLANs add/remove", "state: stress 8 VLANs (fill to max)",
        "state: over-limit VLAN rejected, existing survive", "reset: all 8 VLANs recover after VF FLR",
        "reset: all 8 VLANs survive PF link flap", "reset: all 8 VLANs survive PF PCI FLR",
    ]

    /// The cases that churn one VLAN back to back (one `ip -batch`, or rtnetlink requests a few
    /// milliseconds apart): a re-add and a delete inside one DEL's round trip, P-readd-kill.
    static let stormCases: Set<String> = [
        "state: rapid add/del same VLAN x100", "state: remove+re-add loop x50", "state: add/del storm (200 ops, 5 VIDs)",
        "ping: VLANs work after rapid add/del churn",
    ]

    @Test("patched passes every case, the checker finding nothing but P-readd-kill in the storm cases; unpatched fails the 8-VLAN cases and the checker names the leak")
    func suiteBothKernels() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        let out = try TempDir("iavf-suite")
        defer {
            // A by-hand run can keep the outputs for their figures (README tables).
            if let keep = ProcessInfo.processInfo.environment["IAVF_CHECK_KEEP_RESULTS"], !keep.isEmpty {
                try? FileManager.default.removeItem(atPath: keep)
                try? FileManager.default.copyItem(atPath: out.path, toPath: keep)
            }
            out.cleanup()
        }
        let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("iavf-check").path
        let t0 = Date()
        // Two guests at once, as the main job runs them.
        let r = try Subprocess.run(bin, ["suite", "run", "--kernel", "both", "--jobs", "2", "-o", out.path,
                                         "--pf-module", PFVMTestEnvironment.packageRoot + "/pf-module"])
        let seconds = Date().timeIntervalSince(t0)
        print("suite --kernel both --jobs 2: exit \(r.status) in \(Int(seconds)) s\n\(r.stdout)")
        let data = try #require(FileManager.default.contents(atPath: out.file("suite.json")), "no suite.json:\n\(r.stderr.suffix(3000))")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let kernels = try #require(json["kernels"] as? [[String: Any]])
        #expect(kernels.map { $0["kernel"] as? String } == ["unpatched", "patched"])
        func cases(_ k: [String: Any]) -> [[String: Any]] { k["cases"] as? [[String: Any]] ?? [] }
        for k in kernels {
            // What the real driver exercised of its model, and where the time went.
            let tables = (k["coverage"] as? [String: Any])?["tables"] as? [[String: Any]] ?? []
            #expect(tables.contains { ($0["rows_hit"] as? Int ?? 0) > 5 }, "\(k["kernel"] ?? ""): no model coverage in suite.json")
            #expect(((k["time"] as? [String: Any])?["cases"] as? Double ?? 0) > 0, "\(k["kernel"] ?? ""): no time breakdown")
            #expect(cases(k).count == 52, "51 cases and the dmesg check")
            for c in cases(k) {
                let rules = c["rules"] as? [String] ?? []
                #expect(!rules.contains("state-divergence"), "\(k["kernel"] ?? "") \(c["name"] ?? ""): the model diverged from the real driver")
            }
            #expect(cases(k).last?["result"] as? String == "PASS", "dmesg: \(cases(k).last?["reason"] ?? "")")
        }
        let patched = kernels[1], unpatched = kernels[0]
        #expect(cases(patched).allSatisfy { $0["result"] as? String == "PASS" },
                "patched failures: \(cases(patched).filter { $0["result"] as? String != "PASS" }.map { "\($0["name"] ?? ""): \($0["reason"] ?? "")" })")
        // The checker finds nothing in the patched driver but, at the storm cases' hardware
        // pace, sometimes P-readd-kill (a VLAN deleted, re-added and deleted again before the
        // PF answers the first DEL): a hole of the patched design, reported, not hidden.
        let patchedRules = Set(cases(patched).flatMap { $0["rules"] as? [String] ?? [] })
        #expect(patchedRules.isSubset(of: ["premature-free(P-readd-kill)"]), "patched findings: \(patchedRules.sorted())")
        for c in cases(patched) where !(c["rules"] as? [String] ?? []).isEmpty {
            #expect(Self.stormCases.contains(c["name"] as? String ?? ""), "P-readd-kill outside the storm cases: \(c["name"] ?? "")")
        }
        #expect(patched["checker_verdict"] as? String == (patchedRules.isEmpty ? "pass" : "fail"))
        let failedSeed = cases(unpatched).filter { Self.seedFailures.contains($0["name"] as? String ?? "") && $0["result"] as? String != "PASS" }
        #expect(!failedSeed.isEmpty, "the unpatched driver passed all six 8-VLAN cases of the seed")
        for c in cases(unpatched) where (c["reason"] as? String ?? "").contains("Input/output error") {
            let rules = c["rules"] as? [String] ?? []
            #expect(rules.contains { $0.hasPrefix("spurious-limit-reject") }, "\(c["name"] ?? ""): EIO without spurious-limit-reject: \(rules)")
        }
        #expect(unpatched["checker_verdict"] as? String == "fail")
    }

    @Test("bench downup: the patched driver sends no VLAN message on down/up, the unpatched one a DEL and an ADD")
    func downUpBench() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        let out = try TempDir("iavf-downup")
        defer { out.cleanup() }
        let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("iavf-check").path
        let r = try Subprocess.run(bin, ["bench", "downup", "--vlans", "0,8", "--iterations", "3", "-o", out.path,
                                         "--pf-module", PFVMTestEnvironment.packageRoot + "/pf-module"])
        print("bench downup (3 cycles):\n\(r.stdout)")
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        let data = try #require(FileManager.default.contents(atPath: out.file("downup.json")))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let kernels = try #require(json["kernels"] as? [[String: Any]])
        func count(_ k: String, _ vlans: Int) -> [String: Any]? {
            (kernels.first { $0["kernel"] as? String == k }?["counts"] as? [[String: Any]])?.first { $0["vlans"] as? Int == vlans }
        }
        #expect(count("patched", 8)?["vlan_messages_per_cycle"] as? Double == 0)
        #expect(count("unpatched", 8)?["vlan_messages_per_cycle"] as? Double == 2, "spec 7: N = 8 costs 1 DEL + 1 ADD")
        #expect(count("unpatched", 0)?["vlan_messages_per_cycle"] as? Double == 0)
        for k in ["unpatched", "patched"] { #expect((count(k, 8)?["p50_ms"] as? Double ?? 0) > 0) }
        let patchedChecker = kernels.first { $0["kernel"] as? String == "patched" }?["checker"] as? String ?? ""
        #expect(patchedChecker.hasPrefix("pass"), "patched checker: \(patchedChecker)")
        #expect(FileManager.default.fileExists(atPath: out.file("downup.svg")))
    }

    @Test("stress: a rejected DEL is a finding on unpatched, shrunk to the three ops that make it; patched keeps the filter and passes")
    func stressReplayAndShrink() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        let out = try TempDir("iavf-stress")
        defer { out.cleanup() }
        let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("iavf-check").path
        // Three ops matter (add 100, the PF refuses the next DEL, del 100); the rest is noise.
        let replay = "add 101; add 100; wait 20; add 103; reject-del; wait 5; del 100; add 102; wait 50"
        // Confirmed as a rate: the minimal sequence reproduces R4 nearly always under TCG, not
        // always (one CI run in many saw a single confirmation run miss it).
        let r = try Subprocess.run(bin, ["stress", "--kernel", "both", "--replay", replay, "--tries", "1",
                                         "--shrink-attempts", "24", "--confirm", "3", "-o", out.path, "--format", "json",
                                         "--pf-module", PFVMTestEnvironment.packageRoot + "/pf-module"])
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]],
                                   "stress --replay (exit \(r.status)):\n\(r.stdout.prefix(3000))\n\(r.stderr.suffix(3000))")
        // What a failure needs to be read: each kernel's outcome and the shrinking log, not the
        // coverage that fills most of the JSON.
        for k in reports {
            print("stress \(k["kernel"] ?? "?"): \(k["verdict"] ?? "?"), target \(k["target"] ?? "-"), minimal \(k["minimal"] ?? "-"), confirmed \(k["confirmed"] ?? "-")/\(k["confirmRuns"] ?? "-"), findings \((k["findings"] as? [[String: Any]] ?? []).map { "\($0["rule"] ?? "?") vid \($0["vid"] ?? "?")" })")
        }
        print("stress log:\n\(r.stderr.split(separator: "\n").filter { $0.contains("shrunk") || $0.contains("minimal") || $0.contains("cut after") || $0.contains("attempt") }.suffix(40).joined(separator: "\n"))")
        #expect(r.status == 1, "a violation on unpatched: exit 1\n\(r.stderr.suffix(2000))")
        #expect(reports.map { $0["kernel"] as? String } == ["unpatched", "patched"])
        try #require(reports.count == 2, "one report per kernel")
        let u = reports[0], p = reports[1]
        #expect(u["verdict"] as? String == "fail")
        #expect(u["target"] as? String == "untracked-hw-filter(R4)")
        let minimal = u["minimal"] as? [String] ?? []
        let core = ["add 100", "reject-del", "del 100"]
        #expect(minimal.filter { core.contains($0) } == core, "minimal keeps the three ops in order: \(minimal)")
        #expect(minimal.count <= 4, "minimal: \(minimal)")
        #expect((u["confirmed"] as? Int ?? 0) >= 2, "R4 reproduced \(u["confirmed"] ?? 0) of 3 times by the minimal sequence")
        let findings = u["findings"] as? [[String: Any]] ?? []
        #expect(findings.contains { $0["rule"] as? String == "untracked-hw-filter" && $0["vid"] as? Int == 100 && $0["op"] != nil })
        #expect(FileManager.default.fileExists(atPath: u["minimal_trace"] as? String ?? u["minimalTrace"] as? String ?? "/nonexistent"))
        #expect(p["verdict"] as? String == "pass", "patched findings: \(p["findings"] ?? "")")
        #expect(p["generation"] as? String == "patched" && u["generation"] as? String == "unpatched")
    }

    @Test("stress --search --mode coverage: sequence after sequence in one guest, each next one aimed at the model rows still unhit")
    func coverageSearch() throws {
        try #require(PFVMTestEnvironment.ready,
                     "CI=true, so the VM tests must run, but: \(PFVMTestEnvironment.missing.joined(separator: "; "))")
        let out = try TempDir("iavf-search")
        defer { out.cleanup() }
        let bin = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("iavf-check").path
        // A target no patched driver shows, so the search runs its whole (short) budget.
        let r = try Subprocess.run(bin, ["stress", "--kernel", "patched", "--seed", "3", "--ops", "6", "--search", "25",
                                         "--mode", "coverage", "--target", "spurious-limit-reject", "--shrink-attempts", "0",
                                         "--confirm", "0", "-o", out.path, "--format", "json",
                                         "--pf-module", PFVMTestEnvironment.packageRoot + "/pf-module"])
        print("stress --search 25 --mode coverage (exit \(r.status)):\n\(r.stdout.prefix(3000))")
        #expect(r.status == 0 || r.status == 1, "\(r.stderr.suffix(2000))")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let search = try #require(reports.first?["search"] as? [String: Any], "no search in stress.json")
        #expect(search["mode"] as? String == "coverage")
        #expect(search["first_finding_seconds"] == nil && search["firstFindingSeconds"] == nil, "the patched driver showed spurious-limit-reject")
        #expect((search["sequences"] as? Int ?? 0) >= 2, "one sequence in 25 s: \(search)")
        let log = (try? String(contentsOfFile: out.path + "/patched/stress-patched.log", encoding: .utf8)) ?? ""
        #expect(log.contains("aiming at"), "no sequence was aimed at unhit rows:\n\(log.suffix(2000))")
    }
}
}
