import IavfScenarios
import Testing

@Suite struct StressModeTests {
    /// The S3 window in a drawn sequence: a VLAN added, then a reset (PF or FLR) followed at
    /// once by the delete of a VLAN that is present.
    static func hasResetThenDelete(_ ops: [StressOp]) -> Bool {
        var present = Set<UInt16>()
        for (i, op) in ops.enumerated() {
            switch op {
            case .add(let v): present.insert(v)
            case .del(let v):
                if i > 0, [.pfReset, .flr].contains(ops[i - 1]), present.contains(v) { return true }
                present.remove(v)
            case .netns: present.removeAll()
            default: break
            }
        }
        return false
    }

    @Test("uniform draws are what they always were; every mode is a function of the seed")
    func deterministic() {
        for mode in StressMode.allCases {
            #expect(StressPlan.generate(seed: 21, count: 50, mode: mode) == StressPlan.generate(seed: 21, count: 50, mode: mode))
        }
        #expect(StressPlan.generate(seed: 21, count: 50) == StressPlan.generate(seed: 21, count: 50, mode: .uniform))
    }

    @Test("swarm draws each sequence from a subset of kinds that always has add and del, and honours --without")
    func swarm() {
        var sizes = Set<Int>()
        for seed in UInt64(1)...200 {
            let kinds = Set(StressPlan.generate(seed: seed, count: 200, excluding: ["netns"], mode: .swarm).map(\.kind))
            #expect(kinds.isSuperset(of: ["add", "del"]) && !kinds.contains("netns"))
            sizes.insert(kinds.count)
        }
        #expect(sizes.count > 3)   // subsets of many sizes, not one fixed set
    }

    @Test("guided puts a delete right after a reset far more often than uniform (the S3 window), 2,000 seeds of 30 ops")
    func guidedWindow() {
        func rate(_ mode: StressMode) -> Int {
            (UInt64(1)...2000).filter { Self.hasResetThenDelete(StressPlan.generate(seed: $0, count: 30, mode: mode)) }.count
        }
        let u = rate(.uniform), g = rate(.guided)
        #expect(g > 2 * u, "uniform \(u)/2000, guided \(g)/2000")
    }
}
