import IavfModel
import IavfReport
import IavfTrace
import Testing

@Suite("the timeline the exporters draw from")
struct TimelineTests {
    static func build(_ bodies: [TraceEvent.Body]) -> TraceTimeline.Device {
        let b = TimelineBuilder(header: TraceHeader(generation: .patched))
        for (i, body) in bodies.enumerated() { b.feed(TraceEvent(seq: Int64(i + 1), tNs: Int64(i + 1) * 1000, dev: "eth0", body)) }
        return b.finish().devices[0]
    }

    @Test("a state lasts until a snapshot shows another or the filter is gone")
    func states() {
        let k = VlanKey(vid: 5)
        let d = Self.build([
            .snapshot(filters: [Filter(key: k, state: .ADD)], count: 1, at: nil),
            .snapshot(filters: [Filter(key: k, state: .ADD)], count: 1, at: nil),
            .snapshot(filters: [Filter(key: k, state: .ACTIVE)], count: 1, at: nil),
            .snapshot(filters: [], count: 0, at: nil),
            .settled(reason: nil),
        ])
        #expect(d.states.map(\.state) == [.ADD, .ACTIVE])
        #expect(d.states.map(\.startSeq) == [1, 3])
        #expect(d.states.map(\.endSeq) == [3, 4])
        #expect(d.states.allSatisfy { !$0.openEnded })
        #expect(d.vlans == [k])
    }

    @Test("a reply answers the latest send of its op; a reset drops what was in flight")
    func pairing() {
        let k = VlanKey(vid: 5)
        let d = Self.build([
            .send(op: .addVlanV2, vids: [k], ret: 0),
            .reset(phase: .enter),
            .reply(op: .addVlanV2, retval: 0),
            .reset(phase: .exit),
            .send(op: .delVlanV2, vids: [k], ret: 0),
            .reply(op: .delVlanV2, retval: -5),
            .down(phase: .enter), .down(phase: .exit),
        ])
        #expect(d.messages.count == 2)
        #expect(d.messages[0].replySeq == nil)
        #expect(d.messages[1].replySeq == 6 && d.messages[1].retval == -5)
        #expect(d.replies.map(\.messageID) == [nil, d.messages[1].id])
        #expect(d.resets.count == 1 && d.resets[0].startSeq == 2 && d.resets[0].endSeq == 4)
        // Down until a successful open: still down at the end.
        #expect(d.downs.count == 1 && d.downs[0].openEnded)
    }
}
