import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import IavfCampaign
import IavfReport
import IavfScenarios
import Testing

@Suite("JUnit XML of suite and stress results")
struct JUnitResultsTests {
    @Test("suite: a suite per kernel run; own failures and checker violations fail, an incomplete run is an error")
    func suite() throws {
        let r = SuiteReport(kernels: [
            .init(kernel: "unpatched", release: "6.1.0-47-amd64", checkerVerdict: "fail", seconds: 100, problem: "the guest ran 2 of 36 cases",
                  cases: [SuiteCaseOutcome(name: "state: 8 VLANs", result: .fail, reason: "RTNETLINK answers: Input/output error",
                                           violations: 2, rules: ["spurious-limit-reject(R1)"]),
                          SuiteCaseOutcome(name: "state: basic", result: .pass, findings: 1, violations: 1, rules: ["lost-filter"])]),
            .init(kernel: "patched", release: "6.1.0-56-amd64", checkerVerdict: "pass", seconds: 90, problem: nil,
                  cases: [SuiteCaseOutcome(name: "state: 8 VLANs", result: .pass, seconds: 2.5)]),
        ], interrupted: false)
        let suites = JUnit.suites(for: r)
        #expect(suites.map(\.name) == ["unpatched", "patched"])
        #expect(suites[0].cases.map(\.status) == [.failed, .failed, .error])
        #expect(suites[0].cases[0].message == "RTNETLINK answers: Input/output error")
        #expect(suites[0].cases[1].message == "1 checker violation")
        #expect(suites[1].cases.map(\.status) == [.passed] && suites[1].cases[0].time == 2.5)
        let c = try XMLCollector.parse(JUnit.render(suites))
        #expect(c.count("testsuite") == 2 && c.count("testcase") == 4 && c.count("failure") == 2 && c.count("error") == 1)
    }

    @Test("stress: a case per kernel's run; a violation fails with the minimal sequence and its replay command")
    func stress() throws {
        var report = StressReport(kernel: "patched", generation: "patched", seed: 21, ops: ["add 102", "pf-reset", "del 102"],
                                  outcomes: ["ok", "ok", "ok"], verdict: .fail, settled: true,
                                  findings: [.init(rule: "resurrected-filter", cause: "S3", dev: "eth0", vid: 102, event: "settled",
                                                   message: "VLAN 102 is back", op: 3, opText: "del 102")],
                                  target: "resurrected-filter(S3)", minimal: ["add 102", "pf-reset", "del 102"], shrinkRuns: 4,
                                  confirmed: 3, confirmRuns: 3, trace: "/t", minimalTrace: "/m", seconds: 60)
        let pass = StressHost.KernelResult(kernel: "unpatched", release: "r", report: {
            var p = report; p.verdict = .pass; p.findings = []; p.target = nil; p.minimal = nil; return p }())
        report.seed = 21
        let suites = JUnit.suites(for: [StressHost.KernelResult(kernel: "patched", release: "6.1.0-56-amd64", report: report), pass])
        #expect(suites[0].cases[0].status == .failed && suites[0].cases[0].message == "resurrected-filter(S3)")
        #expect(suites[0].cases[0].text?.contains("replay: iavf-check stress --kernel patched --replay 'add 102; pf-reset; del 102'") == true)
        #expect(suites[1].cases[0].status == .passed)
        let c = try XMLCollector.parse(JUnit.render(suites))
        #expect(c.count("testcase") == 2 && c.count("failure") == 1)
    }
}
