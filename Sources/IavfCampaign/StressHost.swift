import Foundation
import IavfSystem
import IavfVM

/// `stress` on the host: for each kernel a guest with the emulated PF running `iavf-check
/// stress guest`, its progress log followed live, and its stress.json read back.
public struct StressHost {
    public struct KernelResult: Sendable {
        public var kernel: String
        public var release: String
        public var report: StressReport
        public init(kernel: String, release: String, report: StressReport) {
            self.kernel = kernel
            self.release = release
            self.report = report
        }
    }

    public var kernels: [String]
    public var out: String
    public var moduleDir: String
    public var exe: String
    public var timeout: Double
    /// The campaign's options for the guest (`StressOptions.guestArguments`).
    public var guestArguments: [String]
    /// Progress lines (the guest's log as it grows, set-up notes).
    public var log: (String) -> Void = { _ in }

    public init(kernels: [String], out: String, moduleDir: String, exe: String, timeout: Double, guestArguments: [String]) {
        self.kernels = kernels
        self.out = out
        self.moduleDir = moduleDir
        self.exe = exe
        self.timeout = timeout
        self.guestArguments = guestArguments
    }

    /// The guest's command line for one kernel (every argument quoted for the guest's shell).
    public func job(kernel k: String, dir: String, tag: String) -> String {
        let args = ["--pf-control", EmulatedPFGuest.pfControl, "--pf-trace", "\(dir)/pf-\(tag).jsonl",
                    "--output", dir, "--kernel-name", k] + guestArguments
        return "\"$IAVF_CHECK\" stress guest " + args.map(GuestCommand.quote).joined(separator: " ")
            + " 2> \"$OUT/stress-\(tag).log\""
    }

    public func run() throws -> [KernelResult] {
        Interruption.install()
        var results: [KernelResult] = []
        for k in kernels {
            let tag = KernelList.tag(k)
            let dir = "\(out)/\(tag)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: "\(dir)/stress.json")
            let guest = EmulatedPFGuest(kernel: k, out: dir, moduleDir: moduleDir, exe: exe, timeout: timeout, tag: tag)
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
            guard let data = FileManager.default.contents(atPath: "\(dir)/stress.json"),
                  let report = try? StressReport.decode(data) else {
                let logText = (try? String(contentsOfFile: "\(dir)/stress-\(tag).log", encoding: .utf8)) ?? ""
                throw EnvironmentProblem("\(k): the stress run did not finish (exit \(outcome.jobExit.map(String.init) ?? "none")); see \(dir)/stress-\(tag).log\n\(logText.suffix(1500))")
            }
            results.append(KernelResult(kernel: k, release: outcome.release, report: report))
        }
        return results
    }
}
