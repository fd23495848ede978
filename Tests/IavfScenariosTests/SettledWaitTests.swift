import Foundation
import IavfModel
import IavfScenarios
import IavfTrace
import Testing

/// A fake clock and driver: each poll's sleep moves time; the PF's set and the driver's quiet
/// state follow scripts over time.
final class FakeDriver: @unchecked Sendable {
    var nowNs: UInt64 = 1_000_000_000
    var quiet = DriverQuiet()
    /// (from ms, set) steps of what the PF has programmed.
    var programmed: [(UInt64, Set<UInt16>)] = []
    /// ms at which the recorder writes a `settled`.
    var settledAt: [UInt64] = []
    /// ms at which there is probe activity.
    var activityAt: [UInt64] = []
    /// ms at which the recorder writes an event, fed through `DriverQuiet.note`.
    var eventsAt: [(UInt64, TraceEvent.Body)] = []
    var observations = 0
    let t0: UInt64 = 1_000_000_000

    var ms: UInt64 { (nowNs - t0) / 1_000_000 }

    func advance(_ seconds: Double) {
        let from = ms
        nowNs += UInt64(seconds * 1e9)
        for a in activityAt where a > from && a <= ms { quiet.noteActivity(nowNs: t0 + a * 1_000_000) }
        for s in settledAt where s > from && s <= ms { quiet.noteSettled() }
        for (t, e) in eventsAt where t > from && t <= ms { quiet.note(e, nowNs: t0 + t * 1_000_000) }
    }

    func set() -> Set<UInt16> {
        observations += 1
        return programmed.last { $0.0 <= ms }?.1 ?? []
    }

    var wait: SettledWait {
        SettledWait(quiet: { self.quiet }, now: { self.nowNs }, sleep: { self.advance($0) })
    }
}

@Suite("suite: expect believes a match only once the driver is quiet")
struct SettledWaitTests {
    @Test("defect 12: a late DEL after the first matching poll (R3 after a fast down/up) fails the case")
    func lateDelete() throws {
        let d = FakeDriver()
        // The PF has 100 at once; at 200 ms the driver's late DEL removes it; the probes
        // see VLAN work until 250 ms and the recorder says `settled` at 550 ms.
        d.programmed = [(0, [100]), (200, [])]
        d.activityAt = [100, 200, 250]
        d.settledAt = [550]
        let outcome = d.wait.wait(for: Set<UInt16>([100]), within: 2) { d.set() }
        #expect(outcome == .mismatch([]), "matched on the first poll, before the late DEL")
    }

    @Test("a mismatch the driver has been idle on for 4 s fails then, not at the deadline; a driver still at work gets the budget")
    func idleMismatchEndsEarly() {
        let d = FakeDriver()
        // The PF never gets 107; the driver's last record is at 300 ms.
        d.programmed = [(0, [100])]
        d.activityAt = [100, 300]
        #expect(d.wait.wait(for: Set<UInt16>([100, 107]), within: 10) { d.set() } == .mismatch([100]))
        #expect(d.ms >= 4300 && d.ms < 4500, "gave up at \(d.ms) ms")
        // Activity every 2 s (a driver retrying): no early end; the match at 7 s passes.
        let busy = FakeDriver()
        busy.programmed = [(0, [100]), (7000, [100, 107])]
        busy.activityAt = [1000, 3000, 5000, 7000]
        busy.settledAt = [7300]
        #expect(busy.wait.wait(for: Set<UInt16>([100, 107]), within: 10) { busy.set() } == .matched)
        // A reset in flight is not idleness, however long it is quiet.
        let reset = FakeDriver()
        reset.programmed = [(0, [])]
        reset.quiet.noteReset(entering: true)
        #expect(reset.wait.wait(for: Set<UInt16>([100]), within: 6) { reset.set() } == .mismatch([]))
        #expect(reset.ms >= 6000)
    }

    /// The watchdog's train on an idle, up VF: GET_STATS, its reply, the same snapshot, `settled`.
    static func watchdogTick(at ms: UInt64, list: [Filter]) -> [(UInt64, TraceEvent.Body)] {
        [(ms, .send(op: .getStats, vids: [], ret: nil)), (ms + 5, .reply(op: .getStats, retval: 0)),
         (ms + 6, .snapshot(filters: list, count: list.count, at: "reply")), (ms + 300, .settled(reason: nil))]
    }

    @Test("the watchdog's GET_STATS every 2 s does not keep a stuck driver's mismatch waiting to the budget")
    func watchdogIsNotActivity() {
        // Unpatched, after a fast down/up: VLAN 100 stays INACTIVE, the PF has nothing, the
        // watchdog asks for stats every 2 s. The wait gives up 4 s after the last VLAN work
        // (at 200 ms), not at 30 s.
        let stuck = [Filter(vid: 100, state: .INACTIVE)]
        let d = FakeDriver()
        d.programmed = [(0, [])]
        d.eventsAt = [(100, .addVid(key: VlanKey(vid: 100), phase: .exit, ret: 0)), (200, .snapshot(filters: stuck, count: 1, at: "add_vid"))]
            + stride(from: 1000, to: 30000, by: 2000).flatMap { Self.watchdogTick(at: UInt64($0), list: stuck) }
        #expect(d.wait.wait(for: Set<UInt16>([100]), within: 30) { d.set() } == .mismatch([]))
        #expect(d.ms >= 4200 && d.ms < 4400, "gave up at \(d.ms) ms")
        // The same train with the list changing (the driver still at work on it) is activity:
        // a reply that makes the filter ACTIVE at 9 s, with the PF programming it, passes.
        let late = FakeDriver()
        late.programmed = [(0, []), (9000, [100])]
        late.eventsAt = [(3000, .send(op: .addVlanV2, vids: [VlanKey(vid: 100)], ret: 0)),
                         (3006, .snapshot(filters: [Filter(vid: 100, state: .ADD)], count: 1, at: "send")),
                         (6000, .snapshot(filters: [Filter(vid: 100, state: .IS_NEW)], count: 1, at: "reply")),
                         (9000, .reply(op: .addVlanV2, retval: 0)), (9300, .settled(reason: nil))]
        #expect(late.wait.wait(for: Set<UInt16>([100]), within: 30) { late.set() } == .matched)
        #expect(late.ms >= 9300)
    }

    @Test("note: a reset opens and closes, GET_STATS and a repeated snapshot leave the activity time alone")
    func noteClassifies() {
        var q = DriverQuiet()
        let list = [Filter(vid: 7, state: .ACTIVE)]
        q.note(.snapshot(filters: list, count: 1, at: "reply"), nowNs: 10)
        #expect(q.lastActivityNs == 10 && q.listEmpty == false)
        q.note(.send(op: .getStats, vids: [], ret: nil), nowNs: 20)
        q.note(.reply(op: .getStats, retval: 0), nowNs: 21)
        q.note(.snapshot(filters: list, count: 1, at: "reply"), nowNs: 22)
        q.note(.mark(text: "case", result: .PASS), nowNs: 23)
        #expect(q.lastActivityNs == 10)
        q.note(.reply(op: .delVlanV2, retval: 0), nowNs: 30)
        #expect(q.lastActivityNs == 30)
        q.note(.snapshot(filters: [], count: 0, at: "reply"), nowNs: 40)
        #expect(q.lastActivityNs == 40 && q.listEmpty == true)
        q.note(.reset(phase: .enter), nowNs: 50)
        q.note(.settled(reason: nil), nowNs: 51)
        #expect(q.resetOpen && q.settled == 0, "a settled inside a reset does not count")
        q.note(.reset(phase: .exit), nowNs: 60)
        q.note(.settled(reason: nil), nowNs: 61)
        #expect(!q.resetOpen && q.settled == 1 && q.lastActivityNs == 60)
    }

    @Test("a match that holds once the driver is quiet passes, and waits for the quiet")
    func holds() {
        let d = FakeDriver()
        d.programmed = [(0, []), (120, [100, 101])]
        d.activityAt = [50, 120]
        d.settledAt = [420]
        #expect(d.wait.wait(for: Set<UInt16>([100, 101]), within: 2) { d.set() } == .matched)
        #expect(d.ms >= 420, "returned at \(d.ms) ms, before the driver was quiet")
    }

    @Test("a transient mismatch that the driver repairs before it is quiet still passes")
    func repaired() {
        let d = FakeDriver()
        d.programmed = [(0, [100]), (100, []), (300, [100])]
        d.activityAt = [100, 300]
        d.settledAt = [600]
        #expect(d.wait.wait(for: Set<UInt16>([100]), within: 3) { d.set() } == .matched)
    }

    @Test("an idle driver (no record at all for a second) counts as quiet; a reset in flight does not")
    func idleAndReset() {
        let d = FakeDriver()
        d.programmed = [(0, [100])]
        #expect(d.wait.wait(for: Set<UInt16>([100]), within: 2) { d.set() } == .matched)
        #expect(d.ms >= 1000)
        let r = FakeDriver()
        r.programmed = [(0, [100])]
        r.quiet.noteReset(entering: true)
        var w = r.wait
        w.quietBudget = 2
        #expect(w.wait(for: Set<UInt16>([100]), within: 1) { r.set() } == .notQuiet([100]))
    }

    @Test("no quiet state at all (watch not publishing) is not quiet")
    func noState() {
        let d = FakeDriver()
        d.programmed = [(0, [100])]
        var w = SettledWait(quiet: { nil }, now: { d.nowNs }, sleep: { d.advance($0) })
        w.quietBudget = 1
        #expect(w.wait(for: Set<UInt16>([100]), within: 1) { d.set() } == .notQuiet([100]))
    }

    @Test("the quiet file keeps each VF apart, round-trips and follows a rebound VF")
    func quietFile() throws {
        var q = DriverQuiet()
        q.noteActivity(nowNs: 123_456)
        q.noteSettled(); q.noteSettled()
        q.noteSnapshot(empty: false)
        #expect(DriverQuiet(line: q.line) == q)
        q.noteReset(entering: true)
        q.noteSettled()     // inside a reset: not counted
        #expect(q.settled == 2)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("quiet-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var other = DriverQuiet()
        other.noteSettled(); other.noteSettled(); other.noteSettled()
        var rebound = DriverQuiet()
        rebound.noteActivity(nowNs: 999)
        DriverQuiet.write(["10000:00:00.0": q, "10000:00:01.0": other], path: path)
        #expect(DriverQuiet.read(path: path, device: "10000:00:00.0") == q)
        #expect(DriverQuiet.read(path: path, device: "10000:00:01.0") == other, "each VF its own state")
        #expect(DriverQuiet.read(path: path, device: "10000:00:02.0") == nil)
        // After an unbind/bind the recorder names the new adapter "ADDR#2": that one counts.
        DriverQuiet.write(["10000:00:00.0": q, "10000:00:00.0#2": rebound, "10000:00:01.0": other], path: path)
        #expect(DriverQuiet.read(path: path, device: "10000:00:00.0") == rebound)
        #expect(DriverQuiet(line: "garbage") == nil)
    }
}
