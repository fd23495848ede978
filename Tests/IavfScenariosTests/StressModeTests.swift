import IavfModel
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

    @Test("coverage mode: without unhit rows it draws as guided; with them, each sequence carries the rows' op pairs")
    func coverageMode() {
        for seed in UInt64(1)...50 {
            #expect(StressPlan.generate(seed: seed, count: 30, mode: .coverage) == StressPlan.generate(seed: seed, count: 30, mode: .guided))
        }
        let s3 = [StressRowTarget(from: "REMOVE", event: "CfgResp")]
        let aimed = (UInt64(1)...200).filter { Self.hasResetThenDelete(StressPlan.generate(seed: $0, count: 30, mode: .coverage, unhit: s3)) }.count
        let guided = (UInt64(1)...200).filter { Self.hasResetThenDelete(StressPlan.generate(seed: $0, count: 30, mode: .guided)) }.count
        #expect(aimed >= 190 && aimed > guided, "coverage \(aimed)/200, guided \(guided)/200")
        // A row no user op reaches is not aimed at, and the draw stays guided.
        let v1 = [StressRowTarget(from: "ADDING", event: "Cpl(ADD_VLAN, 0)")]
        #expect(StressPlan.generate(seed: 9, count: 30, mode: .coverage, unhit: v1) == StressPlan.generate(seed: 9, count: 30, mode: .guided))
    }

    @Test("every row of both built-in tables gets ops that print and parse back, or none (V1 completions, second kills)")
    func recipes() throws {
        for g in [Generation.unpatched, .patched] {
            var reached = 0
            for row in ReferenceModel(generation: g, vlanMode: .v2, maxFilters: 8).coverageRows() {
                do {
                    let target = StressRowTarget(from: row.from, event: row.event)
                    guard let ops = StressPlan.recipe(for: target, vid: 101) else { continue }
                    reached += 1
                    #expect(!ops.isEmpty)
                    #expect(try StressPlan.parse(StressPlan.text(ops)) == ops)
                    #expect(StressPlan.recipe(for: target, vid: 101, excluding: Set(ops.map(\.kind))) == nil)
                }
            }
            #expect(reached > 25, "\(g): \(reached) rows reached")
        }
        #expect(StressPlan.recipe(for: .init(from: "REMOVE", event: "CfgResp"), vid: 103, present: true) == [.pfReset, .del(103)])
        #expect(StressPlan.recipe(for: .init(from: "ADDING", event: "Cpl(ADD_VLAN, 0)"), vid: 103) == nil)
    }

    @Test("a search's sequence seeds: the seed itself first, then distinct ones")
    func searchSeeds() {
        #expect(StressPlan.searchSeed(21, 0) == 21)
        #expect(Set((0..<100).map { StressPlan.searchSeed(21, $0) }).count == 100)
    }
}
