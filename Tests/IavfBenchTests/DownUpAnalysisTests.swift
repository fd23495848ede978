import Foundation
import IavfBench
import IavfModel
import IavfTrace
import Testing

@Suite("Down/up analysis of probe traces")
final class DownUpAnalysisTests {
    /// The traces a test wrote, removed when it ends.
    private var written: [String] = []
    deinit { for p in written { try? FileManager.default.removeItem(atPath: p) } }

    /// One cycle of each generation, 2 VLANs, timestamps in ms.
    func trace(unpatched: Bool) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("downup-\(UUID().uuidString).jsonl").path
        written.append(path)
        let w = try TraceWriter(path: path, header: TraceHeader(generation: unpatched ? .unpatched : .patched, maxFilters: 8, source: .live))
        var seq: Int64 = 0
        func e(_ ms: Int64, _ b: TraceEvent.Body, dev: String = "10000:00:00.0") throws {
            seq += 1
            try w.write(TraceEvent(seq: seq, tNs: ms * 1_000_000, dev: dev, b))
        }
        let v = [VlanKey(vid: 100), VlanKey(vid: 101)]
        try e(0, .close(phase: .enter, ret: nil))
        try e(1, .send(op: .disableQueues, vids: [], ret: nil))
        try e(3, .reply(op: .disableQueues, retval: 0))
        if unpatched { try e(25, .send(op: .delVlanV2, vids: v, ret: nil)); try e(26, .reply(op: .delVlanV2, retval: 0)) }
        try e(30, .close(phase: .exit, ret: 0))
        try e(100, .open(phase: .enter, ret: nil))
        try e(101, .open(phase: .exit, ret: 0))
        try e(102, .send(op: VirtchnlOp.named("GET_STATS"), vids: [], ret: nil))     // not part of settling
        try e(105, .reply(op: .enableQueues, retval: 0))
        if unpatched { try e(150, .send(op: .addVlanV2, vids: v, ret: nil)); try e(151, .reply(op: .addVlanV2, retval: 0)) }
        try e(170, .send(op: VirtchnlOp.named("GET_STATS"), vids: [], ret: nil), dev: "10000:00:01.0")   // the other VF
        try e(900, .reply(op: VirtchnlOp.named("GET_STATS"), retval: 0))
        try e(1000, .mark(text: "downup vlans=2 iter=0", result: .PASS))
        try w.close()
        return path
    }

    @Test("latency runs from open enter to the last ENABLE_QUEUES or VLAN reply; VLAN messages are counted")
    func cycles() throws {
        let u = try DownUpAnalysis.cycles(trace: try trace(unpatched: true), dev: "10000:00:00.0")
        let p = try DownUpAnalysis.cycles(trace: try trace(unpatched: false), dev: "10000:00:00.0")
        #expect(u.count == 1 && p.count == 1)
        #expect(u[0].upNs == 51_000_000 && p[0].upNs == 5_000_000)
        #expect(u[0].downNs == 26_000_000 && p[0].downNs == 3_000_000)
        #expect(u[0].vlanMessages == 2 && p[0].vlanMessages == 0)
        #expect(u[0].vlans == 2 && u[0].iteration == 0)
        let stats = DownUpAnalysis.stats(u + u)
        #expect(stats.count == 1 && abs(stats[0].p50Ms - 51) < 0.1 && stats[0].vlanMessagesPerCycle == 2)
    }

    @Test("the plot has one line per kernel")
    func plot() throws {
        let p = DownUpAnalysis.stats(try DownUpAnalysis.cycles(trace: try trace(unpatched: false), dev: "10000:00:00.0"))
        let u = DownUpAnalysis.stats(try DownUpAnalysis.cycles(trace: try trace(unpatched: true), dev: "10000:00:00.0"))
        let svg = DownUpPlot.svg([("unpatched", u), ("patched", p)])
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 3)
    }
}
