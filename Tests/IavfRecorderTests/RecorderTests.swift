import IavfChecker
import IavfModel
@testable import IavfProbes
import IavfRecorder
import IavfTrace
import Testing

private let eth = ProbeDevice(key: 1, ifindex: 3, ifname: "eth0", bus: "0000:00:05.0")

private func ev(_ kind: ProbeEventKind, _ phase: ProbePhase, t: UInt64, ret: Int32? = nil, _ payload: ProbePayload) -> ProbeEvent {
    ProbeEvent(kind: kind, phase: phase, cpu: 0, pid: 1, tid: 1, timestampNs: t, cpuDrops: 0, device: eth,
               ret: ret, synthetic: false, payload: payload)
}

private func snapshot(_ fs: [(UInt16, String?)], t: UInt64, currentOp: UInt32 = 0, aq: UInt64 = 0,
                      v2: Bool = true, max: UInt16 = 8, at: ProbeEventKind = .addVid) -> ProbeEvent {
    let s = ProbeSnapshot(at: at, count: Int32(fs.count),
                          filters: fs.map { SnapshotFilter(vid: $0.0, tpid: 0x8100, stateValue: 99, state: $0.1) },
                          truncated: false, readError: false, adapterState: 13, aqRequired: aq, currentOp: currentOp,
                          adapterFlags: 0, vfCapFlags: v2 ? 1 << 15 : 1 << 16, maxFilters: max,
                          filteringOuter: 0, filteringInner: 1)
    return ev(.snapshot, .none, t: t, .snapshot(s))
}

/// A recorder whose output is kept in memory.
private final class Capture {
    var header: TraceHeader?
    var events: [TraceEvent] = []
    lazy var recorder = TraceRecorder(generation: .patched, kernel: "6.1.0-56-amd64", settlePeriodNs: 100_000_000,
                                      start: { [unowned self] in self.header = $0 },
                                      emit: { [unowned self] in self.events.append($0) })
}

@Suite("Live recorder: probe records to contract events")
struct RecorderTests {
    @Test("records map to the contract's events; add_vlans/del_vlans records keep only their snapshots")
    func mapping() throws {
        let c = Capture()
        let r = c.recorder
        try r.handle(.event(ev(.addVid, .enter, t: 10, .vid(VlanKey(vid: 100)))))
        try r.handle(.event(ev(.addVid, .exit, t: 20, ret: 0, .vid(VlanKey(vid: 100)))))
        try r.handle(.event(snapshot([(100, "ADD")], t: 21, aq: SettleDetector.addVlanBit)))
        try r.handle(.event(ev(.addVlans, .enter, t: 30, .vid(VlanKey(vid: 0)))))
        let send = ProbeSend(op: 52, opName: "ADD_VLAN_V2", messageLength: 40, numElements: 1,
                             vids: [VlanKey(vid: 100)], vlanVersion: 2, truncated: false, readError: false)
        try r.handle(.event(ev(.send, .enter, t: 31, .send(send))))
        try r.handle(.event(ev(.reply, .enter, t: 40, .reply(op: 52, opName: "ADD_VLAN_V2", retval: 0))))
        try r.handle(.event(snapshot([(100, "ACTIVE")], t: 41, at: .reply)))
        try r.finish()
        #expect(c.header == TraceHeader(generation: .patched, kernel: "6.1.0-56-amd64", vlanMode: .v2, maxFilters: 8, source: .live, midStream: true))
        #expect(c.events.map(\.kind) == ["add_vid", "add_vid", "snapshot", "send", "reply", "snapshot"])
        #expect(c.events.map(\.seq) == [1, 2, 3, 4, 5, 6])
        #expect(c.events[1].body == .addVid(key: VlanKey(vid: 100), phase: .exit, ret: 0))
        #expect(c.events[3].body == .send(op: .addVlanV2, vids: [VlanKey(vid: 100)], ret: nil))
        #expect(c.events[5].body == .snapshot(filters: [Filter(vid: 100, state: .ACTIVE)], count: 1, at: "reply"))
        #expect(Set(c.events.map(\.dev)) == ["0000:00:05.0"])
    }

    @Test("time never goes back, even when CPUs deliver out of order")
    func monotonicTime() throws {
        let c = Capture()
        try c.recorder.handle(.event(snapshot([], t: 500)))
        try c.recorder.handle(.event(ev(.down, .enter, t: 400, .vid(VlanKey(vid: 0)))))
        #expect(c.events.map(\.tNs) == [500, 500])
    }

    @Test("settled comes once per quiet spell, only after the settle period and only when no VLAN work is pending")
    func settled() throws {
        let c = Capture()
        let r = c.recorder
        try r.handle(.event(snapshot([(100, "ADD")], t: 1_000, aq: SettleDetector.addVlanBit)))
        try r.tick(nowNs: 500_000_000)
        #expect(!c.events.contains { $0.kind == "settled" }, "ADD bit still set")
        try r.handle(.event(snapshot([(100, "ADDING")], t: 600_000_000, currentOp: 52)))
        try r.tick(nowNs: 900_000_000)
        #expect(!c.events.contains { $0.kind == "settled" }, "a request is outstanding")
        try r.handle(.event(snapshot([(100, "ACTIVE")], t: 1_000_000_000)))
        try r.tick(nowNs: 1_050_000_000)
        #expect(!c.events.contains { $0.kind == "settled" }, "quiet for only 50 ms")
        try r.tick(nowNs: 1_200_000_000)
        try r.tick(nowNs: 1_300_000_000)
        #expect(c.events.filter { $0.kind == "settled" }.count == 1)
    }

    @Test("lost records become a lost event for every device; the checker then calls the run inconclusive")
    func lost() throws {
        let c = Capture()
        try c.recorder.handle(.event(snapshot([], t: 1)))
        try c.recorder.handle(.lost(count: 7))
        #expect(c.events.last?.body == .lost(count: 7))
        let checker = Checker(header: c.header!)
        for e in c.events { checker.feed(e) }
        #expect(checker.finish().verdict == .inconclusive)
    }

    @Test("a changed V2 limit after a reset becomes a caps event")
    func caps() throws {
        let c = Capture()
        try c.recorder.handle(.event(snapshot([], t: 1, max: 8)))
        try c.recorder.handle(.event(snapshot([], t: 2, max: 4096)))
        #expect(c.events.contains { $0.body == .caps(maxFilters: 4096) })
    }

    @Test("unknown state names are recorded as INVALID and reported")
    func unknownState() throws {
        let c = Capture()
        try c.recorder.handle(.event(snapshot([(5, "FUTURE")], t: 1)))
        #expect(c.events.first?.body == .snapshot(filters: [Filter(vid: 5, state: .INVALID)], count: 1, at: "add_vid"))
        #expect(c.recorder.unknownStates == ["FUTURE"])
    }

    @Test("selftest output lines become marks", arguments: [
        ("ok 3 state: basic add/remove", "state: basic add/remove", TraceEvent.MarkResult.PASS),
        ("not ok 4 - state: 8 VLANs add/remove", "state: 8 VLANs add/remove", .FAIL),
        ("ok 5 reset: FLR # SKIP no VF", "reset: FLR", .SKIP),
        ("PASS: state: VLAN VID 1 (common edge case)", "state: VLAN VID 1 (common edge case)", .PASS),
        ("[FAIL] state: stress 8 VLANs (fill to max)", "state: stress 8 VLANs (fill to max)", .FAIL),
        ("reset: VLANs survive PF link flap ... SKIP", "reset: VLANs survive PF link flap", .SKIP),
        ("  state: add VLAN while down: PASS", "state: add VLAN while down", .PASS),
    ])
    func marks(line: String, text: String, result: TraceEvent.MarkResult) {
        let m = MarkParser.parse(line)
        #expect(m?.text == text)
        #expect(m?.result == result)
    }

    @Test("lines that are not results are not marks", arguments: [
        "RTNETLINK answers: Input/output error", "# Totals: pass:46 fail:6", "", "PASS", "1..52", "Passed the test",
    ])
    func notMarks(line: String) {
        #expect(MarkParser.parse(line) == nil)
    }
}

@Suite("Live recorder: adapters")
struct RecorderAdapterTests {
    @Test("an adapter probed again after unbind/bind is a new device with its own list")
    func rebind() throws {
        var events: [TraceEvent] = []
        let r = TraceRecorder(generation: .patched, kernel: "k", settlePeriodNs: 1, start: { _ in }, emit: { events.append($0) })
        func snap(_ key: UInt64, _ t: UInt64) -> ProbeEvent {
            let s = ProbeSnapshot(at: .addVid, count: 0, filters: [], truncated: false, readError: false, adapterState: 13,
                                  aqRequired: 0, currentOp: 0, adapterFlags: 0, vfCapFlags: 1 << 15, maxFilters: 8,
                                  filteringOuter: 0, filteringInner: 1)
            return ProbeEvent(kind: .snapshot, phase: .none, cpu: 0, pid: 1, tid: 1, timestampNs: t, cpuDrops: 0,
                              device: ProbeDevice(key: key, ifindex: 3, ifname: "eth0", bus: "10000:00:00.0"),
                              ret: nil, synthetic: false, payload: .snapshot(s))
        }
        try r.handle(.event(snap(0xaaaa, 1)))
        try r.handle(.event(snap(0xbbbb, 2)))
        try r.handle(.event(snap(0xaaaa, 3)))
        #expect(events.map(\.dev) == ["10000:00:00.0", "10000:00:00.0#2", "10000:00:00.0"])
    }

    @Test("a removed adapter whose address the next probe gets again is a new device too; a reset's RESET_VF and VERSION are not a removal")
    func rebindSameAddress() throws {
        var events: [TraceEvent] = []
        let r = TraceRecorder(generation: .patched, kernel: "k", settlePeriodNs: 1, start: { _ in }, emit: { events.append($0) })
        var t: UInt64 = 0
        func record(_ kind: ProbeEventKind, _ phase: ProbePhase = .none, op: VirtchnlOp? = nil) -> ProbeEvent {
            t += 1
            let payload: ProbePayload
            if let op {
                payload = .send(ProbeSend(op: UInt32(op.code), opName: op.name, messageLength: 0, numElements: 0, vids: [],
                                          vlanVersion: nil, truncated: false, readError: false))
            } else if kind == .snapshot {
                payload = .snapshot(ProbeSnapshot(at: .addVid, count: 0, filters: [], truncated: false, readError: false, adapterState: 13,
                                                  aqRequired: 0, currentOp: 0, adapterFlags: 0, vfCapFlags: 1 << 15, maxFilters: 8,
                                                  filteringOuter: 0, filteringInner: 1))
            } else {
                payload = .none
            }
            return ProbeEvent(kind: kind, phase: phase, cpu: 0, pid: 1, tid: 1, timestampNs: t, cpuDrops: 0,
                              device: ProbeDevice(key: 0xaaaa, ifindex: 3, ifname: "eth0", bus: "10000:00:00.0"),
                              ret: nil, synthetic: false, payload: payload)
        }
        // A VF reset: RESET_VF inside iavf_reset_task, VERSION after it: the same adapter.
        for e in [record(.snapshot), record(.reset, .enter), record(.send, op: .resetVF), record(.reset, .exit),
                  record(.send, op: .version), record(.snapshot)] { try r.handle(.event(e)) }
        #expect(Set(events.map(\.dev)) == ["10000:00:00.0"])
        // iavf_remove: RESET_VF twice outside a reset; the next probe, at the same address,
        // starts with VERSION: a new adapter.
        events.removeAll()
        for e in [record(.send, op: .resetVF), record(.send, op: .resetVF), record(.send, op: .version), record(.snapshot)] {
            try r.handle(.event(e))
        }
        #expect(events.map(\.dev) == ["10000:00:00.0", "10000:00:00.0", "10000:00:00.0#2", "10000:00:00.0#2"])
    }

    @Test("marks before any record go to markDevice, then to the first device seen")
    func marksBeforeRecords() throws {
        var events: [TraceEvent] = []
        let r = TraceRecorder(generation: .patched, kernel: "k", settlePeriodNs: 1, start: { _ in }, emit: { events.append($0) })
        try r.mark("first", result: nil, nowNs: 1)
        r.markDevice = "10000:00:00.0"
        try r.mark("second", result: nil, nowNs: 2)
        try r.finish()
        #expect(events.map(\.dev) == ["unknown", "10000:00:00.0"])
    }

    @Test("a torn, truncated or unreadable snapshot is not written")
    func inconsistentSnapshots() throws {
        var events: [TraceEvent] = []
        let r = TraceRecorder(generation: .patched, kernel: "k", settlePeriodNs: 1, start: { _ in }, emit: { events.append($0) })
        for (torn, trunc, err) in [(true, false, false), (false, true, false), (false, false, true), (false, false, false)] {
            var s = ProbeSnapshot(at: .addVid, count: 0, filters: [], truncated: trunc, readError: err, adapterState: 13,
                                  aqRequired: 0, currentOp: 0, adapterFlags: 0, vfCapFlags: 1 << 15, maxFilters: 8,
                                  filteringOuter: 0, filteringInner: 1)
            s.torn = torn
            try r.handle(.event(ProbeEvent(kind: .snapshot, phase: .none, cpu: 0, pid: 1, tid: 1, timestampNs: 1, cpuDrops: 0,
                                           device: ProbeDevice(key: 1, ifindex: 3, ifname: "eth0", bus: ""),
                                           ret: nil, synthetic: false, payload: .snapshot(s))))
        }
        try r.finish()
        #expect(events.filter { $0.kind == "snapshot" }.count == 1)
        #expect(r.snapshotsDroppedInconsistent == 3)
    }
}
