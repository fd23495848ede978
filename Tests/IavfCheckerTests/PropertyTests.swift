import IavfChecker
import IavfModel
import IavfSim
import IavfTrace
import Testing
import Foundation

typealias SeededRandom = SplitMix64

/// What the random driver may do. Each switch opens the door to one documented hole.
struct Interleavings {
    var addErrors = false      // the PF rejects V2 ADDs (lost-filter, both generations)
    var delErrors = false      // the PF rejects DELs (R4 in U, pf-refused-delete in P)
    var resets = false         // VF resets (S3)
    var closeWithAddPending = false  // a down while an ADD waits for its tick (S1 in P)
    var readdDuringDelete = false    // kill, DEL out, add, kill again before the reply
    var downWithReplyOutstanding = false  // a down cancels current_op with a reply due (S4)
}

/// Runs `ops` random operations against the simulated driver and checks the trace.
func randomRun(_ g: Generation, _ mode: VlanMode, seed: UInt64, ops: Int, _ allow: Interleavings) -> CheckReport {
    let events = randomRunEvents(g, mode, seed: seed, ops: ops, allow)
    let checker = Checker(header: TraceHeader(generation: g, vlanMode: mode, maxFilters: mode == .v2 ? 8 : nil), contextDepth: 0)
    for e in events { checker.feed(e) }
    return checker.finish()
}

func randomRunEvents(_ g: Generation, _ mode: VlanMode, seed: UInt64, ops: Int, _ allow: Interleavings) -> [TraceEvent] {
    var rng = SeededRandom(seed: seed)
    var events: [TraceEvent] = []
    var sim = SimulatedDriver(generation: g, vlanMode: mode, maxFilters: 8) { events.append($0) }
    let pool: [UInt16] = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]
    var devices = Set<UInt16>()   // VLAN devices the "user" has
    var up = true
    func inFlight(_ v: UInt16) -> Bool {
        sim.model.entry(VlanKey(vid: v))?.state == .REMOVING
    }
    for _ in 0..<ops {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<18:
            let v = pool.randomElement(using: &rng)!
            if !devices.contains(v) {
                if !allow.readdDuringDelete && inFlight(v) { continue }
                if sim.userAdd(v) == 0 { devices.insert(v) }
            }
        case 18..<32:
            if let v = devices.randomElement(using: &rng) {
                if !allow.readdDuringDelete && sim.model.entry(VlanKey(vid: v)).map({ $0.state == .ADD && $0.last(.readdedWhileRemoving) != nil }) == true { continue }
                sim.userKill(v)
                devices.remove(v)
            }
        case 32..<55: sim.tick()
        case 55..<72:
            let err = (allow.addErrors && sim.outstanding.first?.isVlanAdd == true && Int.random(in: 0..<4, using: &rng) == 0)
                || (allow.delErrors && sim.outstanding.first?.isVlanDel == true && Int.random(in: 0..<3, using: &rng) == 0)
            sim.pfReply(retval: err ? -5 : 0)
        case 72..<80:
            if up {
                if !allow.closeWithAddPending {
                    // Let queued ADDs reach the PF first, as a slow user would.
                    var n = 0
                    while sim.model.addBit && n < 32 { if !sim.tick() { sim.pfReply() }; n += 1 }
                }
                if !allow.downWithReplyOutstanding { while sim.pfReply() {} }
                sim.down(); up = false
            } else { sim.up(); up = true }
        case 80..<83:
            if allow.resets { sim.reset() }
        case 83..<90: sim.settle()
        default: sim.runUntilSettled()
        }
    }
    if !up { sim.up() }
    sim.runUntilSettled()
    return events
}

func causes(_ r: CheckReport, _ severity: Severity? = nil) -> Set<String> {
    Set(r.findings.filter { severity == nil || $0.severity == severity! }.map { $0.cause?.rawValue ?? "none:\($0.rule.rawValue)" })
}

@Suite("Random interleavings generated from the model")
struct PropertyTests {
    static let seeds: [UInt64] = Array(1...150)

    @Test("patched, no hole opened: no violation and no warning, in V1 and V2", arguments: [VlanMode.v1, .v2])
    func patchedCleanRunsPass(mode: VlanMode) {
        for seed in Self.seeds {
            let r = randomRun(.patched, mode, seed: seed, ops: 200, Interleavings(delErrors: true))
            let bad = r.findings.filter { $0.severity != .note }
            #expect(bad.isEmpty, "seed \(seed): \(bad.map { "\($0.rule.rawValue) VLAN \($0.key?.description ?? "-") seq \($0.seq): \($0.message)" })")
            #expect(r.countsByRule[.stateDivergence] == nil)
        }
    }

    @Test("patched, every hole open: each finding is one of the documented residual holes")
    func patchedFindingsAreDocumentedHoles() {
        let allowed: Set<String> = [Cause.S1, .S2, .S3, .S4, .pfRejectedAdd, .readdKillDuringDelete].map(\.rawValue)
            .reduce(into: Set()) { $0.insert($1) }
        var seen = Set<String>()
        let all = Interleavings(addErrors: true, delErrors: true, resets: true, closeWithAddPending: true, readdDuringDelete: true,
                               downWithReplyOutstanding: true)
        for mode in [VlanMode.v1, .v2] {
            for seed in Self.seeds {
                let r = randomRun(.patched, mode, seed: seed, ops: 250, all)
                #expect(r.countsByRule[.stateDivergence] == nil, "seed \(seed) \(mode): the model disagrees with itself")
                let c = causes(r).subtracting(["none:pf-refused-delete"])
                #expect(c.isSubset(of: allowed), "seed \(seed) \(mode): undocumented \(c.subtracting(allowed))")
                seen.formUnion(c)
            }
        }
        // The generator must reach the holes it claims to cover, or the test proves nothing.
        print("patched, every hole open: causes reached \(seen.sorted())")
        #expect(seen == ["S1", "S2", "S3", "S4", "pf-rejected-add", "P-readd-kill"], "reached only \(seen.sorted())")
    }

    @Test("patched, only S1 open: the only findings are stuck filters named S1")
    func patchedS1Alone() {
        var total = 0
        for seed in Self.seeds {
            let r = randomRun(.patched, .v2, seed: seed, ops: 200, Interleavings(closeWithAddPending: true))
            #expect(causes(r).isSubset(of: ["S1"]), "seed \(seed): \(causes(r))")
            #expect(Set(r.findings.map(\.rule)).isSubset(of: [.stuckFilter]))
            total += r.findings.count
        }
        #expect(total > 0, "the generator never stranded an ADD")
    }

    @Test("patched, only resets open: the only findings are named S3")
    func patchedS3Alone() {
        var total = 0
        for seed in Self.seeds {
            let r = randomRun(.patched, .v2, seed: seed, ops: 200, Interleavings(resets: true))
            #expect(causes(r).isSubset(of: ["S3"]), "seed \(seed): \(causes(r))")
            total += r.findings.count
        }
        #expect(total > 0, "no reset ever resurrected a deleted filter")
    }

    @Test("unpatched: the generator reaches R1, R3, R4 and R5 and the checker names them")
    func unpatchedRacesNamed() {
        var seen = Set<String>()
        let all = Interleavings(addErrors: false, delErrors: true, resets: false, closeWithAddPending: false,
                               downWithReplyOutstanding: true)
        for mode in [VlanMode.v1, .v2] {
            for seed in Self.seeds {
                let r = randomRun(.unpatched, mode, seed: seed, ops: 200, all)
                #expect(r.countsByRule[.stateDivergence] == nil, "seed \(seed) \(mode): the model disagrees with itself")
                seen.formUnion(causes(r, .violation))
            }
        }
        #expect(seen.isSuperset(of: ["R1", "R3", "R4", "R5"]), "reached only \(seen.sorted())")
        #expect(!seen.contains { $0.hasPrefix("none:") }, "violations without a cause: \(seen.filter { $0.hasPrefix("none:") })")
    }
}

