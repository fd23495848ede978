import Foundation
import IavfChecker
import IavfModel
import IavfTrace
import Testing

/// The package root, from this file's path (tests run from anywhere).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func checkSample(_ name: String) throws -> CheckReport {
    let path = packageRoot.appendingPathComponent("samples/\(name)").path
    let r = try TraceReader(path: path)
    let c = Checker(header: r.header)
    while let e = try r.next() { c.feed(e) }
    return c.finish()
}

struct SampleExpectation: CustomTestStringConvertible, Sendable {
    var file: String
    var verdict: Verdict
    var rules: [Rule: Int]
    var causes: Set<Cause> = []
    var testDescription: String { file }
}

/// One trace that trips each rule and one that does not, written by hand from the spec.
let sampleExpectations: [SampleExpectation] = [
    .init(file: "count-mismatch-fail.jsonl", verdict: .fail, rules: [.countMismatch: 1]),
    .init(file: "count-mismatch-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "lost-filter-fail.jsonl", verdict: .fail, rules: [.lostFilter: 1], causes: [.pfRejectedAdd]),
    .init(file: "lost-filter-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "premature-free-fail.jsonl", verdict: .fail, rules: [.prematureFree: 1], causes: [.freedAtSend]),
    .init(file: "premature-free-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "untracked-hw-filter-fail.jsonl", verdict: .fail, rules: [.prematureFree: 1, .untrackedHwFilter: 1],
          causes: [.freedAtSend, .R4]),
    .init(file: "untracked-hw-filter-pass.jsonl", verdict: .pass, rules: [.pfRefusedDelete: 1]),
    .init(file: "ghost-filter-fail.jsonl", verdict: .fail, rules: [.ghostFilter: 1, .downUpChurn: 1], causes: [.R1, .downUpResend]),
    .init(file: "ghost-filter-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "stuck-filter-fail.jsonl", verdict: .fail, rules: [.stuckFilter: 1], causes: [.S1]),
    .init(file: "stuck-filter-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "spurious-limit-reject-fail.jsonl", verdict: .fail, rules: [.spuriousLimitReject: 1]),
    .init(file: "spurious-limit-reject-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "state-divergence-fail.jsonl", verdict: .fail, rules: [.stateDivergence: 1]),
    .init(file: "state-divergence-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "down-up-churn-fail.jsonl", verdict: .pass, rules: [.downUpChurn: 1], causes: [.downUpResend]),
    .init(file: "down-up-churn-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "pf-refused-delete-fail.jsonl", verdict: .pass, rules: [.pfRefusedDelete: 1]),
    .init(file: "pf-refused-delete-pass.jsonl", verdict: .pass, rules: [:]),
    .init(file: "unpatched-7-of-8.jsonl", verdict: .fail,
          rules: [.ghostFilter: 1, .spuriousLimitReject: 1, .downUpChurn: 1], causes: [.R1, .downUpResend]),
    .init(file: "patched-7-of-8.jsonl", verdict: .pass, rules: [:]),
    // Recorded from the real drivers in the QEMU guests by `iavf-check stress` (minimal sequences).
    .init(file: "recorded-patched-S3-delete-during-reset.jsonl", verdict: .fail, rules: [.ghostFilter: 1], causes: [.S3]),
    .init(file: "recorded-unpatched-R4-rejected-delete.jsonl", verdict: .fail,
          rules: [.prematureFree: 1, .untrackedHwFilter: 1], causes: [.freedAtSend, .R4]),
    // Recorded by `stress` on the patched driver: the first snapshot (the mid-stream baseline,
    // at add_vid) shows VLAN 101 ADDING before the watchdog's ADD_VLAN_V2 record. The checker
    // once called this a state-divergence; the real driver is right.
    .init(file: "recorded-patched-snapshot-ahead-of-send.jsonl", verdict: .pass, rules: [.pfRefusedDelete: 1]),
    // A reset's re-ADD of VLAN 102 chosen by the watchdog while kill_vid of 102 was in flight:
    // the send, recorded inside the call, precedes the call's list edit (the old checker
    // called it a state-divergence and a premature free: 1 of 20 replays of S3).
    .init(file: "recorded-patched-add-sent-inside-kill.jsonl", verdict: .pass, rules: [:]),
    // The S3 fix on the S3 window: the deleted filter is freed at the caps reply. Against the
    // built-in patched model that is a divergence (the model re-adds it); see the test with
    // fixes/s3-caps-reply/s3-fix.model.
    .init(file: "s3-fix-delete-during-reset.jsonl", verdict: .fail, rules: [.stateDivergence: 1]),
    .init(file: "inconclusive-lost.jsonl", verdict: .inconclusive, rules: [:]),
    .init(file: "inconclusive-open-call.jsonl", verdict: .inconclusive, rules: [:]),
]

@Suite("Bundled sample traces")
struct SampleTraceTests {
    @Test("each sample gives the contract's verdict and exactly its rules", arguments: sampleExpectations)
    func sample(_ x: SampleExpectation) throws {
        let r = try checkSample(x.file)
        #expect(r.verdict == x.verdict)
        #expect(r.countsByRule == x.rules)
        #expect(Set(r.findings.compactMap(\.cause)) == x.causes)
    }

    @Test("every rule has a sample that trips it and one that does not")
    func everyRuleCovered() {
        for rule in Rule.allCases {
            let trips = sampleExpectations.filter { $0.file.hasPrefix(rule.rawValue + "-fail") }
            let keeps = sampleExpectations.filter { $0.file.hasPrefix(rule.rawValue + "-pass") }
            #expect(trips.count == 1 && trips[0].rules[rule] != nil, "\(rule.rawValue): no tripping sample")
            #expect(keeps.count == 1 && keeps[0].rules[rule] == nil, "\(rule.rawValue): no keeping sample")
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("samples").path)) ?? []
        #expect(Set(files.filter { $0.hasSuffix(".jsonl") }) == Set(sampleExpectations.map(\.file)), "a sample without an expectation")
    }

    @Test("the 7-of-8 finding names VLAN 107, the R1 ghost and the down that made it")
    func sevenOfEightExplained() throws {
        let r = try checkSample("unpatched-7-of-8.jsonl")
        let reject = try #require(r.findings.first { $0.rule == .spuriousLimitReject })
        #expect(reject.key == VlanKey(vid: 107))
        #expect(reject.cause == .R1)
        let ghost = try #require(r.findings.first { $0.rule == .ghostFilter })
        #expect(ghost.originSeq == reject.originSeq && ghost.originSeq != nil)
        #expect(ghost.context.last?.seq == ghost.seq)
        #expect(r.cases.count == 1 && r.cases[0].result == "FAIL" && r.cases[0].violations == 2)
    }
}

extension SampleTraceTests {
    @Test("the patched driver's S3, recorded: VLAN 102 killed during a PF reset comes back ACTIVE after the caps reply")
    func recordedS3Explained() throws {
        let r = try checkSample("recorded-patched-S3-delete-during-reset.jsonl")
        #expect(r.header.generation == .patched)
        let ghost = try #require(r.findings.first { $0.rule == .ghostFilter })
        #expect(ghost.key == VlanKey(vid: 102) && ghost.cause == .S3)
        // The race began at the reset's VLAN caps reply, after the kill during the reset.
        #expect(ghost.origin?.text.contains("GET_OFFLOAD_VLAN_V2_CAPS") == true, "\(String(describing: ghost.origin))")
    }
}

@Suite("Checker behaviour the samples do not show")
struct CheckerBehaviourTests {
    let h = TraceHeader(generation: .patched, vlanMode: .v2, maxFilters: 8)
    func ev(_ seq: Int64, _ body: TraceEvent.Body, dev: String = "eth0") -> TraceEvent {
        TraceEvent(seq: seq, tNs: seq * 1000, dev: dev, body)
    }
    func snap(_ seq: Int64, _ fs: [(UInt16, FilterState)], count: Int? = nil, dev: String = "eth0") -> TraceEvent {
        ev(seq, .snapshot(filters: fs.map { .init(key: VlanKey(vid: $0.0), state: $0.1) }, count: count ?? fs.count, at: nil), dev: dev)
    }

    @Test("a violation before lost events still fails; after the loss only the rebuilding snapshot's count is judged")
    func lostEvents() {
        let c = Checker(header: h)
        c.feed(snap(1, [(100, .ACTIVE)], count: 3))           // count-mismatch, and a filter nobody added
        c.feed(ev(2, .lost(count: 5)))                        // the records explaining seq 1 may be lost
        c.feed(snap(3, [(100, .ACTIVE)], count: 9))           // rebuilds the model; its count is still checked
        c.feed(ev(4, .settled(reason: nil)))
        let r = c.finish()
        #expect(r.verdict == .fail)
        #expect(r.countsByRule == [.countMismatch: 2])
        #expect(r.findings.map(\.seq) == [1, 3])
        #expect(r.inconclusiveReasons == ["eth0: 5 events lost"])
    }

    @Test("after a loss the model is rebuilt from the snapshot and judging resumes")
    func rebuildAfterLoss() {
        let c = Checker(header: h)
        c.feed(ev(1, .lost(count: 1)))
        c.feed(snap(2, [(100, .ACTIVE), (101, .REMOVE)]))
        c.feed(snap(3, [(100, .ACTIVE)], count: 2))          // judged again: 101 vanished, count is off
        let r = c.finish()
        #expect(r.countsByRule == [.countMismatch: 1, .stateDivergence: 1])
        #expect(r.findings.allSatisfy { $0.seq == 3 })
    }

    @Test("a mid-stream recording takes the first snapshot as the start: VLANs made before it are not ghosts")
    func midStream() {
        for mid in [true, false] {
            let c = Checker(header: TraceHeader(generation: .patched, vlanMode: .v2, maxFilters: 8, source: .live, midStream: mid))
            c.feed(ev(1, .down(phase: .enter)))
            c.feed(ev(2, .down(phase: .exit)))
            c.feed(snap(3, [(100, .ACTIVE), (101, .ACTIVE)]))
            c.feed(ev(4, .open(phase: .enter, ret: nil)))
            c.feed(ev(5, .open(phase: .exit, ret: 0)))
            c.feed(ev(6, .settled(reason: nil)))
            let r = c.finish()
            if mid {
                #expect(r.totalFindings == 0 && r.verdict == .pass)
            } else {
                #expect(r.countsByRule[.ghostFilter] == 2, "without the flag, the same trace has two filters nobody added")
            }
        }
    }

    @Test("devices are checked on their own")
    func perDevice() {
        let c = Checker(header: h)
        c.feed(ev(1, .addVid(key: VlanKey(vid: 100), phase: .exit, ret: 0), dev: "0000:41:01.0"))
        c.feed(snap(2, [], dev: "0000:41:01.1"))             // the other VF has no VLANs: fine
        c.feed(snap(3, [], dev: "0000:41:01.0"))             // this one lost 100
        let r = c.finish()
        #expect(r.devices == ["0000:41:01.0", "0000:41:01.1"])
        #expect(r.findings.map(\.dev) == ["0000:41:01.0", "0000:41:01.0"])
        #expect(Set(r.findings.map(\.rule)) == [.lostFilter, .stateDivergence])
    }

    @Test("generation unknown: spec rules on snapshots, no divergence")
    func unknownGeneration() {
        let c = Checker(header: TraceHeader(generation: nil, maxFilters: 8))
        c.feed(ev(1, .addVid(key: VlanKey(vid: 100), phase: .exit, ret: 0)))
        c.feed(snap(2, [(100, .DISABLE), (200, .ACTIVE)]))
        c.feed(ev(3, .settled(reason: nil)))
        let r = c.finish()
        #expect(r.countsByRule == [.ghostFilter: 1, .stuckFilter: 1])
    }

    @Test("cases: a result-bearing mark closes the case of every event since the previous one")
    func cases() {
        let c = Checker(header: h)
        c.feed(ev(1, .mark(text: "case A", result: nil)))
        c.feed(snap(2, [], count: 1))
        c.feed(ev(3, .mark(text: "case A", result: .PASS)))
        c.feed(ev(4, .mark(text: "case B", result: .FAIL)))
        c.feed(snap(5, [], count: 2))
        let r = c.finish()
        #expect(r.cases.map(\.name) == ["case A", "case B"])
        #expect(r.cases.map(\.violations) == [1, 0])
        #expect(r.totalFindings == 2, "the finding after the last result mark belongs to no case")
    }

    @Test("findings past the stored maximum are still counted and still fail")
    func findingCap() {
        let c = Checker(header: h, maxStoredFindings: 3)
        for i in 1...10 { c.feed(snap(Int64(i), [], count: 1)) }
        let r = c.finish()
        #expect(r.findings.count == 3 && r.totalFindings == 10 && r.verdict == .fail)
    }
}

@Suite struct S3FixTraceTests {
    @Test("the fixed driver on the S3 window passes under the fix's model delta and only there")
    func fixModel() throws {
        let model = packageRoot.appendingPathComponent("fixes/s3-caps-reply/s3-fix.model").path
        let table = try ModelText.parse(String(contentsOfFile: model, encoding: .utf8), file: model)
        let path = packageRoot.appendingPathComponent("samples/s3-fix-delete-during-reset.jsonl").path
        let r = try CheckRun.check(path: path, table: table)
        #expect(r.verdict == .pass, "\(r.findings.map(\.message))")
        // The stock driver's S3 run stays a ghost filter under the fix's model: the delta
        // describes the fix, it does not excuse the hole.
        let stock = try CheckRun.check(path: packageRoot.appendingPathComponent("samples/recorded-patched-S3-delete-during-reset.jsonl").path,
                                       table: table)
        #expect(stock.findings.contains { $0.rule == .ghostFilter })
    }
}
