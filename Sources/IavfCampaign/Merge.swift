import Foundation
import IavfModel
import IavfScenarios
import IavfSystem

/// `iavf-check merge`: suite and stress results from several machines or CI jobs (each
/// kernel's or shard's suite.json, stress-summary.json or stress.json) as one result: the
/// suite's runs side by side with failure rates, every stress run ordered by kernel and seed,
/// with the findings and their replay commands.
public struct MergedResults: Sendable, JSONDocument, Equatable {
    public var sources: [String]
    /// The suites' kernel runs, in the order the files were given.
    public var suite: SuiteReport?
    public var stress: [StressHost.KernelResult]
    /// (kernel, seed) pairs given more than once (overlapping shards): the first is kept.
    public var duplicates: [String]

    public init(sources: [String] = [], suite: SuiteReport? = nil, stress: [StressHost.KernelResult] = [], duplicates: [String] = []) {
        self.sources = sources
        self.suite = suite
        self.stress = stress
        self.duplicates = duplicates
    }

    /// Reads each file as whichever document it is; anything else is bad input naming it.
    public static func load(_ paths: [String]) throws -> MergedResults {
        var m = MergedResults()
        for p in paths {
            guard let data = FileManager.default.contents(atPath: p) else { throw BadInput("merge: cannot read \(p)") }
            let dec = JSONDecoder()
            if let s = try? dec.decode(SuiteReport.self, from: data) {
                m.add(suite: s)
            } else if let s = try? dec.decode(StressSummary.self, from: data) {
                m.add(stress: s.results)
            } else if let r = try? dec.decode(StressReport.self, from: data) {
                m.add(stress: [.init(kernel: r.kernel, release: "?", report: r)])
            } else {
                throw BadInput("merge: \(p) is neither a suite.json, a stress-summary.json nor a stress.json")
            }
            m.sources.append(p)
        }
        m.sort()
        return m
    }

    public mutating func add(suite s: SuiteReport) {
        var base = suite ?? SuiteReport(kernels: [], interrupted: false)
        base.kernels += s.kernels
        base.interrupted = base.interrupted || s.interrupted
        // Runs of a kernel from several files are numbered again, so rates count each once.
        var seen: [String: Int] = [:]
        for i in base.kernels.indices { seen[base.kernels[i].kernel, default: 0] += 1 }
        if seen.values.contains(where: { $0 > 1 }) {
            var n: [String: Int] = [:]
            for i in base.kernels.indices {
                n[base.kernels[i].kernel, default: 0] += 1
                base.kernels[i].run = n[base.kernels[i].kernel]
            }
        }
        suite = base
    }

    public mutating func add(stress results: [StressHost.KernelResult]) {
        for r in results {
            if let seed = r.report.seed, stress.contains(where: { $0.kernel == r.kernel && $0.report.seed == seed }) {
                duplicates.append("\(r.kernel) seed \(seed)")
                continue
            }
            stress.append(r)
        }
    }

    /// Kernels in first-seen order, seeds ascending (replays after seeds, in given order).
    mutating func sort() {
        var order: [String] = []
        for r in stress where !order.contains(r.kernel) { order.append(r.kernel) }
        stress = stress.enumerated().sorted { a, b in
            let ka = order.firstIndex(of: a.element.kernel)!, kb = order.firstIndex(of: b.element.kernel)!
            if ka != kb { return ka < kb }
            switch (a.element.report.seed, b.element.report.seed) {
            case let (x?, y?): return x < y
            case (nil, nil): return a.offset < b.offset
            case (_?, nil): return true
            case (nil, _?): return false
            }
        }.map(\.element)
    }

    /// What a finding needs to be compared across runs: kernel, seed, verdict, target.
    public var stressOutcomes: [String] {
        stress.map { "\($0.kernel) seed \($0.report.seed.map(String.init) ?? "replay"): \($0.report.verdict.rawValue)\($0.report.target.map { " \($0)" } ?? "")" }
    }

    /// Suite and stress coverage together, per generation.
    public var coverage: ModelCoverage {
        ModelCoverage.merging((suite.map { [$0.coverage] } ?? []) + stress.compactMap(\.report.coverage))
    }

    public var failed: Bool {
        (suite.map { !$0.allPassed } ?? false) || stress.contains { $0.report.verdict == .fail }
    }


    /// The merged stress runs per kernel: how many seeds, which failed with what, and how to
    /// replay each minimal sequence.
    public var stressText: String {
        var s = ""
        var order: [String] = []
        for r in stress where !order.contains(r.kernel) { order.append(r.kernel) }
        for k in order {
            let rs = stress.filter { $0.kernel == k }
            let failed = rs.filter { $0.report.verdict == .fail }
            let inconclusive = rs.filter { $0.report.verdict == .inconclusive }.count
            s += "=== stress \(k): \(rs.count) runs, \(failed.count) with a violation, \(inconclusive) inconclusive\n"
            var byTarget: [String: [String]] = [:]
            for r in failed { byTarget[r.report.target ?? r.report.findings.first?.rule ?? "?", default: []].append(r.report.seed.map { "seed \($0)" } ?? "replay") }
            for (t, seeds) in byTarget.sorted(by: { $0.key < $1.key }) {
                s += "  \(t): \(seeds.count)/\(rs.count) runs (\(seeds.joined(separator: ", ")))\n"
            }
            for r in failed {
                let id = r.report.seed.map { "seed \($0)" } ?? "replay"
                if let m = r.report.minimal {
                    s += "  \(id): \(r.report.target ?? "?") reproduced \(r.report.confirmed ?? 0)/\(r.report.confirmRuns ?? 0): "
                    s += "iavf-check stress --kernel \(k) --replay '\(m.joined(separator: "; "))'\n"
                } else {
                    s += "  \(id): \(r.report.findings.first.map { "\($0.rule): \($0.message)" } ?? "?")\n"
                }
            }
        }
        if !duplicates.isEmpty { s += "given more than once (first kept): \(duplicates.joined(separator: ", "))\n" }
        return s
    }
}
