import Foundation
import IavfSystem
import IavfVM

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
        Interruption.install()
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

    public init(seeds: SeedRange?, shard: Shard?, results: [StressHost.KernelResult]) {
        self.seeds = seeds
        self.shard = shard
        self.results = results
    }

}
