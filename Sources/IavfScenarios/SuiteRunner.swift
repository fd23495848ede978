import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs the cases in order against VF1, printing kselftest-style result lines that the
/// recorder turns into `mark` events (so the checker's findings land on cases), and a
/// totals line like the selftest's.
public struct SuiteRunner {
    public struct Result: Sendable {
        public var name: String
        public var passed: Bool
        public var reason: String?
        public var seconds: Double
    }

    public static let dmesgCaseName = "dmesg: no call traces / BUGs / stalls"

    public var cases: [ScenarioCase]
    public let bed: Testbed
    public let wait: SettledWait
    public let out: (String) -> Void

    public init(cases: [ScenarioCase] = ScenarioCatalog.all, bed: Testbed, wait: SettledWait, out: @escaping (String) -> Void) {
        self.cases = cases
        self.bed = bed
        self.wait = wait
        self.out = out
    }

    public func run() -> [Result] {
        var results: [Result] = []
        let total = cases.count + 1
        out("KTAP version 1")
        out("1..\(total)")
        for (i, c) in cases.enumerated() {
            let t0 = Date()
            var failure: String?
            do {
                try c.run(CaseContext(bed: bed, wait: wait))
            } catch {
                failure = "\(error)"
            }
            let r = Result(name: c.name, passed: failure == nil, reason: failure, seconds: Date().timeIntervalSince(t0))
            report(i + 1, r)
            results.append(r)
            reset()
        }
        let dmesg = dmesgCheck()
        report(total, dmesg)
        results.append(dmesg)
        let passed = results.filter(\.passed).count
        out("# \(passed)/\(results.count) passed")
        out("# Totals: pass:\(passed) fail:\(results.count - passed) xfail:0 xpass:0 skip:0 error:0")
        return results
    }

    private func report(_ n: Int, _ r: Result) {
        if let reason = r.reason { out("# \(r.name): \(reason)") }
        out("\(r.passed ? "ok" : "not ok") \(n) \(r.name)")
    }

    /// Between cases: delete what the case left on VF1 and cycle it down and up in one
    /// `ip -batch`, so every case starts from an up VF without VLANs, as a suite resetting its
    /// state would. The deletes and the down come microseconds apart: on the unpatched driver
    /// that is the R1 window (a queued delete overwritten by DISABLE), if the watchdog has
    /// not sent the DEL by then.
    private func reset() {
        let vf = bed.vfs[0]
        let batch = bed.vlanDevices(vf).sorted().map { "link del \(bed.vlanName(vf, $0))" }
            + ["link set \(vf.ifname) down", "link set \(vf.ifname) up"]
        let path = "/tmp/iavf-check-reset-\(getpid()).batch"
        FileManager.default.createFile(atPath: path, contents: Data((batch.joined(separator: "\n") + "\n").utf8))
        _ = bed.ip(vf, "-batch", path)
        _ = bed.waitFor(20) { bed.ip(vf, "-o", "link", "show", vf.ifname).output.contains("LOWER_UP") }
    }

    private func dmesgCheck() -> Result {
        let t0 = Date()
        let log = Shell.run(["dmesg"]).output
        let bad = log.split(separator: "\n").filter { l in
            ["Call Trace", "BUG:", "WARNING:", "detected stall", "soft lockup", "hung_task", "blocked for more than", "Oops"]
                .contains { l.contains($0) }
        }
        return Result(name: Self.dmesgCaseName, passed: bad.isEmpty,
                      reason: bad.isEmpty ? nil : bad.prefix(3).joined(separator: " | "),
                      seconds: Date().timeIntervalSince(t0))
    }
}
