import Foundation
import IavfKTAP
#if canImport(Glibc)
import Glibc
#endif

/// Runs the cases in order against VF1, printing kselftest-style result lines that the
/// recorder turns into `mark` events (so the checker's findings land on cases), and a
/// totals line like the selftest's.
public struct SuiteRunner {
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

    public func run() -> [SuiteCaseOutcome] {
        var results: [SuiteCaseOutcome] = []
        var ktap = KTAPWriter(plan: cases.count + 1, onLine: out)
        func report(_ r: SuiteCaseOutcome) {
            // For the host's live progress (a reason is the comment right before the point).
            ktap.diagnostic(String(format: "took %.2f s", r.seconds ?? 0))
            if !r.passed { ktap.diagnostic("\(r.name): \(r.reason)") }
            ktap.point(r.passed ? .ok : .notOk, r.name)
        }
        var resetSeconds = 0.0
        for c in cases {
            let t0 = Date()
            var failure: String?
            do {
                try c.run(CaseContext(bed: bed, wait: wait))
            } catch {
                failure = "\(error)"
            }
            let r = SuiteCaseOutcome(name: c.name, result: failure == nil ? .pass : .fail, reason: failure ?? "",
                                     seconds: Date().timeIntervalSince(t0))
            report(r)
            results.append(r)
            let r0 = Date()
            reset()
            resetSeconds += Date().timeIntervalSince(r0)
        }
        let dmesg = dmesgCheck()
        report(dmesg)
        results.append(dmesg)
        if let rtt = PingRecorder.shared.summary() { ktap.diagnostic("ping rtt: \(rtt)") }
        ktap.diagnostic("commands: \(Shell.spawned.text)")
        ktap.diagnostic(String(format: "resets between cases: %d in %.1f s", cases.count, resetSeconds))
        ktap.diagnostic("\(results.filter(\.passed).count)/\(results.count) passed")
        ktap.totals()
        return results
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
        _ = bed.waitFor(20) { bed.isLowerUp(vf) }
    }

    private func dmesgCheck() -> SuiteCaseOutcome {
        let t0 = Date()
        let log = Shell.run(["dmesg"]).output
        let bad = log.split(separator: "\n").filter { l in
            ["Call Trace", "BUG:", "WARNING:", "detected stall", "soft lockup", "hung_task", "blocked for more than", "Oops"]
                .contains { l.contains($0) }
        }
        return SuiteCaseOutcome(name: Self.dmesgCaseName, result: bad.isEmpty ? .pass : .fail,
                      reason: bad.prefix(3).joined(separator: " | "),
                      seconds: Date().timeIntervalSince(t0))
    }
}
