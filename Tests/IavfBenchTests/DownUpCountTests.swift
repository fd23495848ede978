import Foundation
import IavfBench
import IavfModel
import IavfTrace
import Testing

/// Defect 16: messages per cycle must be exact. A hand-built trace of the unpatched loop at 7
/// VLANs, shaped like the run that was miscounted: every cycle sends 1 DEL + 7 ADD and one of
/// each queue message, but one cycle's PASS mark reaches the recorder only after the next
/// cycle's close and DISABLE_QUEUES (marks come from the command's output, later than probes).
@Suite("Down/up message counts per cycle")
struct DownUpCountTests {
    static let vf1 = "10000:00:00.0", vf2 = "10000:00:01.0"

    final class Builder {
        var events: [TraceEvent] = []
        var seq: Int64 = 0
        var ms: Int64 = 0
        func e(_ b: TraceEvent.Body, dev: String = DownUpCountTests.vf1, dt: Int64 = 1) {
            seq += 1; ms += dt
            events.append(TraceEvent(seq: seq, tNs: ms * 1_000_000, dev: dev, b))
        }
        func send(_ op: VirtchnlOp, _ vids: [UInt16] = []) {
            e(.send(op: op, vids: vids.map { VlanKey(vid: $0) }, ret: nil))
            e(.reply(op: op, retval: 0))
        }
        func userAdd(_ vids: [UInt16]) {
            for v in vids { e(.addVid(key: VlanKey(vid: v), phase: .enter, ret: nil)); e(.addVid(key: VlanKey(vid: v), phase: .exit, ret: 0)) }
            for v in vids { send(.addVlanV2, [v]) }
        }
        func userDel(_ vids: [UInt16]) {
            for v in vids { e(.killVid(key: VlanKey(vid: v), phase: .enter, ret: nil)); e(.killVid(key: VlanKey(vid: v), phase: .exit, ret: 0)) }
            send(.delVlanV2, vids)
        }
        /// close ... DISABLE_QUEUES, DEL of all, (mark of the previous cycle can go here) open ... 7 ADDs.
        func down(_ vids: [UInt16]) {
            e(.close(phase: .enter, ret: nil), dt: 50)
            e(.killVid(key: VlanKey(vid: 0), phase: .enter, ret: nil))   // 8021q drops VID 0 on NETDEV_DOWN
            e(.killVid(key: VlanKey(vid: 0), phase: .exit, ret: 0))
            send(.disableQueues)
            if !vids.isEmpty { send(.delVlanV2, vids) }
            e(.close(phase: .exit, ret: 0))
        }
        func up(_ vids: [UInt16]) {
            e(.open(phase: .enter, ret: nil), dt: 300)
            e(.open(phase: .exit, ret: 0))
            e(.addVid(key: VlanKey(vid: 0), phase: .enter, ret: nil))    // and adds it back on NETDEV_UP
            e(.addVid(key: VlanKey(vid: 0), phase: .exit, ret: 0))
            send(VirtchnlOp.named("CONFIG_VSI_QUEUES"))
            send(.enableQueues)
            for v in vids { send(.addVlanV2, [v]) }                     // the V2 clamp: one ADD per VLAN
            e(.send(op: VirtchnlOp.named("GET_STATS"), vids: [], ret: nil), dev: DownUpCountTests.vf2)
        }
        func mark(_ k: Int, _ i: Int) { e(.mark(text: "downup vlans=\(k) iter=\(i)", result: .PASS), dev: DownUpCountTests.vf2) }
    }

    /// The netns move of the set-up (a close and an open nobody marks), 5 cycles at 7 VLANs
    /// with cycle 2's mark late, then 2 cycles at 8 VLANs after the loop deleted the 7 and
    /// added 8 (those messages are the loop's, not a cycle's).
    static func loop() -> [TraceEvent] {
        let b = Builder()
        b.down([]); b.up([])
        let seven = Array(UInt16(100)...106), eight = Array(UInt16(100)...107)
        b.userAdd(seven)
        for i in 0..<5 {
            if i == 3 {
                // cycle 2's mark arrives after cycle 3's close and its DISABLE_QUEUES
                b.e(.close(phase: .enter, ret: nil), dt: 50)
                b.send(.disableQueues)
                b.mark(7, 2)
                b.send(.delVlanV2, seven)
                b.e(.close(phase: .exit, ret: 0))
            } else {
                b.down(seven)
            }
            b.up(seven)
            if i != 2 { b.mark(7, i) }
        }
        b.userDel(seven)
        b.userAdd(eight)
        for i in 0..<2 { b.down(eight); b.up(eight); b.mark(8, i) }
        return b.events
    }

    func write(_ events: [TraceEvent]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("downup-count-\(UUID().uuidString).jsonl").path
        let w = try TraceWriter(path: path, header: TraceHeader(generation: .unpatched, maxFilters: 8, source: .live))
        for e in events { try w.write(e) }
        try w.close()
        return path
    }

    @Test("every cycle counts its own messages, even when its mark comes after the next cycle began")
    func exactCounts() throws {
        let path = try write(Self.loop())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cycles = try DownUpAnalysis.cycles(trace: path, dev: Self.vf1)
        #expect(cycles.map { "\($0.vlans)/\($0.iteration)" } == ["7/0", "7/1", "7/2", "7/3", "7/4", "8/0", "8/1"])
        for c in cycles {
            #expect(c.messages["DEL_VLAN_V2"] == 1, "\(c.vlans)/\(c.iteration): \(c.messages)")
            #expect(c.messages["ADD_VLAN_V2"] == c.vlans, "\(c.vlans)/\(c.iteration): \(c.messages)")
            for op in ["DISABLE_QUEUES", "CONFIG_VSI_QUEUES", "ENABLE_QUEUES"] {
                #expect(c.messages[op] == 1, "\(c.vlans)/\(c.iteration) \(op): \(c.messages)")
            }
            #expect(c.messages["GET_STATS"] == nil, "the other VF's messages are not this cycle's")
            #expect(c.downNs != nil && c.upNs != nil)
        }
        let stats = DownUpAnalysis.stats(cycles)
        #expect(stats.map(\.vlans) == [7, 8])
        #expect(stats.map(\.vlanMessagesPerCycle) == [8, 9])
        #expect(stats[0].messagesPerCycle["ADD_VLAN_V2"] == 7 && stats[0].messagesPerCycle["DEL_VLAN_V2"] == 1)
        #expect(stats[0].messagesPerCycle["ENABLE_QUEUES"] == 1)
    }

    @Test("the cycled device is found from the trace when none is named")
    func deviceFromTrace() throws {
        let path = try write(Self.loop().map { e in
            var e = e
            if e.dev == Self.vf1 { e.dev = "10000:00:03.0" }
            return e
        })
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cycles = try DownUpAnalysis.cycles(trace: path)
        #expect(cycles.count == 7)
        #expect(cycles.allSatisfy { $0.messages["ENABLE_QUEUES"] == 1 })
    }
}
