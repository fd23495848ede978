import Foundation
import IavfChecker
import IavfModel
import IavfSim
import IavfTrace
import Testing

/// `check` decodes on one thread and checks on another (batches of 4096 events that go
/// back to the decoding thread to be destroyed and refilled). These traces span many
/// batches; the report must be the one thread's, finding for finding.
@Suite struct TwoThreadCheckTests {
    /// A trace of `cycles` bench cycles of `generation`, written to a temporary file.
    private func trace(_ generation: Generation, cycles: Int, edit: ((inout [String]) -> Void)? = nil) throws -> String {
        var events: [TraceEvent] = []
        var sim = SimulatedDriver(generation: generation) { events.append($0) }
        for _ in 0..<cycles { ReplayWorkload.cycle(&sim, limit: .max) }
        let path = NSTemporaryDirectory() + "two-thread-\(generation.rawValue)-\(UUID().uuidString).jsonl"
        let w = try TraceWriter(path: path, header: sim.header)
        for e in events { try w.write(e) }
        try w.close()
        if let edit {
            var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            edit(&lines)
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        return path
    }

    private func same(_ a: CheckReport, _ b: CheckReport) {
        #expect(a.verdict == b.verdict)
        #expect(a.events == b.events)
        #expect(a.countsByRule == b.countsByRule)
        #expect(a.findings.map { "\($0.seq) \($0.rule.rawValue) \($0.message) \($0.context.map(\.text))" }
                == b.findings.map { "\($0.seq) \($0.rule.rawValue) \($0.message) \($0.context.map(\.text))" })
        #expect(a.coverage == b.coverage)
        #expect(a.inconclusiveReasons == b.inconclusiveReasons)
    }

    @Test("600 cycles (about 37,000 events, 10 batches): two threads give the one thread's report, finding for finding", arguments: [Generation.patched, .unpatched])
    func sameReport(_ g: Generation) throws {
        let path = try trace(g, cycles: 600)
        defer { unlink(path) }
        let one = try CheckRun.check(path: path, threads: 1)
        let two = try CheckRun.check(path: path, threads: 2)
        #expect(one.events > 8 * 4096)
        same(one, two)
        if g == .patched { #expect(one.verdict == .pass) }
        // The unpatched driver resends on down/up: the checker must say so on both paths.
        if g == .unpatched { #expect(one.countsByRule[.downUpChurn, default: 0] > 0) }
    }

    @Test("a bad line in the sixth batch: both paths refuse it with the same line number")
    func badLineLate() throws {
        let bad = 5 * 4096 + 17
        let path = try trace(.patched, cycles: 600) { lines in
            // Line 1 is the header; event lines count from 2.
            lines[bad] = lines[bad].replacingOccurrences(of: "\"seq\":", with: "\"seq\":-")
        }
        defer { unlink(path) }
        var lines: [Int] = []
        for threads in [1, 2] {
            do {
                _ = try CheckRun.check(path: path, threads: threads)
                Issue.record("threads \(threads): the bad line was accepted")
            } catch let e as TraceReadError {
                lines.append(e.line)
            }
        }
        #expect(lines == [bad + 1, bad + 1])
    }
}
