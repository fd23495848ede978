import IavfScenarios
import Testing

@Suite("suite: results from the guest and the checker")
struct SuiteResultsTests {
    static let all = SuiteResults.expectedNames(only: nil)

    @Test("the guest must run the whole catalogue: 51 cases and the dmesg check")
    func catalogue() {
        #expect(Self.all.count == 52)
        #expect(SuiteResults.expectedNames(only: "ping:").count == 17, "16 ping cases and the dmesg check")
        #expect(Self.all.firstIndex { $0.hasPrefix("ping:") }! > Self.all.lastIndex { $0.hasPrefix("reset:") }!, "state, reset, ping")
        #expect(Self.all.last == SuiteRunner.dmesgCaseName)
        #expect(SuiteResults.expectedNames(only: "reset:").count == 13)
    }

    @Test("defect 9: no case, or fewer than the catalogue, is a shortfall with the reason; all of them is none")
    func shortfall() {
        let none = SuiteResults.shortfall(ran: [], expected: Self.all)
        #expect(none == "the guest ran no case (of 52)")
        let some = SuiteResults.shortfall(ran: Array(Self.all.prefix(10)), expected: Self.all)
        #expect(some?.hasPrefix("the guest ran 10 of 52 cases; missing '\(Self.all[10])'") == true, "\(some ?? "nil")")
        #expect(SuiteResults.shortfall(ran: Self.all, expected: Self.all) == nil)
        // A case ran twice does not make up for one that never ran.
        #expect(SuiteResults.shortfall(ran: Array(Self.all.dropLast()) + [Self.all[0]], expected: Self.all) != nil)
    }

    @Test("defect 10: findings join cases by name; a missing or an extra mark moves nothing")
    func joinByName() {
        let cases = ["a", "b", "c", "d"].map { SuiteCaseOutcome(name: $0, result: .pass) }
        // The checker never saw b's mark, and saw a stray mark "x" before c.
        let checker = [CheckerCaseCount(name: "a", findings: 1, violations: 0),
                       CheckerCaseCount(name: "x", findings: 9, violations: 9),
                       CheckerCaseCount(name: "c", findings: 3, violations: 2),
                       CheckerCaseCount(name: "d", findings: 4, violations: 1)]
        let joined = SuiteResults.join(cases, checker: checker)
        #expect(joined.map(\.name) == ["a", "b", "c", "d"])
        #expect(joined.map(\.findings) == [1, 0, 3, 4])
        #expect(joined.map(\.violations) == [0, 0, 2, 1])
    }

    @Test("the KTAP lines of an unfinished guest give the cases run so far, with the failure reasons")
    func ktapSoFar() {
        let text = """
        KTAP version 1
        1..36
        # VF1 -> iavf-t1-99 (10000:00:00.0, eth0)
        ok 1 state: basic add/remove
        # state: 8 VLANs add/remove: creating VLAN 107: RTNETLINK answers: Input/output error
        not ok 2 state: 8 VLANs add/remove
        ok 3 state: VLAN persists across down/up
        [  12.3] some kernel line
        """
        let r = SuiteResults.ktapResults(text)
        #expect(r.map(\.name) == ["state: basic add/remove", "state: 8 VLANs add/remove", "state: VLAN persists across down/up"])
        #expect(r.map(\.result) == [.pass, .fail, .pass])
        #expect(r[1].reason == "creating VLAN 107: RTNETLINK answers: Input/output error")
    }
}
