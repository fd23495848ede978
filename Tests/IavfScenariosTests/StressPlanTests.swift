import IavfScenarios
import Testing

@Suite("stress: op sequences")
struct StressPlanTests {
    @Test("the same seed draws the same ops; another seed draws others")
    func seeded() {
        let a = StressPlan.generate(seed: 42, count: 200)
        #expect(a == StressPlan.generate(seed: 42, count: 200))
        #expect(a != StressPlan.generate(seed: 43, count: 200))
        #expect(a.count == 200)
        // Pinned: a seed printed by an older build must still mean the same ops.
        #expect(StressPlan.text(StressPlan.generate(seed: 7, count: 8))
                == "pf-reset; del 103; wait 50; netns; add 103; add 100; del 100; add 101")
    }

    @Test("every kind of op is drawn, VIDs stay in the pool, most deletes name a VLAN the adds made")
    func coverage() {
        let ops = StressPlan.generate(seed: 1, count: 2000)
        var present = Set<UInt16>(), dels = 0, meaningful = 0
        for op in ops {
            switch op {
            case .add(let v): present.insert(v)
            case .del(let v): dels += 1; if present.remove(v) != nil { meaningful += 1 }
            case .netns: present.removeAll()
            default: break
            }
        }
        #expect(Double(meaningful) / Double(dels) > 0.6, "\(meaningful) of \(dels) deletes")
        let kinds = Set(ops.map { $0.description.split(separator: " ")[0] })
        #expect(kinds == ["add", "del", "down", "up", "wait", "netns", "pf-reset", "flr", "link-flap", "reject-add", "reject-del"])
        for op in ops {
            switch op {
            case .add(let v), .del(let v): #expect(StressPlan.vids.contains(v))
            default: break
            }
        }
    }

    @Test("excluded kinds are never drawn; the rest still are")
    func excluding() {
        let ops = StressPlan.generate(seed: 1, count: 2000, excluding: ["reject-add", "reject-del", "netns"])
        let kinds = Set(ops.map { $0.description.split(separator: " ")[0] })
        #expect(kinds == ["add", "del", "down", "up", "wait", "pf-reset", "flr", "link-flap"])
    }

    @Test("text round-trips through parse")
    func roundTrip() throws {
        let ops = StressPlan.generate(seed: 9, count: 300)
        #expect(try StressPlan.parse(StressPlan.text(ops)) == ops)
        #expect(try StressPlan.parse("add 100;down\n up ; wait 20") == [.add(100), .down, .up, .wait(ms: 20)])
    }

    @Test("bad ops are refused with the op's number and the vocabulary")
    func badOps() {
        for bad in ["", "add", "add 0", "add 4095", "del x", "explode", "wait -1", "down 3"] {
            #expect(throws: StressPlanError.self, "\(bad)") { try StressPlan.parse("add 100; " + bad + (bad.isEmpty ? "x" : "")) }
        }
        do {
            _ = try StressPlan.parse("add 100; add 101; jump")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("op 3 'jump'") && "\(error)".contains("reject-del"))
        }
    }
}

@Suite("stress: shrinking")
struct ShrinkerTests {
    @Test("shrinks to exactly the ops a deterministic failure needs, in order")
    func deterministic() {
        let ops = StressPlan.generate(seed: 5, count: 40) + [.add(100), .rejectDel, .del(100)] + StressPlan.generate(seed: 6, count: 40)
        // Fails when add 100, reject-del, del 100 occur in this order (not necessarily adjacent).
        func fails(_ s: [StressOp]) -> Bool {
            guard let a = s.firstIndex(of: .add(100)), let r = s[a...].firstIndex(of: .rejectDel),
                  s[r...].contains(.del(100)) else { return false }
            return true
        }
        var shrinker = Shrinker<StressOp>(maxAttempts: 500)
        let minimal = shrinker.shrink(ops, reproduces: fails)
        #expect(minimal == [.add(100), .rejectDel, .del(100)])
        #expect(shrinker.attempts < 200)
    }

    @Test("a flaky failure still shrinks when the predicate retries; the budget is respected")
    func flakyAndBudget() {
        var rng = FlakyCoin(seed: 3)
        let ops: [StressOp] = (0..<30).map { .wait(ms: $0) }
        func fails(_ s: [StressOp]) -> Bool {
            guard s.contains(.wait(ms: 17)) else { return false }
            for _ in 0..<6 where rng.heads() { return true } // reproduces about half the time
            return false
        }
        var shrinker = Shrinker<StressOp>(maxAttempts: 300)
        #expect(shrinker.shrink(ops, reproduces: fails) == [.wait(ms: 17)])
        var tight = Shrinker<StressOp>(maxAttempts: 3)
        let partial = tight.shrink(ops) { $0.contains(.wait(ms: 17)) }
        #expect(tight.attempts == 3 && partial.contains(.wait(ms: 17)) && partial.count < ops.count)
    }

    @Test("a sequence that needs every op is returned whole")
    func irreducible() {
        let ops: [StressOp] = [.add(1), .down, .up]
        var shrinker = Shrinker<StressOp>(maxAttempts: 100)
        #expect(shrinker.shrink(ops) { $0 == ops } == ops)
    }
}

struct FlakyCoin {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func heads() -> Bool {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 63 == 1
    }
}

@Suite struct VlanBatchTests {
    @Test("ip -batch's failing line becomes the op the storm cases name")
    func batchFailure() {
        #expect(Testbed.failedBatchOp("RTNETLINK answers: Input/output error\nCommand failed /tmp/iavf-check-ops-7.batch:13\n") == 12)
        #expect(Testbed.failedBatchOp("Cannot find device \"x\"\nCommand failed /tmp/a:b.batch:1") == 0)
        #expect(Testbed.failedBatchOp("RTNETLINK answers: File exists") == nil)
    }
}
