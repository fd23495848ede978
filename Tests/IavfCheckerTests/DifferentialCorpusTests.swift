import Foundation
import IavfChecker
import IavfModel
import IavfTrace
import Testing

/// Traces recorded from the real drivers (`samples/recorded-*.jsonl`, minimal `stress`
/// sequences run in the QEMU guests) as a differential corpus: the real driver, not the
/// reference model, says what the list looked like after every event, so each snapshot the
/// model does not predict would be a `state-divergence`. Each trace must give its verdict,
/// exactly its rules and causes, and agree with the model at every snapshot.
struct RecordedTrace: CustomTestStringConvertible, Sendable {
    var file: String
    var generation: Generation
    var verdict: Verdict
    var rules: [Rule: Int]
    var causes: Set<Cause>
    /// At least this many snapshots: the driver actually had a say.
    var minSnapshots: Int
    var testDescription: String { file }
}

let recordedCorpus: [RecordedTrace] = [
    // Patched 6.1.192, `add 102; pf-reset; del 102`: the caps reply of the reset resurrects
    // the deleted VLAN (S3), which stays ACTIVE with no VLAN device.
    .init(file: "recorded-patched-S3-delete-during-reset.jsonl", generation: .patched, verdict: .fail,
          rules: [.ghostFilter: 1], causes: [.S3], minSnapshots: 10),
    // Unpatched 6.1.170, `add 101; reject-del; del 101`: freed at send, then the PF refuses
    // the DEL (R4): the PF keeps a VLAN nothing tracks.
    .init(file: "recorded-unpatched-R4-rejected-delete.jsonl", generation: .unpatched, verdict: .fail,
          rules: [.prematureFree: 1, .untrackedHwFilter: 1], causes: [.freedAtSend, .R4], minSnapshots: 8),
    // Patched 6.1.192, the stress replay of the CI flake: the first snapshot (at add_vid)
    // already shows VLAN 101 ADDING before the watchdog's send record. The real driver is
    // right; the refused DEL is the patched design's note.
    .init(file: "recorded-patched-snapshot-ahead-of-send.jsonl", generation: .patched, verdict: .pass,
          rules: [.pfRefusedDelete: 1], causes: [], minSnapshots: 8),
    // A locally built, unmodified 6.1.192 iavf, `add 102; pf-reset; del 102`: the reset's
    // re-ADD of 102 was chosen while kill_vid of 102 was in flight and is recorded inside
    // the call; the kill then turned ADDING into REMOVE. Both orders are the driver's.
    .init(file: "recorded-patched-add-sent-inside-kill.jsonl", generation: .patched, verdict: .pass,
          rules: [:], causes: [], minSnapshots: 10),
]

@Suite("Differential corpus: traces of the real drivers")
struct DifferentialCorpusTests {
    @Test("each recorded trace gives its verdict, exactly its rules and causes, and no divergence from the model",
          arguments: recordedCorpus)
    func recorded(_ x: RecordedTrace) throws {
        let path = packageRoot.appendingPathComponent("samples/\(x.file)").path
        let reader = try TraceReader(path: path)
        #expect(reader.header.generation == x.generation)
        #expect(reader.header.source == .live, "recorded by the probes, not written by hand")
        let checker = Checker(header: reader.header)
        var snapshots = 0
        while let e = try reader.next() {
            if case .snapshot = e.body { snapshots += 1 }
            checker.feed(e)
        }
        let r = checker.finish()
        #expect(snapshots >= x.minSnapshots, "only \(snapshots) snapshots")
        #expect(r.verdict == x.verdict)
        #expect(r.countsByRule == x.rules)
        #expect(Set(r.findings.compactMap(\.cause)) == x.causes)
        // The real driver as the model's oracle: every snapshot and message matched.
        #expect(r.countsByRule[.stateDivergence] == nil)
    }

    @Test("every recorded trace in samples/ is in the corpus")
    func corpusIsComplete() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("samples").path)
        let recorded = Set(files.filter { $0.hasPrefix("recorded-") && $0.hasSuffix(".jsonl") })
        #expect(!recorded.isEmpty)
        #expect(recorded == Set(recordedCorpus.map(\.file)))
    }
}
