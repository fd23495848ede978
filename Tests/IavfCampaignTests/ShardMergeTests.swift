import Foundation
import IavfCampaign
import IavfChecker
import IavfScenarios
import IavfSystem
import Testing

@Suite struct ShardMergeTests {
    @Test("shards are disjoint, cover the range in order, and differ in size by at most one", arguments: [1, 2, 3, 7, 10])
    func shards(n: Int) throws {
        let range = try SeedRange.parse("5-104")
        let shares = (1...n).map { Shard(index: $0, count: n).seeds(of: range) }
        #expect(shares.flatMap { $0 }.sorted() == Array(5...104))
        #expect(Set(shares.flatMap { $0 }).count == 100)
        #expect((shares.map(\.count).max()! - shares.map(\.count).min()!) <= 1)
        #expect(try Shard.parse("2/3").seeds(of: SeedRange.parse("1-6")) == [2, 5])
    }

    @Test("bad --seeds and --shard are bad input with the fix in the message")
    func bad() {
        for s in ["", "a-b", "9-3", "1-2-3", "0-100000000"] { #expect(throws: BadInput.self) { try SeedRange.parse(s) } }
        for s in ["0/3", "4/3", "1", "1/0", "x/y"] { #expect(throws: BadInput.self) { try Shard.parse(s) } }
    }

    static func report(_ kernel: String, seed: UInt64, fail: Bool) -> StressHost.KernelResult {
        .init(kernel: kernel, release: "r", report: StressReport(
            kernel: kernel, generation: "patched", seed: seed, ops: ["add 102"], outcomes: ["ok"], verdict: fail ? .fail : .pass,
            settled: true, findings: [], target: fail ? "resurrected-filter(S3)" : nil, minimal: fail ? ["add 102", "pf-reset", "del 102"] : nil,
            shrinkRuns: 0, confirmed: fail ? 2 : nil, confirmRuns: fail ? 3 : nil, trace: "/t", minimalTrace: nil, seconds: 1))
    }

    func scratch() throws -> String { try scratchDirectory("merge") }

    @Test("6 seeds in 3 shards, merged, equal the unsharded run's outcomes; an overlapping shard is named, not counted twice")
    func mergeEqualsUnsharded() throws {
        let dir = try scratch()
        let range = try SeedRange.parse("1-6")
        let failing: Set<UInt64> = [2, 5]
        func summary(_ shard: Shard) -> StressSummary {
            StressSummary(seeds: range, shard: shard, results: ["unpatched", "patched"].flatMap { k in
                shard.seeds(of: range).map { Self.report(k, seed: $0, fail: k == "patched" && failing.contains($0)) } })
        }
        try summary(.whole).encoded().write(to: URL(fileURLWithPath: "\(dir)/all.json"))
        var paths: [String] = []
        for i in [3, 1, 2] {   // any order
            let p = "\(dir)/shard\(i).json"
            try summary(Shard(index: i, count: 3)).encoded().write(to: URL(fileURLWithPath: p))
            paths.append(p)
        }
        let whole = try MergedResults.load(["\(dir)/all.json"])
        let merged = try MergedResults.load(paths)
        #expect(merged.stressOutcomes == whole.stressOutcomes)
        #expect(merged.stress.count == 12 && merged.duplicates.isEmpty && merged.failed)
        #expect(merged.stressText.contains("resurrected-filter(S3): 2/6 runs (seed 2, seed 5)"))
        #expect(merged.stressText.contains("iavf-check stress --kernel patched --replay 'add 102; pf-reset; del 102'"))
        let overlap = try MergedResults.load(paths + [paths[0]])
        #expect(overlap.stress.count == 12 && overlap.duplicates.count == 4)
    }

    @Test("suites of the same kernel from two machines become runs with rates; a file of another kind is bad input")
    func mergeSuites() throws {
        let dir = try scratch()
        func suite(_ result: CaseVerdict) -> SuiteReport {
            SuiteReport(kernels: [.init(kernel: "unpatched", release: "r", checkerVerdict: "fail", seconds: 1, problem: nil,
                                        cases: [SuiteCaseOutcome(name: "a", result: result)])], interrupted: false)
        }
        try suite(.fail).encoded().write(to: URL(fileURLWithPath: "\(dir)/a.json"))
        try suite(.pass).encoded().write(to: URL(fileURLWithPath: "\(dir)/b.json"))
        let m = try MergedResults.load(["\(dir)/a.json", "\(dir)/b.json"])
        #expect(m.suite?.rates.first?.cases.first?.text == "FAIL 1/2")
        try Data("{\"x\":1}".utf8).write(to: URL(fileURLWithPath: "\(dir)/c.json"))
        #expect(throws: BadInput.self) { try MergedResults.load(["\(dir)/c.json"]) }
    }
}
