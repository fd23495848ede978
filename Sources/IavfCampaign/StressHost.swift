import Foundation
import IavfSystem
import IavfVM
import IavfModel
import IavfScenarios

/// `stress` on the host: for each kernel a guest with the emulated PF running `iavf-check
/// stress guest`, its progress log followed live, and its stress.json read back.
public struct StressHost {
    public struct KernelResult: Sendable, Codable, Equatable {
        public var kernel: String
        public var release: String
        public var report: StressReport
        public init(kernel: String, release: String, report: StressReport) {
            self.kernel = kernel
            self.release = release
            self.report = report
        }
    }

    public var targets: [GuestTarget]
    public var out: String
    public var moduleDir: String
    public var exe: String
    public var timeout: Double
    /// The campaign's options for the guest (`StressOptions.guestArguments`).
    public var guestArguments: [String]
    /// Progress lines (the guest's log as it grows, set-up notes).
    public var log: (String) -> Void = { _ in }
    /// Several seeds in one guest per kernel (`--seeds`/`--shard`); nil: the one campaign
    /// `guestArguments` describe.
    public var seeds: [UInt64]?

    public init(targets: [GuestTarget], out: String, moduleDir: String, exe: String, timeout: Double, guestArguments: [String]) {
        self.targets = targets
        self.out = out
        self.moduleDir = moduleDir
        self.exe = exe
        self.timeout = timeout
        self.guestArguments = guestArguments
    }

    /// The guest's command line for one kernel (every argument quoted for the guest's shell).
    public func job(kernel k: String, dir: String, tag: String) -> String {
        var args = ["--pf-control", EmulatedPFGuest.pfControl, "--pf-trace", "\(dir)/pf-\(tag).jsonl",
                    "--output", dir, "--kernel-name", k] + guestArguments
        if let seeds { args += ["--seed-list", seeds.map(String.init).joined(separator: ",")] }
        return "\"$IAVF_CHECK\" stress guest " + args.map(GuestCommand.quote).joined(separator: " ")
            + " 2> \"$OUT/stress-\(tag).log\""
    }

    public func run() throws -> [KernelResult] {
        var results: [KernelResult] = []
        for target in targets {
            let k = target.label
            let tag = target.tag
            let dir = "\(out)/\(tag)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in Self.reportFiles(seeds: seeds) { try? FileManager.default.removeItem(atPath: "\(dir)/\(f)") }
            var guest = EmulatedPFGuest(kernel: target.kernel, out: dir, moduleDir: moduleDir, exe: exe, timeout: timeout, tag: tag)
            guest.iavf = target.iavf
            guest.label = target.label
            // The guest writes its progress to a file in the shared directory: show it here.
            let log = self.log
            let tail = FileTail(path: "\(dir)/stress-\(tag).log") { line in
                var text = line
                if text.hasPrefix("iavf-check stress: ") { text.removeFirst(19) }
                log("  \(tag): " + (text.count > 300 ? String(text.prefix(300)) + " ..." : text))
            }
            defer { tail.stop() }
            let outcome: EmulatedPFGuest.Outcome
            do {
                outcome = try guest.run(job: job(kernel: k, dir: dir, tag: tag), note: { log("iavf-check: \($0)") })
            } catch let e as VMError {
                throw EnvironmentProblem("\(k): \(e)")
            }
            tail.stop()
            for f in Self.reportFiles(seeds: seeds) {
                guard let data = FileManager.default.contents(atPath: "\(dir)/\(f)"),
                      let report = try? StressReport.decode(data) else {
                    let logText = (try? String(contentsOfFile: "\(dir)/stress-\(tag).log", encoding: .utf8)) ?? ""
                    throw EnvironmentProblem("\(k): the stress run did not finish (\(f) missing; exit \(outcome.jobExit.map(String.init) ?? "none")); see \(dir)/stress-\(tag).log\n\(logText.suffix(1500))")
                }
                results.append(KernelResult(kernel: k, release: outcome.release, report: report))
            }
        }
        return results
    }

    /// stress.json for one campaign, stress-seed-S.json for each of several seeds.
    public static func reportFiles(seeds: [UInt64]?) -> [String] {
        seeds.map { $0.map { "stress-seed-\($0).json" } } ?? ["stress.json"]
    }
}

/// `stress-summary.json` at the top of --output: every kernel's and seed's report of one
/// `stress` run, with the seed range and shard it covered; what `merge` combines.
public struct StressSummary: Sendable, JSONDocument, Equatable {
    public var seeds: SeedRange?
    public var shard: Shard?
    public var results: [StressHost.KernelResult]
    /// `searchFigures` when the campaigns were searches.
    public var search: [SearchFigures]?

    public init(seeds: SeedRange?, shard: Shard?, results: [StressHost.KernelResult]) {
        self.seeds = seeds
        self.shard = shard
        self.results = results
        let figures = searchFigures
        search = figures.isEmpty ? nil : figures
    }

    /// What a `--seeds A-B --search S` run says per kernel: in how many seeds the search found
    /// its target, the median time to it, and the model rows all seeds' attempts hit together.
    public struct SearchFigures: Codable, Sendable, Equatable {
        public var kernel: String
        public var mode: StressMode
        public var budgetSeconds: Double
        public var seeds: Int
        public var found: Int
        /// Median over the seeds of the time to the first finding, a seed that found nothing
        /// counting as longer than any; nil when that middle seed found nothing.
        public var medianSeconds: Double?
        public var secondsBySeed: [String: Double?]
        public var rowsHit: Int?
        public var rowsTotal: Int?
    }

    public var searchFigures: [SearchFigures] {
        var order: [String] = []
        var byKernel: [String: [StressReport]] = [:]
        for r in results where r.report.search != nil {
            if byKernel[r.kernel] == nil { order.append(r.kernel) }
            byKernel[r.kernel, default: []].append(r.report)
        }
        return order.map { k in
            let reports = byKernel[k]!
            let times = reports.map { $0.search?.firstFindingSeconds ?? .infinity }.sorted()
            let mid = times.isEmpty ? Double.infinity
                : times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
            let cov = reports.compactMap(\.coverage).reduce(nil as ModelCoverage?) { acc, c in acc.map { $0.merged(with: c) } ?? c }
            let table = cov?.tables.first { $0.generation == reports[0].generation }
            var bySeed: [String: Double?] = [:]
            for r in reports { bySeed[r.seed.map(String.init) ?? "?"] = r.search?.firstFindingSeconds }
            return SearchFigures(kernel: k, mode: reports[0].search!.mode, budgetSeconds: reports[0].search!.budgetSeconds,
                                 seeds: reports.count, found: reports.filter { $0.search?.firstFindingSeconds != nil }.count,
                                 medianSeconds: mid.isFinite ? mid : nil, secondsBySeed: bySeed,
                                 rowsHit: table?.rowsHit, rowsTotal: table?.rowsTotal)
        }
    }

    /// One line per kernel of `searchFigures`.
    public var searchText: String {
        searchFigures.map { f in
            "search \(f.kernel) (\(f.mode.rawValue), \(Int(f.budgetSeconds)) s per seed): found in \(f.found)/\(f.seeds) seeds, median time to it "
                + (f.medianSeconds.map { String(format: "%.0f s", $0) } ?? "> \(Int(f.budgetSeconds)) s (not found in half the seeds)")
                + (f.rowsHit.map { ", model rows hit \($0)/\(f.rowsTotal ?? 0)" } ?? "") + "\n"
        }.joined()
    }
}
