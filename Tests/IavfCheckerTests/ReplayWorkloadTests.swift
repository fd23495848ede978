import IavfChecker
import IavfModel
import IavfSim
import IavfTrace
import Testing

@Suite struct ReplayWorkloadTests {
    @Test("the bench's synthetic cycle is the clean patched path: the checker finds nothing in 20 cycles")
    func clean() {
        var events: [TraceEvent] = []
        var sim = SimulatedDriver(generation: .patched) { events.append($0) }
        for _ in 0..<20 { ReplayWorkload.cycle(&sim, limit: .max) }
        let checker = Checker(header: sim.header)
        for e in events { checker.feed(e) }
        let r = checker.finish()
        #expect(events.count > 1000)
        #expect(r.verdict == .pass && r.findings.isEmpty, "\(r.findings.prefix(3).map(\.message))")
    }
}
