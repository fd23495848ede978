import Foundation
import IavfBench
import IavfCampaign
import IavfChecker
import IavfKTAP
import IavfModel
import IavfScenarios
import IavfSystem
import IavfVM
import Testing

/// The engines of the commands that boot guests, without a guest: what they do with what a
/// guest leaves in the shared directory, and the campaign logic over a scripted attempt.
@Suite struct CampaignTests {
    func scratch() throws -> String { try scratchDirectory("campaign") }

    @Test("--kernel: both expands in order, lists keep their order, duplicates and unknown names are bad input")
    func kernelList() throws {
        #expect(try KernelList.parse("both") == ["unpatched", "patched"])
        #expect(try KernelList.parse("patched, unpatched") == ["patched", "unpatched"])
        #expect(try KernelList.parse("linux-image-6.12.57+deb12-amd64=6.12.57-1~deb12u1,patched").count == 2)
        for bad in ["", "patched,,unpatched", "both,patched", "nosuchkernel", "./no/such/dir"] {
            #expect(throws: BadInput.self) { try KernelList.parse(bad) }
        }
        #expect(KernelList.tag("patched") == "patched")
        #expect(KernelList.tag("/tmp/x/linux-image-6.12.57+deb12-amd64_6.12.57-1_amd64.deb") == "6.12.57+deb12-amd64_6.12.57-1_amd64")
    }

    @Test("the guest script quotes what it passes on and reports the job's status")
    func guestScript() {
        var g = EmulatedPFGuest(kernel: "patched", out: "/tmp/o'ut", moduleDir: "/m", exe: "/x", timeout: 10, tag: "patched")
        g.pfArguments = ["--service-us", "50", "it's"]
        let s = g.script(job: "true")
        #expect(s.contains(#"pf -q --service-us 50 'it'\''s' --trace '/tmp/o'\''ut/pf-patched.jsonl'"#))
        #expect(s.contains("modprobe 8021q; modprobe iavf\n") && s.contains("\ntrue\necho \"JOB_EXIT=$?\""))
        #expect(EmulatedPFGuest.jobExit(stdout: "a\nJOB_EXIT=3\n") == 3)
        // A given iavf.ko: its dependencies first, then insmod; a failure ends the guest.
        g.iavfModule = "/cache/iavf-modules/6.1.0-56-amd64/abc/iavf.ko"
        g.iavfDepends = ["libie"]
        let own = g.script(job: "true")
        #expect(own.contains("modprobe -a 8021q libie; insmod /cache/iavf-modules/6.1.0-56-amd64/abc/iavf.ko || {"))
        #expect(!own.contains("modprobe iavf") && own.contains("exit 125; }"))
        #expect(EmulatedPFGuest.jobExit(stdout: "no status") == nil)
    }

    @Test("--jobs 2 runs two guests at once, reports in table order, and an environment failure stops new guests")
    func parallelJobs() throws {
        final class Seen: @unchecked Sendable { let lock = NSLock(); var now = 0; var most = 0; var tags: [String] = [] }
        let seen = Seen()
        var c = SuiteCampaign(targets: [GuestTarget(kernel: "unpatched"), GuestTarget(kernel: "patched")], out: try scratch(),
                              moduleDir: "/m", exe: "/x", timeout: 10)
        c.repeatCount = 2
        c.jobs = 2
        c.runOne = { t, tag, run in
            seen.lock.lock(); seen.now += 1; seen.most = max(seen.most, seen.now); seen.tags.append(tag); seen.lock.unlock()
            usleep(tag == "unpatched-run1" ? 300_000 : 50_000)
            seen.lock.lock(); seen.now -= 1; seen.lock.unlock()
            return .init(kernel: t.label, release: "r", checkerVerdict: "pass", seconds: 1, problem: nil, cases: [])
        }
        let r = try c.run()
        #expect(seen.most == 2 && seen.tags.count == 4)
        #expect(r.kernels.map(\.kernel) == ["unpatched", "unpatched", "patched", "patched"] && r.kernels.map(\.run) == [1, 2, 1, 2])
        c.runOne = { t, tag, _ in
            if tag == "unpatched-run1" { throw VMError.environment("no qemu") }
            usleep(100_000)
            return .init(kernel: t.label, release: "r", checkerVerdict: "pass", seconds: 1, problem: nil, cases: [])
        }
        #expect(throws: EnvironmentProblem.self) { try c.run() }
    }

    // The test process also holds a loop that takes SIGINT itself (the probe pipeline's
    // test): an engine run here must not leave the signal routed to a guest killer that exits.
    @Test("running a campaign leaves SIGINT and SIGTERM as they were (the CLI installs the guest killer)")
    func campaignKeepsSignals() throws {
        try #require(!Interruption.isInstalled)
        var c = SuiteCampaign(targets: [GuestTarget(kernel: "patched")], out: try scratch(), moduleDir: "/m", exe: "/x", timeout: 10)
        c.runOne = { t, _, _ in .init(kernel: t.label, release: "r", checkerVerdict: "pass", seconds: 1, problem: nil, cases: []) }
        _ = try c.run()
        var d = DownUpCampaign(targets: [GuestTarget(kernel: "patched")], out: try scratch(), moduleDir: "", exe: "/x", vlans: "0", iterations: 1, serviceUs: 50)
        _ = try? d.run(reanalyse: true)
        #expect(!Interruption.isInstalled)
    }

    @Test("a kernel's result joins the runner's cases and the checker's labels by name; missing cases are a problem")
    func collect() throws {
        let out = try scratch()
        let names = SuiteResults.expectedNames(only: "8 VLANs")
        let cases = names.enumerated().map { i, n in SuiteCaseOutcome(name: n, result: i == 0 ? .fail : .pass, reason: i == 0 ? "limit" : "") }
        try JSONEncoder().encode(cases).write(to: URL(fileURLWithPath: "\(out)/cases-k.json"))
        let watch = """
        {"verdict":"fail","events":3,"devices":["eth0"],"generation":"unpatched","findings":[],"findings_total":2,"counts":{},
         "cases":[{"name":"\(names[0])","result":"FAIL","findings":2,"violations":1,"rules":["ghost-filter(R1)"]}],
         "outside_cases":{"findings":0,"violations":0},"inconclusive_reasons":[]}
        """
        try Data(watch.utf8).write(to: URL(fileURLWithPath: "\(out)/watch-k.json"))
        let k = SuiteCampaign.collect(kernel: "unpatched", tag: "k", release: "6.1.0-47-amd64", jobFinished: true, out: out,
                                      only: "8 VLANs", seconds: 12)
        #expect(k.problem == nil)
        #expect(k.cases.count == names.count)
        #expect(k.cases[0].rules == ["ghost-filter(R1)"] && k.cases[0].violations == 1 && k.cases[1].rules.isEmpty)
        #expect(!k.allPassed)

        // The guest died after two cases: its KTAP lines are what is left.
        try FileManager.default.removeItem(atPath: "\(out)/cases-k.json")
        try Data("KTAP version 1\n1..9\n# took 1.00 s\nok 1 \(names[0])\n# took 2.00 s\n# \(names[1]): boom\nnot ok 2 \(names[1])\n".utf8)
            .write(to: URL(fileURLWithPath: "\(out)/console-k.txt"))
        let dead = SuiteCampaign.collect(kernel: "unpatched", tag: "k", release: "?", jobFinished: false, out: out,
                                         only: "8 VLANs", seconds: 1)
        #expect(dead.cases.map(\.name) == Array(names.prefix(2)))
        #expect(dead.cases[1].reason == "boom")
        let problem = try #require(dead.problem)
        #expect(problem.contains("did not finish") && problem.contains("missing"))
    }

    @Test("suite.json round-trips through SuiteReport and keeps its schema's keys; KTAP has a subtest per kernel")
    func suiteReport() throws {
        let r = SuiteReport(kernels: [
            .init(kernel: "unpatched", release: "6.1.0-47-amd64", checkerVerdict: "fail", seconds: 100, problem: nil,
                  cases: [SuiteCaseOutcome(name: "a", result: .fail, reason: "why", rules: ["ghost-filter(R1)"]),
                          SuiteCaseOutcome(name: "b", result: .pass)]),
            .init(kernel: "patched", release: "6.1.0-56-amd64", checkerVerdict: "pass", seconds: 90, problem: nil,
                  cases: [SuiteCaseOutcome(name: "a", result: .pass), SuiteCaseOutcome(name: "b", result: .pass)]),
        ], interrupted: false)
        let data = try r.encoded()
        #expect(try SuiteReport.decode(data) == r)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let k0 = try #require((obj["kernels"] as? [[String: Any]])?.first)
        #expect(Set(k0.keys) == ["kernel", "release", "checker_verdict", "seconds", "passed", "total", "complete", "cases"])
        let points = KTAPReader.points(r.ktap)
        #expect(points.map(\.name) == ["unpatched", "patched"])
        #expect(points.map(\.result) == [.notOk, .ok])
        #expect(r.ktap.contains("    # checker: ghost-filter(R1)\n    not ok 1 a\n"))
        #expect(!r.allPassed)
    }

    @Test("live progress: one line per finished case, with its time, reason and the findings printed while it ran")
    func progress() {
        let p = SuiteProgress(kernel: "unpatched", total: 3)
        var lines: [SuiteProgress.Line] = []
        for l in ["KTAP version 1", "1..3", "iavf-check: VIOLATION ghost-filter dev eth0 VLAN 107 at seq 30", "# took 1.84 s",
                  "ok 1 state: basic add/remove", "# took 0.50 s", "# state: 8 VLANs: RTNETLINK answers: Input/output error",
                  "not ok 2 state: 8 VLANs", "# other"] {
            if let x = p.feed(l) { lines.append(x) }
        }
        #expect(lines.count == 2)
        #expect(lines[0].text.hasPrefix("PASS state: basic add/remove (1.8 s)  [unpatched 1/3]"))
        #expect(lines[0].findings == ["VIOLATION ghost-filter dev eth0 VLAN 107 at seq 30"])
        #expect(!lines[1].passed && lines[1].reason == "RTNETLINK answers: Input/output error" && lines[1].findings.isEmpty)
        #expect(lines[1].number == 2 && lines[1].seconds == 0.5)
    }

    @Test("stress host: the guest's command line quotes every argument")
    func stressJob() {
        let h = StressHost(targets: [GuestTarget(kernel: "patched")], out: "/o", moduleDir: "/m", exe: "/x", timeout: 1,
                           guestArguments: ["--replay", "add 102; pf-reset; del 102"])
        let job = h.job(kernel: "patched", dir: "/o/patched", tag: "patched")
        #expect(job.contains("--replay 'add 102; pf-reset; del 102'"))
        #expect(job.hasSuffix("2> \"$OUT/stress-patched.log\""))
    }
}

/// The stress campaign over scripted attempts: cut after the op, shrink, confirm.
@Suite struct StressCampaignTests {
    static func finding(_ rule: Rule, _ cause: Cause?, seq: Int64) -> Finding {
        Finding(rule: rule, seq: seq, dev: "eth0", key: VlanKey(vid: 102), message: "m", event: "settled", cause: cause)
    }

    @Test("a violation that needs `add 102` and `pf-reset` shrinks to those two ops and is confirmed, drawn or replayed",
          arguments: [false, true])
    func shrinks(seedIsReplay: Bool) throws {
        let ops = try StressPlan.parse("add 100; add 102; down; up; pf-reset; del 100; del 102; add 104")
        var runs = 0
        let attempt: ([StressOp]) throws -> StressCampaign.Outcome = { candidate in
            runs += 1
            let text = candidate.map(\.description)
            let hit = text.contains("add 102") && text.contains("pf-reset")
            let f = Self.finding(.lostFilter, nil, seq: 10)
            return .init(violations: hit ? [f] : [], lost: false, settled: true, outcomes: candidate.map { _ in "ok" },
                         trace: "/t/\(runs).jsonl", opOfFinding: hit ? [10: candidate.count] : [:])
        }
        var settings = StressCampaign.Settings()
        settings.tries = 1
        settings.confirm = 2
        // A replay shrinks too (the CI test replays a noisy sequence and expects the core).
        settings.replay = seedIsReplay
        let report = try StressCampaign(settings: settings, attempt: attempt, log: { _ in })
            .run(ops, kernel: "patched", generation: "patched", seed: 7)
        #expect(report.verdict == .fail)
        #expect(report.minimal == ["add 102", "pf-reset"])
        #expect(report.confirmed == 2 && report.confirmRuns == 2)
        #expect(report.trace == "/t/1.jsonl" && report.minimalTrace != nil)
        #expect(try StressReport.decode(try report.encoded()) == report)
    }

    @Test("a replay run --tries times reports each violation as a rate, and fails if any run found one")
    func replayRate() throws {
        let ops = try StressPlan.parse("add 102; pf-reset; del 102")
        var n = 0
        var settings = StressCampaign.Settings()
        settings.replay = true
        settings.tries = 20
        settings.shrinkAttempts = 0
        settings.confirm = 0
        let r = try StressCampaign(settings: settings, attempt: { c in
            n += 1
            let hit = n % 4 == 2   // the race: 5 of 20 runs
            return .init(violations: hit ? [StressCampaignTests.finding(.ghostFilter, .S3, seq: 9)] : [], lost: false,
                         settled: true, outcomes: [], trace: "/t/\(n)", opOfFinding: [:])
        }, log: { _ in }).run(ops, kernel: "patched", generation: "patched", seed: nil)
        #expect(n == 20 && r.replayRuns == 20)
        #expect(r.reproduced == ["ghost-filter(S3)": 5])
        #expect(r.verdict == .fail && r.trace == "/t/2")
        #expect(r.text(kernelName: "patched", release: "x").contains("replayed 20 times: ghost-filter(S3) in 5/20"))
    }

    static func coverage(hit: [(String, String)], of rows: [(String, String)]) -> ModelCoverage {
        ModelCoverage(tables: [.init(generation: "patched", title: "t", traces: 1, rows: rows.enumerated().map { i, r in
            .init(from: r.0, event: r.1, to: "ADD", effects: "", spec: "", line: i + 1,
                  hits: hit.contains { $0 == r } ? 1 : 0)
        }, rules: [])])
    }

    @Test("a search draws sequence after sequence, aims the next at the rows still unhit, and stops at the target")
    func searchFindsTarget() throws {
        let rows = [("(none)", "UserAdd"), ("REMOVE", "CfgResp"), ("ADD", "WdAdd, not allowed")]
        var unhitSeen: [[StressRowTarget]] = []
        var n = 0
        var settings = StressCampaign.Settings()
        settings.searchSeconds = 3600
        settings.target = "ghost-filter(S3)"
        settings.shrinkAttempts = 0
        settings.confirm = 0
        let r = try StressCampaign(settings: settings, attempt: { _ in
            n += 1
            // Sequence 2 has another violation (kept in the counts), sequence 3 the target.
            let v = n == 2 ? [StressCampaignTests.finding(.lostFilter, nil, seq: 4)]
                : n == 3 ? [StressCampaignTests.finding(.ghostFilter, .S3, seq: 9)] : []
            return .init(violations: v, lost: false, settled: true, outcomes: [], trace: "/t/\(n)", opOfFinding: [:],
                         coverage: Self.coverage(hit: n >= 3 ? rows : [rows[0]], of: rows))
        }, log: { _ in }).search(seed: 5, mode: .coverage, kernel: "patched", generation: "patched") { k, unhit in
            unhitSeen.append(unhit)
            return [.add(UInt16(100 + k))]
        }
        #expect(n == 3 && r.search?.sequences == 3)
        #expect(r.search?.firstFindingSeconds != nil && r.search?.finding == "ghost-filter(S3)")
        #expect(r.search?.violations == ["lost-filter": 1, "ghost-filter(S3)": 1])
        #expect(r.verdict == .fail && r.ops == ["add 102"] && r.trace == "/t/3")
        // The first sequence has no coverage to aim by; the "not allowed" row is not driven by any event.
        #expect(unhitSeen == [[], [StressRowTarget(from: "REMOVE", event: "CfgResp")], [StressRowTarget(from: "REMOVE", event: "CfgResp")]])
        #expect(r.coverage?.tables.first?.rowsHit == 3)
        #expect(r.text(kernelName: "patched", release: "x").contains("search (coverage, 3600 s budget): 3 sequence(s), ghost-filter(S3) after"))
    }

    @Test("a search that spends its budget without the target reports the first sequence with a violation, not a pass")
    func searchBudgetSpent() throws {
        var settings = StressCampaign.Settings()
        settings.searchSeconds = 1
        settings.target = "ghost-filter(S3)"
        settings.shrinkAttempts = 0
        settings.confirm = 0
        var n = 0
        let r = try StressCampaign(settings: settings, attempt: { _ in
            n += 1
            usleep(300_000)
            return .init(violations: n == 1 ? [StressCampaignTests.finding(.lostFilter, nil, seq: 4)] : [], lost: false,
                         settled: true, outcomes: [], trace: "/t/\(n)", opOfFinding: [:])
        }, log: { _ in }).search(seed: 5, mode: .uniform, kernel: "patched", generation: "patched") { k, _ in [.wait(ms: k)] }
        #expect(n >= 3 && n <= 6)
        #expect(r.search?.firstFindingSeconds == nil && r.search?.finding == nil)
        #expect(r.verdict == .fail && r.trace == "/t/1" && r.ops == ["wait 0"])
        #expect(r.text(kernelName: "patched", release: "x").contains("target not found; violations by sequences: lost-filter 1"))
    }

    @Test("search figures: found seeds, the median time with a seed that found nothing counted as longest, the rows hit together")
    func searchFigures() throws {
        let rows = [("(none)", "UserAdd"), ("REMOVE", "CfgResp"), ("ADD", "UserKill")]
        func report(_ seed: UInt64, _ t: Double?, hit: [(String, String)]) -> StressHost.KernelResult {
            var r = StressReport(kernel: "patched", generation: "patched", seed: seed, ops: [], outcomes: [], verdict: t == nil ? .pass : .fail,
                                 settled: true, findings: [], target: nil, minimal: nil, shrinkRuns: 0, confirmed: nil,
                                 confirmRuns: nil, trace: "", minimalTrace: nil, seconds: 1)
            r.search = .init(mode: .guided, budgetSeconds: 120, sequences: 2, firstFindingSeconds: t, finding: t == nil ? nil : "ghost-filter(S3)")
            r.coverage = Self.coverage(hit: hit, of: rows)
            return .init(kernel: "patched", release: "6.1", report: r)
        }
        let three = StressSummary(seeds: nil, shard: nil, results: [report(1, 40, hit: [rows[0]]), report(2, nil, hit: [rows[2]]),
                                                                     report(3, 10, hit: [rows[0]])])
        let f = try #require(three.search?.first)
        #expect(f.found == 2 && f.seeds == 3 && f.medianSeconds == 40 && f.rowsHit == 2 && f.rowsTotal == 3)
        #expect(three.searchText.contains("found in 2/3 seeds, median time to it 40 s, model rows hit 2/3"))
        let mostlyNot = StressSummary(seeds: nil, shard: nil, results: [report(1, 40, hit: []), report(2, nil, hit: []), report(3, nil, hit: [])])
        #expect(mostlyNot.search?.first?.medianSeconds == nil)
        #expect(mostlyNot.searchText.contains("median time to it > 120 s"))
        #expect(try StressSummary.decode(try three.encoded()) == three)
    }

    @Test("no violation: pass, nothing shrunk; lost events without a violation: inconclusive")
    func passAndInconclusive() throws {
        let ops = try StressPlan.parse("add 100; del 100")
        for lost in [false, true] {
            let r = try StressCampaign(settings: .init(), attempt: { c in
                .init(violations: [], lost: lost, settled: true, outcomes: [], trace: "/t", opOfFinding: [:])
            }, log: { _ in }).run(ops, kernel: "k", generation: "patched", seed: nil)
            #expect(r.verdict == (lost ? .inconclusive : .pass))
            #expect(r.minimal == nil && r.shrinkRuns == 0)
        }
    }
}

@Suite struct DownUpCampaignTests {
    @Test("the down/up job runs the loop twice, the second under watch with the model argument quoted")
    func job() {
        var c = DownUpCampaign(targets: [GuestTarget(kernel: "patched")], out: "/o", moduleDir: "/m", exe: "/x", vlans: "0,8", iterations: 3, serviceUs: 50)
        c.watchArguments = ["--model", "/path with space/m.model"]
        let j = c.job(tag: "patched")
        #expect(j.components(separatedBy: "bench downup-guest").count == 3)
        #expect(j.contains("--settle-ms 200 --model '/path with space/m.model' -- sh -c"))
        #expect(j.contains("--vlans 0,8 --iterations 3"))
    }

    @Test("bench progress: a line per VLAN count once its last cycle is in")
    func progress() {
        let p = DownUpProgress(kernel: "patched", pass: "with probes", iterations: 2)
        #expect(p.feed("# wall vlans=0 iter=0 down_ms=10.0 up_ms=80.0") == nil)
        #expect(p.feed("PASS: downup vlans=0 iter=0") == nil)
        #expect(p.feed("# wall vlans=0 iter=1 down_ms=10.0 up_ms=100.0") == "patched: 0 VLANs, 2 cycles with probes: mean up 90.0 ms (wall clock)")
        #expect(p.feed("# wall vlans=8 iter=0 down_ms=10.0 up_ms=50.0") == nil)
    }

    @Test("unmeasured figures are left out of downup.json, measured ones rounded; the document round-trips")
    func report() throws {
        let k = DownUpReport.Kernel(kernel: "patched", release: "6.1.0-56-amd64", checker: "pass ()", programStats: [],
                                    wallUpMsWithProbes: .nan, wallUpMsWithoutProbes: 12.34567, stats: [])
        let r = DownUpReport(serviceUs: 50, iterations: 10, kernels: [k])
        let data = try r.encoded()
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("\"wall_up_ms_with_probes\""))
        #expect(text.contains("\"wall_up_ms_without_probes\" : 12.346"))
        #expect(try DownUpReport.decode(data) == r)
    }
}

@Suite struct SuiteRatesTests {
    @Test("repeated runs give failure rates per case, a missing case counts as a failure, labels are unioned")
    func rates() throws {
        func run(_ i: Int, _ results: [(String, CaseVerdict, [String])], problem: String? = nil) -> SuiteReport.Kernel {
            var k = SuiteReport.Kernel(kernel: "unpatched", release: "r", checkerVerdict: "fail", seconds: 1, problem: problem,
                                       cases: results.map { SuiteCaseOutcome(name: $0.0, result: $0.1, rules: $0.2) })
            k.run = i
            return k
        }
        let r = SuiteReport(kernels: [
            run(1, [("a", .fail, ["ghost-filter(R1)"]), ("b", .pass, [])]),
            run(2, [("a", .pass, []), ("b", .pass, ["stuck-filter(R3)"])]),
            run(3, [("a", .fail, ["spurious-limit-reject(R1)"])], problem: "the guest crashed"),
        ], interrupted: false)
        let k = try #require(r.rates.first)
        #expect(k.runs == 3 && k.incomplete == 1)
        #expect(k.cases.map(\.text) == ["FAIL 2/3", "FAIL 1/3"])
        #expect(k.cases[0].rules == ["ghost-filter(R1)", "spurious-limit-reject(R1)"])
        let json = String(decoding: try r.encoded(), as: UTF8.self)
        #expect(json.contains("\"rates\""))
        #expect(try SuiteReport.decode(try r.encoded()) == r)
        // A single run has no rates section.
        let single = SuiteReport(kernels: [run(1, [("a", .pass, [])])], interrupted: false)
        #expect(!String(decoding: try single.encoded(), as: UTF8.self).contains("\"rates\""))
    }
}

@Suite struct CoverageWiringTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("samples").path

    @Test("suite: the guest's watch report carries coverage into suite.json; merge unions suite and stress coverage")
    func suiteCoverage() throws {
        let out = try scratchDirectory("cov")
        let report = try CheckRun.check(path: Self.samples + "/patched-7-of-8.jsonl", table: nil)
        try Data(CheckReportDocument(report, coverage: true).encoded().utf8).write(to: URL(fileURLWithPath: "\(out)/watch-k.json"))
        let k = SuiteCampaign.collect(kernel: "patched", tag: "k", release: "r", jobFinished: true, out: out, only: nil, seconds: 1)
        let cov = try #require(k.coverage)
        #expect(cov.tables.first?.generation == "patched" && (cov.tables.first?.rowsHit ?? 0) > 0)
        let suite = SuiteReport(kernels: [k], interrupted: false)
        #expect(try SuiteReport.decode(try suite.encoded()).kernels[0].coverage == cov)
        var m = MergedResults()
        m.add(suite: suite)
        #expect(m.coverage.tables.first?.rowsHit == cov.tables.first?.rowsHit)
    }
}

@Suite struct TimeBreakdownTests {
    @Test("the guest's uptimes and the cases' own times split a kernel's wall time; the slowest cases are named")
    func breakdown() throws {
        let t = try #require(EmulatedPFGuest.guestTimes(stdout: "x\nJOB_EXIT=0\nGUEST_TIMES=5.50 9.00 209.00\n"))
        #expect(t.0 == 5.5 && t.1 == 9 && t.2 == 209)
        #expect(EmulatedPFGuest.guestTimes(stdout: "GUEST_TIMES=1 2") == nil)
        let cases = [SuiteCaseOutcome(name: "a", result: .pass, seconds: 150), SuiteCaseOutcome(name: "b", result: .pass, seconds: 30),
                     SuiteCaseOutcome(name: "c", result: .pass)]
        let b = TimeBreakdown(prepare: 2, boot: 6, pfAndDrivers: t.1 - t.0, job: t.2 - t.1, total: 220, cases: cases)
        #expect(b.cases == 180 && b.setup == 20 && b.pfAndDrivers == 3.5 && b.rest == 8.5)
        #expect(b.slowest.map(\.name) == ["a", "b"])
        #expect(b.text.contains("resets between cases 20.0 s, cases 180.0 s") && b.text.contains("slowest: a 150.0 s"))
    }

    @Test("the runner's command count and time and its resets' time come from its console lines, and read back from JSON")
    func guestCounts() throws {
        var b = TimeBreakdown(prepare: 0, boot: 6, pfAndDrivers: 1, job: 200, total: 210,
                              cases: [SuiteCaseOutcome(name: "a", result: .pass, seconds: 180)])
        #expect(b.commands == nil && !b.text.contains("commands"))
        b.addGuestCounts(console: """
        ok 52 dmesg: no call traces / BUGs / stalls
        # ping rtt: n=284 lost=0 p50=3.04 ms p99=5.32 ms max=6.64 ms
        # commands: 815 commands in 142.9 s (ip 812 in 133.8 s, sh 2 in 9.0 s, dmesg 1 in 0.1 s)
        # resets between cases: 51 in 14.2 s
        """)
        #expect(b.commands == 815 && b.commandSeconds == 142.9 && b.resetSeconds == 14.2)
        #expect(b.text.contains("815 commands ran 142.9 s in all, the resets between cases 14.2 s"))
        let back = try JSONDecoder().decode(TimeBreakdown.self, from: try JSONEncoder().encode(b))
        #expect(back == b)
        // A suite.json written before the counts existed still reads.
        let old = try JSONDecoder().decode(TimeBreakdown.self, from: Data(#"{"prepare":0,"cases":1,"rest":0,"slowest":[]}"#.utf8))
        #expect(old.commands == nil)
    }
}

@Suite struct GuestTargetTests {
    func scratch() throws -> String { try scratchDirectory("targets") }

    @Test("--iavf-patches A,B makes the steps base, +A, +A+B per kernel, in order, each its own files")
    func steps() throws {
        let d = try scratch()
        for p in ["0001-fix.patch", "0002-more.patch"] { FileManager.default.createFile(atPath: "\(d)/\(p)", contents: Data("x".utf8)) }
        let t = try GuestTarget.plan(kernels: ["unpatched", "patched"], iavf: nil, patches: ["\(d)/0001-fix.patch", "\(d)/0002-more.patch"])
        #expect(t.map(\.label) == ["unpatched base", "unpatched +0001-fix", "unpatched +0001-fix+0002-more",
                                   "patched base", "patched +0001-fix", "patched +0001-fix+0002-more"])
        #expect(Set(t.map(\.tag)).count == 6)
        #expect(t[2].iavf == .source(directory: nil, patches: ["\(d)/0001-fix.patch", "\(d)/0002-more.patch"]))
        #expect(try GuestTarget.plan(kernels: ["patched"], iavf: nil, patches: []) == [GuestTarget(kernel: "patched")])
    }

    @Test("--iavf: a module file or a source directory; bad paths, a dir without Makefile, patches on a .ko are bad input")
    func iavf() throws {
        let d = try scratch()
        FileManager.default.createFile(atPath: "\(d)/iavf.ko", contents: Data("x".utf8))
        #expect(try GuestTarget.plan(kernels: ["patched"], iavf: "\(d)/iavf.ko", patches: [])[0].iavf == .module("\(d)/iavf.ko"))
        #expect(throws: BadInput.self) { try GuestTarget.plan(kernels: ["patched"], iavf: "\(d)/nope", patches: []) }
        #expect(throws: (any Error).self) { try GuestTarget.plan(kernels: ["patched"], iavf: d, patches: []) }   // no Makefile
        FileManager.default.createFile(atPath: "\(d)/Makefile", contents: Data())
        FileManager.default.createFile(atPath: "\(d)/iavf_main.c", contents: Data())
        #expect(try GuestTarget.plan(kernels: ["patched"], iavf: d, patches: [])[0].iavf == .source(directory: d, patches: []))
        #expect(throws: BadInput.self) { try GuestTarget.plan(kernels: ["patched"], iavf: "\(d)/iavf.ko", patches: ["\(d)/Makefile"]) }
        #expect(throws: (any Error).self) { try GuestTarget.plan(kernels: ["patched"], iavf: nil, patches: ["\(d)/missing.patch"]) }
    }
}
